"""The capture run: plan the sweep, check the plugin, render every setting (resumably, in parallel)
and write the dataset. Side effects live here and in the CLI; DSP and design are pure functions."""
from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sys
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import dataset as ds
from .config import CaptureConfig, changed_keys, to_dict, validate
from .errors import CaptureFailed, ConfigError, DatasetError, PluginError
from .host import Amp, DescribedAmp, PluginAmp, describe, make_amp, render_setting
from .sweep import parse_shard, plan
from .worker import HostProcess, WorkerFailed, describe_in_worker, wait_for_any

if TYPE_CHECKING:
    from .signals import Signal

# Keys that do not change what is captured (so they may differ on resume and between shards).
VOLATILE = {"out", "workers", "overwrite", "progress", "timeout_s", "retries"}
SILENCE_RMS = 1e-6          # below this (-120 dBFS) the output counts as silent
EQUAL_ESR = 1e-9            # two renders count as identical below this relative error
GIVE_UP_AFTER = 3           # stop early when this many settings failed and none succeeded


def make_signal(sig: dict, sr: int) -> Signal:
    from .signals import builtin_signal, file_signal  # scipy.signal: ~1 s to import, not needed by plugin workers

    if sig["kind"] == "builtin":
        return builtin_signal(sr, sig["duration_s"], sig["seed"], sig["val_fraction"], sig["test_fraction"], sig["peak"])
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
    c["sweep"] = {**c["sweep"], "shard": None}
    ident = amp.identity()
    c["amp_hash"] = ident.get("file_sha256") or ident.get("source_sha256")
    c["signal_hash"] = signal.sha256
    return c


def config_sha(c: dict) -> str:
    return hashlib.sha256(json.dumps(c, sort_keys=True, default=str).encode()).hexdigest()


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    den = float(np.sum(np.square(a, dtype=np.float64))) + 1e-30
    return float(np.sum(np.square(a.astype(np.float64) - b)) / den)


# --- per-setting work (runs in the main process or in a worker) ----------------------------------

def _readback_ok(amp: Amp, wanted: dict, got: dict) -> str | None:
    for k in amp.knobs:
        w, g = wanted[k.name], got.get(k.name)
        if k.discrete:
            if str(w) != str(g):
                return f"{k.name}: set {w!r}, plugin reports {g!r}"
        elif g is None or abs(float(g) - float(w)) > 2e-3 * (k.max - k.min) + 1e-6:
            return f"{k.name}: set {w:g}, plugin reports {g}"
    return None


def capture_one(amp: Amp, setting: dict, di: np.ndarray, root: Path, pcfg: dict, reload_each: bool,
                region: tuple[int, int]) -> dict:
    """Render one setting, check it, write its WAV atomically; returns its manifest entry fields."""
    warnings = []
    if reload_each:
        amp = make_amp(pcfg)
    r = render_setting(amp, setting["knobs"], di, pcfg["preroll_s"], pcfg["max_latency"])
    bad = _readback_ok(amp, setting["knobs"], r.readback)
    if bad:  # plugin did not keep what it was told: retry once on a fresh instance
        amp = make_amp(pcfg)
        r = render_setting(amp, setting["knobs"], di, pcfg["preroll_s"], pcfg["max_latency"])
        again = _readback_ok(amp, setting["knobs"], r.readback)
        if again:
            raise CaptureFailed(f"plugin does not keep its parameters ({again})")
        warnings.append(f"readback failed on the reused instance ({bad}); rendered on a fresh instance")
    y = r.audio
    if not np.all(np.isfinite(y)):
        raise CaptureFailed("plugin output contains NaN/Inf")
    stats = ds.signal_stats(y)
    a, b = region
    if stats["rms"] < SILENCE_RMS or float(np.sqrt(np.mean(np.square(y[a:b], dtype=np.float64)))) < SILENCE_RMS:
        raise CaptureFailed("plugin output is silent "
                            "(unauthorised/demo plugin, bypassed, or master at zero?)")
    if stats["peak"] >= ds.HOT_PEAK:  # above full scale is fine in float (see ds.FULL_SCALE); this far is suspect
        warnings.append(f"very hot output: peak {ds.db(stats['peak']):+.1f} dBFS (kept exactly, but a level this high "
                        "usually means the plugin's output or master is set far too high)")
    rel = f"settings/{setting['id']}.wav"
    sha = ds.write_wav(root / rel, y, amp.sample_rate)
    return {"file": rel, "sha256": sha, "peak": stats["peak"], "rms": stats["rms"], "latency": int(r.latency),
            "warnings": warnings, "status": "done"}


