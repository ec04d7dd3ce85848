"""A run's parts built from its config: the plan (run directory, dataset, knobs), the model, the loss and the
optimiser (each its group's `_target_`, hydra.utils.instantiate) and the truncated-BPTT trainer, seeded; the
trainer's state, new or restored from the last checkpoint. Shared by a plain run (amptrain/run.py) and an adaptive one (amptrain/adapt.py)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from hydra.utils import instantiate

from . import checkpoint
from .cluster import broadcast_json
from .data import SplitData
from .tbptt import TBPTT
from .train_state import TrainState


@dataclass
class Plan:
    """What a run trains: its directory (new or resumed), its dataset and the model's knobs."""

    run: Path
    resuming: bool
    root: Path
    manifest: dict
    knobs: list
    fixed: dict


def usable_cores() -> int:
    """Cores this process may run on (its affinity, e.g. under taskset or a batch scheduler)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def build(cfg: dict, p: Plan, train_data: SplitData, strategy, dc_block_hz: float = 0.0):
    """The model (conf/model: `_target_` and its keys, plus what the dataset says), its optimiser (conf/optimizer,
    at the trainer's learning rate) and loss (conf/loss), and the truncated-BPTT trainer, seeded."""
    t = cfg["trainer"]
    keras.utils.set_random_seed(t["seed"])
    with strategy.scope():
        model = instantiate(cfg["model"], n_cond=train_data.cond.shape[1], knobs=p.knobs,
                            sample_rate=int(p.manifest["sample_rate"]), fixed_knobs=p.fixed, dc_block_hz=dc_block_hz,
                            fused_splits=(t["lstm_splits"] or usable_cores()) if t["fused_lstm"] else 0,
                            _convert_="all").build_weights()
        optimizer = instantiate(cfg["optimizer"], learning_rate=t["learning_rate"])
    loss = instantiate(cfg["loss"])
    return model, optimizer, TBPTT(model, optimizer, loss, warmup=t["warmup"], window=t["window"], clipnorm=t["clipnorm"],
                                   strategy=strategy)


def dc_block_line(mode: str, cutoff_hz: float, share: float) -> str:
    """The log line that says whether renders get the output DC blocker, and why (share: the targets' dc_share)."""
    if mode != "auto":
        return f"output DC blocker: {'on' if cutoff_hz else 'off'} (model.dc_block={mode})"
    if cutoff_hz:
        return (f"output DC blocker: on ({cutoff_hz:g} Hz high-pass in every render; the training targets carry no DC, "
                f"at most {share:.1e} of a setting's energy; model.dc_block=off to keep the raw output)")
    return (f"output DC blocker: off (the training targets carry DC, up to {share:.1e} of a setting's energy, "
            "so the model keeps it)")


def restore(cfg: dict, p: Plan, model, optimizer, tbptt, chief: bool, multi: bool, log) -> TrainState:
    """The trainer's state: new, or the last checkpoint's (the chief reads it and hands it, weights
    and optimiser too, to every worker). A finished run may be extended by a longer budget."""
    t = cfg["trainer"]
    state = TrainState(lr=t["learning_rate"])
    if p.resuming and chief:
        state = TrainState.from_json(checkpoint.load(p.run / "checkpoints" / "last.npz", model, optimizer), t["learning_rate"])
        if state.done and state.stop_reason.startswith(("max_epochs", "max_minutes")) and state.epoch < t["max_epochs"] \
                and not (t["max_minutes"] and state.elapsed_seconds / 60 >= t["max_minutes"]):
            state.update(done=False, stop_reason=None)
    if multi and p.resuming:  # the chief's checkpoint to every worker: no worker reads the run directory
        state = TrainState.from_json(broadcast_json(tbptt.strategy, state.to_json() if chief else None), t["learning_rate"])
        variables = list(model.weights) + list(optimizer.variables)
        for v, a in zip(variables, tbptt.broadcast([np.asarray(v) for v in variables])):
            v.assign(a.astype(v.dtype))
    if p.resuming:
        log(f"continuing after epoch {state.epoch} (best validation ESR {state.best_val})" if not state.done
            else "training had finished; redoing the final evaluation")
    return state
