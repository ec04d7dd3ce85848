"""Rendering audio with a trained model: a compiled forward pass, and chunked rendering that cuts a
long signal into chunks processed as one batch, each preceded by a warm-up overlap so that its
state has settled by the time its own samples start (matches a sequential run)."""
from __future__ import annotations

import weakref

import numpy as np

_FORWARD = weakref.WeakKeyDictionary()


def forward(model, x, c, h, s):
    """model((x, c, h, s)) through one tf.function per model (eager RNN loops are very slow)."""
    import tensorflow as tf

    fn = _FORWARD.get(model)
    if fn is None:
        fn = tf.function(lambda x, c, h, s: model((x, c, h, s), training=False), reduce_retracing=True)
        _FORWARD[model] = fn
    return fn(tf.convert_to_tensor(x, tf.float32), tf.convert_to_tensor(c, tf.float32), h, s)


def render_chunked(model, x: np.ndarray, cond: np.ndarray, chunk: int = 9600, overlap: int = 4800,
                   max_batch: int = 256) -> np.ndarray:
    """Render (S, T) audio with (S, C) fixed or (S, T, C) per-sample knob features; (S, T) out.

    The first chunk of each signal starts from the zero state exactly as a sequential run does; every
    later chunk is run on `overlap` samples of the audio before it first, and those outputs dropped."""
    x = np.asarray(x, np.float32)
    S, T = x.shape
    C = cond.shape[-1]
    track = cond.ndim == 3
    chunk = max(1, min(int(chunk), T))
    starts = np.arange(0, T, chunk)
    out = np.zeros((S, T), np.float32)

    def run(xb, cb):
        res = []
        for i in range(0, len(xb), max_batch):
            xs, cs = xb[i: i + max_batch], cb[i: i + max_batch]
            h, s = model.zero_state(len(xs))
            res.append(np.asarray(forward(model, xs[..., None], cs, h, s)[0])[..., 0])
        return np.concatenate(res)

    def cond_slice(si, a, b, n):
        if track:
            seg = np.zeros((n, C), np.float32)
            seg[: b - a] = cond[si, a:b]
            if b - a < n and b > a:
                seg[b - a:] = cond[si, b - 1]
            return seg
        return np.broadcast_to(cond[si], (n, C))

    # first chunks: from the zero state
    first = run(x[:, :chunk], np.stack([cond_slice(si, 0, chunk, chunk) for si in range(S)]))
    out[:, :chunk] = first
    rest = starts[1:]
    if len(rest):
        n = overlap + chunk
        xb = np.zeros((S * len(rest), n), np.float32)
        cb = np.zeros((S * len(rest), n, C), np.float32)
        k = 0
        for si in range(S):
            for t in rest:
                a, b = max(0, t - overlap), min(T, t + chunk)
                off = n - chunk - (t - a)  # left-pad when the overlap would start before 0
                xb[k, off: off + b - a] = x[si, a:b]
                cb[k, off: off + b - a] = cond_slice(si, a, b, b - a)
                k += 1
        yb = run(xb, cb)
        k = 0
        for si in range(S):
            for t in rest:
                e = min(T, t + chunk)
                out[si, t:e] = yb[k, overlap: overlap + e - t]
                k += 1
    return out