# --- plugin checks ---------------------------------------------------------------------------------

def plugin_checks(amp: Amp, pcfg: dict, check: dict, other: dict, di: np.ndarray) -> tuple[dict, bool]:
    """Render a check setting on the reused instance (after another setting), again, and on a fresh
    instance. Returns the recorded checks and whether every setting needs a fresh instance."""
    pre, ml = pcfg["preroll_s"], pcfg["max_latency"]
    probe = di[: min(len(di), 5 * amp.sample_rate)]
    render_setting(amp, other["knobs"], probe, pre, ml)
    reused = render_setting(amp, check["knobs"], probe, pre, ml)
    again = render_setting(amp, check["knobs"], probe, pre, ml)
    fresh_amp = make_amp(pcfg)
    fresh = render_setting(fresh_amp, check["knobs"], probe, pre, ml)
    fresh_amp.close()
    det = relative_error(reused.audio, again.audio)
    diff = relative_error(fresh.audio, reused.audio)
    mode = pcfg["reload_per_setting"]
    reload_each = mode == "always" or (mode == "auto" and diff > EQUAL_ESR)
    warnings = []
    if det > EQUAL_ESR:
        warnings.append(f"non-deterministic: the same setting rendered twice differs (relative error {det:.2e})")
    if diff > EQUAL_ESR:
        warnings.append(f"fresh and reused instances differ (relative error {diff:.2e})"
                        + ("; reloading the plugin for every setting" if reload_each else ""))
    return {"check_setting": check["id"], "deterministic": det <= EQUAL_ESR, "repeat_relative_error": det,
            "fresh_equals_reused": diff <= EQUAL_ESR, "fresh_vs_reused_relative_error": diff,
            "reload_per_setting": reload_each, "latency_probe": int(reused.latency), "warnings": warnings}, reload_each


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
    """Existing manifest of the same capture (resume), None for a fresh start; refuse other captures."""
    if not root.exists() or not any(p.name != ds.LOCK for p in root.iterdir()):
        return None
    try:
        old = ds.read_manifest(root)
    except DatasetError:
        old = None
    if old is not None and old.get("config_sha256") == config_sha(key_cfg):
        return old
    if not overwrite:
        if old is None:
            raise DatasetError(f"out={root}: directory exists and is not a dataset of this capture; pick another out=... or pass overwrite=true")
        changed = changed_keys(old.get("config"), key_cfg)
        raise DatasetError(f"out={root}: holds a capture with a different config (changed: {', '.join(changed[:4]) or 'plugin or signal'}); "
                           "pass overwrite=true to replace it or choose out=...")
    for name in (ds.MANIFEST, ds.INPUT):
        (root / name).unlink(missing_ok=True)
    shutil.rmtree(root / "settings", ignore_errors=True)
    shutil.rmtree(root / "shards", ignore_errors=True)
    return None


