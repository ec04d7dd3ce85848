"""The training loop: epochs of shuffled segments through truncated BPTT, a learning-rate schedule
(warm-up then cosine to the end of the budget, or halving on plateaus), a moving average of the
weights for validation and the saved model, validation on held-out settings x validation audio after
each epoch, and a checkpoint (last, and best) after every epoch and when the wall budget runs out
(checked after every batch), so a killed or extended run continues where it was."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checkpoint
from .data import SplitData, gather, segment_plan, setting_weights
from .ema import EMA
from .evaluate import evaluate
from .focus import Focus
from .schedule import budget_progress, scheduled_lr
from .train_state import TrainState

RISING_EPOCHS = 3  # validation ESR rising this many epochs in a row while the training loss falls: say so


def epoch_plan(train: SplitData, t: dict, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """This epoch's segments as (setting index, start sample) pairs: a random offset for the segment
    grid, then shuffled; seeded by (seed, epoch) so a resumed run sees exactly the batches an
    uninterrupted one would."""
    rng = np.random.default_rng([t["seed"], epoch])
    T, L = len(train.x), t["segment"]
    offset = int(rng.integers(0, L)) if T >= 2 * L else int(rng.integers(0, max(1, T - L + 1)))
    return segment_plan(train, L, rng, offset)


def rising_warning(history: list[dict]) -> str | None:
    """A warning when validation ESR rose RISING_EPOCHS epochs in a row while the training loss fell."""
    if len(history) < RISING_EPOCHS + 1:
        return None
    h = history[-(RISING_EPOCHS + 1):]
    val = [r["val_esr"] for r in h]
    loss = [r["train_loss"] for r in h]
    if all(b > a for a, b in zip(val, val[1:])) and loss[-1] < loss[0]:
        return (f"validation ESR rose for {RISING_EPOCHS} epochs ({', '.join(f'{v:.3g}' for v in val)}) while the "
                "training loss fell: the model fits the training settings but not the knob values between them. "
                "Likely too few settings for the number of knobs, or too little audio per setting: capture more "
                "settings (e.g. sweep.n_train=128 with a shorter signal.duration_s), use a smaller model, or lower "
                "trainer.learning_rate")
    return None


@dataclass
class Loop:
    """What a run's loop works with, fixed for the run: the model and its optimiser, the TBPTT step,
    the data, the trainer config `t`, where checkpoints go, and (several workers) the chief's sync."""

    model: object
    optimizer: object
    tbptt: object
    train: SplitData
    val: SplitData
    t: dict
    sample_rate: int
    pre_emphasis: str
    ckpt_dir: Path
    writer: object = None
    log: object = print
    chief: bool = True
    sync: object = None
    weights: np.ndarray | None = None  # per-setting loss weights (balance, then focus)
    ema: EMA | None = None
    focus: Focus | None = None
    stop_minutes: float | None = None  # the wall budget this fit stops at (max_minutes, or an adaptive round's share)


