"""Tone match against the amp itself (issue 39): targets rendered through the real amp at 20 random settings
never used in training, on a DI the model never saw (real playing: the first 2 s of each style of the evaluation
set, 10 s), each delayed by a random latency (0-8 ms) and inverted at random. Each is matched by the model
(`AmpModel.match`, default options), and the amp renders the found knobs. Per target: the found knobs against the
true ones (in units of each knob's range), the amp's ESR to the target at the found knobs beside the model's own
ESR at the true knobs, the bands, the time.

    python -m benchmarks.match --run outputs/benchmarks/accuracy_runs/full_amp/ring+pickup_full0
    python -m benchmarks.match --run outputs/benchmarks/accuracy_runs/refamp_full/refdi_full0

Goal: the amp's ESR at the found knobs <= max(2 x the model's own ESR at the true knobs, 0.01) on 18 of 20, every
band within 1 dB on all 20, a 10 s match in under a minute on 2 cores. Writes outputs/benchmarks/match-<name>.json
and a plot of found against true per knob.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

OUT = Path("outputs/benchmarks")
CLIP_S = 2.0       # of each real-playing style
MAX_DELAY_S = 0.008


def real_playing_di(sr: int) -> np.ndarray:
    """10 s of playing the model never heard: the first CLIP_S of each style of the real-playing evaluation set."""
    from capture.realplay import clips

    return np.concatenate([c[: int(CLIP_S * sr)] for c in clips(sr).values()]).astype(np.float32)


def random_settings(knobs, n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{k.name: (str(rng.choice(k.choices)) if k.discrete else round(float(rng.uniform(k.min, k.max)), 3)) for k in knobs}
            for _ in range(n)]


def knob_errors(knobs, true: dict, found: dict) -> dict:
    """|found - true| in units of each continuous knob's range; 0/1 for a switch (1: another choice)."""
    return {k.name: (float(found[k.name] != true[k.name]) if k.discrete else
                     round(abs(found[k.name] - true[k.name]) / (k.max - k.min), 3)) for k in knobs}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="a trained run directory")
    ap.add_argument("--n", type=int, default=20, help="targets")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--tag", default="")
    a = ap.parse_args(argv)
    from amptrain.tfenv import own_stderr, quiet_tensorflow

    own_stderr()
    quiet_tensorflow()
    from ampcap.cli import print_table
    from amptrain import AmpModel
    from amptrain.finished_run import Run
    from amptrain.losses import band_level_error_db, esr
    from amptrain.sampling.match import shift
    from capture.realplay import through_amp

    run = Path(a.run)
    opened = Run.open(run)
    plugin, info = opened.plugin, opened.info
    amp = AmpModel.load(run)
    sr, held = amp.sample_rate, amp.fixed_knobs
    x = real_playing_di(sr)
    settings = random_settings(amp.knobs, a.n, a.seed)
    print(f"{info['name']}: rendering {a.n} targets through the amp ({len(x) / sr:.0f} s of real playing) ...", flush=True)
    clean = through_amp(plugin, [{"knobs": {**held, **s}} for s in settings], x)
    rng = np.random.default_rng(a.seed + 1)
    delays = rng.integers(0, int(MAX_DELAY_S * sr) + 1, a.n)
    signs = rng.choice([-1, 1], a.n)
    rows, results = [], []
    for i, s in enumerate(settings):
        target = (signs[i] * shift(clean[i], int(delays[i]))).astype(np.float32)
        own = esr(clean[i], amp(x, None, s))
        t0 = time.monotonic()
        res = amp.match(x, target)
        seconds = time.monotonic() - t0
        results.append((target, res))
        rows.append({"target": i, "own_esr": round(own, 4), "match_esr": round(res.esr, 4), "seconds": round(seconds, 1),
                     "delay_true_ms": round(1000 * delays[i] / sr, 2), "delay_ms": res.delay_ms,
                     "polarity_ok": res.polarity == signs[i], "level_db": res.level_db, "flat": res.flat_knobs,
                     "alike": len(res.alike), "true": s, "found": res.knobs, "err": knob_errors(amp.knobs, s, res.knobs)})
        print(f"  {i + 1}/{a.n}: model ESR at the true knobs {own:.4f}, match {res.esr:.4f} ({seconds:.0f} s)", flush=True)
    found = through_amp(plugin, [{"knobs": {**held, **res.knobs}} for _, res in results], x)
    for r, (target, res), z in zip(rows, results, found):
        z = (res.polarity * 10 ** (res.level_db / 20) * shift(z, res.delay_samples)).astype(np.float32)
        r["amp_esr"] = round(esr(target, z), 4)
        r["bands_db"] = {k: round(v, 2) for k, v in band_level_error_db(target, z, sr).items()}
        r["goal"] = round(max(2 * r["own_esr"], 0.01), 4)
        r["ok"] = r["amp_esr"] <= r["goal"]
        r["bands_ok"] = all(abs(v) <= 1.0 for v in r["bands_db"].values())
        r["worst_band_db"] = max(r["bands_db"].values(), key=abs)
        r["max_knob_err"] = max((v for k, v in r["err"].items() if not next(kk for kk in amp.knobs if kk.name == k).discrete),
                                default=0.0)
    print_table(rows, ["target", "own_esr", "match_esr", "amp_esr", "goal", "ok", "worst_band_db", "delay_true_ms",
                       "delay_ms", "polarity_ok", "level_db", "max_knob_err", "seconds"])
    per_knob = {k.name: {"mean_err": round(float(np.mean([r["err"][k.name] for r in rows])), 3),
                         "within_0.1": sum(r["err"][k.name] <= 0.1 for r in rows),
                         "flat": sum(k.name in r["flat"] for r in rows)} for k in amp.knobs}
    print("\nper knob: mean |found - true| in units of its range (switches: share wrong), targets within 0.1, "
          "targets where the clip did not tell it (flat)")
    print_table([{"knob": n, **v} for n, v in per_knob.items()], ["knob", "mean_err", "within_0.1", "flat"])
    summary = {"run": str(run), "n": a.n, "ok": sum(r["ok"] for r in rows), "bands_ok": sum(r["bands_ok"] for r in rows),
               "mean_own_esr": round(float(np.mean([r["own_esr"] for r in rows])), 4),
               "mean_amp_esr": round(float(np.mean([r["amp_esr"] for r in rows])), 4),
               "median_seconds": round(float(np.median([r["seconds"] for r in rows])), 1),
               "max_seconds": round(float(np.max([r["seconds"] for r in rows])), 1),
               "delay_ok": sum(abs(r["delay_ms"] - r["delay_true_ms"]) <= 0.1 for r in rows),
               "polarity_ok": sum(r["polarity_ok"] for r in rows), "per_knob": per_knob}
    print(f"\n{summary['ok']}/{a.n} within max(2x own ESR, 0.01) (goal 18), bands within 1 dB on {summary['bands_ok']}/{a.n} "
          f"(goal all); mean amp ESR {summary['mean_amp_esr']} against the model's own {summary['mean_own_esr']}; "
          f"delay within 0.1 ms on {summary['delay_ok']}, polarity on {summary['polarity_ok']}; "
          f"match {summary['median_seconds']} s median, {summary['max_seconds']} s at most")
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"match-{info['name']}{a.tag}.json"
    out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1, default=str))
    plot(rows, amp.knobs, out.with_suffix(".png"), info["name"])
    print(f"written to {out} and {out.with_suffix('.png')}")
    return {"summary": summary, "rows": rows}


