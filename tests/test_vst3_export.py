"""Plugin in, plugin out: RefAmp.vst3 -> capture -> train -> `export format=vst3` -> a VST3 of the model,
built with the project's VST3 builder (JUCE from Debian's packages, cached) and hosted by the same pedalboard
as RefAmp. Its parameters are the model's knobs; at held-out settings its output is AmpModel.render's (at the
model's rate and at 44.1 kHz), with knobs moving it is AmpModel.stream's, against RefAmp its error is the
model's own; its state (knob values) saves and restores. The engine's maths alone: test_vst3_engine.py."""
import json

import numpy as np
import pytest

from ampcap.dataset import read_manifest
from tests.conftest import run_cli

pytestmark = pytest.mark.slow
SR = 48000


def esr(y, ref):
    ref = np.asarray(ref, np.float64)
    return float(np.sum((np.asarray(y, np.float64) - ref) ** 2) / np.sum(ref ** 2))


@pytest.fixture(scope="module")
def exported(refamp, tmp_path_factory):
    """A small RefAmp capture (every mapped knob, the channel a choice), a quick model of it, and that
    model exported as a VST3 by the command a user runs."""
    d = tmp_path_factory.mktemp("vst3")
    ds = d / "ds"
    p = run_cli("capture", "sweep", "plugin=refamp", f"plugin.path={refamp}", "sweep=tiny", "sweep.n_heldout=4",
                "signal.duration_s=8", "progress=false", f"out={ds}", cwd=d)
    assert p.returncode == 0, p.stderr
    p = run_cli("amptrain", "dataset=path", f"dataset.path={ds}", "trainer=quick", "trainer.progress=false", "model=lstm8",
                "trainer.max_epochs=2", "trainer.renders=0", "name=RefAmpModel", f"run_dir={d / 'runs' / 'RefAmpModel' / 'r1'}",
                cwd=d, timeout=900)
    assert p.returncode == 0, p.stderr
    run = d / "runs" / "RefAmpModel" / "r1"
    p = run_cli("amptrain", "export", f"run={run}", "format=vst3", cwd=d, timeout=1800)
    assert p.returncode == 0, p.stderr
    bundle = run / "export" / "RefAmpModel.vst3"
    assert bundle.is_dir() and (run / "export" / "RefAmpModel-vst3-source" / "CMakeLists.txt").is_file()
    return {"ds": ds, "run": run, "bundle": bundle, "log": p.stderr}


@pytest.fixture(scope="module")
def amp(exported):
    from amptrain import AmpModel

    return AmpModel.load(exported["run"])


def load(bundle):
    import pedalboard

    return pedalboard.load_plugin(str(bundle))


def keys(plugin) -> dict:
    """knob name -> pedalboard's attribute for it (pedalboard adds the unit: gain in dB is gain_db)."""
    return {p.name: key for key, p in plugin.parameters.items()}


def set_knobs(plugin, knobs: dict) -> dict:
    """Set the knobs; returns their values as the plugin holds them (float32, for the reference render)."""
    k = keys(plugin)
    out = {}
    for name, v in knobs.items():
        boolean = getattr(plugin.parameters[k[name]], "type", None) is bool  # pedalboard: a False|True choice is a bool
        setattr(plugin, k[name], str(v) == "True" if boolean else v)
        got = getattr(plugin, k[name])
        out[name] = str(got) if boolean else got
    return out


def process(plugin, x, rate, reset=True):
    """pedalboard reads a plugin's latency before it prepares it for a new rate: a short block at the rate
    first, so the latency it compensates is the one the plugin reports at that rate."""
    if reset:
        plugin.process(np.zeros((1, 1024), np.float32), rate, buffer_size=512, reset=True)
    return plugin.process(x[None], rate, buffer_size=512, reset=reset)[0]


def heldout(exported):
    """(test settings' knobs, the held-out DI, RefAmp's output for each) from the dataset."""
    import soundfile as sf

    ds = exported["ds"]
    m = read_manifest(ds)
    a, b = m["signal"]["regions"]["test"]
    x = sf.read(ds / "input.wav", dtype="float32")[0][a:b]
    tests = [s for s in m["settings"] if s["split"] == "test"]
    return [(s["knobs"], sf.read(ds / s["file"], dtype="float32")[0][a:b]) for s in tests], x


def test_the_plugins_parameters_are_the_models_knobs(exported, amp):
    plugin = load(exported["bundle"])
    assert plugin.name == "RefAmpModel" and plugin.is_effect
    params = {p.name: (key, p) for key, p in plugin.parameters.items()}
    assert set(params) == {k.name for k in amp.knobs} | {"Bypass"}
    for k in amp.knobs:
        key, p = params[k.name]
        if k.discrete:
            assert [str(v) for v in p.valid_values] == list(k.choices) and str(getattr(plugin, key)) == str(k.default)
        else:
            assert (p.range[0], p.range[1]) == pytest.approx((k.min, k.max))
            assert getattr(plugin, key) == pytest.approx(k.default, abs=1e-4)
            assert p.label == (k.unit or "") or not k.unit
    meta = json.loads((exported["bundle"] / "Contents" / "Resources" / "ampcap-model.json").read_text())
    assert meta["exported_by"] == "ampcap" and [k["name"] for k in meta["knobs"]] == amp.knob_names


