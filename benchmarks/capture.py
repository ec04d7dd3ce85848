"""Capture throughput on the builtin amp: x real time of the bare DSP, of our host's render
(pre-roll, latency probe, read-back) and of whole sweeps with 1 and 2 workers, in one run.

    python -m benchmarks.capture [--settings N] [--seconds S]
Prints a table and writes outputs/benchmarks/capture.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

from capture.builtin_amp import amp_process
from capture.config import compose_capture
from capture.host import BuiltinAmp
from capture.reamp import render_setting
from capture.runner import run_sweep
from capture.signals import builtin_signal


def xrt(seconds_audio: float, fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return seconds_audio / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30.0)
    a = ap.parse_args()
    sr = 48000
    sig = builtin_signal(sr, a.seconds, 1234, 0.1, 0.2)
    amp = BuiltinAmp()
    knobs = {k.name: k.default for k in amp.knobs}
    rows = []
    direct = xrt(a.seconds, lambda: amp_process(sig.audio, sr, knobs))
    rows.append(("amp DSP called directly", 1, direct))
    hosted = xrt(a.seconds, lambda: render_setting(amp, knobs, sig.audio))
    rows.append(("host render_setting", 1, hosted))
    tmp = Path(tempfile.mkdtemp())
    try:
        for workers in (1, 2):
            cfg = compose_capture([f"out={tmp / f'w{workers}'}", f"workers={workers}", "progress=false",
                                      f"sweep.n_train={a.settings}", "sweep.n_heldout=0", f"signal.duration_s={a.seconds}"])
            t0 = time.perf_counter()
            run_sweep(cfg, log=lambda m: None)
            rows.append((f"capture sweep, {a.settings} settings", workers, a.settings * a.seconds / (time.perf_counter() - t0)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"capture throughput, builtin amp, {a.seconds:g} s DI, {platform.processor() or platform.machine()}, "
          f"{__import__('os').cpu_count()} cores")
    print(f"{'what':<36} {'workers':>7} {'x real time':>12} {'vs direct':>10}")
    for what, w, x in rows:
        print(f"{what:<36} {w:>7} {x:>12.0f} {x / direct:>10.2f}")
    out = Path("outputs/benchmarks")
    out.mkdir(parents=True, exist_ok=True)
    (out / "capture.json").write_text(json.dumps(
        {"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(), "cores": __import__("os").cpu_count(),
         "seconds": a.seconds, "rows": [{"what": r[0], "workers": r[1], "x_realtime": round(r[2], 1)} for r in rows]}, indent=1))


if __name__ == "__main__":
    main()
