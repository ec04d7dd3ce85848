"""Where a run lives and what it trains on: the dataset of an experiment (captured first when it is
missing and the amp is embedded), the run directory (new, named, or the latest to resume), the
checks that a resumed run is the same run, and the run's own files (config.yaml, run.json).

Run directory (`outputs/runs/<name>/<timestamp>/`):
  config.yaml  run.json  model.keras  metrics.json  checkpoints/{best,last}.npz  tb/  plots/  renders/
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from omegaconf import OmegaConf

from ampcap import dataset as ds
from ampcap.config import changed_keys, flatten
from ampcap.dirlock import LOCK, lock_dir
from ampcap.errors import AmpcapError, ConfigError, DatasetError
from ampcap.files import atomic_write_bytes, remove_stale_temps, write_json
from capture.config import compose_capture
from capture.runner import changed_since, run_sweep
from capture.sweep import design_errors, plan

from .data import varying_knobs

RUN_FORMAT = "ampcap-run"
RUN_VERSION = 1
# keys that may change when a run is resumed (they only say how long or how loudly to train)
RESUMABLE_CHANGES = {"trainer.resume", "trainer.progress", "trainer.max_epochs", "trainer.max_minutes",
                     "trainer.patience", "run_dir", "runs_dir",
                     # how many workers compute it (the maths is the same global batch either way)
                     "trainer.strategy", "trainer.cluster_timeout",
                     # how many cores run the fused LSTM's row blocks (the same maths, summed in another order)
                     "trainer.lstm_splits", "trainer.fused_lstm", "trainer.keep_epochs",
                     # runs started before the model config named its class had these (never read) instead
                     "model._target_", "model.name", "loss.name", "trainer.name", "loss._target_"}
# config groups a run may lack because it was started before they existed: compared only when it has them
LATER_GROUPS = ("adapt", "optimizer")
# keys added to a group later, with the value that does what a run started before them did: ignored when a run
# lacks them and asks for that value
LATER_KEYS = {"adapt.shares": "equal", "adapt.select": "probes"}


def capture_command(d: dict) -> str:
    args = [f"plugin={d['plugin']}", f"sweep={d['sweep']}"]
    if d["signal"] != "builtin":
        args.append(f"signal={d['signal']}")
    return "python -m capture sweep " + " ".join(args + list(d["capture_overrides"]))


def locate_dataset(cfg: dict, log, config_dir: str | None = None) -> Path:
    """The dataset directory of the experiment; captured first when missing and the amp is embedded."""
    d = cfg["dataset"]
    if d["plugin"] == "@path" and not d["path"]:
        raise ConfigError("config key 'dataset.path': no value given (set dataset.path=DIR of a captured dataset)")
    if d["path"]:
        root = Path(d["path"]).expanduser()
        ccfg = None
    else:
        overrides = [f"plugin={d['plugin']}", f"sweep={d['sweep']}", f"signal={d['signal']}", *d["capture_overrides"]]
        ccfg = compose_capture(overrides, config_dir)
        root = Path(ccfg.out)
    manifest = None
    if (root / ds.MANIFEST).exists():
        manifest = ds.read_manifest(root)
        changed = changed_since(ccfg, manifest) if ccfg is not None else []
        if changed:  # the experiment's config asks for another capture than the one at its path
            raise DatasetError(f"dataset {root} was captured with another config (changed: {', '.join(changed[:4])}); "
                               f"capture it again: {capture_command(d)} overwrite=true, or train on it as it is: "
                               f"dataset=path dataset.path={root}")
        if manifest.get("complete"):
            return root
        failed = [s for s in manifest["settings"] if s.get("status") == "failed"]
        if d["allow_failed"] and failed and not any(s.get("status") == "pending" for s in manifest["settings"]):
            if any(s.get("status") == "done" and s.get("split") == "train" for s in manifest["settings"]):
                log(f"dataset {root}: training without its {len(failed)} failed setting(s) (dataset.allow_failed=true):")
                for s in failed:
                    log(f"  {s['id']} ({s['split']}) {s['knobs']}: {s.get('error')}")
            return root  # (nothing left to train on: load_dataset says so in one line)
    cmd = capture_command(d) if ccfg is not None else None
    embedded = ccfg is not None and ccfg.plugin.kind == "builtin"
    if embedded and d["auto_capture"]:
        ccfg.progress = cfg["trainer"]["progress"]
        log(f"dataset {root} {'is incomplete' if manifest else 'not found'}: capturing it first ({cmd}){capture_estimate(ccfg)}")
        run_sweep(ccfg, log=log, command=cmd)
        return root
    failed = [s["id"] for s in (manifest or {}).get("settings", []) if s.get("status") == "failed"]
    if failed:
        raise DatasetError(f"dataset {root} has {len(failed)} failed setting(s) ({', '.join(failed[:4])}"
                           f"{', ...' if len(failed) > 4 else ''}: the plugin crashed, hung or gave NaN/silence on them, "
                           f"see its manifest.json); rerun {'its capture command: ' + cmd if cmd else 'the capture command that made it'} "
                           "to retry them, or train on the captured ones with dataset.allow_failed=true")
    what = "is incomplete (the capture was interrupted)" if manifest else "not found"
    how = f"capture it first: {cmd}" if cmd else "capture it with python -m capture sweep ... out=<dir>"
    raise DatasetError(f"dataset {root} {what}; {how}")


EMBEDDED_X_REALTIME = 200   # the embedded amp captures at ~200-220x real time on one core (docs/benchmarks.md)


def capture_estimate(ccfg) -> str:
    """': N settings x S s, about M minutes' for a capture of the embedded amp ('' if it cannot be planned)."""
    from capture.host import make_amp

    try:
        amp = make_amp(OmegaConf.to_container(ccfg.plugin, resolve=True))
        n = len(plan(amp.knobs, OmegaConf.to_container(ccfg.sweep, resolve=True)))
    except AmpcapError:
        return ""
    seconds = n * float(ccfg.signal.duration_s)
    return f": {n} settings x {float(ccfg.signal.duration_s):g} s of audio, about {max(1, round(seconds / EMBEDDED_X_REALTIME / 60))} min"


def load_dataset(root: Path, allow_failed: bool = False) -> dict:
    problems = ds.verify(root, allow_failed=allow_failed, design_check=design_errors)
    if problems:
        raise DatasetError(f"dataset {root}: {problems[0]} (run python -m capture verify {root})")
    return ds.read_manifest(root)


def new_run_dir(cfg: dict) -> Path:
    base = Path(cfg["runs_dir"]) / cfg["name"]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    d, i = base / stamp, 2
    while d.exists():
        d, i = base / f"{stamp}-{i}", i + 1
    return d


def latest_run(cfg: dict) -> Path | None:
    base = Path(cfg["runs_dir"]) / cfg["name"]
    runs = sorted(p for p in base.glob("*") if (p / "checkpoints" / "last.npz").exists() or (p / "adapt.json").exists()) \
        if base.is_dir() else []
    return runs[-1] if runs else None


def choose_run_dir(cfg: dict) -> tuple[Path, bool]:
    """(run directory, resuming?) from run_dir / trainer.resume."""
    resume = cfg["trainer"]["resume"]
    if cfg["run_dir"]:
        d = Path(cfg["run_dir"]).expanduser()
        has = (d / "checkpoints" / "last.npz").exists()
        if has and not resume:
            raise ConfigError(f"run_dir={d} already holds a run; pass trainer.resume=true to continue it or choose another run_dir")
        if d.exists() and not has and any(p.name != LOCK for p in d.iterdir()) and not (d / "config.yaml").exists():
            raise ConfigError(f"run_dir={d} exists and is not an ampcap run; choose another run_dir")
        return d, has
    if resume:
        d = latest_run(cfg)
        if d is None:
            raise ConfigError(f"trainer.resume=true: no run of '{cfg['name']}' to resume under {Path(cfg['runs_dir']) / cfg['name']}")
        return d, True
    return new_run_dir(cfg), False


def check_resume(run: Path, cfg: dict, manifest: dict, knobs: list[dict]) -> None:
    """A resumed run must have the same config (up to training length) and the same data."""
    try:
        old_cfg = json.loads((run / "run.json").read_text())
    except (OSError, ValueError):
        raise ConfigError(f"{run}: run.json is missing or unreadable; this is not a resumable run") from None
    old_names, new_names = [k["name"] for k in old_cfg["knobs"]], [k["name"] for k in knobs]
    if old_cfg["knobs"] != knobs:
        raise DatasetError(f"dataset knobs ({', '.join(new_names) or 'none'}) do not match the model's "
                           f"({', '.join(old_names) or 'none'}) in {run}; train a new run for this dataset")
    later = [g for g in LATER_GROUPS if g not in old_cfg["config"]]   # groups that came after the run was started
    cfg = {k: v for k, v in cfg.items() if k not in later or (k == "adapt" and v["rounds"])}
    old, new = flatten(old_cfg["config"]), flatten(cfg)
    same_as_before = {k for k, v in LATER_KEYS.items() if k not in old and new.get(k) == v}
    changed = changed_keys(old_cfg["config"], cfg, RESUMABLE_CHANGES | same_as_before)
    if changed:
        raise ConfigError(f"{run} was started with a different config (changed: {', '.join(changed[:4])}); "
                          "start a new run instead of trainer.resume=true")
    if old_cfg["dataset"]["config_sha256"] != manifest["config_sha256"]:
        raise DatasetError(f"{run} was trained on another capture than {old_cfg['dataset']['path']} holds now; start a new run")


def model_knobs(cfg: dict, manifest: dict) -> tuple[list[dict], dict]:
    """The knobs the model takes (those the training settings move; none for conditioning=none) and
    the fixed values of the others."""
    knobs, fixed = varying_knobs(manifest)
    if cfg["model"]["conditioning"] == "none":
        knobs, fixed = [], {k["name"]: manifest["settings"][0]["knobs"][k["name"]] for k in manifest["knobs"]}
    return knobs, fixed


def lock_run(run: Path, log) -> None:
    """One training per run directory (held until this process ends; a killed run's lock is void);
    the temp files a killed run left go."""
    lock_dir(run, f"run_dir={run}: another training is using this run directory ({{holder}}); wait for it "
                  "to finish or stop it, or start a new run")
    for f in remove_stale_temps(run):
        log(f"removed {f.relative_to(run)}, left by a killed run")


def write_run_files(run: Path, cfg: dict, root: Path, manifest: dict, knobs: list[dict], fixed: dict) -> None:
    """config.yaml and run.json of a new run: what it was started with, on which dataset."""
    atomic_write_bytes(run / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(cfg)).encode())
    write_json(run / "run.json", {
        "format": RUN_FORMAT, "format_version": RUN_VERSION, "name": cfg["name"], "config": cfg,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "dataset": {"path": str(root), "config_sha256": manifest["config_sha256"], "plugin": manifest["plugin"],
                    "failed_settings": [{k: s.get(k) for k in ("id", "split", "knobs", "error")}  # dataset.allow_failed
                                        for s in manifest["settings"] if s["status"] == "failed"]},
        "knobs": knobs, "fixed_knobs": fixed, "sample_rate": int(manifest["sample_rate"])})
