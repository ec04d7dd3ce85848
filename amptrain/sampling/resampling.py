"""Resampling between a caller's sample rate and a model's (render, match): pedalboard's convention, audio at another
rate is resampled in and back out."""
from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import resample_poly


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling (scipy's resample_poly, its default Kaiser window), float32 out."""
    if int(from_rate) == int(to_rate):
        return np.asarray(x, np.float32)
    g = gcd(int(from_rate), int(to_rate))
    return resample_poly(x, int(to_rate) // g, int(from_rate) // g).astype(np.float32)


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """y cut or zero-padded to n samples (a resampling round trip can be a sample off)."""
    return np.pad(y[:n], (0, max(0, n - len(y)))).astype(np.float32)
