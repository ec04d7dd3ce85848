"""Rendering a trained model as a user does: AmpModel.load, knobs fixed / per-sample / automated,
chunked == sequential within -60 dB, streaming == offline, smoothing removes clicks, audio at another
sample rate (render(x, 44100)), renders that start pre-warmed (no start-up bump), and the sample and
knobs commands (files written, one-line errors, nothing half-written)."""
import json
import zipfile

import numpy as np
import pytest
import soundfile as sf

from amptrain.cli import main as amptrain_main
from tests.models import KNOBS, SR, di, make_net


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    make_net().save(d / "model.keras")
    return d


@pytest.fixture(scope="module")
def amp(run_dir):
    from amptrain import AmpModel

    return AmpModel.load(run_dir)


def db(err, ref):
    e = np.sum(err.astype(np.float64) ** 2)
    return -np.inf if e == 0 else 10 * np.log10(e / np.sum(ref.astype(np.float64) ** 2))


def test_load_lists_knobs_and_accepts_run_dir_file_and_runs_folder(run_dir, amp, tmp_path):
    from amptrain import AmpModel

    assert amp.knob_names == ["gain", "channel"]
    assert [k.default for k in amp.knobs] == [5.0, "clean"]
    rows = {r["name"]: r for r in amp.describe()}
    assert rows["gain"]["range"] == "0..10" and rows["bass"]["range"] == "fixed"
    assert AmpModel.load(run_dir / "model.keras").knob_names == ["gain", "channel"]
    runs = tmp_path / "runs" / "gain_sweep"
    for stamp in ("20260101-000000", "20260102-000000"):
        (runs / stamp).mkdir(parents=True)
        (runs / stamp / "model.keras").write_bytes((run_dir / "model.keras").read_bytes())
    (runs / "20260103-000000").mkdir()  # unfinished: no model yet
    assert AmpModel.load(runs).source_file == runs / "20260102-000000" / "model.keras"


def test_an_amp_is_called_like_a_plugin_with_knobs_as_a_mapping_or_keywords(amp):
    from ampcap.errors import KnobError
    from amptrain import AmpModel

    x = di(1.0)
    ref = amp.render(x, gain=7.3, channel="lead")
    assert np.array_equal(amp(x, SR, {"gain": 7.3, "channel": "lead"}), ref)
    assert np.array_equal(amp(x, None, {"gain": 7.3}, channel="lead"), ref)
    s = amp.stream()
    assert np.array_equal(np.concatenate([s(x[:4800], {"gain": 7.3, "channel": "lead"}),
                                          s.process(x[4800:], gain=7.3, channel="lead")]),
                          amp.render(x, mode="sequential", gain=7.3, channel="lead"))
    with pytest.raises(KnobError, match="'gain' is given twice"):
        amp(x, SR, {"gain": 7.3}, gain=2.0)
    with pytest.raises(KnobError, match="knobs must be a mapping"):
        amp(x, SR, [("gain", 7.3)])
    # a knob named like a render option: by keyword it is refused (it would silently be the option), in the
    # mapping it is the knob, and the option keeps its own keyword
    knobs = [{"name": "mode", "kind": "continuous", "min": 0.0, "max": 10.0, "default": 5.0}]
    moded = AmpModel(make_net(knobs=knobs))
    with pytest.raises(KnobError, match="'mode' is both a knob of this model and a render option.*\\{'mode': value\\}"):
        moded(x, SR, mode="sequential")
    lo, hi = moded(x, SR, {"mode": 0.0}), moded(x, SR, {"mode": 10.0}, mode="sequential")
    assert db(lo - hi, hi) > -20   # the knob moved the sound
    assert np.array_equal(hi, moded.render(x, SR, {"mode": 10.0}, mode="sequential"))


