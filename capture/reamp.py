"""Re-amping one setting: `render_setting` is the only way audio goes through an amp (capture/host.py). It sets the
knobs, resets the amp, prepends a pre-roll that is discarded, measures the residual latency with an impulse and
cross-correlation, and removes it, so the output lines up with the DI sample for sample."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .host import Amp


@dataclass
class Render:
    audio: np.ndarray      # latency-compensated output aligned with the DI
    latency: int           # residual latency measured after the host's own compensation (samples)
    readback: dict         # knob values read back from the amp after processing


PROBE_GAP_S = 0.25


def measure_latency(probe_out: np.ndarray, probe_in: np.ndarray, max_lag: int, rel_threshold: float = 1e-3) -> int:
    """Latency in samples from an impulse probe: cross-correlate output with input and take the first
    lag whose correlation rises above the noise floor and 0.1 % of the peak (the onset, so a filter's
    group delay is not counted as latency)."""
    n = len(probe_in)
    spec = np.fft.rfft(probe_out, 2 * n) * np.conj(np.fft.rfft(probe_in, 2 * n))
    xc = np.fft.irfft(spec, 2 * n)
    lags = np.concatenate([xc[-max_lag:], xc[: max_lag + 1]])  # lags -max_lag..max_lag
    mag = np.abs(lags)
    peak = mag.max()
    if peak <= 0:
        return 0
    floor = np.median(mag[: max_lag // 2]) if max_lag >= 2 else 0.0
    above = mag > max(rel_threshold * peak, 8.0 * floor)
    return int(np.argmax(above)) - max_lag


def render_setting(amp: Amp, knob_values: dict, di: np.ndarray, preroll_s: float = 0.5,
                   max_latency: int = 4096) -> Render:
    """Set the knobs, process [pre-roll | impulse probe | gap | DI] from reset, measure the residual
    latency on the probe, and return the DI part with that latency removed."""
    sr = amp.sample_rate
    amp.set_knobs(knob_values)
    pre = int(preroll_s * sr)
    gap = int(PROBE_GAP_S * sr)
    probe = np.zeros(gap, np.float32)
    probe[0] = 0.5
    tail = max_latency
    x = np.concatenate([np.zeros(pre, np.float32), probe, np.zeros(gap, np.float32),
                        di.astype(np.float32), np.zeros(tail, np.float32)])
    y = amp.process(x)
    if len(y) != len(x):
        y = np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]
    p0 = pre
    latency = measure_latency(y[p0: p0 + gap], probe, max_lag=min(max_latency, gap // 2 - 1))
    start = pre + 2 * gap + latency
    out = y[start: start + len(di)]
    if len(out) < len(di):
        out = np.pad(out, (0, len(di) - len(out)))
    return Render(audio=np.ascontiguousarray(out, dtype=np.float32), latency=latency, readback=amp.read_knobs())
