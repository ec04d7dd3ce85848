"""The training loop: epochs of shuffled segments through truncated BPTT, validation on held-out
settings x validation audio after each epoch, learning-rate halving on plateaus, early stopping,
and a checkpoint (last, and best) after every epoch so a killed run continues where it was."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from . import checkpoint
from .data import SplitData, segments, setting_weights
from .evaluate import evaluate


def new_state(lr: float) -> dict:
    return {"epoch": 0, "best_val": None, "best_epoch": None, "bad_epochs": 0, "lr_bad_epochs": 0,
            "lr": lr, "history": [], "train_seconds": 0.0, "trained_samples": 0,
            "done": False, "stop_reason": None}


def epoch_segments(train: SplitData, t: dict, epoch: int):
    """This epoch's segments: a random offset for the segment grid, then shuffled; seeded by
    (seed, epoch) so a resumed run sees exactly the batches an uninterrupted one would."""
    rng = np.random.default_rng([t["seed"], epoch])
    T, L = len(train.x), t["segment"]
    offset = int(rng.integers(0, L)) if T >= 2 * L else int(rng.integers(0, T - L + 1))
    shifted = SplitData(train.x[offset:], train.y[:, offset:], train.cond, train.settings)
    return segments(shifted, L, rng, with_setting=True)


def fit(model, optimizer, tbptt, train: SplitData, val: SplitData, t: dict, sample_rate: int,
        pre_emphasis: str, ckpt_dir: Path, state: dict, writer=None, log=print, chief: bool = True,
        balance: bool = True, sync=None) -> dict:
    """Train from `state` (new or loaded from the last checkpoint) until early stopping, max_epochs
    or max_minutes; returns the final state. The best weights are in `ckpt_dir/best.npz`.

    Several workers (`sync`: the chief's numbers to every worker, `tbptt.broadcast`): every worker
    runs the same epochs (its replicas' share of each batch); only the chief validates and writes
    checkpoints and logs, and every worker takes the chief's timings and validation ESR, so all take
    the same decisions (learning rate, early stopping, max_minutes) and stop after the same epoch."""
    from tqdm import tqdm

    optimizer.learning_rate.assign(state["lr"])
    while not state["done"]:
        epoch = state["epoch"]
        x, cond, y, which = epoch_segments(train, t, epoch)
        weights = setting_weights(train)[which] if balance else None
        B = t["batch_size"]
        n_batches = max(1, len(x) // B)  # drop the remainder: every update sees a full batch
        t0 = time.perf_counter()
        bar = tqdm(range(n_batches), desc=f"epoch {epoch + 1}/{t['max_epochs']}", unit="batch",
                   disable=not (t["progress"] and chief), file=sys.stderr, dynamic_ncols=True, leave=False, mininterval=0.5)
        losses = []
        for b in bar:
            sl = slice(b * B, (b + 1) * B) if len(x) >= B else slice(None)
            losses.append(tbptt.batch(x[sl], cond[sl], y[sl], None if weights is None else weights[sl]))
            bar.set_postfix_str(f"loss {np.mean(losses[-10:]):.4f}")
        bar.close()
        seconds = time.perf_counter() - t0
        samples = n_batches * min(B, len(x)) * x.shape[1]
        t1 = time.perf_counter()
        if chief or sync is None:
            v, _ = evaluate(model, val, sample_rate, pre_emphasis, t["eval_chunk"], t["eval_overlap"])
        else:  # a worker: the chief's numbers arrive just below
            v = {"esr": 0.0, "esr_pre": 0.0}
        val_seconds = time.perf_counter() - t1
        if sync is not None:
            seconds, val_seconds, esr, esr_pre = (float(a) for a in sync([seconds, val_seconds, v["esr"], v["esr_pre"]]))
            v = {**v, "esr": esr, "esr_pre": esr_pre}
        val_esr = v["esr"]
        improved = state["best_val"] is None or val_esr < state["best_val"]
        state["epoch"] = epoch + 1
        state["train_seconds"] += seconds
        state["trained_samples"] += samples
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_esr": val_esr,
               "val_esr_pre": v["esr_pre"], "lr": float(state["lr"]), "seconds": round(seconds, 2), "val_seconds": round(val_seconds, 2),
               "samples_per_s": round(samples / seconds, 1)}
        state["history"].append(row)
        if improved:
            state.update(best_val=val_esr, best_epoch=epoch + 1, bad_epochs=0, lr_bad_epochs=0)
        else:
            state["bad_epochs"] += 1
            state["lr_bad_epochs"] += 1
            if state["lr_bad_epochs"] >= t["lr_patience"] and state["lr"] > t["min_lr"]:
                state["lr"] = max(t["min_lr"], state["lr"] * t["lr_factor"])
                state["lr_bad_epochs"] = 0
                optimizer.learning_rate.assign(state["lr"])
        if state["bad_epochs"] >= t["patience"]:
            state.update(done=True, stop_reason=f"early stopping: no better validation ESR for {t['patience']} epochs")
        elif state["epoch"] >= t["max_epochs"]:
            state.update(done=True, stop_reason=f"max_epochs ({t['max_epochs']}) reached")
        elif t["max_minutes"] and state["train_seconds"] / 60 >= t["max_minutes"]:
            state.update(done=True, stop_reason=f"max_minutes ({t['max_minutes']}) reached")
        if chief:  # best first: a kill between the two writes leaves last.npz one epoch behind, never ahead
            if improved:
                checkpoint.save(ckpt_dir / "best.npz", model, optimizer, state)
            checkpoint.save(ckpt_dir / "last.npz", model, optimizer, state)
        if writer is not None:
            import tensorflow as tf

            with writer.as_default(step=epoch + 1):
                for k in ("train_loss", "val_esr", "val_esr_pre", "lr", "samples_per_s"):
                    tf.summary.scalar(k, row[k])
            writer.flush()
        mark = " *" if improved else ""
        log(f"epoch {epoch + 1:3d}  loss {row['train_loss']:.4f}  val ESR {val_esr:.4f}{mark}  "
            f"lr {row['lr']:.2g}  {row['samples_per_s'] / 1e3:.0f}k samples/s")
    return state