def test_chunked_matches_sequential_within_60_db(amp):
    x = di(3.0)
    seq = amp.render(x, mode="sequential", gain=7.3, channel="lead")
    assert np.sum(seq ** 2) > 0 and np.all(np.isfinite(seq))
    for chunk, overlap in [(None, None), (4800, 2400), (SR, 4800)]:
        y = amp.render(x, chunk=chunk, overlap=overlap, gain=7.3, channel="lead")
        assert y.shape == x.shape
        assert db(y - seq, seq) < -60, (chunk, overlap, db(y - seq, seq))
    # a knob changes the sound (the test would pass trivially otherwise)
    other = amp.render(x, mode="sequential", gain=1.0, channel="lead")
    assert db(other - seq, seq) > -20


def test_automation_equals_the_per_sample_track_it_describes(amp):
    x = di(1.0)
    auto = amp.render(x, mode="sequential", gain=[(0.0, 2.0), (0.8, 9.0)], channel=[(0, "clean"), (0.5, "lead")])
    t = np.arange(len(x)) / SR
    track = np.interp(t, [0.0, 0.8], [2.0, 9.0])
    chan = np.where(t >= 0.5, "lead", "clean")
    per_sample = amp.render(x, mode="sequential", gain=track, channel=chan)
    np.testing.assert_array_equal(auto, per_sample)
    fixed = amp.render(x, mode="sequential", gain=2.0)
    assert db(auto - fixed, fixed) > -20  # the automation really moved the sound
    chunked = amp.render(x, gain=track, channel=chan)
    assert db(chunked - per_sample, per_sample) < -60


def test_streaming_equals_offline_with_knobs_changing_between_blocks(amp):
    x = di(1.5)
    rng = np.random.default_rng(3)
    stream, outs, gains, i = amp.stream(), [], np.zeros(len(x)), 0
    while i < len(x):
        n = int(rng.choice([64, 500, 4096]))
        g = float(rng.uniform(0, 10))
        outs.append(stream.process(x[i: i + n], gain=g, channel="lead"))
        gains[i: i + n] = g
        i += n
    offline = amp.render(x, mode="sequential", gain=gains, channel="lead")
    np.testing.assert_allclose(np.concatenate(outs), offline, atol=2e-5)
    stream.reset()  # back to the zero state and a settled smoother: the first block comes out the same
    again = stream.process(x[: len(outs[0])], gain=gains[0], channel="lead")
    np.testing.assert_allclose(again, outs[0], atol=2e-5)


def test_knob_smoothing_removes_the_click_of_a_knob_jump(amp):
    from amptrain.sampling.artefacts import click_excess_db

    t = np.arange(SR) / SR
    x = (0.3 * np.sin(2 * np.pi * 110 * t) * np.exp(-t)).astype(np.float32)  # a sustained note
    statics = [amp.render(x, mode="sequential", gain=g) for g in (2.0, 9.0)]
    jump = [(0.0, 2.0), (0.73, 2.0), (0.73, 9.0)]  # gain 2 -> 9 within one sample
    raw = click_excess_db(amp.render(x, mode="sequential", smooth_ms=0, gain=jump), statics, SR)
    smoothed = click_excess_db(amp.render(x, mode="sequential", gain=jump), statics, SR)
    assert raw > 20, raw
    assert smoothed < 3, smoothed


@pytest.mark.parametrize("knobs, message", [
    ({"gain": 11}, "knob 'gain': 11 is outside its range 0..10"),
    ({"volume": 3}, "unknown knob 'volume' (knobs: gain, channel)"),
    ({"bass": 3}, "knob 'bass' was fixed at 5.0 in the training data"),
    ({"channel": "crunch"}, "knob 'channel': 'crunch' is not one of ['clean', 'lead']"),
    ({"gain": "loud"}, "knob 'gain': 'loud' is not a number"),
    ({"gain": np.zeros(7)}, "needs one value per sample (100)"),
    ({"gain": [(0.5, 2), (0.1, 3)]}, "automation times must not decrease"),
    ({"gain": [(0, 2), (1, 30)]}, "automation point 1: 30 is outside its range"),
])
def test_bad_knobs_are_one_line_errors(amp, knobs, message):
    """As the docs say, knob errors are ModelError (and ConfigError: one `except` of either catches them)."""
    from ampcap.errors import ConfigError
    from amptrain import ModelError

    with pytest.raises(ModelError) as e:
        amp.render(np.zeros(100, np.float32), **knobs)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, ConfigError)


