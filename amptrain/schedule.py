"""The learning-rate schedule (trainer.schedule): `cosine`, a linear warm-up then a cosine down to the end of the
budget (wall minutes when there is one, else epochs); `plateau` halving lives in the training loop's validation."""
from __future__ import annotations

import math

from .train_state import TrainState


def scheduled_lr(t: dict, progress: float) -> float:
    """`schedule: cosine`: linear warm-up over the first `lr_warmup` of the budget, then a cosine from
    `learning_rate` down to `min_lr` at the budget's end (`progress` 0..1 of max_minutes or max_epochs)."""
    base, low, warm = t["learning_rate"], t["min_lr"], t["lr_warmup"]
    progress = min(max(progress, 0.0), 1.0)
    if warm > 0 and progress < warm:
        return base * max(progress / warm, 0.01)
    p = (progress - warm) / (1.0 - warm) if warm < 1 else 1.0
    return low + (base - low) * 0.5 * (1.0 + math.cos(math.pi * p))


def budget_progress(t: dict, state: TrainState, n_batches: int) -> float:
    """How much of the budget is spent: the wall budget when there is one, else epochs."""
    if t["max_minutes"]:
        return state.elapsed_seconds / (60.0 * t["max_minutes"])
    return (state.epoch + state.batch / n_batches) / t["max_epochs"]
