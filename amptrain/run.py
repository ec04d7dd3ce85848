"""One training run end to end: find (or capture) the dataset, make or resume the run directory,
train, then evaluate on held-out settings x unseen audio and write model, metrics, plots, renders.

Run directory (`outputs/runs/<name>/<timestamp>/`):
  config.yaml  run.json  model.keras  metrics.json  checkpoints/{best,last}.npz  tb/  plots/  renders/
"""
from __future__ import annotations

import json
import time
from pathlib import Path


from capture import dataset as ds
from capture.config import changed_keys, compose, to_dict, validate
from capture.errors import ConfigError, DatasetError

from . import checkpoint
from .config import TrainConfig, check

RUN_FORMAT = "ampcap-run"
RUN_VERSION = 1
# keys that may change when a run is resumed (they only say how long or how loudly to train)
RESUMABLE_CHANGES = {"trainer.resume", "trainer.progress", "trainer.max_epochs", "trainer.max_minutes",
                     "trainer.patience", "run_dir", "runs_dir"}


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
        ccfg = compose("capture", overrides, config_dir)
        root = Path(ccfg.out)
    manifest = None
    if (root / ds.MANIFEST).exists():
        manifest = ds.read_manifest(root)
        if manifest.get("complete"):
            return root
    cmd = capture_command(d) if ccfg is not None else None
    embedded = ccfg is not None and ccfg.plugin.kind == "builtin"
    if embedded and d["auto_capture"]:
        from capture.runner import run_sweep

        ccfg.progress = cfg["trainer"]["progress"]
        log(f"dataset {root} {'is incomplete' if manifest else 'not found'}: capturing it first ({cmd})")
        run_sweep(ccfg, log=log)
        return root
    what = "is incomplete (the capture was interrupted)" if manifest else "not found"
    how = f"capture it first: {cmd}" if cmd else "capture it with python -m capture sweep ... out=<dir>"
    raise DatasetError(f"dataset {root} {what}; {how}")


def load_dataset(root: Path) -> dict:
    problems = ds.verify(root)
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
    runs = sorted(p for p in base.glob("*") if (p / "checkpoints" / "last.npz").exists()) if base.is_dir() else []
    return runs[-1] if runs else None


def choose_run_dir(cfg: dict) -> tuple[Path, bool]:
    """(run directory, resuming?) from run_dir / trainer.resume."""
    resume = cfg["trainer"]["resume"]
    if cfg["run_dir"]:
        d = Path(cfg["run_dir"]).expanduser()
        has = (d / "checkpoints" / "last.npz").exists()
        if has and not resume:
            raise ConfigError(f"run_dir={d} already holds a run; pass trainer.resume=true to continue it or choose another run_dir")
        if d.exists() and not has and any(d.iterdir()) and not (d / "config.yaml").exists():
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
    changed = changed_keys(old_cfg["config"], cfg, RESUMABLE_CHANGES)
    if changed:
        raise ConfigError(f"{run} was started with a different config (changed: {', '.join(changed[:4])}); "
                          "start a new run instead of trainer.resume=true")
    if old_cfg["dataset"]["config_sha256"] != manifest["config_sha256"]:
        raise DatasetError(f"{run} was trained on another capture than {old_cfg['dataset']['path']} holds now; start a new run")


def make_strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief() -> bool:
    """With TF_CONFIG (multi-worker), only the chief (or worker 0) writes the run directory."""
    import os

    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = tf_config.get("task") or {}
    if not task:
        return True
    has_chief = "chief" in (tf_config.get("cluster") or {})
    return task.get("type") == "chief" or (not has_chief and task.get("type") == "worker" and int(task.get("index", 0)) == 0)


def write_json(path: Path, obj) -> None:
    ds.atomic_write_bytes(path, (json.dumps(obj, indent=1, default=float) + "\n").encode())