def test_bad_render_inputs_are_model_errors_too(amp):
    from amptrain import ModelError

    for bad in (dict(x=np.zeros((2, 100), np.float32)), dict(x=np.zeros(100, np.float32), mode="fast")):
        with pytest.raises(ModelError):
            amp.render(**bad)


def test_a_fixed_knob_at_its_training_value_is_accepted(amp):
    assert amp.render(np.zeros(100, np.float32), bass=5).shape == (100,)


# --- sample rates (pedalboard's convention: amp.render(x, sample_rate, ...)) --------------------

def filter_amp():
    """An LSTM set up as four leaky integrators (a low-pass filter with its corners in samples): its
    sound depends on the rate the audio is at, so a render at the wrong rate is audible."""
    from amptrain import AmpModel

    net = make_net(hidden=4, knobs=[KNOBS[0]])
    k, r, b = (np.zeros_like(w) for w in net.lstm.get_weights())
    k[0, 8:12] = 0.02                  # candidate gates: the audio, small enough to stay linear
    b[4:8] = [1.0, 2.0, 3.0, 4.0]      # forget gates: time constants of about 1 to 55 samples
    b[12:16] = 10.0                    # output gates open
    net.lstm.set_weights([k, r, b])
    net.out.set_weights([np.array([[30.0], [20.0], [10.0], [5.0]], np.float32), np.zeros(1, np.float32)])
    return AmpModel(net)


def test_render_takes_the_input_rate_and_resamples_in_and_out(amp):
    from amptrain.sampling.amp import resample

    lp = filter_amp()
    x48 = di(1.0)
    x44 = resample(x48, SR, 44100)
    y = lp.render(x44, 44100)
    assert y.shape == x44.shape and y.dtype == np.float32
    ref = resample(lp.render(x48), SR, 44100)[: len(x44)]
    assert db(y - ref, ref) < -50, db(y - ref, ref)  # the same sound, at the caller's rate
    wrong = lp.render(x44)  # 44.1 kHz audio taken for 48 kHz: what render did before it took a rate
    assert db(wrong - ref, ref) > -40, db(wrong - ref, ref)
    np.testing.assert_array_equal(amp.render(x48, SR, gain=7.0), amp.render(x48, gain=7.0))
    # a per-sample track is given at the input's rate and follows it
    ramp = np.linspace(2.0, 9.0, len(x44))
    tracked = amp.render(x44, 44100, gain=ramp)
    automated = amp.render(x44, 44100, gain=[(0.0, 2.0), ((len(x44) - 1) / 44100, 9.0)])
    assert tracked.shape == x44.shape and db(tracked - automated, automated) < -50


@pytest.mark.parametrize("rate, message", [
    (0, "positive whole number of Hz"), (-44100, "positive whole number of Hz"),
    (44100.5, "positive whole number of Hz"), ("44100", "must be a number of Hz"), (True, "must be a number of Hz"),
])
def test_bad_sample_rates_are_one_line_errors(amp, rate, message):
    from ampcap.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        amp.render(np.zeros(100, np.float32), rate)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_stream_at_another_rate_is_refused_with_what_to_do(amp):
    from ampcap.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        amp.stream(44100)
    assert "runs at 48000 Hz and a stream does not resample" in str(e.value) and "render(x, 44100" in str(e.value)
    assert amp.stream(SR).process(np.zeros(64, np.float32)).shape == (64,)


# --- pre-warm: a render starts settled, as if the amp had been on (no start-up bump) --------------

FIRST = 96  # the first 2 ms at 48 kHz


