"""Knob values for rendering: a fixed value, one value per sample, or automation points
[(seconds, value), ...]; turned into validated per-sample tracks, and smoothed so that moving knobs
do not click (a model fed a step in its conditioning input answers with a transient)."""
from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from ampcap.errors import KnobError
from ampcap.knobs import Knob

DEFAULT_SMOOTH_MS = 20.0  # one-pole time constant applied to moving knobs (measured in benchmarks/render.py)


def is_automation(value) -> bool:
    """[(seconds, value), ...] (a list of pairs), as opposed to a per-sample array or a scalar."""
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value))


def knob_values(knob: Knob, value, n: int, sample_rate: int):
    """A validated scalar, or a per-sample array of length n, for one knob."""
    where = f"knob '{knob.name}'"
    if is_automation(value):
        return _automation(knob, value, n, sample_rate, where)
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.ndim != 1 or len(arr) != n:
            raise KnobError(f"{where}: a per-sample track needs one value per sample ({n}), got shape "
                              f"{arr.shape}; for automation give [(seconds, value), ...]")
        if knob.discrete:
            bad = sorted({str(v) for v in np.unique(arr) if v not in knob.choices})
            if bad:
                raise KnobError(f"{where}: {bad[0]!r} is not one of {list(knob.choices)}")
            return arr
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise KnobError(f"{where}: the per-sample track is not numeric (range {knob.min:g}..{knob.max:g})") from None
        if not np.all(np.isfinite(arr)):
            raise KnobError(f"{where}: the per-sample track holds NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < knob.min or hi > knob.max:
            bad = lo if lo < knob.min else hi
            raise KnobError(f"{where}: {bad:g} is outside its range {knob.min:g}..{knob.max:g}")
        return arr
    return knob.check(value, where)


def _automation(knob: Knob, points, n: int, sample_rate: int, where: str) -> np.ndarray:
    """Continuous knobs are interpolated linearly between points, discrete ones switch at each point;
    before the first point and after the last the value is held."""
    times, values = [], []
    for i, (t, v) in enumerate(points):
        try:
            t = float(t)
        except (TypeError, ValueError):
            raise KnobError(f"{where}: automation point {i}: time {t!r} is not a number of seconds") from None
        if not np.isfinite(t) or t < 0:
            raise KnobError(f"{where}: automation point {i}: time {t!r} must be >= 0 seconds")
        if times and t < times[-1]:
            raise KnobError(f"{where}: automation times must not decrease ({times[-1]:g} s then {t:g} s)")
        times.append(t)
        values.append(knob.check(v, f"{where}: automation point {i}"))
    t_samples = np.arange(n) / float(sample_rate)
    if knob.discrete:
        idx = np.searchsorted(np.asarray(times), t_samples, side="right") - 1
        return np.asarray(values, dtype=object)[np.clip(idx, 0, len(values) - 1)].astype(str)
    return np.interp(t_samples, np.asarray(times), np.asarray(values, np.float64))


def smooth(features: np.ndarray, sample_rate: int, ms: float, start: np.ndarray | None = None) -> np.ndarray:
    """One-pole low-pass along time of a (T, C) feature track, starting settled at `start` (default:
    the first row) so that a constant track passes unchanged. Returns float32 (T, C)."""
    f = np.asarray(features, np.float64)
    if ms <= 0 or len(f) == 0:
        return f.astype(np.float32)
    a = float(np.exp(-1000.0 / (ms * sample_rate)))
    y0 = f[0] if start is None else np.asarray(start, np.float64)
    zi = (a * y0)[None, :]  # state so that the first output is (1-a)*x0 + a*y0
    y, _ = lfilter([1 - a], [1, -a], f, axis=0, zi=zi)
    return y.astype(np.float32)
