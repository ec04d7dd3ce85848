"""Does any generated test material predict real playing? A trained gain_sweep model measured at its 4
held-out gains on 6 s of new test audio of several generated materials and on the real-playing
evaluation set (capture/realplay.py), through the embedded amp.

    python -m benchmarks.material RUN [RUN ...]

Prints one row per run: ESR on each material, on real playing, and real playing's ratio to each.
"""
from __future__ import annotations

import argparse

import numpy as np

GAINS = [1.875, 4.375, 6.875, 9.375]
PLAYING = ("notes", "chords", "palm_mute", "riff", "strum", "fingerpick")


def materials():
    from capture.signals import Material

    return {"v1": Material(), "ring": Material(ring=2.0), "ring+pickup": Material(ring=2.0, pickup=True),
            "phrases only": Material(mix=(("phrase", 1.0),), phrases=tuple((k, 1.0) for k in PLAYING)),
            "phrases only, ring": Material(mix=(("phrase", 1.0),), phrases=tuple((k, 1.0) for k in PLAYING), ring=2.0)}


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--seed", type=int, default=4321, help="the generator's seed for the new test audio")
    a = ap.parse_args(argv)
    from ampcap.cli import print_table
    from amptrain import AmpModel
    from amptrain.losses import esr
    from capture.builtin_amp import KNOB_SPECS, amp_process
    from capture.realplay import clips
    from capture.signals import builtin_signal

    sr = 48000
    defaults = {k: v["default"] for k, v in KNOB_SPECS.items()}
    dis = {k: builtin_signal(sr, 30, a.seed, 0.1, 0.2, material=m).audio[int(24 * sr):] for k, m in materials().items()}
    dis["real playing"] = np.concatenate(list(clips(sr).values()))
    targets = {k: [amp_process(x, sr, {**defaults, "gain": g}) for g in GAINS] for k, x in dis.items()}
    rows = []
    for run in a.runs:
        amp = AmpModel.load(run)
        row = {"run": run.rstrip("/").split("/")[-1]}
        for k, x in dis.items():
            preds = [amp(x, sr, {n: {**defaults, "gain": g}[n] for n in amp.knob_names}) for g in GAINS]
            row[k] = round(float(np.mean([esr(t, p) for t, p in zip(targets[k], preds)])), 4)
        row["real / generated"] = " ".join(f"{row['real playing'] / max(row[k], 1e-12):.1f}" for k in materials())
        rows.append(row)
    print(f"ESR at the {len(GAINS)} held-out gains: 6 s of new generated test audio of each material, and real playing")
    print_table(rows, ["run", *dis, "real / generated"])
    return rows


if __name__ == "__main__":
    main()
