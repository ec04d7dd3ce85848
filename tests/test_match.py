"""Tone match (`python -m amptrain match`, `AmpModel.match`): the delay and polarity found by cross-correlation,
the pieces the search listens to, the input checks, and known answers: a target the model itself renders at a
setting, delayed, inverted and at another level, is matched back to that setting, delay, polarity and level; held
knobs stay held; the command writes its render and JSON and never a user's file; --verify renders the found knobs
through the amp itself."""
import json

import numpy as np
import pytest
import soundfile as sf

from ampcap.errors import ModelInputError
from amptrain.cli import main as amptrain_main
from amptrain.sampling.match import best_gain, check_pair, choose_starts, find_delay, piece_starts, shift
from tests.models import SR, di, make_net


def test_find_delay_finds_a_known_lag_and_polarity():
    rng = np.random.default_rng(0)
    p = rng.standard_normal(4800).astype(np.float32)
    for lag in (0, 37, -12, 480):
        for sign in (1, -1):
            assert find_delay(p, sign * 0.5 * shift(p, lag), 480) == (lag, sign)


def test_shift_and_best_gain_known_answers():
    np.testing.assert_array_equal(shift(np.arange(1.0, 6.0), 2), [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(shift(np.arange(1.0, 6.0), -2), [3, 4, 5, 0, 0])
    p = np.random.default_rng(1).standard_normal(1000)
    assert best_gain(p, -0.25 * p) == pytest.approx(-0.25)


def test_the_search_listens_to_the_loudest_window_of_each_span():
    y = np.zeros(48000, np.float32)
    y[30000:31000] = 1.0
    starts = piece_starts(y, 2, 1000, 100)
    assert len(starts) == 2 and 29750 <= starts[1] <= 30000


def test_the_starts_try_every_switch_choice_in_the_running_and_spread():
    losses = np.array([0.1, 0.11, 0.12, 0.5, 0.25, 0.9])
    combos = np.array([0, 0, 0, 0, 1, 2])
    units = np.array([[0.5], [0.52], [0.9], [0.1], [0.5], [0.5]])
    picks = choose_starts(losses, combos, units, 3)
    assert picks[:2] == [0, 4]   # the best of each switch choice within 3x the best first (choice 2 is 9x: out)
    assert picks[2] == 2         # then the best other that is not next to a pick (1 is 0.02 from 0)


@pytest.mark.parametrize("x_s, y_s, change, message", [
    (1.0, 2.0, None, "target is 2.00 s and the DI 1.00 s"),
    (0.5, 0.5, None, "the clip is 0.50 s: give at least 1 s"),
    (1.0, 1.0, "silent target", "target is silent"),
    (1.0, 1.0, "silent DI", "DI is silent"),
    (1.0, 1.0, "clipped", "target clips"),
])
def test_bad_pairs_are_one_line_errors(x_s, y_s, change, message):
    x, y = di(x_s), 0.5 * di(y_s, seed=1)
    if change == "silent target":
        y[:] = 0
    elif change == "silent DI":
        x[:] = 0
    elif change == "clipped":
        y = np.clip(20 * y, -1, 1)
    with pytest.raises(ModelInputError, match=message):
        check_pair(x, y, SR)


def test_a_target_a_few_samples_longer_is_cut_to_the_di():
    x = di(1.0)
    assert len(check_pair(x, np.concatenate([0.5 * x, np.zeros(100, np.float32)]), SR)) == len(x)


@pytest.fixture(scope="module")
def amp():
    from amptrain import AmpModel

    return AmpModel(make_net(hidden=8))


def test_a_target_the_model_made_is_matched_back(amp):
    """Known answer: the model's own output at gain 7 on the lead channel, 24 samples late, inverted, 6 dB down,
    is matched to that setting, delay, polarity and level, and the render lines up with the target."""
    x = di(2.0, seed=3)
    y = -0.5 * shift(amp.render(x, gain=7.0, channel="lead"), 24)
    res = amp.match(x, y, starts=4, steps=60)
    assert res.knobs["channel"] == "lead"
    assert abs(res.knobs["gain"] - 7.0) < 0.5, res.knobs
    assert (res.delay_samples, res.polarity) == (24, -1)
    assert res.level_db == pytest.approx(-6.02, abs=0.3)
    assert res.esr < 0.01 and all(abs(v) < 1.0 for v in res.bands_db.values()), res
    assert len(res.render) == len(x) and np.sum((res.render - y) ** 2) / np.sum(y ** 2) == pytest.approx(res.esr, rel=1e-3, abs=1e-5)


def test_held_knobs_stay_held_and_the_rest_is_searched(amp):
    x = di(1.5, seed=4)
    y = amp.render(x, gain=2.0, channel="clean")
    res = amp.match(x, y, fixed={"channel": "lead"}, starts=2, steps=20)
    assert res.knobs["channel"] == "lead"
    res2 = amp.match(x, y, fixed={"gain": 2.0}, starts=2, steps=5, level="fixed")
    assert res2.knobs == {"gain": 2.0, "channel": "clean"} and res2.esr < 1e-3 and res2.level_db == 0.0
    with pytest.raises(ModelInputError, match="fixed.drive: the model has no knob 'drive'"):
        amp.match(x, y, fixed={"drive": 3})


def test_a_match_at_another_rate_comes_back_at_that_rate(amp):
    from amptrain.sampling.amp import resample

    x = resample(di(1.5, seed=5), SR, 44100)
    y = amp.render(x, 44100, gain=4.0, channel="clean")
    res = amp.match(x, y, 44100, starts=2, steps=20)
    assert len(res.render) == len(x) and res.sample_rate == 44100 and res.esr < 0.05


def cli(capsys, *args):
    code = amptrain_main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, [l for l in cap.err.splitlines() if l.strip() and "%|" not in l]


def test_the_match_command_prints_writes_and_never_replaces_a_users_file(tmp_path, capsys):
    from ampcap.wav import wav_software
    from amptrain import AmpModel

    run = tmp_path / "run"
    run.mkdir()
    make_net(hidden=8).save(run / "model.keras")
    amp = AmpModel.load(run)
    x = di(1.5, seed=6)
    sf.write(tmp_path / "di.wav", x, SR, subtype="FLOAT")
    sf.write(tmp_path / "tone.wav", amp.render(x, gain=8.0, channel="lead"), SR, subtype="FLOAT")
    args = ["match", f"run={run}", f"input={tmp_path / 'di.wav'}", f"target={tmp_path / 'tone.wav'}", "starts=2",
            "steps=20", "progress=false"]
    for _ in range(2):   # a rerun replaces its own outputs
        code, out, err = cli(capsys, *args)
        assert code == 0, err
    assert "gain" in out and "model at these knobs: ESR" in out and "delay +0.00 ms" in out
    doc = json.loads((tmp_path / "tone_match.json").read_text())
    assert doc["ampcap"] == "match" and set(doc["knobs"]) == {"gain", "channel"} and doc["delay_samples"] == 0
    assert doc["esr"] < 0.05 and doc["fixed"] == {}
    y, sr = sf.read(tmp_path / "tone_match.wav", dtype="float32")
    assert sr == SR and len(y) == len(x) and wav_software(tmp_path / "tone_match.wav") == "ampcap"
    (tmp_path / "mine.json").write_text('{"mine": 1}')
    code, out, err = cli(capsys, *args, f"output={tmp_path / 'mine.json'}")
    assert code == 2 and "already exists and was not written by ampcap" in err[-1]
    assert (tmp_path / "mine.json").read_text() == '{"mine": 1}'
    code, out, err = cli(capsys, *args, "knobs.gain=3")
    assert code == 2 and "hold a knob with fixed.NAME=VALUE" in err[-1]


@pytest.mark.slow
def test_verify_renders_the_found_knobs_through_the_amp_itself(trained_run, tmp_path, capsys):
    """--verify: the embedded amp at the found knobs, delayed and scaled as found, against the target; the figure
    printed and written equals one computed here from the amp's own render."""
    from amptrain.finished_run import Run
    from amptrain.losses import esr
    from capture.realplay import through_amp

    plugin = Run.open(trained_run).plugin
    x = di(2.0, seed=7)
    true = {"gain": 6.0, "bass": 4.0, "mid": 5.0, "treble": 7.0, "presence": 3.0, "master": 6.0, "channel": "lead"}
    y = shift(through_amp(plugin, [{"knobs": true}], x)[0], 48)
    sf.write(tmp_path / "di.wav", x, SR, subtype="FLOAT")
    sf.write(tmp_path / "tone.wav", y, SR, subtype="FLOAT")
    code, out, err = cli(capsys, "match", f"run={trained_run}", f"input={tmp_path / 'di.wav'}",
                         f"target={tmp_path / 'tone.wav'}", "--verify", "starts=2", "steps=10", "progress=false")
    assert code == 0, err
    assert "the amp itself at these knobs: ESR" in out
    doc = json.loads((tmp_path / "tone_match.json").read_text())
    from amptrain.sampling.amp import read_info

    z = through_amp(plugin, [{"knobs": {**read_info(trained_run).fixed_knobs, **doc["knobs"]}}], x)[0]
    z = doc["polarity"] * 10 ** (doc["level_db"] / 20) * shift(z, doc["delay_samples"])
    assert doc["plugin"]["esr"] == pytest.approx(esr(y, z), rel=1e-3, abs=1e-6)


def test_the_benchmark_counts_knob_errors_in_units_of_the_range():
    from ampcap.knobs import Knob
    from benchmarks.match import knob_errors, random_settings

    knobs = [Knob("master", -18.0, 0.0, -6.0), Knob("channel", choices=("Clean", "Lead"), default="Clean")]
    assert knob_errors(knobs, {"master": -18.0, "channel": "Clean"}, {"master": -9.0, "channel": "Lead"}) == \
        {"master": 0.5, "channel": 1.0}
    s = random_settings(knobs, 50, 0)
    assert all(-18 <= x["master"] <= 0 and x["channel"] in ("Clean", "Lead") for x in s)
    assert s == random_settings(knobs, 50, 0) and len({x["channel"] for x in s}) == 2
