"""Amps for tests (`plugin.kind=python`, `plugin.target=tests.amps:<Class>`): each misbehaves the way
some real plugin does, so the host's checks can be shown to catch it."""
from __future__ import annotations

import time

import numpy as np

from capture.host import BuiltinAmp


class TestAmp(BuiltinAmp):
    """The builtin amp behind the python-amp interface; `plugin.options` tune the misbehaviour."""

    def __init__(self, cfg: dict):
        super().__init__(cfg.get("sample_rate") or 48000, name=cfg.get("name", "test"))
        self.opts = dict(cfg.get("options") or {})


class SlowAmp(TestAmp):
    def process(self, audio):
        time.sleep(float(self.opts.get("sleep_s", 0.3)))
        return super().process(audio)


class DelayedAmp(TestAmp):
    """Really delays its output (unreported latency), like a plugin with lookahead that lies."""

    def process(self, audio):
        d = int(self.opts.get("delay", 37))
        y = super().process(audio)
        return np.concatenate([np.zeros(d, np.float32), y[:-d]])


class NaNAmp(TestAmp):
    def process(self, audio):
        y = super().process(audio)
        if self._values["gain"] > float(self.opts.get("nan_above", 5.0)):
            y[len(y) // 2] = np.nan
        return y


class SilentAmp(TestAmp):
    """Like an unauthorised plugin: outputs silence."""

    def process(self, audio):
        return np.zeros_like(audio)


class NoisyAmp(TestAmp):
    """Non-deterministic: adds a little random noise."""

    def process(self, audio):
        return super().process(audio) + np.random.default_rng().normal(0, 1e-3, len(audio)).astype(np.float32)


class RevertingAmp(TestAmp):
    """Reverts 'bass' to its previous value when a reused instance processes after a change (the
    behaviour seen in one third-party VST3); read-back shows it."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self._used, self._prev_bass = False, None

    def set_knobs(self, values):
        self._prev_bass = self._values.get("bass")
        super().set_knobs(values)

    def process(self, audio):
        if self._used and self._prev_bass is not None:
            self._values["bass"] = self._prev_bass
        self._used = True
        return super().process(audio)


class StatefulAmp(TestAmp):
    """A reused instance sounds different from a fresh one (state leaks across resets) although
    its parameters read back right: only the fresh-vs-reused render check catches it."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self._calls = 0

    def process(self, audio):
        self._calls += 1
        return super().process(audio) * np.float32(1.0 + 0.01 * (self._calls - 1))


def _gain_in(amp: TestAmp, key: str) -> bool:
    return any(abs(float(amp._values["gain"]) - float(g)) < 1e-6 for g in amp.opts.get(key) or [])


class BrokenAmp(TestAmp):
    """Fails the way crashing plugins do, on chosen settings (by gain): `segfault_gains` (a real
    SIGSEGV in native code), `hang_gains` (never returns), `nan_gains` (NaN output),
    `flaky_gains` (segfaults the first time each is rendered, then works; needs `state_dir`)."""

    def process(self, audio):
        if _gain_in(self, "segfault_gains"):
            import ctypes

            ctypes.string_at(0)  # reads address 0: SIGSEGV, as a buggy plugin would
        if _gain_in(self, "hang_gains"):
            while True:
                time.sleep(1)
        if _gain_in(self, "flaky_gains"):
            from pathlib import Path

            mark = Path(self.opts["state_dir"]) / f"crashed-{self._values['gain']:g}"
            if not mark.exists():
                mark.write_text("1")
                import ctypes

                ctypes.string_at(0)
        y = super().process(audio)
        if _gain_in(self, "nan_gains"):
            y[len(y) // 3] = np.nan
        return y


class LoadCrashAmp(TestAmp):
    """Crashes while it loads (a real SIGSEGV in native code), as some plugins do on a host they
    do not expect: the capture command must survive it."""

    def __init__(self, cfg):
        import ctypes

        ctypes.string_at(0)


class LoudAmp(TestAmp):
    """Outputs far above full scale (`level`, default 4x), as hot third-party plugins do."""

    def process(self, audio):
        return super().process(audio) * np.float32(self.opts.get("level", 4.0))


class ManyChoicesAmp(TestAmp):
    """Has a 25-way cabinet selector with long names (its list of choices alone is ~900 characters),
    like the third-party plugin whose `capture params` table was 280 characters wide."""

    CABS = [f"Cabinet {i:02d}: 4x12 Vintage Greenback, SM57 off-axis" for i in range(25)]

    def __init__(self, cfg):
        from ampcap.knobs import KnobSet, knob_from_config

        super().__init__(cfg)
        self.knobs = KnobSet(list(self.knobs) + [knob_from_config("cabinet_model_selection", {"choices": self.CABS})])
        self._values["cabinet_model_selection"] = self.CABS[0]
