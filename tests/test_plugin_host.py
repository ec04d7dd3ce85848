"""Hosting a VST3 through pedalboard: knob mapping, fixed parameters, errors with close matches,
channel-dependent parameters and latency. A stand-in for pedalboard's plugin object is used here
(the real-plugin path is exercised with a plugin built from source in the refamp tests)."""
import numpy as np
import pedalboard
import pytest

from ampcap.errors import ConfigError, PluginError
from capture.host import PluginAmp
from capture.reamp import measure_latency, render_setting
from tests.conftest import error_lines, run_cli


class FakeParam:
    def __init__(self, name, type=float, lo=0.0, hi=10.0, values=None, label=""):
        self.name, self.type, self.label = name, type, label
        self.min_value, self.max_value = (lo, hi) if type is float else (None, None)
        self.valid_values = values or []


class FakePlugin:
    """Looks like pedalboard.VST3Plugin: python-named parameters, attribute access, process()."""

    def __init__(self):
        params = {
            "input_gain": FakeParam("Input Gain", lo=-12, hi=12, label="dB"),
            "amp_channel": FakeParam("Amp Channel", str, values=["Clean", "Rhythm", "Lead"]),
            "gate_active": FakeParam("Gate Active", bool, values=[False, True]),
        }
        for ch in ("clean", "rhythm", "lead"):
            for k in ("gain", "bass"):
                params[f"{ch}_{k}"] = FakeParam(f"{ch.title()} {k.title()}")
        object.__setattr__(self, "parameters", params)
        object.__setattr__(self, "values", {k: (p.valid_values[0] if p.type is not float else p.min_value) for k, p in params.items()})
        object.__setattr__(self, "reported_latency_samples", 0)

    def __setattr__(self, k, v):
        if k not in self.parameters:
            raise AttributeError(k)
        self.values[k] = v

    def __getattr__(self, k):
        if k in self.__dict__.get("values", {}):
            return self.values[k]
        raise AttributeError(k)

    def process(self, x, sr, reset=True):
        ch = self.values["amp_channel"].lower()
        return np.tanh(x * (1 + self.values[f"{ch}_gain"])) * (1 + 0.1 * self.values[f"{ch}_bass"])


@pytest.fixture
def fake(monkeypatch, tmp_path):
    path = tmp_path / "Fake.vst3"
    path.write_bytes(b"not really a plugin")
    monkeypatch.setattr(pedalboard, "load_plugin", lambda *a, **k: FakePlugin())
    return str(path)


def cfg(path, knobs=None, fixed=None):
    return {"name": "fake", "kind": "external", "path": path, "sample_rate": 48000, "preroll_s": 0.1,
            "knobs": knobs if knobs is not None else {
                "input_gain": {"param": "Input Gain", "min": -6, "max": 6},
                "channel": {"param": "amp_channel", "choices": ["Clean", "Lead"], "default": "Lead"},
                "gain": {"param": "{channel} Gain"},
                "bass": {"param": "{channel}_bass", "min": 2, "max": 8}},
            "fixed": fixed if fixed is not None else {"Gate Active": False}}


def test_mapping_and_channel_dependent_params(fake):
    amp = PluginAmp(cfg(fake))
    assert amp.knobs.names == ["input_gain", "channel", "gain", "bass"]
    assert (amp.knobs["gain"].min, amp.knobs["gain"].max) == (0.0, 10.0)  # plugin's range by default
    assert amp.knobs["input_gain"].unit == "dB"
    amp.set_knobs({"input_gain": 0.0, "channel": "Lead", "gain": 7.0, "bass": 3.0})
    assert amp.plugin.values["lead_gain"] == 7.0 and amp.plugin.values["clean_gain"] == 0.0
    assert amp.read_knobs() == {"input_gain": 0.0, "channel": "Lead", "gain": 7.0, "bass": 3.0}
    amp.set_knobs({"input_gain": 0.0, "channel": "Clean", "gain": 2.0, "bass": 3.0})
    assert amp.plugin.values["clean_gain"] == 2.0 and amp.plugin.values["lead_gain"] == 7.0
    rows = amp.parameters()
    assert {r["display"] for r in rows} >= {"Input Gain", "Amp Channel", "Lead Gain"}
    r = render_setting(amp, {"input_gain": 0.0, "channel": "Lead", "gain": 5.0, "bass": 5.0},
                       np.full(4800, 0.1, np.float32), preroll_s=0.1)
    assert r.latency == 0 and len(r.audio) == 4800


