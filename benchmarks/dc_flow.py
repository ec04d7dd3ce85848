"""A plain user flow on a plugin whose output carries DC (benchmarks/dc_amp.py: an asymmetric tube
stage with no output capacitor, plus a fixed offset) against the same amp with its DC removed: capture
the same sweep of each, train each with the defaults on the same budget (`dataset=path`, as a user of
a third-party plugin would), compare held-out ESR and DC error. Target: the DC amp within 1.5x.

    python -m benchmarks.dc_flow [--minutes 5 | --epochs 20] [--sweep gain_sweep] [--cpus 0]

--epochs gives both runs the same number of updates whatever else the machine is doing (a wall budget
is fair only on a quiet core).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

from .accuracy import OUT, measure

AMP = ["plugin.kind=python", "plugin.target=benchmarks.dc_amp:DCAmp", "plugin.name=dc_amp"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--epochs", type=int, default=None, help="a budget of epochs instead of minutes")
    ap.add_argument("--sweep", default="gain_sweep")
    ap.add_argument("--cpus", default=None, help="pin the training runs to these cores (taskset -c)")
    a = ap.parse_args(argv)
    from ampcap.cli import print_table

    rows = []
    for name, opts in (("with DC", ["+plugin.options.coupled=false"]), ("DC removed", ["+plugin.options.coupled=true"])):
        tag = "dc" if "with" in name else "coupled"
        data = OUT / "dc_flow" / f"data-{tag}-{a.sweep}"
        cap = subprocess.run([sys.executable, "-m", "capture", "sweep", *AMP, *opts, f"sweep={a.sweep}", f"out={data}",
                              "progress=false"], capture_output=True, text=True)
        if cap.returncode != 0:
            raise SystemExit(f"error: capture of the {name} amp failed: {cap.stderr.strip().splitlines()[-1:]}")
        run = OUT / "dc_flow" / f"run-{tag}-{a.sweep}"
        budget = [f"trainer.max_epochs={a.epochs}", "trainer.max_minutes=null"] if a.epochs else [f"trainer.max_minutes={a.minutes}"]
        cmd = [sys.executable, "-m", "amptrain", "dataset=path", f"dataset.path={data}", *budget,
               "trainer.progress=false", "trainer.renders=0", f"run_dir={run}"]
        if a.cpus:
            cmd = ["taskset", "-c", a.cpus, *cmd]
        if run.exists():
            import shutil

            shutil.rmtree(run)
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"error: training on the {name} amp failed: {p.stderr.strip().splitlines()[-1:]}")
        m = measure(run)
        rows.append({"amp": name, "heldout_esr": m["heldout_esr"], "heldout_dc": f"{m['dc']:.2e}",
                     "train_settings_esr": m["train_settings_esr"], "low_db": m["low_db"], "epochs": m["epochs"]})
        print(f"{name}: held-out ESR {m['heldout_esr']}", flush=True)
    ratio = rows[0]["heldout_esr"] / max(rows[1]["heldout_esr"], 1e-12)
    budget = f"{a.epochs} epochs" if a.epochs else f"{a.minutes:g} min"
    print(f"\nuser flow (capture sweep={a.sweep}, train dataset=path, {budget}) on an amp with DC and without")
    print_table(rows, ["amp", "heldout_esr", "heldout_dc", "train_settings_esr", "low_db", "epochs"])
    print(f"with DC / without: {ratio:.2f}x (target <= 1.5x)")
    (OUT / "dc_flow.json").write_text(json.dumps({"minutes": None if a.epochs else a.minutes, "epochs": a.epochs, "rows": rows,
                                                  "ratio": ratio}, indent=1))
    return {"rows": rows, "ratio": ratio}


if __name__ == "__main__":
    main()
