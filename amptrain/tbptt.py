"""Truncated back-propagation through time (Wright et al. 2020): per batch of long segments, run a
warm-up without gradient to settle the LSTM state, then update every `window` samples, carrying
the state (without gradient) from one window to the next.

On one device the whole batch (warm-up and every window's update) is one compiled call with one
loss read back, not one Python call and one device->host sync per window; on several, the same window step
runs once per window.

Works under any `tf.distribute` strategy (several devices, several workers): each replica runs its own
contiguous share of the batch's rows and keeps its share of the state; the predictions are gathered,
so every replica computes the loss of the whole batch, and the gradient is summed over replicas and
clipped before the update. The maths is that of one device with the whole batch (the losses are
ratios over the batch: an average of per-replica losses would be another loss)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BatchResult:
    """One batch's mean loss over its updates, and each row's plain error and target energies summed over the
    updated windows (not the warm-up): the per-setting ESR's terms (trainer.focus)."""

    loss: float
    err: np.ndarray
    ref: np.ndarray


class TBPTT:
    """The truncated-BPTT update for one model, optimiser and loss (and strategy): warm-up, then one gradient step per
    window. One step function (`_window`) serves one device and several replicas. `clipnorm` clips each gradient
    tensor to that norm (as Keras' clipnorm does), here rather than in the optimiser, so that on several replicas
    it is the whole batch's gradient that is clipped; give it an optimiser without clipping."""

    def __init__(self, model, optimizer, loss_fn, *, warmup: int = 200, window: int = 1000, clipnorm: float | None = None,
                 strategy=None):
        import tensorflow as tf

        if optimizer.clipnorm or optimizer.global_clipnorm or optimizer.clipvalue:
            raise ValueError("TBPTT clips the gradient itself (clipnorm=...): give it an optimiser without clipping")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.warmup, self.window = int(warmup), int(window)
        self.clipnorm = clipnorm
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        with self.strategy.scope():
            optimizer.build(model.trainable_variables)
        if self.replicas == 1:
            # one device: the whole batch (warm-up and every window's update) is one compiled call with one
            # loss read back, not one Python call and one device->host sync per window
            self._whole = tf.function(self._whole_batch)
            return
        strategy = self.strategy

        # several replicas: the same step per window, each replica on its rows (collectives in a loop are not
        # supported under every strategy)
        @tf.function(reduce_retracing=True)
        def update(x, c, y, h, s, w):
            loss, h2, s2, err, ref = strategy.run(self._window, args=(x, c, y, h, s, w))
            mean = tf.distribute.ReduceOp.MEAN  # every replica holds the whole batch's rows: the same numbers
            return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None), h2, s2,
                    strategy.reduce(mean, err, axis=None), strategy.reduce(mean, ref, axis=None))

        @tf.function(reduce_retracing=True)
        def advance(x, c, h, s):
            def fwd(x, c, h, s):
                _, h2, s2 = model((x, c, h, s), training=True)  # the fused kernel; nothing else differs
                return h2, s2

            return strategy.run(fwd, args=(x, c, h, s))

        self._update, self._advance = update, advance

    @staticmethod
    def _row_energies(y, p):
        """Per-row plain error and target energies of one window (no gradient): the per-setting ESR's terms."""
        import tensorflow as tf

        y, p = tf.stop_gradient(y), tf.stop_gradient(p)
        return tf.reduce_sum(tf.square(y - p), axis=-1), tf.reduce_sum(tf.square(y), axis=-1)

    def _window(self, x, c, y, h, s, w):
        """One window's update: loss, gradient (clipped), optimiser step; the state carried on. On several
        replicas x, c, h, s are this replica's rows and y, w the whole batch's: the predictions are gathered, so
        the loss is the whole batch's; all_gather's gradient hands each replica its rows' terms, summed here."""
        import tensorflow as tf

        variables = self.model.trainable_variables
        many = self.replicas > 1
        ctx = tf.distribute.get_replica_context() if many else None
        with tf.GradientTape() as tape:
            p, h2, s2 = self.model((x, c, h, s), training=True)
            p = ctx.all_gather(p[..., 0], axis=0) if many else p[..., 0]   # the whole batch's prediction, rows in order
            loss = self.loss_fn(y[..., 0], p, w) / self.replicas
        grads = tape.gradient(loss, variables)
        if many:
            grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        if self.clipnorm:
            grads = [tf.clip_by_norm(g, self.clipnorm) for g in grads]
        # several replicas: the optimizer sums the replicas' gradients again, so each gives its equal share
        # (exact for 2, 4, 8... replicas; within an ulp otherwise)
        self.optimizer.apply_gradients(zip([g / self.replicas for g in grads] if many else grads, variables))
        return (loss, tf.stop_gradient(h2), tf.stop_gradient(s2)) + self._row_energies(y[..., 0], p)

    def _whole_batch(self, x, c, y, w):
        """One device: warm-up, then every window's update, in one graph (the window loop is a tf.while_loop);
        returns the mean loss over the windows and each row's error and target energies over them."""
        import tensorflow as tf

        rows, length = x.shape[0], x.shape[1]
        h = s = tf.zeros([rows, self.model.hidden_size], x.dtype)
        warm = min(self.warmup, length - 1)
        if warm > 0:
            _, h, s = self.model((x[:, :warm], c[:, :warm], h, s), training=True)
        full = (length - warm) // self.window
        total = tf.constant(0.0, tf.float32)
        err = ref = tf.zeros([rows], tf.float32)

        def window(a, n, h, s):
            xs, cs = tf.slice(x, [0, a, 0], [-1, n, -1]), tf.slice(c, [0, a, 0], [-1, n, -1])
            return self._window(xs, cs, tf.slice(y, [0, a, 0], [-1, n, -1]), h, s, w)

        for k in tf.range(full):
            loss, h, s, e, r = window(warm + k * self.window, self.window, h, s)
            total, err, ref = total + loss, err + e, ref + r
        tail = length - warm - full * self.window
        if tail:
            loss, h, s, e, r = window(warm + full * self.window, tail, h, s)
            total, err, ref = total + loss, err + e, ref + r
        return total / (full + (1 if tail else 0)), err, ref

    @staticmethod
    def tracks(cond: np.ndarray, length: int) -> np.ndarray:
        """(B, C) fixed knob features -> (B, length, C) tracks; (B, L, C) tracks pass through."""
        return cond if cond.ndim == 3 else np.repeat(cond[:, None, :], length, axis=1)

    def _split(self, a: np.ndarray):
        """Give each replica its contiguous share of the batch's rows (replica r of n: rows r*B/n to
        (r+1)*B/n; on several workers each computes the same batch and keeps its replicas' rows);
        identity on one device."""
        n = self.strategy.num_replicas_in_sync
        if n == 1:
            return a
        k = len(a) // n
        return self.strategy.experimental_distribute_values_from_function(
            lambda ctx: a[ctx.replica_id_in_sync_group * k:(ctx.replica_id_in_sync_group + 1) * k])

    def broadcast(self, arrays: list) -> list[np.ndarray]:
        """`broadcast` over this trainer's strategy."""
        return broadcast(self.strategy, arrays)

    def batch(self, x: np.ndarray, cond: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> BatchResult:
        """One batch of segments (B, L, 1): warm-up, then an update every `window` samples. `weights` (B,):
        per-segment loss weights (default all 1). Returns the mean loss over the updates and each row's energies."""
        B, L = x.shape[0], x.shape[1]
        c = self.tracks(cond, L).astype(np.float32)
        w8 = np.ones(B, np.float32) if weights is None else np.asarray(weights, np.float32)
        if self.replicas == 1:
            loss, err, ref = self._whole(np.asarray(x, np.float32), c, np.asarray(y, np.float32), w8)
            return BatchResult(float(loss), np.asarray(err, np.float64), np.asarray(ref, np.float64))
        if B % self.replicas:
            raise ValueError(f"batch of {B} segments does not split evenly over {self.replicas} replicas")
        zero = np.zeros((B, self.model.hidden_size), np.float32)
        h, s = self._split(zero), self._split(zero)
        w = min(self.warmup, L - 1)
        if w > 0:
            h, s = self._advance(self._split(x[:, :w]), self._split(c[:, :w]), h, s)
        losses, err, ref = [], np.zeros(B), np.zeros(B)
        for t in range(w, L, self.window):
            e = min(t + self.window, L)
            # inputs and state split over the replicas; targets and weights whole (the loss is the batch's)
            loss, h, s, er, rf = self._update(self._split(x[:, t:e]), self._split(c[:, t:e]), y[:, t:e], h, s, w8)
            losses.append(float(loss))
            err, ref = err + np.asarray(er, np.float64), ref + np.asarray(rf, np.float64)
        return BatchResult(float(np.mean(losses)), err, ref)


def broadcast(strategy, arrays: list) -> list[np.ndarray]:
    """The first replica's `arrays` on every worker (replica 0 lives on the chief), as float64: one
    all-reduce to which the other replicas add zeros. Every worker must call it at the same point,
    with arrays of the same shapes (their values do not matter off the chief). Identity on one device."""
    import tensorflow as tf

    if strategy.num_replicas_in_sync == 1:
        return [np.asarray(a) for a in arrays]
    flat = [np.asarray(a, np.float64).ravel() for a in arrays]
    vec = np.concatenate(flat) if flat else np.zeros(0)
    zero = np.zeros_like(vec)
    per = strategy.experimental_distribute_values_from_function(
        lambda ctx: vec if ctx.replica_id_in_sync_group == 0 else zero)
    out = np.asarray(strategy.reduce(tf.distribute.ReduceOp.SUM, per, axis=None))
    parts, i = [], 0
    for a, f in zip(arrays, flat):
        parts.append(out[i:i + f.size].reshape(np.shape(a)))
        i += f.size
    return parts

