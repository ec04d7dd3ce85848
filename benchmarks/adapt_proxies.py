"""Can the adaptive loop choose without spending plugin time (issue 38)? For each round an adaptive run probed, rank
its candidates by proxies that cost no plugin time and compare the ranking with the probes' true errors (the
round's model against the plugin, recorded in RUN/adapt.json):

- `prev`: checkpoint disagreement, the round's model against the previous round's (ESR between their renders);
- `dist`: the distance to the nearest training setting of the round (in the loop's unit knob coordinates).

    python -m benchmarks.adapt_proxies outputs/benchmarks/adaptive_runs/full_amp/adapt-s0 [...]

Prints, per run and round: the Spearman rank correlation with the probe error, and how much worse than the mean
candidate the proxy's worst quarter really is (its true mean ESR over all candidates' mean; the probes' own worst
quarter, the best any proxy can do, beside it). Writes outputs/benchmarks/adapt-proxies.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.accuracy import OUT


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of two score vectors (ties broken by order: the scores here are continuous)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def quarter_lift(proxy: np.ndarray, true: np.ndarray, share: float = 0.25) -> float:
    """The true mean error of the proxy's worst `share` of candidates over the mean of all candidates."""
    k = max(1, int(round(share * len(true))))
    return float(true[np.argsort(-proxy, kind="stable")[:k]].mean() / true.mean())


def measure(run_path: Path) -> list[dict]:
    from ampcap import dataset as ds
    from amptrain.adapt import disagreement, model_renders, unit_coords
    from amptrain.conditioning import encode
    from amptrain.finished_run import Run
    from capture.probe import probe_signal
    from capture.runner import load_amp

    run = Run.open(run_path)
    doc = json.loads((run.path / "adapt.json").read_text())
    t = run.config["trainer"]
    di, _ = ds.read_wav(run.root / run.manifest["signal"]["file"])
    x = probe_signal(di, run.manifest["signal"]["regions"]["train"], run.config["adapt"]["probe_s"], run.sample_rate)
    names = [k["name"] for k in run.knobs]
    amp_knobs = [k for k in load_amp({**run.plugin, "sample_rate": run.sample_rate}).knobs if k.name in names]
    net = run.net()
    train = [s for s in run.manifest["settings"] if s["split"] == "train" and s["status"] == "done"]
    rows, previous = [], None
    for r, rec in enumerate(doc["rounds"]):
        weights = run.path / "checkpoints" / f"round-{r}.npz"
        if not rec.get("probes"):
            break
        probes = [p for p in rec["probes"] if p["probe_esr"] is not None]
        true = np.array([p["probe_esr"] for p in probes])
        cond = np.stack([encode(run.knobs, p["knobs"]) for p in probes]).astype(np.float32)
        now = model_renders(net, weights, x, cond, t)
        pts = unit_coords(amp_knobs, [p["knobs"] for p in probes])
        seen = unit_coords(amp_knobs, [s["knobs"] for s in train if s.get("round", 0) <= r])
        dist = np.sqrt(((pts[:, None, :] - seen[None, :, :]) ** 2).sum(-1)).min(1)
        row = {"run": run.path.name, "round": r, "candidates": len(probes), "probe_esr_mean": round(float(true.mean()), 5),
               "oracle_lift": round(quarter_lift(true, true), 2),
               "dist_rho": round(spearman(dist, true), 3), "dist_lift": round(quarter_lift(dist, true), 2)}
        if previous is not None:
            before = model_renders(net, previous, x, cond, t)
            prev = disagreement(now, before)
            row.update(prev_rho=round(spearman(prev, true), 3), prev_lift=round(quarter_lift(prev, true), 2),
                       prev_mean=round(float(prev.mean()), 5))
        rows.append(row)
        previous = weights
    return rows


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="adaptive runs (adapt=probes) that kept their round checkpoints")
    a = ap.parse_args(argv)
    from ampcap.cli import print_table
    from amptrain.tfenv import own_stderr, quiet_tensorflow

    own_stderr()
    quiet_tensorflow()
    rows = [row for run in a.runs for row in measure(run)]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "adapt-proxies.json").write_text(json.dumps(rows, indent=1))
    print_table(rows, ["run", "round", "candidates", "probe_esr_mean", "oracle_lift", "dist_rho", "dist_lift", "prev_rho",
                       "prev_lift", "prev_mean"])
    return rows


if __name__ == "__main__":
    main()
