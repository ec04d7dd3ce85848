"""Truncated back-propagation through time (Wright et al. 2020): per batch of long segments, run a
warm-up without gradient to settle the LSTM state, then update every `window` samples, carrying
the state (without gradient) from one window to the next.

Works under any `tf.distribute` strategy: the batch is split across replicas, each replica keeps its
own share of the state, and gradients are summed across replicas by the optimizer."""
from __future__ import annotations

import numpy as np


class TBPTT:
    """Compiled update and warm-up functions for one model/optimiser/loss (and strategy)."""

    def __init__(self, model, optimizer, loss_fn, warmup: int = 200, window: int = 1000, strategy=None):
        import tensorflow as tf

        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.warmup, self.window = int(warmup), int(window)
        self.strategy = strategy or tf.distribute.get_strategy()
        replicas = self.strategy.num_replicas_in_sync
        with self.strategy.scope():
            optimizer.build(model.trainable_variables)

        def step(x, c, y, h, s, w):
            with tf.GradientTape() as tape:
                p, h2, s2 = model((x, c, h, s), training=True)
                loss = loss_fn(y[..., 0], p[..., 0], w)
                scaled = loss / replicas  # the optimizer sums replicas' gradients: mean of losses
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return scaled, tf.stop_gradient(h2), tf.stop_gradient(s2)

        @tf.function(reduce_retracing=True)
        def update(x, c, y, h, s, w):
            loss, h2, s2 = self.strategy.run(step, args=(x, c, y, h, s, w))
            return self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None), h2, s2

        @tf.function(reduce_retracing=True)
        def advance(x, c, h, s):
            def fwd(x, c, h, s):
                _, h2, s2 = model((x, c, h, s), training=False)
                return h2, s2

            return self.strategy.run(fwd, args=(x, c, h, s))

        self._update, self._advance = update, advance

    @staticmethod
    def tracks(cond: np.ndarray, length: int) -> np.ndarray:
        """(B, C) fixed knob features -> (B, length, C) tracks; (B, L, C) tracks pass through."""
        return cond if cond.ndim == 3 else np.repeat(cond[:, None, :], length, axis=1)

    def _split(self, a: np.ndarray):
        """Give each replica its share of the batch (rows r, r+n, r+2n, ...); identity on one device."""
        n = self.strategy.num_replicas_in_sync
        if n == 1:
            return a
        return self.strategy.experimental_distribute_values_from_function(
            lambda ctx: a[ctx.replica_id_in_sync_group::n])

    def batch(self, x: np.ndarray, cond: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
        """One batch of segments (B, L, 1): warm-up, then updates every `window` samples; returns the
        mean loss over the updates. `weights` (B,): per-segment loss weights (default all 1)."""
        B, L = x.shape[0], x.shape[1]
        n = self.strategy.num_replicas_in_sync
        if B % n:
            raise ValueError(f"batch of {B} segments does not split evenly over {n} replicas")
        c = self.tracks(cond, L).astype(np.float32)
        zero = np.zeros((B, self.model.hidden_size), np.float32)
        h, s = self._split(zero), self._split(zero)
        w8 = self._split(np.ones(B, np.float32) if weights is None else np.asarray(weights, np.float32))
        w = min(self.warmup, L - 1)
        if w > 0:
            h, s = self._advance(self._split(x[:, :w]), self._split(c[:, :w]), h, s)
        losses = []
        for t in range(w, L, self.window):
            e = min(t + self.window, L)
            loss, h, s = self._update(self._split(x[:, t:e]), self._split(c[:, t:e]), self._split(y[:, t:e]), h, s, w8)
            losses.append(float(loss))
        return float(np.mean(losses))


def predict(model, x: np.ndarray, cond: np.ndarray, chunk: int = 48000) -> np.ndarray:
    """Run the model sequentially over (B, T, 1) audio, carrying state chunk to chunk; (B, T) out."""
    from .render import forward

    B, T = x.shape[0], x.shape[1]
    c = TBPTT.tracks(cond, T).astype(np.float32)
    h, s = model.zero_state(B)
    out = []
    for t in range(0, T, chunk):
        p, h, s = forward(model, x[:, t: t + chunk], c[:, t: t + chunk], h, s)
        out.append(np.asarray(p)[..., 0])
    return np.concatenate(out, axis=1)
