"""Render speed and fidelity on this CPU: model size x mode (sequential, chunked, streaming) -> x real
time and error against the sequential render; chunk warm-up overlap -> error; the start-up bump a
render from the zero state has against a pre-warmed one; and what moving knobs do to a trained model
(clicks on knob jumps against smoothing, slow automation against static renders).

    python -m benchmarks.render [--seconds 20] [--run outputs/runs/gain_sweep] [--hidden 8 16 32 64] [--no-speed]

Writes the tables to outputs/benchmarks/render.json as well.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

SR = 48000


def timed(fn, repeats: int):
    fn()  # compile / warm up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def err_db(y, ref) -> float:
    e = np.sum((np.asarray(y, np.float64) - ref) ** 2) / np.sum(np.asarray(ref, np.float64) ** 2)
    return float(10 * np.log10(e)) if e > 0 else float("-inf")


def table(rows: list[dict], cols: list[str], title: str) -> None:
    from ampcap.cli import print_table

    print(f"\n{title}")
    print_table(rows, cols)


def speed_rows(amp, label: str, x: np.ndarray, knobs: dict, repeats: int, block: int) -> list[dict]:
    seconds = len(x) / SR
    seq, t_seq = timed(lambda: amp.render(x, mode="sequential", **knobs), repeats)
    rows = [{"model": label, "mode": "sequential", "x_realtime": round(seconds / t_seq, 1), "error_db": "ref"}]
    chk, t_chk = timed(lambda: amp.render(x, **knobs), repeats)
    rows.append({"model": label, "mode": "chunked", "x_realtime": round(seconds / t_chk, 1), "error_db": round(err_db(chk, seq), 1)})

    def stream():
        s = amp.stream()
        return np.concatenate([s.process(x[i: i + block], **knobs) for i in range(0, len(x), block)])

    st, t_st = timed(stream, repeats)
    rows.append({"model": label, "mode": f"streaming ({block})", "x_realtime": round(seconds / t_st, 1),
                 "error_db": round(err_db(st, seq), 1)})
    return rows


def prewarm_rows(amp, x: np.ndarray, knobs: dict) -> list[dict]:
    """The first 2 ms of a render against a settled one (1 s of silence first, dropped): peak error
    and error energy, from the zero state and pre-warmed; and what the pre-warm costs."""
    sr, n = amp.sample_rate, int(0.002 * amp.sample_rate)
    pad = np.zeros(sr, np.float32)
    ref = amp.render(np.concatenate([pad, x]), mode="sequential", prewarm=False, **knobs)[sr:][:n]
    rows = []
    for prewarm in (False, True):
        y, t = timed(lambda: amp.render(x, mode="sequential", prewarm=prewarm, **knobs), 2)
        rows.append({"start": "pre-warmed" if prewarm else "zero state", "first_2ms_peak_error": float(f"{np.max(np.abs(y[:n] - ref)):.3g}"),
                     "settled_peak": float(f"{np.max(np.abs(ref)):.3g}"), "error_db": round(err_db(y[:n], ref), 1),
                     "render_ms": round(1000 * t, 1)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--hidden", type=int, nargs="+", default=[8, 16, 32, 64])
    ap.add_argument("--run", default="outputs/runs/gain_sweep", help="a trained run (skipped if missing)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--block", type=int, default=512, help="streaming block size (samples)")
    ap.add_argument("--no-speed", action="store_true", help="skip the speed table (trained-model measures only)")
    a = ap.parse_args()

    from amptrain.tfenv import own_stderr, quiet_tensorflow

    own_stderr()  # a command line: TensorFlow's start-up chatter is not for the reader

    quiet_tensorflow()
    import keras

    from amptrain import AmpModel, ModelError
    from amptrain.model import AmpNet
    from amptrain.sampling.artefacts import click_excess_db, interpolated_reference
    from capture.signals import generate_region

    x, _ = generate_region(a.seconds, SR, seed=7, region_index=9, peak=0.5)
    knob = {"name": "gain", "kind": "continuous", "min": 0.0, "max": 10.0, "default": 5.0, "unit": ""}
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.processor() or platform.machine(),
              "seconds": a.seconds, "speed": [], "overlap": [], "prewarm": [], "clicks": [], "automation": []}
    for h in ([] if a.no_speed else a.hidden):
        keras.utils.set_random_seed(0)
        net = AmpNet(hidden_size=h, n_cond=1, knobs=[knob], sample_rate=SR).build_weights()
        report["speed"] += speed_rows(AmpModel(net), f"untrained H{h}", x, {"gain": 6.0}, a.repeats, a.block)
    trained = None
    try:
        trained = AmpModel.load(a.run)
        label = f"trained H{trained.net.hidden_size} ({Path(trained.source_file).parent.name})"
        kn = {k.name: k.default for k in trained.knobs}
        if not a.no_speed:
            report["speed"] += speed_rows(trained, label, x, kn, a.repeats, a.block)
    except ModelError as e:
        print(f"(no trained model: {e}; train one with python -m amptrain +experiment=gain_sweep)")
    if report["speed"]:
        table(report["speed"], ["model", "mode", "x_realtime", "error_db"], f"render speed, {a.seconds:g} s of DI (x real time; error vs sequential, dB)")

    if trained is None or not trained.knobs:
        return _write(report)
    amp = trained
    k = next(k for k in amp.knobs if not k.discrete)
    kn = {kk.name: kk.default for kk in amp.knobs if kk.name != k.name}
    lo, hi = k.min + 0.2 * (k.max - k.min), k.min + 0.9 * (k.max - k.min)
    seq = amp.render(x, mode="sequential", **kn, **{k.name: hi})
    for ov in (0, 256, 1024, 2400, 4800, 9600):
        y, t = timed(lambda: amp.render(x, overlap=ov, **kn, **{k.name: hi}), 1)
        report["overlap"].append({"overlap": ov, "x_realtime": round(a.seconds / t, 1), "error_db": round(err_db(y, seq), 1)})
    table(report["overlap"], ["overlap", "x_realtime", "error_db"], f"chunked render: warm-up overlap (samples) vs error (trained model, {k.name}={hi:g})")

    # start-up: zero state against pre-warmed, on silence (the bump alone) and on the DI
    for what, sig in (("silence", np.zeros(amp.sample_rate // 10, np.float32)), ("DI", x[: amp.sample_rate])):
        report["prewarm"] += [{"input": what, **r} for r in prewarm_rows(amp, sig, {**kn, k.name: hi})]
    table(report["prewarm"], ["input", "start", "first_2ms_peak_error", "settled_peak", "error_db", "render_ms"],
          "first 2 ms against a settled render (1 s of silence before, dropped): zero state vs pre-warmed")

    # clicks: a sustained note with the knob jumping lo -> hi in one sample, against smoothing
    t = np.arange(2 * SR) / SR
    note = (0.4 * np.exp(-t * 0.8) * sum(np.sin(2 * np.pi * 110 * m * t) / m for m in (1, 2, 3, 4))).astype(np.float32)
    statics = [amp.render(note, mode="sequential", **kn, **{k.name: v}) for v in (lo, hi)]
    for ms in (0, 2, 5, 10, 20, 50):
        jump = [(0.0, lo), (1.03, lo), (1.03, hi)]
        y = amp.render(note, mode="sequential", smooth_ms=ms, **kn, **{k.name: jump})
        report["clicks"].append({"smooth_ms": ms, "click_excess_db": round(click_excess_db(y, statics, SR), 1)})
    table(report["clicks"], ["smooth_ms", "click_excess_db"], f"{k.name} jump {lo:g} -> {hi:g} on a sustained note: click above the static renders (dB)")

    # slow automation: knob ramped lo -> hi over the whole DI vs the static renders it passes through
    grid = np.linspace(lo, hi, 9)
    statics = np.stack([amp.render(x, **kn, **{k.name: v}) for v in grid])
    track = np.interp(np.arange(len(x)) / SR, [0, a.seconds], [lo, hi])
    for ms in (0, 20):
        y = amp.render(x, smooth_ms=ms, **kn, **{k.name: track})
        ref = interpolated_reference(statics, grid, track)
        report["automation"].append({"smooth_ms": ms, "deviation_db": round(err_db(y, ref), 1),
                                     "grid_step_db": round(err_db(statics[4], statics[5]), 1)})
    table(report["automation"], ["smooth_ms", "deviation_db", "grid_step_db"],
          f"{k.name} ramp {lo:g} -> {hi:g} over {a.seconds:g} s vs interpolated static renders (energy of the difference, dB)")
    _write(report)


def _write(report: dict) -> None:
    out = Path("outputs/benchmarks")
    out.mkdir(parents=True, exist_ok=True)
    (out / "render.json").write_text(json.dumps(report, indent=1))
    print(f"\nwritten to {out / 'render.json'}")


if __name__ == "__main__":
    main()