@pytest.mark.parametrize("knobs,fixed,msg", [
    ({"gain": {"param": "Lead Gian"}}, {}, "no parameter 'Lead Gian'; close matches: .*Lead Gain"),
    ({"gain": {"param": "Lead Gain", "max": 20}}, {}, r"plugin.knobs.gain.max: 20 is outside the plugin's range 0..10"),
    ({"ch": {"param": "Amp Channel", "choices": ["Crunch"]}}, {}, r"plugin.knobs.ch.choices: 'Crunch' is not a value .*Clean"),
    ({"gain": {"param": "{chan} Gain"}}, {}, "must name another knob that has choices"),
    ({"gain": {"param": "Lead Gain"}}, {"Gate Actve": True}, "plugin.fixed.Gate Actve: plugin has no parameter"),
    ({"gain": {"param": "Lead Gain"}}, {"Lead Bass": 99}, "outside 0..10"),
    ({"gain": {}}, {}, "plugin.knobs.gain.param: missing"),
    ({}, {}, "plugin.knobs: no knobs mapped"),
])
def test_mapping_errors_name_the_key(fake, knobs, fixed, msg):
    with pytest.raises((ConfigError, PluginError), match=msg):
        PluginAmp(cfg(fake, knobs, fixed))


def test_values_checked_when_set(fake):
    amp = PluginAmp(cfg(fake))
    with pytest.raises(ConfigError, match="knob 'bass': 9 is outside its range 2..8"):
        amp.knobs.complete({"bass": 9})
    with pytest.raises(ConfigError, match="unknown knob 'volume'"):
        amp.knobs.complete({"volume": 1})


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(PluginError, match="plugin file not found"):
        PluginAmp(cfg(str(tmp_path / "nope.vst3")))


def test_path_from_env_and_os_default(monkeypatch, fake):
    from capture.host import resolve_plugin_path

    c = {"name": "x", "path": None, "path_env": "AMPCAP_X", "default_paths": {"linux": "/d.vst3", "darwin": "/d.vst3", "win32": "/d.vst3"}}
    monkeypatch.setenv("AMPCAP_X", fake)
    assert resolve_plugin_path(c) == fake
    monkeypatch.delenv("AMPCAP_X")
    assert resolve_plugin_path(c) == "/d.vst3"
    assert resolve_plugin_path({**c, "path": "/given.vst3"}) == "/given.vst3"


def test_measure_latency_known_delays():
    probe = np.zeros(4800, np.float32)
    probe[0] = 0.5
    for d in (0, 1, 37, 500):
        out = np.roll(probe, d) * 0.3
        assert measure_latency(out, probe, 2000) == d
    # a low-pass filter's group delay is not latency: onset stays at 0
    from scipy.signal import butter, lfilter

    b, a = butter(4, 0.1)
    assert measure_latency(lfilter(b, a, probe).astype(np.float32), probe, 2000) == 0


@pytest.mark.parametrize("command", ["sweep", "params"])
def test_a_plugin_that_crashes_while_loading_is_one_line_and_writes_nothing(tmp_path, command):
    """The capture process never loads the plugin itself: a worker loads it first and its SIGSEGV
    becomes one error line (before, the command died with the plugin)."""
    p = run_cli("capture", command, "plugin.kind=python", "plugin.target=tests.amps:LoadCrashAmp", "progress=false",
                f"out={tmp_path / 'out'}")
    lines = error_lines(p)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: plugin: tests.amps:LoadCrashAmp crashed while loading "
                                                   "(plugin process crashed (SIGSEGV))"), p.stderr
    assert "Traceback" not in p.stderr and not (tmp_path / "out").exists()
