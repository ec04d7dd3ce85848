"""The capture run: plan the sweep, check the plugin, render every setting (resumably, in parallel)
and write the dataset. Side effects live here and in the CLI; DSP and design are pure functions."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from ampcap import dataset as ds
from ampcap.config import changed_keys, to_dict, validate
from ampcap.dirlock import LOCK, dir_lock
from ampcap.errors import CaptureFailed, ConfigError, DatasetError
from ampcap.files import atomic_write_bytes, sha256_bytes, sha256_json, sha256_of
from ampcap.wav import wav_bytes

from .config import CaptureConfig
from .host import Amp, DescribedAmp, PluginAmp, describe, make_amp
from .outdir import check_out_location, clear_capture, refuse_foreign
from .pool import auto_timeout, capture_pending, clear_partial_files, run_checks
from .report import write_dataset_report
from .sweep import design_identity, parse_shard, plan
from .worker import HostProcess, describe_in_worker

if TYPE_CHECKING:
    from .signals import Signal

# Keys that do not change what is captured (so they may differ on resume and between shards).
VOLATILE = {"out", "workers", "overwrite", "progress", "timeout_s", "retries"}


def make_signal(sig: dict, sr: int) -> Signal:
    from .signals import Material, builtin_signal, file_signal  # scipy.signal: ~1 s to import, not needed by plugin workers

    if sig["kind"] == "builtin":
        return builtin_signal(sr, sig["duration_s"], sig["seed"], sig["val_fraction"], sig["test_fraction"], sig["peak"],
                              sig["min_duration_s"], Material.from_config(sig))
    if sig["kind"] == "file":
        if not sig.get("path"):
            raise ConfigError("signal.path: give the DI file, e.g. signal.path=/path/to/di.wav")
        return file_signal(sig["path"], sr, sig["val_fraction"], sig["test_fraction"], sig["min_duration_s"])
    raise ConfigError(f"signal.kind: '{sig['kind']}' is not one of builtin, file")


def capture_config(cfg: dict, amp: Amp, signal: Signal) -> dict:
    """What defines the dataset's content (hashed to detect changed reruns): the config without
    run-only keys, the amp's code or file hash and the DI's hash (a changed plugin or a changed
    signal generator is a different capture)."""
    c = {k: v for k, v in cfg.items() if k not in VOLATILE}
    c["sweep"] = design_identity(c["sweep"])
    c["signal"] = signal_identity(c["signal"])
    ident = amp.identity()
    c["amp_hash"] = ident.get("file_sha256") or ident.get("source_sha256")
    c["signal_hash"] = signal.sha256
    return c


def signal_identity(sig: dict) -> dict:
    """The signal config as a dataset's identity holds it: the generator's material keys only where they differ
    from the generator before they existed (its v1 values), and none for a DI file, so older datasets keep theirs."""
    from .signals import V1

    v1 = V1.describe()
    keep = sig.get("kind") == "builtin"
    out = {k: ({n: w for n, w in v.items() if w} if isinstance(v, dict) else v) for k, v in sig.items()}
    return {k: v for k, v in out.items() if k not in v1 or (keep and v not in (v1[k], {}))}


def changed_since(cfg_in, manifest: dict) -> list[str]:
    """Keys of the sweep and signal config that differ between a composed capture config and the one a
    dataset was captured with (a trainer asks before it reuses a dataset; the plugin is not loaded, so
    its changes are the capture's to find, by its hash). Empty: the same design over the same DI."""
    cfg = to_dict(validate(cfg_in, CaptureConfig))
    old = manifest.get("config") or {}
    new = {"sweep": design_identity(cfg["sweep"]), "signal": signal_identity(cfg["signal"])}
    return changed_keys({k: old.get(k) for k in new}, new)


def config_sha(c: dict) -> str:
    return sha256_json(c)


# --- the run ---------------------------------------------------------------------------------------

def prepare(cfg_in) -> tuple[dict, Amp, list[dict], Signal]:
    """Validate everything that can be wrong before a single file is written."""
    cfg = to_dict(validate(cfg_in, CaptureConfig))
    if cfg["workers"] < 1:
        raise ConfigError(f"workers: {cfg['workers']} must be at least 1")
    if cfg["retries"] < 0:
        raise ConfigError(f"retries: {cfg['retries']} must be 0 or more")
    if cfg["timeout_s"] is not None and cfg["timeout_s"] <= 0:
        raise ConfigError(f"timeout_s: {cfg['timeout_s']:g} must be positive (seconds per setting), or null for automatic")
    if cfg["plugin"]["reload_per_setting"] not in ("auto", "always", "never"):
        raise ConfigError(f"plugin.reload_per_setting: '{cfg['plugin']['reload_per_setting']}' is not one of auto, always, never")
    check_out_location(dataset_dir(cfg))
    if cfg["plugin"]["kind"] == "builtin" and cfg["plugin"]["knobs"]:
        raise ConfigError(f"plugin.knobs: the embedded amp (kind: builtin) has its own knobs, so the config's knobs: entries "
                          f"({', '.join(cfg['plugin']['knobs'])}) would be ignored; remove them (a knob map is for kind: external)")
    amp = load_amp(cfg["plugin"])
    cfg["plugin"]["sample_rate"] = amp.sample_rate
    settings = plan(amp.knobs, cfg["sweep"])
    if not settings:
        raise ConfigError("sweep: the design has no settings")
    signal = make_signal(cfg["signal"], amp.sample_rate)
    return cfg, amp, settings, signal


def dataset_dir(cfg: dict) -> Path:
    shard = parse_shard(cfg["sweep"].get("shard"))
    root = Path(cfg["out"])
    return root / "shards" / f"{shard[0]}-of-{shard[1]}" if shard else root


def open_dataset(root: Path, key_cfg: dict, overwrite: bool) -> dict | None:
    """Existing manifest of the same capture (resume), None for a fresh start; refuse other captures,
    and folders holding files no capture wrote (overwrite=true never removes a user's file)."""
    if not root.exists() or not any(p.name != LOCK for p in root.iterdir()):
        return None
    try:
        old = ds.read_manifest(root)
    except DatasetError:
        old = None
    if old is not None and old.get("config_sha256") == config_sha(key_cfg):
        return old
    refuse_foreign(root, overwrite)  # a folder holding a user's files: named, and never suggested for overwrite=true
    if old is None:
        return None  # only temp files of a capture killed before its manifest: start afresh
    if not overwrite:
        changed = changed_keys(old.get("config"), key_cfg)
        raise DatasetError(f"out={root}: holds a capture with a different config (changed: {', '.join(changed[:4]) or 'plugin or signal'}); "
                           "pass overwrite=true to replace it or choose out=...")
    clear_capture(root)
    return None


def new_manifest(cfg: dict, key_cfg: dict, amp: Amp, settings: list[dict], signal: Signal, input_sha: str,
                 design_size: int) -> dict:
    manifest = {
        "format": ds.FORMAT, "format_version": ds.FORMAT_VERSION,
        "sample_rate": amp.sample_rate,
        "plugin": amp.identity(),
        "knobs": [k.to_json() for k in amp.knobs],
        "fixed_parameters": dict(cfg["plugin"].get("fixed") or {}),
        "signal": {**signal.description, "file": ds.INPUT, "sha256": input_sha, "num_samples": int(len(signal.audio)),
                   "audio_sha256": signal.sha256, "regions": signal.regions, "sections": signal.sections},
        "sweep": {**cfg["sweep"], "design_size": design_size},
        "settings": [{**s, "knobs_normalized": amp.knobs.normalise(s["knobs"]), "status": "pending"} for s in settings],
        "config": key_cfg, "config_sha256": config_sha(key_cfg),
        "complete": False, "checks": {}, "run": {},
    }
    manifest["labels_sha256"] = ds.labels_sha256(manifest)
    return manifest


def run_sweep(cfg_in, log=print, command: str | None = None) -> Path:
    """Capture (or resume) the dataset the config describes; one capture process per directory.
    `command`: the command line that runs it, recorded in the manifest for resuming."""
    cfg, amp, settings, signal = prepare(cfg_in)
    root = dataset_dir(cfg)
    with dir_lock(root, f"out={root}: another capture is writing to this directory ({{holder}}); wait for it "
                           "to finish or stop it, or choose another out=..."):
        return _sweep(cfg, amp, settings, signal, root, log, command)


def _sweep(cfg: dict, amp: Amp, settings: list[dict], signal: Signal, root: Path, log, command: str | None = None) -> Path:
    key_cfg = capture_config(cfg, amp, signal)
    design_size = len(settings)
    shard = parse_shard(cfg["sweep"].get("shard"))
    if shard:
        settings = [s for s in settings if s["index"] % shard[1] == shard[0]]
    manifest = start_or_resume(cfg, key_cfg, amp, settings, signal, root, design_size, log)
    if command:
        manifest["command"] = command
    by_index = {s["index"]: s for s in manifest["settings"]}
    return capture_manifest(cfg, amp, signal, root, manifest, [by_index[s["index"]] for s in settings], log)


def capture_manifest(cfg: dict, amp: Amp, signal: Signal, root: Path, manifest: dict, check_on: list[dict], log) -> Path:
    """Capture every setting of the manifest not yet captured (the plugin checks first, on `check_on`, when the
    manifest has none), then complete it (finish_sweep)."""
    entries = {s["index"]: s for s in manifest["settings"]}
    pending = [s for s in manifest["settings"]
               if not (s["status"] == "done" and (root / s["file"]).exists() and sha256_of(root / s["file"]) == s["sha256"])]
    pcfg = cfg["plugin"]
    seconds = len(signal.audio) / amp.sample_rate
    timeout = float(cfg["timeout_s"] or auto_timeout(seconds, pcfg))
    attempts = 1 + int(cfg["retries"])
    spawn = lambda: HostProcess(pcfg, signal.audio, root)  # noqa: E731
    clear_partial_files(root)
    idle: list[HostProcess] = []
    try:
        if not manifest["checks"]:
            manifest["checks"], host = run_checks(spawn, check_on, timeout, log)
            idle.append(host)
            ds.write_manifest(root, manifest)
        for w in manifest["checks"]["warnings"]:
            log(f"warning: {w}")
        task = lambda s: ("capture", s, manifest["checks"]["reload_per_setting"], signal.regions["train"])  # noqa: E731
        done_now, elapsed = capture_pending(
            pending, entries, spawn, idle, task, root, manifest, cfg, timeout, attempts, seconds, log)
    finally:
        for h in idle:
            h.stop()
        with contextlib.suppress(OSError):  # disk full: keep the last good manifest, report the first error
            ds.write_manifest(root, manifest)
    manifest["run"] = {"captured_this_run": done_now, "seconds": round(elapsed, 3), "workers": cfg["workers"],
                       "timeout_s": timeout, "attempts_per_setting": attempts}
    return finish_sweep(root, manifest, seconds, log)


def start_or_resume(cfg: dict, key_cfg: dict, amp: Amp, settings: list[dict], signal: Signal, root: Path,
                    design_size: int, log) -> dict:
    """The manifest to capture into: the existing one of the same capture (resumed, its labels checked
    against the design), or a new one; the manifest is written before the DI, which is (re)written
    whenever it is missing or changed."""
    manifest = open_dataset(root, key_cfg, cfg["overwrite"])
    data = wav_bytes(signal.audio, amp.sample_rate)
    if manifest is None:  # the manifest first: a kill before the DI is written leaves a capture that resumes
        manifest = new_manifest(cfg, key_cfg, amp, settings, signal, sha256_bytes(data), design_size)
        ds.write_manifest(root, manifest)
    else:
        check_labels(root, manifest, settings)
        n_failed = sum(s["status"] == "failed" for s in manifest["settings"])
        log(f"resuming {root}: {sum(s['status'] == 'done' for s in manifest['settings'])} of {len(settings)} settings already captured"
            + (f", retrying {n_failed} that failed before" if n_failed else ""))
    if not (root / ds.INPUT).exists() or sha256_of(root / ds.INPUT) != manifest["signal"]["sha256"]:
        atomic_write_bytes(root / ds.INPUT, data)
    return manifest


def add_settings(cfg_in, new: list[dict], round_: int, probe_esr: list[float], info: dict | None = None, log=print) -> Path:
    """Append training settings (knob values) to the captured dataset at `out` as adaptive round `round_`, each with
    the probe error that chose it, and capture them; `info` (the round's probes) goes to the manifest's
    `adapt_rounds`. A round already appended (a resumed loop) is captured, not appended again. The dataset must be
    the same capture (config, plugin, DI)."""
    cfg, amp, _, signal = prepare(cfg_in)
    root = dataset_dir(cfg)
    with dir_lock(root, f"out={root}: another capture is writing to this directory ({{holder}}); wait for it to finish"):
        manifest = ds.read_manifest(root)
        if manifest.get("config_sha256") != config_sha(capture_config(cfg, amp, signal)):
            raise DatasetError(f"out={root}: holds another capture than the one to add settings to (a changed config, "
                               "plugin or DI); start a new run")
        if not any(s.get("round") == round_ for s in manifest["settings"]):
            manifest["settings"] += added_entries(manifest, amp.knobs, new, round_, probe_esr)
            manifest.setdefault("adapt_rounds", {})[str(round_)] = {"settings": len(new), **(info or {})}
            manifest["labels_sha256"] = ds.labels_sha256(manifest)
            manifest["complete"] = False
            ds.write_manifest(root, manifest)
        return capture_manifest(cfg, amp, signal, root, manifest, manifest["settings"], log)


def added_entries(manifest: dict, knobs, new: list[dict], round_: int, probe_esr: list[float]) -> list[dict]:
    """Manifest entries (pending) for settings an adaptive round adds: training settings after the last index."""
    start = max(s["index"] for s in manifest["settings"]) + 1
    return [{"index": start + i, "id": f"{start + i:05d}", "split": "train", "knobs": dict(k),
             "knobs_normalized": knobs.normalise(k), "status": "pending", "round": int(round_), "probe_esr": round(float(e), 6)}
            for i, (k, e) in enumerate(zip(new, probe_esr))]


def check_labels(root: Path, manifest: dict, settings: list[dict]) -> None:
    """Refuse to resume into a manifest whose settings' labels differ from the design's (edited by hand)."""
    want = {s["index"]: (s["split"], s["knobs"]) for s in settings}
    got = {s["index"]: (s["split"], s["knobs"]) for s in manifest["settings"] if not s.get("round")}  # not an adaptive round's
    changed = [i for i in sorted(set(want) | set(got)) if want.get(i) != got.get(i)]
    if changed or manifest.get("labels_sha256", ds.labels_sha256(manifest)) != ds.labels_sha256(manifest):
        where = f"setting {changed[0]:05d}'s" if changed else "the settings'"
        raise DatasetError(f"out={root}: {where} labels in {ds.MANIFEST} differ from the design (edited after capture?); "
                           "recapture it with overwrite=true, or choose another out=...")


def finish_sweep(root: Path, manifest: dict, seconds: float, log) -> Path:
    """Complete the manifest (level, this run's numbers), write the report, say what happened; a
    failed setting ends the command with one line (the captured ones are kept)."""
    run = manifest["run"]
    done_now, elapsed = run["captured_this_run"], run["seconds"]
    speed = done_now * seconds / elapsed if done_now and elapsed > 0 else None
    failed = [s for s in manifest["settings"] if s["status"] == "failed"]
    manifest["complete"] = not failed
    manifest["output_level"] = ds.output_level(manifest["settings"])
    manifest["run"] = {"captured_this_run": done_now, "failed": len(failed), "seconds": elapsed,
                       "x_realtime": round(speed, 1) if speed else None, "workers": run["workers"],
                       "timeout_s": run["timeout_s"], "attempts_per_setting": run["attempts_per_setting"]}
    ds.write_manifest(root, manifest)
    warn = sum(len(s.get("warnings", [])) for s in manifest["settings"])
    log(f"dataset: {root} ({len(manifest['settings'])} settings, {seconds:.1f} s each"
        + (f", captured {done_now} at {speed:.0f}x real time" if speed else ", nothing left to capture")
        + (f", {warn} warnings in the manifest" if warn else "") + ")")
    write_dataset_report(root, log=log, check=False)
    note = ds.level_note(manifest["output_level"])
    if note:
        log(note)
    if failed:
        n = len(manifest["settings"])
        log(f"{len(failed)} of {n} settings failed after {run['attempts_per_setting']} attempt(s) each:")
        for s in failed:
            log(f"  {s['id']} {_knob_text(s['knobs'])}: {s['error']}")
        raise CaptureFailed(f"{len(failed)} of {n} settings failed (listed above and in {root / ds.MANIFEST}); rerun the "
                            f"same command to retry them, the {n - len(failed)} captured are kept")
    return root


def _knob_text(knobs: dict) -> str:
    return "{" + ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in knobs.items()) + "}"


def load_amp(pcfg: dict, for_params: bool = False):
    """The amp for the capture process: the embedded one directly; a plugin (or Python amp) is loaded
    in a worker process first, so one that crashes or hangs while loading fails with one line instead
    of taking the command down. Returns an Amp (sweep) or the parameter description (params)."""
    if pcfg.get("kind") == "builtin":
        return describe(pcfg, for_params) if for_params else make_amp(pcfg)
    if pcfg.get("kind") == "external":
        PluginAmp.check_path(pcfg)  # a missing file needs no process
    d = describe_in_worker(pcfg, for_params)
    return d if for_params else DescribedAmp(d)


def params_table(cfg_in) -> tuple[list[dict], str | None]:
    """The plugin's parameters, plus the knob-map problem if the config's map does not fit it."""
    d = params_description(cfg_in)
    return d["rows"], d["problem"]


def params_description(cfg_in) -> dict:
    """`capture params`: rows, knob-map problem and the parameters as data (for --write-config)."""
    cfg = to_dict(validate(cfg_in, CaptureConfig))
    return {**load_amp(cfg["plugin"], for_params=True), "plugin": cfg["plugin"]}
