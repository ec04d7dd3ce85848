"""Held-out accuracy against model size and conditioning: trains gain_sweep (and full_amp) for hidden
8/16/32/64 with concat and FiLM conditioning, each on the same wall-clock budget, and reports held-out
ESR (settings and audio never trained on) and per-band level error; plots ESR against size and
against each knob's value.

    python -m benchmarks.accuracy                  # small: gain_sweep, H 8/16/32 concat + 32 FiLM, 0.75 min each
    python -m benchmarks.accuracy --full           # both experiments, H 8/16/32/64 x concat/FiLM, 10 min each
    python -m benchmarks.accuracy --experiments full_amp --hidden 32 --conditioning concat --minutes 5

Writes outputs/benchmarks/accuracy.json and accuracy_vs_size.png / accuracy_vs_knob.png.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

OUT = Path("outputs/benchmarks")


def run_one(experiment: str, hidden: int, conditioning: str, minutes: float) -> dict:
    from amptrain.run import train
    from capture.config import compose

    name = f"{experiment}_{conditioning}{hidden}"
    cfg = compose("train", [f"+experiment={experiment}", f"model.hidden_size={hidden}", f"model.conditioning={conditioning}",
                            f"trainer.max_minutes={minutes}", "trainer.progress=false", "trainer.renders=0",
                            f"runs_dir={OUT / 'accuracy_runs'}", f"name={name}"])
    t = time.perf_counter()
    run = Path(train(cfg, log=lambda m: None))
    m = json.loads((run / "metrics.json").read_text())
    h = m["heldout"]
    return {"experiment": experiment, "hidden": hidden, "conditioning": conditioning, "parameters": m["training"]["parameters"],
            "epochs": m["training"]["epochs"], "samples_per_s": round(m["training"]["samples_per_s"] or 0),
            "heldout_esr": round(h["esr"], 4), "train_settings_esr": round(m["train_settings"]["esr"], 4),
            "low_db": round(h["bands_db"]["low"], 2), "mid_db": round(h["bands_db"]["mid"], 2), "high_db": round(h["bands_db"]["high"], 2),
            "wall_seconds": round(time.perf_counter() - t, 1), "per_setting": h["per_setting"], "run": str(run)}


def plots(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exps = sorted({r["experiment"] for r in rows})
    fig, axes = plt.subplots(1, len(exps), figsize=(5.5 * len(exps), 4), squeeze=False)
    for ax, e in zip(axes[0], exps):
        for cond in ("concat", "film"):
            rs = sorted((r for r in rows if r["experiment"] == e and r["conditioning"] == cond), key=lambda r: r["hidden"])
            if rs:
                ax.plot([r["hidden"] for r in rs], [r["heldout_esr"] for r in rs], "o-", label=cond)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("LSTM hidden size")
        ax.set_ylabel("held-out ESR")
        ax.set_title(e)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "accuracy_vs_size.png", dpi=110)
    plt.close(fig)
    values: dict = {}
    for r in rows:
        for s in r["per_setting"]:
            for k, v in s["knobs"].items():
                if isinstance(v, (int, float)):
                    values.setdefault(k, set()).add(v)
    knobs = sorted(k for k, v in values.items() if len(v) > 1)  # knobs that vary among held-out settings
    if not knobs:
        return
    fig, axes = plt.subplots(1, len(knobs), figsize=(4 * len(knobs), 3.6), squeeze=False, sharey=True)
    for ax, k in zip(axes[0], knobs):
        for r in rows:
            pts = sorted((s["knobs"][k], s["esr"]) for s in r["per_setting"] if k in s["knobs"])
            if len({p[0] for p in pts}) > 1:
                ax.plot(*zip(*pts), "o-", ms=3, label=f"{r['experiment']} {r['conditioning']}{r['hidden']}")
        ax.set_xlabel(k)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("held-out ESR")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(OUT / "accuracy_vs_knob.png", dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="both experiments, all sizes and modes, 10 min each")
    ap.add_argument("--minutes", type=float, default=None, help="budget per run (default 0.75, or 10 with --full)")
    ap.add_argument("--experiments", nargs="+", choices=["gain_sweep", "full_amp"], help="instead of the preset grid")
    ap.add_argument("--hidden", nargs="+", type=int, default=[8, 16, 32, 64])
    ap.add_argument("--conditioning", nargs="+", choices=["concat", "film"], default=["concat", "film"])
    a = ap.parse_args(argv)
    from amptrain.cli import quiet_tensorflow

    quiet_tensorflow()
    minutes = a.minutes or (10.0 if a.full else 0.75)
    if a.experiments:
        grid = [(e, h, c) for e in a.experiments for c in a.conditioning for h in a.hidden]
    elif a.full:
        grid = [(e, h, c) for e in ("gain_sweep", "full_amp") for c in ("concat", "film") for h in (8, 16, 32, 64)]
    else:
        grid = [("gain_sweep", h, "concat") for h in (8, 16, 32)] + [("gain_sweep", 32, "film")]
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for e, h, c in grid:
        print(f"training {e} {c} H{h} for {minutes:g} min ...", flush=True)
        rows.append(run_one(e, h, c, minutes))
    cols = ["experiment", "conditioning", "hidden", "parameters", "epochs", "samples_per_s", "heldout_esr",
            "train_settings_esr", "low_db", "mid_db", "high_db"]
    from capture.cli import print_table

    print(f"\nheld-out accuracy, {minutes:g} min per model")
    print_table(rows, cols)
    plots(rows)
    report = {"minutes": minutes, "rows": rows}
    (OUT / "accuracy.json").write_text(json.dumps(report, indent=1))
    print(f"\nwritten to {OUT / 'accuracy.json'}, accuracy_vs_size.png, accuracy_vs_knob.png")
    return report


if __name__ == "__main__":
    main()
