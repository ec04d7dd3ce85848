"""`trainer.focus`: per-setting loss weights that follow each training setting's running error, so the updates lean
towards the settings the model plays worst (off by default: it did not beat the defaults, docs/results.md)."""
from __future__ import annotations

import numpy as np

from .train_state import TrainState

FOCUS_DECAY = 0.9  # per sighting of a setting (one segment): ~10 segments of memory, ~1/4 epoch of 256 settings
FOCUS_CAP = 4.0     # a setting's focus factor stays within [1/cap, cap]


class Focus:
    """`trainer.focus`: per-setting loss weights that follow each training setting's running plain ESR
    (error and target energies summed over its recent segments, decayed per sighting), as
    (ESR / mean ESR)^focus within [1/FOCUS_CAP, FOCUS_CAP], times the balance weights: the updates
    lean towards the settings the model plays worst. Its sums live in the trainer's state (exact resume)."""

    def __init__(self, power: float, base: np.ndarray, state: TrainState):
        self.power, self.base = power, base
        n = len(base)
        if len(state.focus_err) != n:
            state.update(focus_err=[0.0] * n, focus_ref=[0.0] * n)
        self.state = state

    def update(self, rows: np.ndarray, err: np.ndarray, ref: np.ndarray) -> None:
        """Fold one batch's per-row energies into their settings' running sums."""
        e, r = np.asarray(self.state.focus_err), np.asarray(self.state.focus_ref)
        for i, a, b in zip(rows, err, ref):  # a setting twice in one batch: both segments count
            e[i], r[i] = FOCUS_DECAY * e[i] + a, FOCUS_DECAY * r[i] + b
        self.state.focus_err, self.state.focus_ref = e.tolist(), r.tolist()

    def weights(self) -> np.ndarray:
        """The base weights times each setting's focus factor (1 for a setting not yet seen)."""
        e, r = np.asarray(self.state.focus_err), np.asarray(self.state.focus_ref)
        seen = r > 0
        factor = np.ones(len(self.base))
        if seen.any():
            esr = e[seen] / r[seen]
            factor[seen] = np.clip((esr / max(esr.mean(), 1e-12)) ** self.power, 1 / FOCUS_CAP, FOCUS_CAP)
        w = self.base * factor
        return (w / w.mean()).astype(np.float32)