def train(cfg_in, log=print, config_dir: str | None = None) -> Path:
    """Run (or resume) the training run described by the composed config; returns its directory."""
    cfg = to_dict(validate(cfg_in, TrainConfig))
    check(cfg)
    t = cfg["trainer"]
    run, resuming = choose_run_dir(cfg)
    root = locate_dataset(cfg, log, config_dir)
    manifest = load_dataset(root)

    import keras
    import tensorflow as tf

    from .data import load_split, varying_knobs
    from .losses import make_loss
    from .model import AmpNet
    from .tbptt import TBPTT

    sr = int(manifest["sample_rate"])
    knobs, fixed = varying_knobs(manifest)
    if cfg["model"]["conditioning"] == "none":
        knobs, fixed = [], {k["name"]: manifest["settings"][0]["knobs"][k["name"]] for k in manifest["knobs"]}
    if resuming:
        check_resume(run, cfg, manifest, knobs)
    splits = {s["split"] for s in manifest["settings"] if s["status"] == "done"}
    train_data = load_split(root, manifest, "train", "train", knobs)
    # validation: held-out val settings on the val audio; a snapshot dataset validates on its setting
    val_data = load_split(root, manifest, "val" if "val" in splits else "train", "val", knobs)
    chief = is_chief()
    strategy = make_strategy(t["strategy"])
    if t["batch_size"] % strategy.num_replicas_in_sync:
        raise ConfigError(f"config key 'trainer.batch_size': {t['batch_size']} does not split evenly over "
                          f"{strategy.num_replicas_in_sync} replicas")

    run.mkdir(parents=True, exist_ok=True)
    ckpt_dir = run / "checkpoints"
    if not resuming and chief:
        from omegaconf import OmegaConf

        ds.atomic_write_bytes(run / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(cfg)).encode())
        write_json(run / "run.json", {
            "format": RUN_FORMAT, "format_version": RUN_VERSION, "name": cfg["name"], "config": cfg,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "dataset": {"path": str(root), "config_sha256": manifest["config_sha256"], "plugin": manifest["plugin"]},
            "knobs": knobs, "fixed_knobs": fixed, "sample_rate": sr})
    log(f"run {run} ({'resuming' if resuming else 'new'}); dataset {root}: "
        f"{len(train_data.settings)} training settings, {len(val_data.settings)} validation; "
        f"model inputs: {', '.join(k['name'] for k in knobs) or 'audio only'}")

    keras.utils.set_random_seed(t["seed"])
    with strategy.scope():
        model = AmpNet(hidden_size=cfg["model"]["hidden_size"], n_cond=train_data.cond.shape[1],
                         conditioning=cfg["model"]["conditioning"], film_units=cfg["model"]["film_units"],
                         skip=cfg["model"]["skip"], knobs=knobs, sample_rate=sr, fixed_knobs=fixed).build_weights()
        optimizer = keras.optimizers.Adam(t["learning_rate"], clipnorm=t["clipnorm"])
    loss = make_loss(cfg["loss"]["pre_emphasis"], cfg["loss"]["esr_weight"], cfg["loss"]["dc_weight"], cfg["loss"]["stft_weight"])
    tbptt = TBPTT(model, optimizer, loss, t["warmup"], t["window"], strategy=strategy)
    from .train import fit, new_state

    state = checkpoint.load(ckpt_dir / "last.npz", model, optimizer) if resuming else new_state(t["learning_rate"])
    if resuming:
        # training length may be extended on resume
        if state["done"] and state["stop_reason"].startswith(("max_epochs", "max_minutes")) and state["epoch"] < t["max_epochs"] \
                and not (t["max_minutes"] and state["train_seconds"] / 60 >= t["max_minutes"]):
            state.update(done=False, stop_reason=None)
        log(f"continuing after epoch {state['epoch']} (best validation ESR {state['best_val']})" if not state["done"]
            else "training had finished; redoing the final evaluation")
    writer = tf.summary.create_file_writer(str(run / "tb")) if chief else None
    state = fit(model, optimizer, tbptt, train_data, val_data, t, sr, cfg["loss"]["pre_emphasis"], ckpt_dir, state,
                writer, log=log, chief=chief, balance=cfg["loss"]["balance_settings"])
    log(state["stop_reason"])
    if not chief:
        return run
    checkpoint.load(ckpt_dir / "best.npz", model)
    from .report import finish

    finish(run, cfg, model, root, manifest, knobs, state, log)
    return run
