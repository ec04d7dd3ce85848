"""Rendering audio with a trained model (the one render core: `render`, and its batch form
`render_chunked`): a compiled forward pass, and chunked rendering that cuts a
long signal into chunks processed as one batch, each preceded by a warm-up overlap so that its
state has settled by the time its own samples start (matches a sequential run). Every render starts
pre-warmed: from the state the model settles in on silence at its starting knobs, as NAM's engine
does, instead of the zero state (which begins every render with a start-up bump). A model with an
output DC blocker (`model.dc_block_hz`) has it applied to every render, its filter pre-warmed on the
offset the model settles at (dc_block.py)."""
from __future__ import annotations

import weakref

import numpy as np

from .dc_block import dc_block, model_cutoff, settled_state

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


def settled_offset(model, cond: np.ndarray, h, c) -> np.ndarray:
    """(S,) the model's output on silence from state (h, c) at knob features cond (S, C): the constant its
    DC blocker starts from (the first sample of a silent block of settle's shape, compiled already)."""
    cond = np.asarray(cond, np.float32)  # (S, C), C may be 0 (a model without knobs)
    S = cond.shape[0]
    x = np.zeros((S, SETTLE_BLOCK, 1), np.float32)
    cb = np.broadcast_to(cond[:, None, :], (S, SETTLE_BLOCK, model.n_cond))
    return np.asarray(forward(model, x, cb, h, c)[0])[:, 0, 0]


def _blocked(model, y: np.ndarray, cond: np.ndarray, h, c) -> np.ndarray:
    """(S, T) rendered from state (h, c) through the model's DC blocker (none: y as it is)."""
    if not model_cutoff(model):
        return y
    zi = settled_state(model.dc_block_hz, model.sample_rate, settled_offset(model, cond, h, c))
    return dc_block(y, model.dc_block_hz, model.sample_rate, zi)[0]


def start_cond(cond: np.ndarray) -> np.ndarray:
    """The knob features at a render's first sample: (S, C) from (S, C) fixed or (S, T, C) tracks."""
    cond = np.asarray(cond, np.float32)
    return cond[:, 0] if cond.ndim == 3 else cond


MODES = ("chunked", "sequential", "streaming")
STREAM_BLOCK = 4096      # mode=streaming renders block by block, as a live player would
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
    chunk = auto_chunk(S * T, overlap) if chunk is None else chunk
    chunk = max(1, min(int(chunk), T))
    if prewarm:
        h0, c0 = (np.asarray(a) for a in settle(model, start_cond(cond)))
    else:
        h0 = c0 = np.zeros((S, model.hidden_size), np.float32)
    bar = None
    if progress and S * T > 30 * model.sample_rate:
        from tqdm import tqdm

        bar = tqdm(total=S * T, unit="sample", unit_scale=True, desc="render", leave=False)

    def run(xb, cb, rows):
        res = []
        for i in range(0, len(xb), max_batch):
            h, s = h0[rows[i: i + max_batch]], c0[rows[i: i + max_batch]]
            res.append(np.asarray(forward(model, xb[i: i + max_batch, :, None], cb[i: i + max_batch], h, s)[0])[..., 0])
            if bar is not None:
                bar.update(len(res[-1]) * min(chunk, T))
        return np.concatenate(res)

    out = np.zeros((S, T), np.float32)
    # first chunks: from the settled (or zero) state, as a sequential run
    out[:, :chunk] = run(x[:, :chunk], np.stack([_cond_slice(cond, si, 0, chunk, chunk) for si in range(S)]), np.arange(S))
    rest = np.arange(0, T, chunk)[1:]
    if len(rest):
        xb, cb = _overlapped(x, cond, rest, chunk, overlap)
        yb = run(xb, cb, np.repeat(np.arange(S), len(rest)))
        for k, (si, t) in enumerate((si, t) for si in range(S) for t in rest):
            e = min(T, t + chunk)
            out[si, t:e] = yb[k, overlap: overlap + e - t]
    if bar is not None:
        bar.close()
    return _blocked(model, out, start_cond(cond), h0, c0)


