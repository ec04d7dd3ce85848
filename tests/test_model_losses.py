"""Model and losses: known answers for ESR/DC/pre-emphasis, .keras round trip with identical
outputs for each conditioning mode, and the LSTM state carried across chunks (TBPTT)."""
import numpy as np
import pytest

from amptrain import losses
from amptrain.conditioning import encode, feature_names, n_features

KNOBS = [{"name": "gain", "kind": "continuous", "min": 0.0, "max": 10.0},
         {"name": "channel", "kind": "discrete", "choices": ["clean", "lead"]}]


def test_esr_known_answers():
    y = np.array([1.0, -1.0, 1.0, -1.0])
    assert losses.esr(y, y) == 0
    assert losses.esr(y, np.zeros(4)) == pytest.approx(1.0)
    assert losses.esr(y, 0.9 * y) == pytest.approx(0.01)
    assert losses.esr(y, y + 0.5) == pytest.approx(0.25)


def test_dc_error_known_answer():
    y = np.sin(np.linspace(0, 20 * np.pi, 1000))
    assert losses.dc_error(y, y + 0.1) == pytest.approx(0.01 / np.mean(y ** 2), rel=1e-6)
    assert losses.dc_error(y, 0.5 * y) < 1e-6  # a gain error has (almost) no DC


def test_pre_emphasis_responses():
    """hp: |H| = |1 - 0.85 e^-jw|, ~0.15 at DC, 1.85 at Nyquist; aw: zero at both ends, peak mid-band."""
    imp = np.zeros(64)
    imp[0] = 1
    for name, dc, nyq in (("none", 1.0, 1.0), ("hp", 0.15, 1.85), ("aw", 0.15 * 1.85, 1.85 * 0.15)):
        H = np.abs(np.fft.rfft(losses.emphasise(imp, name)))
        assert H[0] == pytest.approx(dc) and H[-1] == pytest.approx(nyq)
    H = np.abs(np.fft.rfft(losses.emphasise(imp, "aw")))
    assert H.max() > 5 * H[0]


def test_tf_losses_match_numpy():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    y, p = rng.standard_normal((2, 500)), rng.standard_normal((2, 500))
    for pe in ("none", "hp", "aw"):
        ref = losses.esr(y.ravel(), p.ravel(), pe)  # rows are emphasised separately in TF
        per_row = sum(np.sum((losses.emphasise(y, pe) - losses.emphasise(p, pe)) ** 2, axis=1)) / np.sum(losses.emphasise(y, pe) ** 2)
        assert float(losses.tf_esr(tf.constant(y), tf.constant(p), pe)) == pytest.approx(per_row, rel=1e-6)
        assert per_row == pytest.approx(ref, rel=0.05)
    # one row: the batch DC loss is the file metric
    assert float(losses.tf_dc(tf.constant(y[:1]), tf.constant(p[:1]))) == pytest.approx(losses.dc_error(y[0], p[0]), rel=1e-6)


def test_tf_dc_rows_do_not_cancel():
    """Opposite offsets in two rows (two knob settings) are two errors, not none: each row's DC error
    is 0.0025 / 0.01 = 0.25, and so is the batch's."""
    import tensorflow as tf

    y = 0.1 * np.random.default_rng(0).standard_normal((2, 24000))
    y = y - y.mean(axis=1, keepdims=True)
    e = np.mean(y ** 2, axis=1)
    got = float(losses.tf_dc(tf.constant(y), tf.constant(y + np.array([[0.05], [-0.05]]))))
    assert got == pytest.approx(2 * 0.05 ** 2 / e.sum(), rel=1e-6) and got == pytest.approx(0.25, rel=0.02)
    # row weights scale each row's error and energy alike
    w = np.array([3.0, 1.0])
    got_w = float(losses.tf_dc(tf.constant(y), tf.constant(y + np.array([[0.05], [0.0]])), tf.constant(w)))
    assert got_w == pytest.approx(3 * 0.05 ** 2 / (w * e).sum(), rel=1e-6)


def test_batch_losses_bounded_by_near_silent_rows():
    """Ratios are over the batch's energy, never a row's own: a near-silent window (a pause in the DI)
    with a tiny error must not dominate the loss of a batch with a loud row predicted well."""
    import tensorflow as tf

    rng = np.random.default_rng(1)
    y = np.stack([0.3 * rng.standard_normal(1000), 1e-6 * rng.standard_normal(1000)])
    p = y + np.stack([0.003 * rng.standard_normal(1000), 1e-4 + 1e-4 * rng.standard_normal(1000)])
    for name, fn in (("esr", lambda a, b: losses.tf_esr(a, b, "none")), ("dc", losses.tf_dc)):
        assert float(fn(tf.constant(y), tf.constant(p))) < 1e-3, name


