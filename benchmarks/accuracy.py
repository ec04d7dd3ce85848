"""Held-out accuracy of training variants at equal wall time: each variant is one training run (its
own process, same seed and budget) of an experiment with some overrides; afterwards the weights it
validated at each epoch (kept with trainer.keep_epochs) are measured on the held-out test settings x
test audio, giving a curve of held-out ESR against minutes. Training never sees the test numbers:
each run chooses its model on validation alone.

    python -m benchmarks.accuracy                          # the defaults against what they replaced, gain_sweep, 5 min each
    python -m benchmarks.accuracy --minutes 10 --variants base plateau+noema cosine+noema
    python -m benchmarks.accuracy --experiment full_amp --minutes 30 --variants base
    python -m benchmarks.accuracy --list                   # the parts a variant is made of, and their overrides

Prints the table (held-out ESR, training-settings ESR and their gap, worst held-out setting, per-band
dB, epochs, samples/s), writes outputs/benchmarks/accuracy-<experiment>.json and a curve plot
accuracy-<experiment>.png.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

OUT = Path("outputs/benchmarks")

VARIANTS_FILE = Path(__file__).with_name("variants.yaml")


def variant_data(section: str) -> dict:
    """A section of benchmarks/variants.yaml: the benchmarks' variants as data."""
    import yaml

    return yaml.safe_load(VARIANTS_FILE.read_text())[section]


# parts of a variant, joined with '+' (e.g. cosine+ema+plain); "base" is the experiment as configured
PARTS = variant_data("accuracy")


def overrides_of(variant: str, experiment: str = "gain_sweep") -> list[str]:
    parts = variant.split("+")
    unknown = [p for p in parts if p not in PARTS and "=" not in p]
    if unknown:
        raise SystemExit(f"error: unknown variant part {unknown[0]!r}; parts: {', '.join(PARTS)} (join with +; "
                         "or an override itself, as trainer.ema=0.9)")
    found = [o for p in parts for o in PARTS.get(p, [p])]
    capture = [o[1:] for o in found if o.startswith("@")]
    if capture:  # one dataset of the variant's own, captured with all its @ overrides
        name = "+".join(p for p in parts if any(o.startswith("@") for o in PARTS.get(p, [p])))
        items = ",".join(f"'{o}'" for o in capture + [f"out=outputs/datasets/{experiment}-{name}"])
        found = [o for o in found if not o.startswith("@")] + [f"dataset.capture_overrides=[{items}]"]
    return found


def run_variant(experiment: str, name: str, overrides: list[str], minutes: float, runs: Path, cpus: str | None,
                tag: str = "", keep_epochs: bool = True) -> Path:
    """Train one variant in its own process (pinned to `cpus` when given); returns its run directory, which
    carries the tag so that two benchmark processes running one variant side by side keep their own runs.
    keep_epochs: keep each validation's weights, for the curve of held-out ESR against minutes."""
    run_dir = runs / experiment / f"{name}{tag}"
    cmd = [sys.executable, "-m", "amptrain", f"+experiment={experiment}", *overrides, f"trainer.max_minutes={minutes}",
           "trainer.max_epochs=100000", f"trainer.keep_epochs={str(keep_epochs).lower()}", "trainer.progress=false", "trainer.renders=0",
           f"run_dir={run_dir}"]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode < 0:  # a signal: SIGKILL is most often the kernel's out-of-memory killer
        raise SystemExit(f"error: variant {name} was killed by signal {-p.returncode}"
                         + (" (out of memory?)" if p.returncode == -9 else "") + f"; its run directory: {run_dir}")
    if p.returncode != 0:
        raise SystemExit(f"error: variant {name} failed: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}")
    return run_dir


