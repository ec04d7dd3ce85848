"""Adaptive capture against the space-filling design at equal cost (issue 38): for each seed, the experiment's
Sobol design and the adaptive loop (adapt=probes, the same capture budget in plugin-seconds with its probes
counted, the same wall budget with its probes, captures and evaluations counted) train side by side, one core
each; then both are measured on a common held-out set neither saw: a separate design (another Sobol seed, 32
test settings) over a new DI (another signal seed, 15 s of test audio), and on real playing at those settings.

    python -m benchmarks.adaptive --experiment full_amp --minutes 30 --seeds 0 1
    python -m benchmarks.adaptive --experiment refamp_full --minutes 30 --seeds 0 --variants sobol adapt adapt-half
    python -m benchmarks.adaptive --experiment full_amp --pooled    # the trained runs on all 64 common settings

Variants (benchmarks/variants.yaml, `adaptive:`): sobol (the experiment as configured), adapt (adapt=probes),
adapt-half (adapt=probes on half the design's settings: "the same accuracy for half the plugin time?"), sobol-half
(its control: the Sobol design of half the settings), the sharper loop (adapt-sharp*) and a quarter of the design
(sobol-128, adapt-sharp-128). Prints the table (held-out mean and worst,
real playing, plugin-seconds, ratios to sobol of the same seed), writes outputs/benchmarks/adaptive-<experiment>.json
and a plot of held-out ESR after each adaptive round against wall minutes, beside sobol's final figure.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from pathlib import Path

from benchmarks.accuracy import OUT, measure, run_variant, variant_data

EVAL_OVERRIDES = ["sweep=default", "sweep.seed=101", "sweep.n_train=2", "sweep.n_heldout=64", "signal.seed=7",
                  "signal.test_fraction=0.5", "signal.val_fraction=0.1", "progress=false"]


VARIANTS = variant_data("adaptive")   # benchmarks/variants.yaml: each variant's overrides


def variant_overrides(name: str, experiment: str, n_train: int) -> list[str]:
    if name not in VARIANTS:
        raise SystemExit(f"error: unknown variant {name!r}; variants: {', '.join(VARIANTS)}")
    return [o.format(experiment=experiment, half=n_train // 2) for o in VARIANTS[name]]


def experiment_capture(experiment: str) -> tuple[str, int, float]:
    """The experiment's plugin option, design size and the plugin-seconds one setting costs (its DI, pre-roll,
    latency probe and tail: capture/probe.py)."""
    from ampcap.config import to_dict, validate
    from amptrain.config import TrainConfig, compose_train
    from capture.config import compose_capture
    from capture.probe import plugin_seconds

    cfg = to_dict(validate(compose_train([f"+experiment={experiment}"]), TrainConfig))
    d = cfg["dataset"]
    c = to_dict(compose_capture([f"plugin={d['plugin']}", f"sweep={d['sweep']}", f"signal={d['signal']}"]))
    sr = 48000   # the plugin's own rate, where its config names one; the cost in seconds does not depend on it
    return d["plugin"], int(c["sweep"]["n_train"]), plugin_seconds(int(float(c["signal"]["duration_s"]) * sr), sr, c["plugin"])


def eval_dataset(experiment: str, plugin: str) -> Path:
    """The common held-out set (captured once): another Sobol seed's held-out points over a new DI."""
    root = Path("outputs/datasets") / f"{experiment}-adapt-eval"
    p = subprocess.run([sys.executable, "-m", "capture", "sweep", f"plugin={plugin}", *EVAL_OVERRIDES, f"out={root}"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"error: capturing the evaluation set failed: {p.stderr.strip().splitlines()[-1]}")
    return root


def spent_plugin_seconds(m: dict, n_train: int, setting_s: float) -> float:
    """Plugin-seconds a run (its metrics) spent on training settings and probes (held-out settings apart: the same
    in both). A Sobol run's capture was made before the run and is not counted in its wall time (an adaptive run's
    captures are)."""
    if "adapt" in m:
        p = m["adapt"]["plugin_seconds"]
        return p["train_settings"] + p["probes"]
    return n_train * setting_s


def train_settings(name: str, n_train: int) -> int:
    """The training settings a variant's budget holds: -half, -128 (a number), or the design's."""
    last = name.rsplit("-", 1)[-1]
    return n_train // 2 if last == "half" else int(last) if last.isdigit() else n_train


def pooled(run: Path, eval_root: Path) -> dict:
    """Mean and worst ESR over all of the common set's held-out settings: its validation settings over its
    validation audio and its test settings over its test audio (64 with the default set: less noise than either
    half; the validation half is what a choice may look at)."""
    from amptrain.finished_run import Run

    r = Run.open(run)
    net = r.net()
    halves = {s: r.evaluate(net, r.split(s, dataset=eval_root))[0] for s in ("val", "test")}
    per = [x["esr"] for h in halves.values() for x in h["per_setting"]]
    return {"val": round(halves["val"]["esr"], 5), "test": round(halves["test"]["esr"], 5),
            "pooled": round(sum(per) / len(per), 5), "pooled_worst": round(max(per), 4), "n": len(per)}


def print_pooled(experiment: str) -> dict:
    """`--pooled`: the pooled figures of every run of the experiment the benchmark has trained (no training)."""
    from ampcap.cli import print_table

    ev = Path("outputs/datasets") / f"{experiment}-adapt-eval"
    rows = [{"run": run.name, **pooled(run, ev)} for run in sorted((OUT / "adaptive_runs" / experiment).iterdir())
            if (run / "metrics.json").is_file()]
    (OUT / f"adaptive-{experiment}-pooled.json").write_text(json.dumps(rows, indent=1))
    print_table(rows, ["run", "val", "test", "pooled", "pooled_worst", "n"])
    return {"rows": rows}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="full_amp")
    ap.add_argument("--minutes", type=float, default=30.0, help="wall budget per variant (everything counted)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--variants", nargs="+", default=["sobol", "adapt"], help=", ".join(VARIANTS))
    ap.add_argument("--tag", default="")
    ap.add_argument("--first-cpu", type=int, default=0, choices=(0, 1),
                    help="the core the first variant trains on (the next the other): two calls side by side")
    ap.add_argument("--pooled", action="store_true", help="only measure the trained runs on all the common settings")
    a = ap.parse_args(argv)
    from ampcap.cli import print_table
    from amptrain.finished_run import Run
    from amptrain.tfenv import own_stderr, quiet_tensorflow

    own_stderr()
    quiet_tensorflow()
    if a.pooled:
        return print_pooled(a.experiment)
    plugin, n_train, setting_s = experiment_capture(a.experiment)
    for v in a.variants:
        variant_overrides(v, a.experiment, n_train)
    OUT.mkdir(parents=True, exist_ok=True)
    ev = eval_dataset(a.experiment, plugin)
    out = OUT / f"adaptive-{a.experiment}{a.tag}.json"
    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    for seed in a.seeds:
        runs: dict[str, Path] = {}
        errors: list[str] = []

        def train(name: str, cpu: str) -> None:
            try:
                ov = variant_overrides(name, a.experiment, n_train) + [f"trainer.seed={seed}"]
                runs[name] = run_variant(a.experiment, f"{name}-s{seed}", ov, a.minutes, OUT / "adaptive_runs", cpu, a.tag,
                                         keep_epochs=False)
            except SystemExit as e:
                errors.append(str(e))

        print(f"{a.experiment}, seed {seed}: training {', '.join(a.variants)} side by side for {a.minutes:g} min ...", flush=True)
        threads = [threading.Thread(target=train, args=(v, str((i + a.first_cpu) % 2))) for i, v in enumerate(a.variants)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if errors:
            raise SystemExit(errors[0])
        rows = [r for r in rows if not (r["seed"] == seed and r["variant"] in a.variants and r["minutes"] == a.minutes)]
        for name in a.variants:
            m = measure(runs[name], ev)
            metrics = Run.open(runs[name]).metrics
            rows.append({"experiment": a.experiment, "variant": name, "seed": seed, "minutes": a.minutes,
                         "plugin_s": round(spent_plugin_seconds(metrics, train_settings(name, n_train), setting_s)),
                         "settings": ((metrics.get("adapt") or {}).get("rounds") or [{}])[-1].get("train_settings",
                                                                                               train_settings(name, n_train)),
                         "rounds": (metrics.get("adapt") or {}).get("rounds"), **{k: m[k] for k in (
                             "epochs", "heldout_esr", "ref_val_esr", "worst_x_mean", "real_playing_esr", "real_dev_esr", "low_db", "mid_db",
                             "high_db", "per_setting", "run")}})
        out.write_text(json.dumps({"rows": rows}, indent=1))
    base = {(r["seed"]): r for r in rows if r["variant"] == "sobol" and r["minutes"] == a.minutes}
    for r in rows:
        b = base.get(r["seed"])
        r["worst"] = round(r["heldout_esr"] * r["worst_x_mean"], 4)
        if b:
            r["x_sobol_mean"] = round(r["heldout_esr"] / b["heldout_esr"], 2)
            r["x_sobol_worst"] = round(r["worst"] / (b["heldout_esr"] * b["worst_x_mean"]), 2)
            r["x_sobol_plugin_s"] = round(r["plugin_s"] / b["plugin_s"], 2)
            if r["real_playing_esr"] and b["real_playing_esr"]:
                r["x_sobol_real"] = round(r["real_playing_esr"] / b["real_playing_esr"], 2)
    out.write_text(json.dumps({"rows": rows}, indent=1))
    print(f"\n{a.experiment}: adaptive capture against Sobol at equal wall time, on a separate design over a new DI")
    print_table(rows, ["variant", "seed", "minutes", "epochs", "settings", "plugin_s", "heldout_esr", "worst", "worst_x_mean",
                       "real_playing_esr", "x_sobol_mean", "x_sobol_worst", "x_sobol_real", "x_sobol_plugin_s"])
    plot(rows, OUT / f"adaptive-{a.experiment}{a.tag}.png", a.experiment)
    print(f"\nwritten to {out} and {out.with_suffix('.png')}")
    return {"rows": rows}


def plot(rows: list[dict], path: Path, experiment: str) -> None:
    """Each adaptive run's held-out ESR after each round (on its own test settings) against wall minutes, and every
    run's final figures on the common set as points at the budget's end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in rows:
        label = f"{r['variant']} s{r['seed']}"
        if r.get("rounds"):
            ax.semilogy([x["wall_minutes"] for x in r["rounds"]], [x["heldout_esr"] for x in r["rounds"]], "o-", ms=3,
                        label=f"{label}: own test settings, per round")
        ax.semilogy([r["minutes"]], [r["heldout_esr"]], "*", ms=10, label=f"{label}: common set, mean")
        ax.semilogy([r["minutes"]], [r["worst"]], "v", ms=7, label=f"{label}: common set, worst")
    ax.set_xlabel("wall minutes")
    ax.set_ylabel("held-out ESR")
    ax.set_title(f"{experiment}: adaptive capture against Sobol")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