def new_manifest(cfg: dict, key_cfg: dict, amp: Amp, settings: list[dict], signal: Signal, input_sha: str,
                 design_size: int) -> dict:
    return {
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


def run_sweep(cfg_in, log=print) -> Path:
    """Capture (or resume) the dataset the config describes; one capture process per directory."""
    cfg, amp, settings, signal = prepare(cfg_in)
    root = dataset_dir(cfg)
    with ds.dir_lock(root, f"out={root}: another capture is writing to this directory ({{holder}}); wait for it "
                           "to finish or stop it, or choose another out=..."):
        return _sweep(cfg, amp, settings, signal, root, log)


def _sweep(cfg: dict, amp: Amp, settings: list[dict], signal: Signal, root: Path, log) -> Path:
    key_cfg = capture_config(cfg, amp, signal)
    design_size = len(settings)
    shard = parse_shard(cfg["sweep"].get("shard"))
    if shard:
        settings = [s for s in settings if s["index"] % shard[1] == shard[0]]
    manifest = open_dataset(root, key_cfg, cfg["overwrite"])
    sr = amp.sample_rate
    if manifest is None:
        input_sha = ds.write_wav(root / ds.INPUT, signal.audio, sr)
        manifest = new_manifest(cfg, key_cfg, amp, settings, signal, input_sha, design_size)
        ds.write_manifest(root, manifest)
    else:
        n_failed = sum(s["status"] == "failed" for s in manifest["settings"])
        log(f"resuming {root}: {sum(s['status'] == 'done' for s in manifest['settings'])} of {len(settings)} settings already captured"
            + (f", retrying {n_failed} that failed before" if n_failed else ""))
    entries = {s["index"]: s for s in manifest["settings"]}
    pending = [s for s in manifest["settings"]
               if not (s["status"] == "done" and (root / s["file"]).exists() and ds.sha256_of(root / s["file"]) == s["sha256"])]
    pcfg = cfg["plugin"]
    seconds = len(signal.audio) / sr
    timeout = float(cfg["timeout_s"] or auto_timeout(seconds, pcfg))
    attempts = 1 + int(cfg["retries"])
    spawn = lambda: HostProcess(pcfg, signal.audio, root)  # noqa: E731
    clear_partial_files(root)
    idle: list[HostProcess] = []
    try:
        if not manifest["checks"]:
            manifest["checks"], host = run_checks(spawn, [entries[s["index"]] for s in settings], timeout, log)
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
    speed = done_now * seconds / elapsed if done_now and elapsed > 0 else None
    failed = [s for s in manifest["settings"] if s["status"] == "failed"]
    manifest["complete"] = not failed
    manifest["output_level"] = ds.output_level(manifest["settings"])
    manifest["run"] = {"captured_this_run": done_now, "failed": len(failed), "seconds": round(elapsed, 3),
                       "x_realtime": round(speed, 1) if speed else None, "workers": cfg["workers"],
                       "timeout_s": timeout, "attempts_per_setting": attempts}
    ds.write_manifest(root, manifest)
    warn = sum(len(s.get("warnings", [])) for s in manifest["settings"])
    log(f"dataset: {root} ({len(manifest['settings'])} settings, {seconds:.1f} s each"
        + (f", captured {done_now} at {speed:.0f}x real time" if speed else ", nothing left to capture")
        + (f", {warn} warnings in the manifest" if warn else "") + ")")
    from .report import write_dataset_report  # the listening report: design, levels, warnings, players

    write_dataset_report(root, log=log, check=False)
    note = ds.level_note(manifest["output_level"])
    if note:
        log(note)
    if failed:
        log(f"{len(failed)} of {len(manifest['settings'])} settings failed after {attempts} attempt(s) each:")
        for s in failed:
            log(f"  {s['id']} {_knob_text(s['knobs'])}: {s['error']}")
        raise CaptureFailed(f"{len(failed)} of {len(manifest['settings'])} settings failed (listed above and in "
                            f"{root / ds.MANIFEST}); rerun the same command to retry them, the {len(manifest['settings']) - len(failed)} captured are kept")
    return root


def auto_timeout(seconds: float, pcfg: dict) -> float:
    """Per-setting deadline when timeout_s is not given: generous for any plugin that renders at least
    at half real time, plus its load time (reloaded plugins load once per setting)."""
    return 60.0 + 2.0 * (seconds + pcfg["preroll_s"] + 1.0) + 2.0 * float(pcfg.get("init_timeout_s") or 10.0)


def _knob_text(knobs: dict) -> str:
    return "{" + ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in knobs.items()) + "}"


def clear_partial_files(root: Path, setting_id: str | None = None) -> None:
    """Remove temp files left by a write that was killed (all of them at start, one setting's after a
    worker is killed): they are never read, but should not pile up."""
    pattern = f".{setting_id}.wav.*.tmp" if setting_id else ".*.tmp"
    for d in (root, root / "settings"):
        for p in d.glob(pattern):
            p.unlink(missing_ok=True)


