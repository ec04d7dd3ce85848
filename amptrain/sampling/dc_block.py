"""The output DC blocker: a one-pole high-pass at a few Hz after the model, H(z) = g (1 - z^-1) / (1 - R z^-1),
for amps whose output carries no DC (an output transformer passes none). Between its training settings a model
can invent a constant offset that validation never sees (RefAmp, 256 settings: one held-out setting at ESR 0.39,
0.38 of it DC; docs/results.md); the blocker takes it out at every setting, seen or not, and leaves the audio band
alone (2 Hz: -0.003 dB and 1.4 degrees at 80 Hz). Applied to the rendered output, it is the same filter in every
render mode: chunked (the assembled signal), sequential and streaming (its state carried between blocks)."""
from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter, lfilter_zi

DC_BLOCK_HZ = 2.0          # the cutoff a trained model gets when its training targets carry no DC (1-2 Hz best on validation)
DC_FREE_SHARE = 1e-3       # ... i.e. at every training setting mean(y)^2 / mean(y^2) is below this (-30 dB)


def coefficients(cutoff_hz: float, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of the one-pole DC blocker, its gain 1 at Nyquist."""
    r = math.exp(-2.0 * math.pi * float(cutoff_hz) / float(sample_rate))
    g = 0.5 * (1.0 + r)
    return np.array([g, -g]), np.array([1.0, -r])


def settled_state(cutoff_hz: float, sample_rate: float, offset: np.ndarray) -> np.ndarray:
    """Filter state (rows, 1) as if each row's input had been at its `offset` forever: the output starts at 0
    where the model starts at its settled offset (a pre-warmed render has no start-up step)."""
    b, a = coefficients(cutoff_hz, sample_rate)
    return lfilter_zi(b, a)[None, :] * np.asarray(offset, np.float64).reshape(-1, 1)


def dc_block(y: np.ndarray, cutoff_hz: float, sample_rate: float, state: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Filter (rows, T) audio along time from `state` (rows, 1; None: at rest at 0); returns (float32 audio,
    the state after it), so consecutive blocks filtered in turn equal the whole filtered at once."""
    y = np.asarray(y, np.float64)
    b, a = coefficients(cutoff_hz, sample_rate)
    zi = np.zeros((y.shape[0], 1)) if state is None else np.asarray(state, np.float64).reshape(y.shape[0], 1)
    out, zf = lfilter(b, a, y, axis=-1, zi=zi)
    return out.astype(np.float32), zf


def dc_share(y: np.ndarray) -> float:
    """The largest share of DC in any row's energy, max over rows of mean(y)^2 / mean(y^2) (silent rows: 0);
    row by row, so a whole training set (GBs of float32) needs no float64 copy."""
    y = np.asarray(y)
    y = y.reshape(-1, y.shape[-1])
    worst = 0.0
    for row in y:
        power = float(np.dot(row, row)) / len(row) if len(row) else 0.0
        if power > 0:
            worst = max(worst, float(np.mean(row, dtype=np.float64)) ** 2 / power)
    return worst


def choose_cutoff(mode: str, share: float) -> float:
    """model.dc_block -> the blocker's cutoff in Hz (0: none). auto: DC_BLOCK_HZ when the training targets carry
    no DC at any setting (their dc_share below DC_FREE_SHARE), else none (a plugin whose output has DC keeps it)."""
    if mode == "off":
        return 0.0
    if mode == "on":
        return DC_BLOCK_HZ
    return DC_BLOCK_HZ if share < DC_FREE_SHARE else 0.0


def model_cutoff(model) -> float:
    """A model's output DC blocker cutoff in Hz (0: none; models saved before the blocker have none)."""
    return float(getattr(model, "dc_block_hz", 0.0) or 0.0)