def test_band_level_error():
    sr = 48000
    t = np.arange(sr) / sr
    y = np.sin(2 * np.pi * 100 * t) + np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 5000 * t)
    p = 10 ** (-3 / 20) * np.sin(2 * np.pi * 100 * t) + np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 5000 * t)
    e = losses.band_level_error_db(y, p, sr)
    assert e["low"] == pytest.approx(-3, abs=0.01) and abs(e["mid"]) < 0.01 and abs(e["high"]) < 0.01


def test_conditioning_features():
    assert n_features(KNOBS) == 3 and feature_names(KNOBS) == ["gain", "channel=clean", "channel=lead"]
    np.testing.assert_allclose(encode(KNOBS, {"gain": 2.5, "channel": "lead"}), [0.25, 0, 1])
    track = encode(KNOBS, {"gain": np.linspace(0, 10, 5), "channel": "clean"}, 5)
    assert track.shape == (5, 3)
    np.testing.assert_allclose(track[:, 0], [0, 0.25, 0.5, 0.75, 1])


@pytest.mark.parametrize("mode", ["concat", "film"])
def test_model_round_trip_keras_file(tmp_path, mode):
    import keras

    from amptrain.model import AmpNet

    m = AmpNet(hidden_size=8, n_cond=3, conditioning=mode, knobs=KNOBS).build_weights()
    rng = np.random.default_rng(0)
    for w in m.weights:  # FiLM's projection starts at zero: randomise so the test can see it
        w.assign(rng.normal(0, 0.3, w.shape).astype("float32"))
    x = rng.uniform(-0.5, 0.5, (2, 300, 1)).astype("float32")
    c = rng.uniform(0, 1, (2, 300, 3)).astype("float32")
    y, h, cs = m((x, c, *m.zero_state(2)))
    path = tmp_path / "m.keras"
    m.save(path)
    m2 = keras.models.load_model(path)
    assert m2.knobs == KNOBS and m2.conditioning == mode
    y2, h2, _ = m2((x, c, *m2.zero_state(2)))
    np.testing.assert_array_equal(np.asarray(y), np.asarray(y2))
    # knobs change the output in both modes
    y3, _, _ = m((x, 1 - c, *m.zero_state(2)))
    assert np.max(np.abs(np.asarray(y3) - np.asarray(y))) > 1e-3


def test_state_carried_across_chunks_equals_one_pass():
    """TBPTT relies on this: two chunks with the state carried give the one-pass result."""
    from amptrain.model import AmpNet

    m = AmpNet(hidden_size=8, n_cond=3).build_weights()
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.5, 0.5, (1, 400, 1)).astype("float32")
    c = np.repeat(rng.uniform(0, 1, (1, 1, 3)), 400, axis=1).astype("float32")
    y, _, _ = m((x, c, *m.zero_state(1)))
    ya, h, cs = m((x[:, :150], c[:, :150], *m.zero_state(1)))
    yb, _, _ = m((x[:, 150:], c[:, 150:], h, cs))
    np.testing.assert_allclose(np.concatenate([ya, yb], axis=1), np.asarray(y), atol=1e-6)
    # and a reset state does not
    yb0, _, _ = m((x[:, 150:], c[:, 150:], *m.zero_state(1)))
    assert np.max(np.abs(np.asarray(yb0) - np.asarray(y)[:, 150:])) > 1e-4


def test_bad_conditioning_mode():
    from amptrain.model import AmpNet

    with pytest.raises(ValueError, match="model.conditioning"):
        AmpNet(conditioning="attention", n_cond=2)


def test_low_band_esr_sees_the_low_end_only():
    """Half the 50 Hz component missing is a low-band ESR of 0.25 whatever the 5 kHz part does."""
    import tensorflow as tf

    t = np.arange(48000) / 48000
    low, high = np.sin(2 * np.pi * 50 * t), np.sin(2 * np.pi * 5000 * t)
    y = (low + high)[None]
    assert float(losses.tf_low_esr(tf.constant(y), tf.constant((0.5 * low + high)[None]))) == pytest.approx(0.25, rel=1e-3)
    assert float(losses.tf_low_esr(tf.constant(y), tf.constant(low[None]))) < 1e-6
