"""Measures of what moving knobs do to a render: clicks (short broadband bursts a step in the
conditioning input causes) and how far a slowly automated render strays from the static renders at
the same knob values. Pure numpy; used by tests and benchmarks/render.py."""
from __future__ import annotations

import numpy as np


def click_score_db(y: np.ndarray, sample_rate: int, frame_ms: float = 1.0, context_ms: float = 50.0) -> float:
    """Largest 1-ms frame energy of the signal's second difference (a click is broadband; program
    material is mostly below a few kHz) over the louder of the medians of the 25 ms before and after
    it, in dB: a click stands above both, a change of level or tone only above one."""
    d = np.diff(np.asarray(y, np.float64), n=2)
    f = max(1, int(sample_rate * frame_ms / 1000))
    n = len(d) // f
    if n < 3:
        return 0.0
    e = np.square(d[: n * f]).reshape(n, f).sum(axis=1) + 1e-20
    half = max(1, int(context_ms / frame_ms) // 2)
    pad = np.pad(e, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(pad, half)
    before, after = np.median(windows[:n], axis=1), np.median(windows[half + 1: half + 1 + n], axis=1)
    local = np.maximum(before, after)  # a level change is at home on one side; a click on neither
    return float(10 * np.log10(np.max(e / local)))


def click_excess_db(moving: np.ndarray, statics: list[np.ndarray], sample_rate: int) -> float:
    """How much a render with moving knobs out-clicks the static renders of the same audio at the
    settings it moves between (dB). Below ~3 dB the motion adds no click of its own."""
    return click_score_db(moving, sample_rate) - max(click_score_db(s, sample_rate) for s in statics)


def interpolated_reference(static: np.ndarray, values: np.ndarray, track: np.ndarray) -> np.ndarray:
    """Per sample, linear interpolation between static renders (K, T) made at knob values (K,) to the
    automated value track (T,): what a slow automation render should sound like."""
    values = np.asarray(values, np.float64)
    order = np.argsort(values)
    values, static = values[order], np.asarray(static, np.float64)[order]
    track = np.clip(np.asarray(track, np.float64), values[0], values[-1])
    i = np.clip(np.searchsorted(values, track, side="right") - 1, 0, len(values) - 2)
    w = (track - values[i]) / (values[i + 1] - values[i])
    t = np.arange(static.shape[1])
    return (1 - w) * static[i, t] + w * static[i + 1, t]

