"""Rendering audio with a trained model: a compiled forward pass, and chunked rendering that cuts a
long signal into chunks processed as one batch, each preceded by a warm-up overlap so that its
state has settled by the time its own samples start (matches a sequential run). Every render starts
pre-warmed: from the state the model settles in on silence at its starting knobs, as NAM's engine
does, instead of the zero state (which begins every render with a start-up bump)."""
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
    return fn(*(tf.convert_to_tensor(a, tf.float32) for a in (x, c, h, s)))


SETTLE_BLOCK = 2048      # pre-warm: silence is run in blocks of this many samples until the state stops moving
SETTLE_MAX = 96000       # ... but at most this many samples (2 s at 48 kHz)
SETTLE_TOL = 1e-6        # settled: no state value moved by more than this over one block


def settle(model, cond: np.ndarray, max_samples: int = SETTLE_MAX, tol: float = SETTLE_TOL):
    """The (h, c) state each of S rows settles in on silence at its knob features cond (S, C): run
    from the zero state block by block until no state value moves by more than tol over a block."""
    import tensorflow as tf

    cond = np.asarray(cond, np.float32)
    cond = cond.reshape(1 if cond.ndim < 2 else cond.shape[0], model.n_cond)  # (C,) is one row; C may be 0
    S = cond.shape[0]
    h, c = model.zero_state(S)
    x = tf.zeros((S, SETTLE_BLOCK, 1), tf.float32)
    cb = np.broadcast_to(cond[:, None, :], (S, SETTLE_BLOCK, model.n_cond))
    for _ in range(max(1, -(-int(max_samples) // SETTLE_BLOCK))):
        _, h2, c2 = forward(model, x, cb, h, c)
        moved = max(float(tf.reduce_max(tf.abs(h2 - h))), float(tf.reduce_max(tf.abs(c2 - c))))
        h, c = h2, c2
        if moved <= tol:
            break
    return h, c


def start_cond(cond: np.ndarray) -> np.ndarray:
    """The knob features at a render's first sample: (S, C) from (S, C) fixed or (S, T, C) tracks."""
    cond = np.asarray(cond, np.float32)
    return cond[:, 0] if cond.ndim == 3 else cond


DEFAULT_OVERLAP = 2048   # warm-up samples before each chunk (43 ms at 48 kHz): -126 dB vs sequential on gain_sweep (benchmarks/render.py)
MIN_CHUNK = 2400         # shortest automatic chunk
TARGET_ROWS = 64         # automatic chunking aims at about this many chunks in one batch


def auto_chunk(total: int, overlap: int = DEFAULT_OVERLAP) -> int:
    """A chunk length that cuts `total` samples into about TARGET_ROWS chunks (the batch keeps both
    cores busy and the sequential loop short), never much shorter than the warm-up overlap."""
    return int(max(MIN_CHUNK, overlap // 2, -(-total // TARGET_ROWS)))


def render_chunked(model, x: np.ndarray, cond: np.ndarray, chunk: int | None = 9600, overlap: int = 4800,
                   max_batch: int = 256, progress: bool = False, prewarm: bool = True) -> np.ndarray:
    """Render (S, T) audio with (S, C) fixed or (S, T, C) per-sample knob features; (S, T) out.

    The first chunk of each signal starts where a sequential run does: the state settled on silence
    at its first knob values (`settle`; the zero state with prewarm=False); every later chunk starts
    there too and is run on `overlap` samples of the audio before it first, those outputs dropped.
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

    if prewarm:
        h0, c0 = (np.asarray(a) for a in settle(model, start_cond(cond)))
    else:
        h0 = c0 = np.zeros((S, model.hidden_size), np.float32)

    def run(xb, cb, rows):
        res = []
        for i in range(0, len(xb), max_batch):
            xs, cs = xb[i: i + max_batch], cb[i: i + max_batch]
            h, s = h0[rows[i: i + max_batch]], c0[rows[i: i + max_batch]]
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

    # first chunks: from the settled (or zero) state, as a sequential run
    first = run(x[:, :chunk], np.stack([cond_slice(si, 0, chunk, chunk) for si in range(S)]), np.arange(S))
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
        yb = run(xb, cb, np.repeat(np.arange(S), len(rest)))
        k = 0
        for si in range(S):
            for t in rest:
                e = min(T, t + chunk)
                out[si, t:e] = yb[k, overlap: overlap + e - t]
                k += 1
    if bar is not None:
        bar.close()
    return out


def render_sequential(model, x: np.ndarray, cond: np.ndarray, prewarm: bool = True) -> np.ndarray:
    """The reference: the whole (T,) signal in one pass from the settled state (the zero state with
    prewarm=False); cond (C,) or (T, C)."""
    return Stream(model, prewarm).process(x, cond)


class Stream:
    """Block in, block out, LSTM state kept between blocks: equals a sequential render of the blocks
    joined (to float precision), for live use. A new or reset stream is pre-warmed at the knob
    values of the first block it gets (prewarm=False: starts from the zero state)."""

    def __init__(self, model, prewarm: bool = True):
        self.model, self.prewarm = model, prewarm
        self.reset()

    def reset(self) -> None:
        self.h, self.c = self.model.zero_state(1)
        self.cold = self.prewarm  # settled at the next block's first knob values

    def process(self, x: np.ndarray, cond: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if len(x) == 0:
            return x.copy()
        c = np.broadcast_to(np.asarray(cond, np.float32), (len(x), self.model.n_cond))
        if self.cold:
            self.h, self.c = settle(self.model, c[:1])
            self.cold = False
        y, self.h, self.c = forward(self.model, x[None, :, None], c[None], self.h, self.c)
        return np.asarray(y)[0, :, 0]
