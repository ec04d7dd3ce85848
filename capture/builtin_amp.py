"""The embedded default amp: pedalboard's built-in filters plus numpy waveshapers, no plugin file needed.

Signal path (like a two-channel tube head into a 4x12): input high-pass -> pre-amp stage(s) with
asymmetric clipping -> tone stack (bass/mid/treble) -> presence + master into an asymmetric power
stage -> output transformer high-pass -> cabinet response. Because the tone stack sits between the
nonlinear stages, EQ changes the distortion and knobs interact, as on a real amp.
"""
from __future__ import annotations

import numpy as np
from pedalboard import HighpassFilter, HighShelfFilter, LowpassFilter, LowShelfFilter, PeakFilter, Pedalboard

KNOB_SPECS = {
    "gain": {"min": 0.0, "max": 10.0, "default": 5.0, "unit": ""},
    "bass": {"min": 0.0, "max": 10.0, "default": 5.0, "unit": ""},
    "mid": {"min": 0.0, "max": 10.0, "default": 5.0, "unit": ""},
    "treble": {"min": 0.0, "max": 10.0, "default": 5.0, "unit": ""},
    "presence": {"min": 0.0, "max": 10.0, "default": 5.0, "unit": ""},
    "master": {"min": 0.0, "max": 10.0, "default": 5.0, "unit": ""},
    "channel": {"choices": ["clean", "lead"], "default": "lead"},
}


def db(x: float) -> float:
    return float(10.0 ** (x / 20.0))


def asymmetric_clip(x: np.ndarray, drive: float, bias: float) -> np.ndarray:
    """tanh(drive*x + bias) - tanh(bias), scaled to unit small-signal gain/drive: the bias makes the
    positive and negative halves clip at different levels, which creates even harmonics."""
    return ((np.tanh(drive * x + bias) - np.tanh(bias)) / (1.0 - np.tanh(bias) ** 2)).astype(np.float32)


def power_stage(x: np.ndarray, drive: float) -> np.ndarray:
    """Push-pull power stage: softer knee (x / (1 + |x|^2.5)^(1/2.5)) with slight asymmetry, output
    bounded below 1 so the amp never exceeds full scale."""
    v = drive * x + 0.08
    y = v / (1.0 + np.abs(v) ** 2.5) ** 0.4
    y0 = 0.08 / (1.0 + 0.08 ** 2.5) ** 0.4
    return (0.9 * (y - y0)).astype(np.float32)


def _run(board: Pedalboard, x: np.ndarray, sr: float) -> np.ndarray:
    return board(x.astype(np.float32, copy=False), sr, reset=True)


def amp_process(x: np.ndarray, sr: float, k: dict) -> np.ndarray:
    """Process mono float32 audio at knob setting `k` (knob values 0-10, channel 'clean'/'lead')."""
    x = np.asarray(x, dtype=np.float32)
    lead = k["channel"] == "lead"
    g = float(k["gain"]) / 10.0
    # Input stage: coupling cap; the lead channel is tighter.
    y = _run(Pedalboard([HighpassFilter(cutoff_frequency_hz=110.0 if lead else 60.0)]), x, sr)
    # Pre-amp stage 1 (gain knob drives it), then a Miller-capacitance roll-off.
    drive1 = db(-2.0 + 26.0 * g) if lead else db(-8.0 + 24.0 * g)
    y = asymmetric_clip(y, drive1, 0.35)
    y = _run(Pedalboard([HighpassFilter(cutoff_frequency_hz=40.0), LowpassFilter(cutoff_frequency_hz=9000.0)]), y, sr)
    if lead:  # second cascaded stage with the opposite bias and a bright, tight coupling
        y = _run(Pedalboard([HighpassFilter(cutoff_frequency_hz=220.0), PeakFilter(cutoff_frequency_hz=1800.0, gain_db=3.0, q=0.7)]), y, sr)
        y = asymmetric_clip(y, db(6.0 + 14.0 * g), -0.5)
        y = _run(Pedalboard([LowpassFilter(cutoff_frequency_hz=7000.0)]), y, sr)
    # Tone stack between the stages, with the passive stack's insertion loss and mid scoop.
    tone = Pedalboard([
        LowShelfFilter(cutoff_frequency_hz=140.0, gain_db=2.6 * (float(k["bass"]) - 5.0), q=0.6),
        PeakFilter(cutoff_frequency_hz=650.0, gain_db=2.4 * (float(k["mid"]) - 5.0) - 2.0, q=0.8),
        HighShelfFilter(cutoff_frequency_hz=2600.0, gain_db=2.6 * (float(k["treble"]) - 5.0), q=0.6),
    ])
    y = _run(tone, y, sr) * np.float32(db(-10.0))
    # Power stage: presence is a high-frequency boost inside the power amp's feedback loop; master drives it.
    y = _run(Pedalboard([HighShelfFilter(cutoff_frequency_hz=3500.0, gain_db=1.6 * (float(k["presence"]) - 5.0), q=0.7)]), y, sr)
    y = power_stage(y, db(-14.0 + 3.2 * float(k["master"])))
    # Output transformer and a 4x12-like cabinet: low resonance, upper-mid bump, steep top roll-off.
    cab = Pedalboard([
        HighpassFilter(cutoff_frequency_hz=75.0),
        PeakFilter(cutoff_frequency_hz=110.0, gain_db=4.0, q=1.8),
        PeakFilter(cutoff_frequency_hz=2400.0, gain_db=3.5, q=1.4),
        PeakFilter(cutoff_frequency_hz=500.0, gain_db=-2.5, q=1.0),
        LowpassFilter(cutoff_frequency_hz=5200.0),
        LowpassFilter(cutoff_frequency_hz=6000.0),
        LowpassFilter(cutoff_frequency_hz=7500.0),
        PeakFilter(cutoff_frequency_hz=9000.0, gain_db=-12.0, q=0.5),
    ])
    return _run(cab, y, sr) * np.float32(db(-6.0))  # cabinet resonances overshoot: keep peaks below 1