def settled_render(amp, x, **knobs):
    """The reference: 1 s of silence then x, from the zero state, the silence dropped."""
    pad = np.zeros(SR, np.float32)
    return amp.render(np.concatenate([pad, x]), mode="sequential", prewarm=False, **knobs)[SR:]


@pytest.mark.parametrize("mode", ["sequential", "chunked", "streaming"])
def test_every_render_starts_like_a_settled_one(amp, mode):
    x = di(0.3)
    knobs = {"gain": 8.0, "channel": "lead"}
    ref = settled_render(amp, x, **knobs)[:FIRST]
    y = amp.render(x, mode=mode, **knobs)[:FIRST]
    assert db(y - ref, ref) < -80, db(y - ref, ref)
    cold = amp.render(x, mode=mode, prewarm=False, **knobs)[:FIRST]
    assert db(cold - ref, ref) > -30, db(cold - ref, ref)  # the zero state's bump the pre-warm removes


def test_chunked_renders_of_several_settings_each_start_settled(amp):
    from amptrain.sampling.render import render_chunked

    x = di(0.3)
    settings = [{"gain": 1.0, "channel": "clean"}, {"gain": 9.0, "channel": "lead"}]
    cond = np.stack([amp.features(1, k) for k in settings])
    y = render_chunked(amp.net, np.stack([x, x]), cond, chunk=4800, overlap=2048)  # evaluate.py's call
    for row, knobs in zip(y, settings):
        ref = settled_render(amp, x, **knobs)
        assert db(row[:FIRST] - ref[:FIRST], ref[:FIRST]) < -80
        assert db(row - ref, ref) < -60


def test_a_stream_starts_settled_and_again_after_reset(amp):
    x = di(0.3)
    ref = settled_render(amp, x[:512], gain=3.0)
    s = amp.stream()
    first = s.process(x[:512], gain=3.0)
    assert db(first[:FIRST] - ref[:FIRST], ref[:FIRST]) < -80
    s.process(x, gain=9.0)  # played on at another setting ...
    s.reset()               # ... then reset: settled again, at the next block's knobs
    again = s.process(x[:512], gain=3.0)
    assert db(again[:FIRST] - ref[:FIRST], ref[:FIRST]) < -80
    cold = amp.stream(prewarm=False).process(x[:512], gain=3.0)
    assert db(cold[:FIRST] - ref[:FIRST], ref[:FIRST]) > -30


def test_an_automated_render_is_pre_warmed_at_its_first_knob_values(amp):
    x = di(0.3)
    y = amp.render(x, mode="sequential", gain=[(0.0, 2.0), (0.2, 9.0)])
    ref = settled_render(amp, x, gain=2.0)
    assert db(y[:FIRST] - ref[:FIRST], ref[:FIRST]) < -80


# --- the sample / knobs commands -------------------------------------------------------------

def cli(capsys, *args):
    code = amptrain_main([str(a) for a in args])
    err = capsys.readouterr().err
    return code, [l for l in err.splitlines() if l.strip() and "%|" not in l]


def test_sample_writes_input_length_and_rate_from_stereo_44k(run_dir, amp, tmp_path, capsys):
    x = di(1.0)
    from amptrain.sampling.amp import resample

    x44 = resample(x, SR, 44100)
    sf.write(tmp_path / "di.wav", np.stack([x44, x44], axis=1), 44100, subtype="PCM_24")
    code, lines = cli(capsys, "sample", f"run={run_dir}", f"input={tmp_path / 'di.wav'}",
                      f"output={tmp_path / 'out.wav'}", "knobs.gain=7", "knobs.channel=lead")
    assert code == 0, lines
    assert any("2 channels" in l for l in lines) and any("resampling" in l for l in lines)
    y, sr = sf.read(tmp_path / "out.wav", dtype="float32")
    assert sr == 44100 and y.ndim == 1 and len(y) == len(x44)
    ref = resample(amp.render(x, gain=7, channel="lead"), SR, 44100)[: len(x44)]
    assert db(y - ref, ref) < -40  # the resampling round trip of a 24-bit file, not the model, limits this


