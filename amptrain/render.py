"""Rendering audio with a trained model: a compiled forward pass, and chunked rendering that cuts a
long signal into chunks processed as one batch, each preceded by a warm-up overlap so that its
state has settled by the time its own samples start (matches a sequential run)."""
from __future__ import annotations

import weakref

import numpy as np

_FORWARD = weakref.WeakKeyDictionary()


def forward(model, x, c, h, s):
    """model((x, c, h, s)) through one XLA-compiled tf.function per model: XLA turns the LSTM's time
    loop into native code (about 0.6 us per step against 45 us for TF's graph loop on this CPU); each
    new input shape compiles once (~0.5 s)."""
    import tensorflow as tf

    fn = _FORWARD.get(model)
    if fn is None:
        fn = tf.function(lambda x, c, h, s: model((x, c, h, s), training=False), jit_compile=True)
        _FORWARD[model] = fn
    return fn(tf.convert_to_tensor(x, tf.float32), tf.convert_to_tensor(c, tf.float32), h, s)


DEFAULT_OVERLAP = 2048   # warm-up samples before each chunk (43 ms at 48 kHz): -126 dB vs sequential on gain_sweep (benchmarks/render.py)
MIN_CHUNK = 2400         # shortest automatic chunk
TARGET_ROWS = 64         # automatic chunking aims at about this many chunks in one batch


def auto_chunk(total: int, overlap: int = DEFAULT_OVERLAP) -> int:
    """A chunk length that cuts `total` samples into about TARGET_ROWS chunks (the batch keeps both
    cores busy and the sequential loop short), never much shorter than the warm-up overlap."""
    return int(max(MIN_CHUNK, overlap // 2, -(-total // TARGET_ROWS)))


def render_chunked(model, x: np.ndarray, cond: np.ndarray, chunk: int | None = 9600, overlap: int = 4800,
                   max_batch: int = 256, progress: bool = False) -> np.ndarray:
    """Render (S, T) audio with (S, C) fixed or (S, T, C) per-sample knob features; (S, T) out.

    The first chunk of each signal starts from the zero state exactly as a sequential run does; every
    later chunk is run on `overlap` samples of the audio before it first, and those outputs dropped.
    chunk=None picks the length with `auto_chunk`."""
    x = np.asarray(x, np.float32)
    S, T = x.shape
    C = cond.shape[-1]
    track = cond.ndim == 3
    chunk = auto_chunk(S * T, overlap) if chunk is None else chunk
    chunk = max(1, min(int(chunk), T))
    bar = None
    if progress and S * T > 30 * model.sample_rate:
        from tqdm import tqdm

        bar = tqdm(total=S * T, unit="sample", unit_scale=True, desc="render", leave=False)
    starts = np.arange(0, T, chunk)
    out = np.zeros((S, T), np.float32)

    def run(xb, cb):
        res = []
        for i in range(0, len(xb), max_batch):
            xs, cs = xb[i: i + max_batch], cb[i: i + max_batch]
            h, s = model.zero_state(len(xs))
            res.append(np.asarray(forward(model, xs[..., None], cs, h, s)[0])[..., 0])
            if bar is not None:
                bar.update(len(xs) * min(chunk, T))
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
    if bar is not None:
        bar.close()
    return out


def render_sequential(model, x: np.ndarray, cond: np.ndarray) -> np.ndarray:
    """The reference: the whole (T,) signal in one pass from the zero state; cond (C,) or (T, C)."""
    return Stream(model).process(x, cond)


class Stream:
    """Block in, block out, LSTM state kept between blocks: equals a sequential render of the blocks
    joined (to float precision), for live use."""

    def __init__(self, model):
        self.model = model
        self.reset()

    def reset(self) -> None:
        self.h, self.c = self.model.zero_state(1)

    def process(self, x: np.ndarray, cond: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if len(x) == 0:
            return x.copy()
        c = np.broadcast_to(np.asarray(cond, np.float32), (len(x), self.model.n_cond))
        y, self.h, self.c = forward(self.model, x[None, :, None], c[None], self.h, self.c)
        return np.asarray(y)[0, :, 0]