def test_at_heldout_settings_the_plugin_plays_the_models_render(exported, amp):
    plugin = load(exported["bundle"])
    settings, x = heldout(exported)
    for knobs, _ in settings:
        live = set_knobs(plugin, {n: v for n, v in knobs.items() if n in amp.knob_names})
        y = process(plugin, x, SR)
        ref = amp.render(x, **live)
        assert esr(y, ref) <= 1e-6, (live, esr(y, ref))
        assert plugin.reported_latency_samples == 0


def test_at_44k1_the_plugin_resamples_inside_and_reports_its_latency(exported, amp):
    from amptrain.sampling.amp import resample

    plugin = load(exported["bundle"])
    settings, x = heldout(exported)
    live = set_knobs(plugin, {n: v for n, v in settings[0][0].items() if n in amp.knob_names})
    x44 = resample(x, SR, 44100)
    y = process(plugin, x44, 44100)
    ref = amp.render(x44, 44100, **live)
    assert plugin.reported_latency_samples > 0
    assert esr(y, ref) <= 1e-3, esr(y, ref)


def test_knobs_moving_between_512_sample_blocks_equal_amp_stream(exported, amp):
    plugin = load(exported["bundle"])
    settings, x = heldout(exported)
    first = set_knobs(plugin, {n: v for n, v in settings[0][0].items() if n in amp.knob_names})
    process(plugin, np.zeros(512, np.float32), SR)  # prepared at 48 kHz
    plugin.reset()                                   # pre-warmed at the first knobs, as a new stream is
    stream = amp.stream()
    knob = next(k for k in amp.knobs if not k.discrete)
    ys, refs = [], []
    for b, i in enumerate(range(0, len(x), 512)):
        value = knob.min + (knob.max - knob.min) * ((b * 0.37) % 1.0)
        knobs = {**first, **set_knobs(plugin, {knob.name: value})}
        ys.append(process(plugin, x[i: i + 512], SR, reset=False))
        refs.append(stream.process(x[i: i + 512], **knobs))
    assert esr(np.concatenate(ys), np.concatenate(refs)) <= 1e-5


def test_against_refamp_the_plugin_errs_as_the_model_does(exported, amp):
    """The round trip: at the held-out settings, the exported plugin's ESR to RefAmp's own output (both
    hosted by pedalboard) equals the model's held-out ESR."""
    plugin = load(exported["bundle"])
    settings, x = heldout(exported)
    for knobs, target in settings:
        live = set_knobs(plugin, {n: v for n, v in knobs.items() if n in amp.knob_names})
        y = process(plugin, x, SR)
        assert abs(esr(y, target) - esr(amp.render(x, **live), target)) <= 1e-4


def test_the_plugins_state_saves_and_restores_its_knobs(exported, amp):
    plugin = load(exported["bundle"])
    knob = next(k for k in amp.knobs if not k.discrete)
    key = keys(plugin)[knob.name]
    value = knob.min + 0.3 * (knob.max - knob.min)
    setattr(plugin, key, value)
    state = plugin.raw_state
    fresh = load(exported["bundle"])
    assert getattr(fresh, key) != pytest.approx(value, abs=1e-3)
    process(fresh, np.zeros(512, np.float32), SR)  # playing at 48 kHz (pedalboard's latency read, see process)
    fresh.raw_state = state
    assert getattr(fresh, key) == pytest.approx(value, abs=1e-3)
    # a restored session starts pre-warmed at its knobs: no glide from the defaults, no start-up bump
    _, x = heldout(exported)
    y = fresh.process(x[None, :24000], SR, buffer_size=512, reset=False)[0]
    knobs = {k.name: k.default for k in amp.knobs}
    ref = amp.render(x[:24000], **{**knobs, knob.name: getattr(fresh, key)})
    assert esr(y, ref) <= 1e-6, esr(y, ref)


def test_a_second_export_reuses_the_built_plugin(exported, tmp_path):
    """The same model under the same name, exported elsewhere: the builder's cached plugin, no second build."""
    p = run_cli("amptrain", "export", f"run={exported['run']}", "format=vst3", f"output={tmp_path / 'RefAmpModel.vst3'}",
                cwd=tmp_path, timeout=1800)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "RefAmpModel.vst3").is_dir()
    assert "vst3: building" not in p.stderr  # the cached build of the same model, not a second one


def test_bypassed_the_plugin_passes_the_input_aligned(exported):
    """The host's bypass plays the input, delayed by the latency the plugin reports (none at 48 kHz)."""
    plugin = load(exported["bundle"])
    _, x = heldout(exported)
    plugin.bypass = True
    y = process(plugin, x[:48000], SR)
    assert np.allclose(y, x[:48000], atol=1e-7)