def test_sample_grid_writes_one_file_per_value_and_a_plot(run_dir, tmp_path, capsys):
    sf.write(tmp_path / "di.wav", di(1.0), SR, subtype="FLOAT")
    code, lines = cli(capsys, "sample", f"run={run_dir}", f"input={tmp_path / 'di.wav'}",
                      f"output={tmp_path / 'g.wav'}", "knobs.gain=[1,5,9]")
    assert code == 0, lines
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["di.wav", "g_gain-1.wav", "g_gain-5.wav", "g_gain-9.wav", "g_gain.png"]
    levels = [np.sqrt(np.mean(sf.read(tmp_path / f"g_gain-{v}.wav")[0] ** 2)) for v in (1, 5, 9)]
    assert len(set(np.round(levels, 6))) == 3


def test_sample_reruns_replace_its_own_render_but_never_a_users_file(run_dir, tmp_path, capsys):
    """The documented rule: an existing output is replaced when ampcap wrote it (its WAV carries the
    software tag "ampcap") or with overwrite=true; a user's file is kept, and so is the input."""
    from ampcap.wav import wav_software

    sf.write(tmp_path / "di.wav", di(1.0), SR, subtype="FLOAT")
    args = ["sample", f"run={run_dir}", f"input={tmp_path / 'di.wav'}", "knobs.gain=3"]
    for _ in range(2):  # the second run replaces the first one's render without being asked
        code, lines = cli(capsys, *args, f"output={tmp_path / 'out.wav'}")
        assert code == 0, lines
    assert wav_software(tmp_path / "out.wav") == "ampcap"
    sf.write(tmp_path / "take.wav", di(0.5), SR, subtype="PCM_24")  # the user's recording
    before = (tmp_path / "take.wav").read_bytes()
    code, lines = cli(capsys, *args, f"output={tmp_path / 'take.wav'}")
    assert code == 2 and "already exists and was not written by ampcap" in lines[-1]
    assert (tmp_path / "take.wav").read_bytes() == before
    code, lines = cli(capsys, *args, f"output={tmp_path / 'take.wav'}", "overwrite=true")
    assert code == 0 and (tmp_path / "take.wav").read_bytes() != before
    for spelling in ("di.wav", "./x/../di.wav"):  # the input itself, even with overwrite=true
        (tmp_path / "x").mkdir(exist_ok=True)
        code, lines = cli(capsys, *args, f"output={tmp_path / spelling}", "overwrite=true")
        assert code == 2 and "is the input file" in lines[-1], lines
    # a grid reruns over its own files (WAVs and the ampcap-tagged plot)
    for _ in range(2):
        code, lines = cli(capsys, *args[:-1], f"output={tmp_path / 'g.wav'}", "knobs.gain=[2,4]")
        assert code == 0, lines


def test_sample_with_automation_from_the_shell(run_dir, amp, tmp_path, capsys):
    x = di(1.0)
    sf.write(tmp_path / "di.wav", x, SR, subtype="FLOAT")
    code, lines = cli(capsys, "sample", f"run={run_dir}", f"input={tmp_path / 'di.wav'}",
                      f"output={tmp_path / 'a.wav'}", "knobs.gain=0:1,0.8:9", "mode=sequential")
    assert code == 0, lines
    y, _ = sf.read(tmp_path / "a.wav", dtype="float32")
    np.testing.assert_allclose(y, amp.render(x, mode="sequential", gain=[(0, 1), (0.8, 9)]), atol=1e-6)


def test_knobs_command_lists_names_ranges_defaults(run_dir, capsys):
    assert amptrain_main(["knobs", f"run={run_dir}"]) == 0
    out = capsys.readouterr().out
    assert "gain" in out and "0..10" in out and "clean | lead" in out and "fixed" in out


