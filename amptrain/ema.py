"""The weights' exponential moving average (trainer.ema), validated and saved instead of the last update's weights."""
from __future__ import annotations

import numpy as np


class EMA:
    """Exponential moving average of the weights (per batch, decay warmed up as (1+n)/(10+n)), for
    validation and the saved model: a smoother model than the last update's weights."""

    def __init__(self, decay: float, weights: list[np.ndarray] | None):
        self.decay, self.avg = decay, weights

    def update(self, model, n: int) -> None:
        w = [np.asarray(v) for v in model.weights]
        if self.avg is None:
            self.avg = w
            return
        d = min(self.decay, (1.0 + n) / (10.0 + n))
        self.avg = [d * a + (1.0 - d) * x for a, x in zip(self.avg, w)]

    def swap(self, model) -> list[np.ndarray]:
        """Put the average into the model; returns the weights it had (to swap back)."""
        now = [np.asarray(v) for v in model.weights]
        for v, a in zip(model.weights, self.avg):
            v.assign(a.astype(v.dtype))
        return now
