"""What the output DC blocker (amptrain/sampling/dc_block.py) does to trained models: each run's final model
rendered without it and with it at several cutoffs, on its validation set (where the cutoff is chosen), on
its own held-out test settings, on another dataset's
test settings (a separate design) and on a spread of its training settings, all over the test audio. The
blocker only acts on renders (training never sees it), so this is exactly what `model.dc_block=on` at that
cutoff gives the same run. One table: mean ESR, worst setting / mean, mean DC error per set and cutoff.

    python -m benchmarks.dc_block RUN [RUN ...] [--eval-dataset D] [--cutoffs 0 2 5 10] [--train-settings 64]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def sets_of(r, eval_root: Path | None, n_train: int) -> dict:
    """name -> SplitData: the run's (an opened Run) validation and test settings, the other dataset's test settings,
    and n_train of its training settings."""
    from amptrain.data import SplitData

    out = {"validation": r.split("val"), "own test": r.split("test")}   # the cutoff is chosen on validation
    if eval_root is not None:
        out["separate test"] = r.split("test", dataset=eval_root)
    if n_train:
        tr = r.split("train", "test")
        pick = np.unique(np.linspace(0, len(tr.settings) - 1, min(n_train, len(tr.settings))).round().astype(int))
        out[f"training ({len(pick)})"] = SplitData(tr.x, tr.y[pick], tr.cond[pick], [tr.settings[i] for i in pick])
    return out


def measure(run: Path, eval_root: Path | None, cutoffs: list[float], n_train: int, only: list[str] | None = None) -> list[dict]:
    from amptrain.finished_run import Run

    r = Run.open(run)
    net = r.net()
    sets = sets_of(r, eval_root, n_train)
    rows = []
    for name, data in sets.items():
        if only and name.split(" (")[0] not in only:
            continue
        for hz in cutoffs:
            net.dc_block_hz = float(hz)
            v, _ = r.evaluate(net, data)
            worst = max(s["esr"] for s in v["per_setting"])
            rows.append({"run": run.name, "set": name, "cutoff_hz": hz, "esr": round(v["esr"], 4),
                         "worst_x_mean": round(worst / max(v["esr"], 1e-12), 2), "worst": round(worst, 4),
                         "dc": f"{v['dc']:.1e}", "low_db": round(v["bands_db"]["low"], 2)})
    return rows


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--eval-dataset", type=Path, default=None)
    ap.add_argument("--cutoffs", nargs="+", type=float, default=[0.0, 2.0, 5.0, 10.0])
    ap.add_argument("--train-settings", type=int, default=64, help="training settings measured (evenly spread; 0: none)")
    ap.add_argument("--sets", nargs="+", default=None, help="only these sets (e.g. validation)")
    a = ap.parse_args(argv)
    from ampcap.cli import print_table
    from amptrain.tfenv import own_stderr, quiet_tensorflow

    own_stderr()
    quiet_tensorflow()
    rows = [r for run in a.runs for r in measure(run, a.eval_dataset, a.cutoffs, a.train_settings, a.sets)]
    print("ESR of each run's final model without (cutoff 0) and with the output DC blocker (each set over its own audio region)")
    print_table(rows, list(rows[0]) if rows else [])
    return rows


if __name__ == "__main__":
    main()