def bad_files(tmp, run_dir):
    """name -> path of a broken input file."""
    (tmp / "empty.wav").write_bytes(b"")
    sf.write(tmp / "zero.wav", np.zeros((0,), np.float32), SR)
    nan = di(0.2)
    nan[100] = np.nan
    sf.write(tmp / "nan.wav", nan, SR, subtype="FLOAT")
    (tmp / "text.wav").write_text("not audio")
    (tmp / "garbage.keras").write_bytes(b"\x00" * 100)
    good = (run_dir / "model.keras").read_bytes()
    (tmp / "truncated.keras").write_bytes(good[: len(good) // 2])
    with zipfile.ZipFile(tmp / "other.keras", "w") as z:
        z.writestr("config.json", json.dumps({"class_name": "Sequential", "registered_name": None}))
        z.writestr("model.weights.h5", b"")
    with zipfile.ZipFile(tmp / "noweights.keras", "w") as z:
        with zipfile.ZipFile(run_dir / "model.keras") as src:
            z.writestr("config.json", src.read("config.json"))
    sf.write(tmp / "di.wav", di(0.2), SR, subtype="FLOAT")


SAMPLE_ERRORS = [
    (["input=missing.wav"], "no such file"),
    (["input=empty.wav"], "not a readable audio file"),
    (["input=zero.wav"], "holds no samples"),
    (["input=nan.wav"], "NaN"),
    (["input=text.wav"], "not a readable audio file"),
    (["run=garbage.keras"], "not a .keras model file"),
    (["run=truncated.keras"], "not a .keras model file"),
    (["run=other.keras"], "not an ampcap amp model"),
    (["run=noweights.keras"], "has no weights"),
    (["run=nowhere"], "no such model file or run directory"),
    (["knobs.gain=12"], "outside its range 0..10"),
    (["knobs.drive=3"], "unknown knob 'drive' (knobs: gain, channel)"),
    (["knobs.gain=[1,20]"], "knob 'gain': 20 is outside"),
    (["knobs.gain=[1,2]", "knobs.channel=[clean,lead]"], "only one knob may be a list"),
    (["knobs.gain=0:1,oops"], "seconds:value pairs"),
    (["output=nodir/out.wav"], "does not exist"),
    (["output=out.mp3"], "should end in .wav"),
    (["mode=fast"], "mode 'fast' is not one of chunked, sequential, streaming"),
    (["volume=3"], "unknown key 'volume'"),
]


@pytest.mark.parametrize("args, message", SAMPLE_ERRORS, ids=[e[1][:30] for e in SAMPLE_ERRORS])
def test_sample_bad_inputs_are_one_line_and_write_nothing(run_dir, tmp_path, capsys, monkeypatch, args, message):
    bad_files(tmp_path, run_dir)
    monkeypatch.chdir(tmp_path)
    base = {"run": str(run_dir), "input": "di.wav", "output": "out.wav"}
    extra = []
    for a in args:
        k, v = a.split("=", 1)
        if k in base:
            base[k] = v
        else:
            extra.append(a)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, lines = cli(capsys, "sample", *[f"{k}={v}" for k, v in base.items()], *extra)
    assert code != 0
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_knobless_model_renders_prewarmed():
    """A snapshot model (no knob inputs, n_cond 0) settles and renders in every mode."""
    from amptrain.model import AmpNet
    from amptrain.sampling.render import Stream, render_chunked, render_sequential, settle

    m = AmpNet(hidden_size=4, n_cond=0).build_weights()
    x = (0.2 * np.random.default_rng(0).standard_normal(3000)).astype(np.float32)
    none = np.zeros((0,), np.float32)
    h, c = settle(m, np.zeros((2, 0), np.float32))
    assert tuple(h.shape) == (2, 4)
    a = render_sequential(m, x, none)
    b = render_chunked(m, x[None], np.zeros((1, 0), np.float32), chunk=1000, overlap=500)[0]
    s = Stream(m).process(x, none)
    assert a.shape == b.shape == s.shape == (3000,)
    np.testing.assert_allclose(a, s, atol=1e-6)
