"""Truncated back-propagation through time (Wright et al. 2020): per batch of long segments, run a
warm-up without gradient to settle the LSTM state, then update every `window` samples, carrying
the state (without gradient) from one window to the next."""
from __future__ import annotations

import numpy as np


class TBPTT:
    """Compiled update and warm-up functions for one model/optimiser/loss."""

    def __init__(self, model, optimizer, loss_fn, warmup: int = 200, window: int = 1000):
        import tensorflow as tf

        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.warmup, self.window = int(warmup), int(window)

        @tf.function(reduce_retracing=True)
        def update(x, c, y, h, s):
            with tf.GradientTape() as tape:
                p, h2, s2 = model((x, c, h, s), training=True)
                loss = loss_fn(y[..., 0], p[..., 0])
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            return loss, tf.stop_gradient(h2), tf.stop_gradient(s2)

        @tf.function(reduce_retracing=True)
        def advance(x, c, h, s):
            _, h2, s2 = model((x, c, h, s), training=False)
            return h2, s2

        self._update, self._advance = update, advance

    @staticmethod
    def tracks(cond: np.ndarray, length: int) -> np.ndarray:
        """(B, C) fixed knob features -> (B, length, C) tracks; (B, L, C) tracks pass through."""
        return cond if cond.ndim == 3 else np.repeat(cond[:, None, :], length, axis=1)

    def batch(self, x: np.ndarray, cond: np.ndarray, y: np.ndarray) -> float:
        """One batch of segments (B, L, 1): warm-up, then updates every `window` samples; returns the
        mean loss over the updates."""
        B, L = x.shape[0], x.shape[1]
        c = self.tracks(cond, L).astype(np.float32)
        h, s = self.model.zero_state(B)
        w = min(self.warmup, L - 1)
        if w > 0:
            h, s = self._advance(x[:, :w], c[:, :w], h, s)
        losses = []
        for t in range(w, L, self.window):
            e = min(t + self.window, L)
            loss, h, s = self._update(x[:, t:e], c[:, t:e], y[:, t:e], h, s)
            losses.append(float(loss))
        return float(np.mean(losses))


def predict(model, x: np.ndarray, cond: np.ndarray, chunk: int = 48000) -> np.ndarray:
    """Run the model sequentially over (B, T, 1) audio, carrying state chunk to chunk; (B, T) out."""
    B, T = x.shape[0], x.shape[1]
    c = TBPTT.tracks(cond, T).astype(np.float32)
    h, s = model.zero_state(B)
    out = []
    for t in range(0, T, chunk):
        p, h, s = model((x[:, t: t + chunk], c[:, t: t + chunk], h, s))
        out.append(np.asarray(p)[..., 0])
    return np.concatenate(out, axis=1)