def plot(rows: list[dict], knobs, path: Path, name: str) -> None:
    """Found against true, one panel per knob (switches: the choice's index, jittered); flat matches hollow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(knobs)
    cols = min(n, 5)
    fig, axes = plt.subplots(-(-n // cols), cols, figsize=(2.6 * cols, 2.6 * -(-n // cols)), squeeze=False)
    jit = np.random.default_rng(0).uniform(-0.15, 0.15, (len(rows), 2))
    for ax, k in zip(axes.flat, knobs):
        def val(v, k=k):
            return k.choices.index(v) if k.discrete else v

        for j, r in enumerate(rows):
            t, f = val(r["true"][k.name]), val(r["found"][k.name])
            if k.discrete:
                t, f = t + jit[j, 0], f + jit[j, 1]
            flat = k.name in r["flat"]
            ax.plot(t, f, "o", ms=4, mfc="none" if flat else "C0", mec="C3" if not r["ok"] else "C0")
        lo, hi = (-0.5, len(k.choices) - 0.5) if k.discrete else (k.min, k.max)
        ax.plot([lo, hi], [lo, hi], "k:", lw=0.8)
        ax.set_title(k.name, fontsize=9)
        ax.set_xlabel("true", fontsize=7)
        ax.set_ylabel("found", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"{name}: tone match, found against true knobs (hollow: flat, red: over the goal)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
