"""The work one plugin instance does, in a plugin process (capture/worker.py) or in this one: render a
setting, check it and write its WAV; and the plugin checks (deterministic? does a reused instance
render what a fresh one does?)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ampcap import dataset as ds
from ampcap.errors import CaptureFailed
from ampcap.wav import write_wav

from .host import Amp, make_amp
from .reamp import render_setting

SILENCE_RMS = 1e-6          # below this (-120 dBFS) the output counts as silent
EQUAL_ESR = 1e-9            # two renders count as identical below this relative error


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    den = float(np.sum(np.square(a, dtype=np.float64))) + 1e-30
    return float(np.sum(np.square(a.astype(np.float64) - b)) / den)


# --- per-setting work (runs in the main process or in a worker) ----------------------------------

def readback_problem(amp: Amp, wanted: dict, got: dict) -> str | None:
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
    bad = readback_problem(amp, setting["knobs"], r.readback)
    if bad:  # plugin did not keep what it was told: retry once on a fresh instance
        amp = make_amp(pcfg)
        r = render_setting(amp, setting["knobs"], di, pcfg["preroll_s"], pcfg["max_latency"])
        again = readback_problem(amp, setting["knobs"], r.readback)
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
    sha = write_wav(root / rel, y, amp.sample_rate)
    return {"file": rel, "sha256": sha, "peak": stats["peak"], "rms": stats["rms"], "latency": int(r.latency),
            "warnings": warnings, "status": "done"}


def probe_one(amp: Amp, knobs: dict, di: np.ndarray, pcfg: dict, reload_each: bool) -> np.ndarray:
    """Render a probe (a short DI) at a candidate setting; nothing is written (capture/probe.py)."""
    if reload_each:
        amp = make_amp(pcfg)
    y = render_setting(amp, knobs, di, pcfg["preroll_s"], pcfg["max_latency"]).audio
    if not np.all(np.isfinite(y)):
        raise CaptureFailed("plugin output contains NaN/Inf")
    return y


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
