"""An amp whose output carries DC, as many real plugins' do: the embedded amp followed by an
asymmetric tube stage with no output coupling capacitor (its offset follows the playing level and
the gain) plus a fixed bias offset. `plugin.kind=python plugin.target=benchmarks.dc_amp:DCAmp`."""
from __future__ import annotations

import numpy as np

from capture.host import BuiltinAmp


class DCAmp(BuiltinAmp):
    """`plugin.options.offset`: the fixed offset (default 0.05); `plugin.options.bias`: the tube
    stage's bias (default 0.6); `plugin.options.coupled=true`: the same amp with an output capacitor
    (a 10 Hz high-pass after the tube stage, no fixed offset): the amp without its DC."""

    def __init__(self, cfg: dict):
        super().__init__(cfg.get("sample_rate") or 48000, name=cfg.get("name", "dc_amp"))
        opts = dict(cfg.get("options") or {})
        self.offset, self.bias = float(opts.get("offset", 0.05)), float(opts.get("bias", 0.6))
        self.coupled = bool(opts.get("coupled", False))

    def process(self, audio: np.ndarray) -> np.ndarray:
        y = super().process(audio).astype(np.float64)
        drive = 1.0 + 0.3 * float(self._values["gain"])
        # tanh(d*y + b) - tanh(b): asymmetric, so loud passages shift the mean (no capacitor removes it)
        tube = (np.tanh(drive * y + self.bias) - np.tanh(self.bias)) / drive
        if self.coupled:
            from scipy.signal import lfilter

            a = np.exp(-2 * np.pi * 10.0 / self.sample_rate)  # one-pole high-pass at 10 Hz
            return lfilter([1.0, -1.0], [1.0, -a], tube).astype(np.float32)
        return (tube + self.offset).astype(np.float32)