def run_checks(spawn, entries: list[dict], timeout: float, log) -> tuple[dict, HostProcess]:
    """The plugin checks in a worker. A plugin that fails them on one pair of settings is tried on
    the next pair (up to three); returns the checks and the live worker, to reuse for capture."""
    n = len(entries)
    pairs = [(entries[i], entries[n - 1 - i] if n > 1 else entries[0]) for i in range(min(3, max(1, n // 2)))]
    reasons = []
    for check, other in pairs:
        try:
            host = spawn()
            host.wait_ready()
        except WorkerFailed as e:
            raise PluginError(f"plugin: {e}") from None
        host.submit(("checks", check, other), 2 * timeout)
        try:
            while (result := host.poll()) is None:
                wait_for_any([host], 0.5)
            return result, host
        except WorkerFailed as e:
            reasons.append(f"{check['id']}/{other['id']}: {e}")
            log(f"warning: plugin checks on settings {check['id']} and {other['id']} failed: {e}")
    raise CaptureFailed(f"plugin checks failed on {len(reasons)} pair(s) of settings ({reasons[-1]}); "
                        "the plugin crashes or misbehaves on every setting tried")


def capture_pending(pending, entries, spawn, idle, task, root, manifest, cfg, timeout, attempts, seconds, log):
    """Render the pending settings on `workers` plugin processes. A setting whose worker crashes,
    hangs past `timeout` or reports an error is retried on a fresh process, then recorded as failed."""
    from tqdm import tqdm

    bar = tqdm(total=len(pending), unit="setting", desc=f"capture {cfg['plugin']['name']}", disable=not cfg["progress"],
               file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
    say = lambda m: bar.write(m, file=sys.stderr) if cfg["progress"] else log(m)  # noqa: E731
    queue = deque((s, 1) for s in pending)
    busy: dict[HostProcess, tuple[dict, int]] = {}
    reasons: dict[int, list[str]] = {}
    t0 = time.perf_counter()
    done_now = failed_now = 0
    last_write = time.monotonic()
    workers = min(cfg["workers"], max(1, len(pending)))

    def fail(s: dict, attempt: int, reason: str) -> None:
        nonlocal failed_now
        reasons.setdefault(s["index"], []).append(reason)
        if attempt < attempts:
            say(f"warning: setting {s['id']} failed (attempt {attempt} of {attempts}): {reason}; retrying on a fresh plugin process")
            queue.appendleft((s, attempt + 1))
            return
        say(f"warning: setting {s['id']} failed (attempt {attempt} of {attempts}): {reason}; recorded as failed")
        entries[s["index"]].update({"status": "failed", "error": reason, "attempts": reasons.pop(s["index"])})
        failed_now += 1
        bar.update(1)
        ds.write_manifest(root, manifest)
        if failed_now >= min(GIVE_UP_AFTER, len(pending)) and done_now == 0:
            raise CaptureFailed(f"the first {failed_now} settings all failed ({reason}); stopping: the plugin "
                                "fails on every setting tried (settings captured before are kept; see the manifest)")

    try:
        while queue or busy:
            while queue and len(busy) < workers:
                s, attempt = queue.popleft()
                host = idle.pop() if idle else spawn()
                try:
                    host.submit(task(s), timeout)
                except WorkerFailed as e:   # the plugin no longer loads: counts as this setting's attempt
                    host.kill()
                    fail(s, attempt, str(e))
                    continue
                busy[host] = (s, attempt)
            wait_for_any(list(busy), min(h.deadline for h in busy) - time.monotonic() + 0.05 if busy else 0)
            for host in list(busy):
                s, attempt = busy[host]
                try:
                    result = host.poll()
                except WorkerFailed as e:
                    del busy[host]
                    clear_partial_files(root, s["id"])
                    fail(s, attempt, str(e))
                    continue
                if result is None:
                    continue
                del busy[host]
                idle.append(host)
                entries[s["index"]].update({**result, "error": None, "attempts": reasons.pop(s["index"], [])})
                done_now += 1
                for w in result["warnings"]:
                    say(f"warning: setting {s['id']}: {w}")
                bar.update(1)
                bar.set_postfix_str(f"{done_now * seconds / (time.perf_counter() - t0):.0f}x real time")
                if time.monotonic() - last_write > 1.0:
                    ds.write_manifest(root, manifest)
                    last_write = time.monotonic()
    finally:
        for host in busy:
            host.kill()
        bar.close()
    return done_now, time.perf_counter() - t0


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