def measure(run: Path, eval_root: Path | None = None, real: bool = True) -> dict:
    """Held-out ESR of the final model and of every kept epoch's weights (the curve), and the final
    model's figures from metrics.json; with `eval_root`, held-out figures are on that dataset's test
    settings x test audio instead (variants trained on different designs or DIs, measured on the same set),
    and `ref_val_esr` on its validation settings x validation audio. `real_dev_esr`: real playing of the
    development set (realplay.DEV_SEED) at the same settings, what a choice between variants may look at;
    `real_playing_esr` is the evaluation set's, for the report."""
    from ampcap import dataset as ds
    from amptrain import checkpoint
    from amptrain.finished_run import Run
    from capture.realplay import DEV_SEED

    r = Run.open(run)
    m = r.metrics
    net = r.net()
    ref_val, manifest = None, r.manifest if eval_root is None else ds.read_manifest(eval_root)
    test = r.split("test", dataset=eval_root)
    if eval_root is not None:
        m["heldout"] = r.evaluate(net, test)[0]
        ref_val = round(r.evaluate(net, r.split("val", dataset=eval_root))[0]["esr"], 4)
    rp, dev = m.get("real_playing") or {}, {}
    if real:
        if eval_root is not None:   # the eval dataset's test settings (the run's own may differ)
            rp = r.real_playing(net, test.settings, manifest)
        dev = r.real_playing(net, test.settings, manifest, seed=DEV_SEED)
    curve = []
    for f in sorted((run / "checkpoints").glob("epoch-*.npz")):
        state = checkpoint.load(f, net)
        curve.append({"minutes": round(state["elapsed_seconds"] / 60, 2), "val_esr": state["history"][-1]["val_esr"],
                      "heldout_esr": r.evaluate(net, test)[0]["esr"]})
    h, tr = m["heldout"], m["train_settings"]
    worst = max(r["esr"] for r in h["per_setting"])
    real_esr = round(rp["esr"], 4) if "esr" in rp else None
    return {"epochs": m["training"]["epochs"], "samples_per_s": round(m["training"]["samples_per_s"] or 0),
            "val_esr": round(m["validation"]["esr"], 4) if m.get("validation") else None, "ref_val_esr": ref_val,
            "heldout_esr": round(h["esr"], 4), "train_settings_esr": round(tr["esr"], 4),
            "real_dev_esr": round(dev["esr"], 4) if "esr" in dev else None, "real_playing_esr": real_esr,
            "real_x_test": round(real_esr / max(h["esr"], 1e-12), 2) if real_esr is not None else None,
            "real_per_style": {k: round(v, 4) for k, v in (rp.get("per_style") or {}).items()},
            "real_bands_db": {k: round(v, 2) for k, v in (rp.get("bands_db") or {}).items()},
            "gap": round(h["esr"] / max(tr["esr"], 1e-12), 2), "worst_x_mean": round(worst / max(h["esr"], 1e-12), 2),
            "dc": h["dc"], "low_db": round(h["bands_db"]["low"], 2), "mid_db": round(h["bands_db"]["mid"], 2),
            "high_db": round(h["bands_db"]["high"], 2), "stop": m["training"]["stop_reason"],
            "curve": curve, "per_setting": [{"knobs": r["knobs"], "esr": r["esr"]} for r in h["per_setting"]],
            "run": str(run)}


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in rows:
        if r["curve"]:
            ax.plot([c["minutes"] for c in r["curve"]], [c["heldout_esr"] for c in r["curve"]], "o-", ms=2.5, label=r["variant"])
    ax.set_yscale("log")
    ax.set_xlabel("minutes of training (wall time, incl. validation)")
    ax.set_ylabel("held-out ESR")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="gain_sweep")
    ap.add_argument("--minutes", type=float, default=5.0, help="wall budget per variant")
    ap.add_argument("--variants", nargs="+", default=["base", "plateau", "noema", "noplain"],
                    help="variants, each parts joined with + (see --list)")
    ap.add_argument("--cpus", default=None, help="pin every run to these cores (taskset -c), e.g. 0")
    ap.add_argument("--tag", default="", help="suffix of the output files and run directories")
    ap.add_argument("--eval-dataset", type=Path, default=None,
                    help="measure held-out ESR on this dataset's test settings x test audio (e.g. the experiment's own "
                         "dataset, when variants capture other designs)")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args(argv)
    if a.list:
        for k, v in PARTS.items():
            print(f"{k:<12} {' '.join(v) or '(the experiment as configured)'}")
        return {}
    for v in a.variants:
        overrides_of(v)
    from ampcap.cli import print_table
    from amptrain.tfenv import own_stderr, quiet_tensorflow

    own_stderr()  # a command line: TensorFlow's start-up chatter is not for the reader

    quiet_tensorflow()
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"accuracy-{a.experiment}{a.tag}.json"
    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    rows = [r for r in rows if r["variant"] not in a.variants or r["minutes"] != a.minutes]
    for name in a.variants:
        t0 = time.perf_counter()
        print(f"{a.experiment}: training variant {name} for {a.minutes:g} min ...", flush=True)
        run = run_variant(a.experiment, name, overrides_of(name, a.experiment), a.minutes, OUT / "accuracy_runs", a.cpus, a.tag)
        row = {"experiment": a.experiment, "variant": name, "overrides": " ".join(overrides_of(name, a.experiment)), "minutes": a.minutes,
               **measure(run, a.eval_dataset), "wall_seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        out.write_text(json.dumps({"rows": rows}, indent=1))
        print(f"  held-out ESR {row['heldout_esr']}  (val {row['val_esr']}, low {row['low_db']} dB)", flush=True)
    cols = ["variant", "minutes", "epochs", "samples_per_s", "val_esr", "ref_val_esr", "heldout_esr", "real_dev_esr",
            "real_playing_esr", "real_x_test",
            "train_settings_esr", "gap", "worst_x_mean", "low_db", "mid_db", "high_db"]
    print(f"\n{a.experiment}: held-out ESR at equal wall time (test settings x test audio; the model each run kept: trainer.select)")
    print_table(rows, cols)
    plot(rows, OUT / f"accuracy-{a.experiment}{a.tag}.png", f"{a.experiment}: held-out ESR vs minutes")
    print(f"\nwritten to {out} and {out.with_suffix('.png')}")
    return {"rows": rows}


if __name__ == "__main__":
    main()