def _cond_slice(cond: np.ndarray, si: int, a: int, b: int, n: int) -> np.ndarray:
    """Row si's knob features for samples a..b as (n, C): a track is cut (and held at its last value
    past its end), fixed features are repeated."""
    if cond.ndim == 3:
        seg = np.zeros((n, cond.shape[-1]), np.float32)
        seg[: b - a] = cond[si, a:b]
        if b - a < n and b > a:
            seg[b - a:] = cond[si, b - 1]
        return seg
    return np.broadcast_to(cond[si], (n, cond.shape[-1]))


def _overlapped(x: np.ndarray, cond: np.ndarray, starts: np.ndarray, chunk: int, overlap: int):
    """Every later chunk of every row with the `overlap` samples before it, as one batch
    (S * len(starts), overlap + chunk) of audio and features (left-padded where the overlap would
    start before 0)."""
    S, T = x.shape
    n = overlap + chunk
    xb = np.zeros((S * len(starts), n), np.float32)
    cb = np.zeros((S * len(starts), n, cond.shape[-1]), np.float32)
    k = 0
    for si in range(S):
        for t in starts:
            a, b = max(0, t - overlap), min(T, t + chunk)
            off = n - chunk - (t - a)
            xb[k, off: off + b - a] = x[si, a:b]
            cb[k, off: off + b - a] = _cond_slice(cond, si, a, b, b - a)
            k += 1
    return xb, cb


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
        self.cold = True  # settled (prewarm) at the next block's first knob values, the DC blocker with it
        self.dc = None    # the output DC blocker's state (models with one)

    def process(self, x: np.ndarray, cond: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if len(x) == 0:
            return x.copy()
        c = np.broadcast_to(np.asarray(cond, np.float32), (len(x), self.model.n_cond))
        m = self.model
        if self.cold:
            if self.prewarm:
                self.h, self.c = settle(m, c[:1])
            if model_cutoff(m):
                self.dc = settled_state(m.dc_block_hz, m.sample_rate, settled_offset(m, c[:1], self.h, self.c))
            self.cold = False
        y, self.h, self.c = forward(m, x[None, :, None], c[None], self.h, self.c)
        y = np.asarray(y)[0, :, 0]
        if model_cutoff(m):
            y, self.dc = dc_block(y[None], m.dc_block_hz, m.sample_rate, self.dc)
            y = y[0]
        return y


def render(model, x: np.ndarray, cond: np.ndarray, mode: str = "chunked", *, chunk: int | None = None,
           overlap: int = DEFAULT_OVERLAP, progress: bool = False, prewarm: bool = True) -> np.ndarray:
    """The render core every caller uses: mono (T,) audio with (C,) fixed or (T, C) per-sample knob
    features -> (T,). chunked: one batch of overlapping chunks (fast, -120 dB from sequential);
    sequential: one pass (the reference); streaming: blocks of STREAM_BLOCK with the state carried,
    as a live player runs it. Each starts pre-warmed (prewarm=False: from the zero state)."""
    cond = np.asarray(cond, np.float32)
    if mode == "sequential":
        return render_sequential(model, x, cond, prewarm)
    if mode == "streaming":
        s, track = Stream(model, prewarm), cond.ndim == 2
        return np.concatenate([s.process(x[i: i + STREAM_BLOCK], cond[i: i + STREAM_BLOCK] if track else cond)
                               for i in range(0, len(x), STREAM_BLOCK)] or [np.zeros(0, np.float32)])
    if mode != "chunked":
        raise ValueError(f"mode '{mode}' is not one of {', '.join(MODES)}")
    return render_chunked(model, np.asarray(x, np.float32)[None], cond[None], chunk=chunk, overlap=overlap,
                          progress=progress, prewarm=prewarm)[0]