def fit(model, optimizer, tbptt, train: SplitData, val: SplitData, t: dict, sample_rate: int,
        pre_emphasis: str, ckpt_dir: Path, state: TrainState, writer=None, log=print, chief: bool = True,
        sync=None, stop_minutes: float | None = None) -> dict:
    """Train from `state` (new or loaded from the last checkpoint) until early stopping, max_epochs
    or max_minutes; returns the final state. The kept model (trainer.select: the last validated weights,
    or the best validated) is in `ckpt_dir/best.npz`.

    Several workers (`sync`: the chief's numbers to every worker, `tbptt.broadcast`): every worker
    runs the same batches (its replicas' share of each); only the chief validates and writes
    checkpoints and logs, and every worker takes the chief's timings and validation ESR, so all take
    the same decisions (learning rate, early stopping, budget) and stop after the same batch.
    `stop_minutes`: stop there instead of at max_minutes, which the schedule still runs to (an adaptive round)."""
    ema = None  # the chief alone validates and saves, so only it keeps the average (a worker has no run directory)
    if t["ema"] and chief:
        ema = EMA(t["ema"], checkpoint.load_ema(ckpt_dir / "last.npz") if state.updates else None)
    base = setting_weights(train) if tbptt.loss_fn.balance_settings else None   # loss.balance_settings
    focus = Focus(t["focus"], base if base is not None else np.ones(len(train.y), np.float32), state) if t["focus"] else None
    loop = Loop(model, optimizer, tbptt, train, val, t, sample_rate, pre_emphasis, ckpt_dir, writer, log, chief, sync,
                focus.weights() if focus is not None else base, ema, focus, stop_minutes or t["max_minutes"])
    while not state.done:
        epoch, first = state.epoch, state.batch
        which, starts = epoch_plan(train, t, epoch)
        n_batches = max(1, len(which) // t["batch_size"])  # drop the remainder: every update sees a full batch
        t_round = time.perf_counter()
        losses, spent = train_round(loop, state, which, starts, n_batches)
        seconds = time.perf_counter() - t_round
        held = ema.swap(model) if ema is not None else None
        v, seconds, val_seconds = validate(loop, seconds)
        state.elapsed_seconds += val_seconds
        row = {"epoch": epoch + (1 if state.batch >= n_batches else round(state.batch / n_batches, 3)),
               "train_loss": float(np.mean(losses)), "val_esr": v["esr"], "val_esr_pre": v["esr_pre"],
               "lr": float(state.lr), "seconds": round(seconds, 2), "val_seconds": round(val_seconds, 2),
               "minutes": round(state.elapsed_seconds / 60, 3),
               "samples_per_s": round((state.batch - first) * min(t["batch_size"], len(which)) * t["segment"]
                                      / max(seconds, 1e-9), 1)}
        if state.batch >= n_batches:  # else validated mid-epoch (val_every, or the budget ran out): the epoch goes on
            state.update(epoch=epoch + 1, batch=0)
        improved = record(loop, state, row, spent)
        chosen = improved or t["select"] == "last"
        if chosen:
            state.chosen_epoch = row["epoch"]
        save(loop, state, chosen, held)
        report(loop, state, row, improved)
    return state


def train_round(loop: Loop, state: TrainState, which: np.ndarray, starts: np.ndarray, n_batches: int) -> tuple[list, bool]:
    """The batches from here to the next validation (the epoch's end, `val_every`, or the budget's
    end); returns their losses and whether the wall budget is spent."""
    from tqdm import tqdm

    t, B, L = loop.t, loop.t["batch_size"], loop.t["segment"]
    bar = tqdm(total=n_batches, initial=state.batch, desc=f"epoch {state.epoch + 1}/{t['max_epochs']}", unit="batch",
               disable=not (t["progress"] and loop.chief), file=sys.stderr, dynamic_ncols=True, leave=False, mininterval=0.5)
    losses, spent = [], False
    stop_at = n_batches if not t["val_every"] else min(n_batches, state.batch + t["val_every"])
    while state.batch < stop_at and not spent:
        b = state.batch
        if t["schedule"] == "cosine":
            state.lr = scheduled_lr(t, budget_progress(t, state, n_batches))
            loop.optimizer.learning_rate.assign(state.lr)
        sl = slice(b * B, (b + 1) * B) if len(which) >= B else slice(None)
        x, cond, y = gather(loop.train, which[sl], starts[sl], L)
        t0 = time.perf_counter()
        result = loop.tbptt.batch(x, cond, y, None if loop.weights is None else loop.weights[which[sl]])
        losses.append(result.loss)
        if loop.focus is not None:
            loop.focus.update(which[sl], result.err, result.ref)
            loop.weights = loop.focus.weights()
        if loop.ema is not None:
            loop.ema.update(loop.model, state.updates)
        dt = time.perf_counter() - t0
        state.update(batch=b + 1, updates=state.updates + 1, train_seconds=state.train_seconds + dt,
                     elapsed_seconds=state.elapsed_seconds + dt, trained_samples=state.trained_samples + x.shape[0] * L)
        spent = bool(loop.stop_minutes) and state.elapsed_seconds >= 60.0 * loop.stop_minutes
        if loop.sync is not None:  # the chief's clock decides for every worker
            spent = bool(loop.sync([float(spent)])[0])
        bar.update(1)
        bar.set_postfix_str(f"loss {np.mean(losses[-10:]):.4f}")
    bar.close()
    return losses, spent


def validate(loop: Loop, seconds: float) -> tuple[dict, float, float]:
    """Validation ESR of the model as it stands (the chief's; a worker takes the chief's numbers and
    timings); returns the figures, the round's training seconds and the validation's seconds."""
    t1 = time.perf_counter()
    if loop.chief or loop.sync is None:
        v, _ = evaluate(loop.model, loop.val, loop.sample_rate, loop.pre_emphasis, loop.t["eval_chunk"], loop.t["eval_overlap"])
    else:  # a worker: the chief's numbers arrive just below
        v = {"esr": 0.0, "esr_pre": 0.0}
    val_seconds = time.perf_counter() - t1
    if loop.sync is not None:
        seconds, val_seconds, esr, esr_pre = (float(a) for a in loop.sync([seconds, val_seconds, v["esr"], v["esr_pre"]]))
        v = {**v, "esr": esr, "esr_pre": esr_pre}
    return v, seconds, val_seconds


def record(loop: Loop, state: TrainState, row: dict, spent: bool) -> bool:
    """Add a validation to the history and take its decisions: best so far, the plateau schedule's
    halving, the rising-validation warning, and whether to stop (budget, patience, max_epochs)."""
    t = loop.t
    improved = state.best_val is None or row["val_esr"] < state.best_val
    state.history.append(row)
    if improved:
        state.update(best_val=row["val_esr"], best_epoch=row["epoch"], bad_epochs=0, lr_bad_epochs=0)
    else:
        state.bad_epochs += 1
        state.lr_bad_epochs += 1
        if t["schedule"] == "plateau" and state.lr_bad_epochs >= t["lr_patience"] and state.lr > t["min_lr"]:
            state.update(lr=max(t["min_lr"], state.lr * t["lr_factor"]), lr_bad_epochs=0)
            loop.optimizer.learning_rate.assign(state.lr)
    warning = rising_warning(state.history)
    if warning and not state.warnings:
        state.warnings.append(warning)
        loop.log(f"warning: {warning}")
    if spent:
        state.update(done=True, stop_reason=f"max_minutes ({round(loop.stop_minutes, 2)}) reached")
    elif t["patience"] and state.bad_epochs >= t["patience"]:
        state.update(done=True, stop_reason=f"early stopping: no better validation ESR for {t['patience']} epochs")
    elif state.epoch >= t["max_epochs"]:
        state.update(done=True, stop_reason=f"max_epochs ({t['max_epochs']}) reached")
    return improved


def save(loop: Loop, state: TrainState, chosen: bool, held: list | None) -> None:
    """Checkpoints (the chief's): the run's model (best.npz, when `chosen`) and the kept epoch from the weights
    validated (the average, when kept), then the trained weights back in the model and last.npz (with the average)."""
    if loop.chief:  # best first: a kill between the two writes leaves last.npz one epoch behind, never ahead
        if chosen:
            checkpoint.save(loop.ckpt_dir / "best.npz", loop.model, loop.optimizer, state.to_json())
        if loop.t["keep_epochs"]:
            checkpoint.save(loop.ckpt_dir / f"epoch-{len(state.history):04d}.npz", loop.model, loop.optimizer, state.to_json())
    for var, a in zip(loop.model.weights, held or []):  # back to the trained weights
        var.assign(a)
    if loop.chief:
        checkpoint.save(loop.ckpt_dir / "last.npz", loop.model, loop.optimizer, state.to_json(),
                        loop.ema.avg if loop.ema is not None else None)


def report(loop: Loop, state: TrainState, row: dict, improved: bool) -> None:
    """The validation's line in the log and its TensorBoard scalars."""
    if loop.writer is not None:
        import tensorflow as tf

        with loop.writer.as_default(step=len(state.history)):
            for k in ("train_loss", "val_esr", "val_esr_pre", "lr", "samples_per_s"):
                tf.summary.scalar(k, row[k])
        loop.writer.flush()
    mark = " *" if improved else ""
    loop.log(f"epoch {row['epoch']:5.1f}  loss {row['train_loss']:.4f}  val ESR {row['val_esr']:.4f}{mark}  "
             f"lr {row['lr']:.2g}  {row['samples_per_s'] / 1e3:.0f}k samples/s  {row['minutes']:.1f} min")
