"""The fused LSTM kernel of training (amptrain/fused_lstm.py) computes what the Keras LSTM layer does:
the same sequence, final state and gradients for every input and weight (random weights, inputs and
initial states), in one row block or several; and a model trained through it saves and renders as
an ordinary Keras model."""
import numpy as np
import pytest

from amptrain.fused_lstm import fused_lstm


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / (np.max(np.abs(a)) + 1e-12))


@pytest.mark.parametrize("hidden", [8, 32])
@pytest.mark.parametrize("splits", [1, 2])
def test_fused_equals_keras_lstm(hidden, splits):
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(hidden + splits)
    lstm = keras.layers.LSTM(hidden, return_sequences=True, return_state=True)
    x = tf.constant(rng.standard_normal((4, 60, 3)).astype(np.float32))
    h0 = tf.constant((0.5 * rng.standard_normal((4, hidden))).astype(np.float32))
    c0 = tf.constant((0.5 * rng.standard_normal((4, hidden))).astype(np.float32))
    lstm(x, initial_state=[h0, c0])
    for v in lstm.weights:
        v.assign((0.3 * rng.standard_normal(v.shape)).astype(np.float32))
    u = tf.constant(rng.standard_normal((4, 60, hidden)).astype(np.float32))  # an upstream gradient for each output

    def outputs_and_grads(run):
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0])
            seq, h, c = run()
            loss = tf.reduce_sum(seq * u) + tf.reduce_sum(h * 1.7) + tf.reduce_sum(tf.square(c))
        return [seq, h, c] + tape.gradient(loss, [x, h0, c0] + list(lstm.trainable_variables))

    want = outputs_and_grads(lambda: lstm(x, initial_state=[h0, c0]))
    got = outputs_and_grads(lambda: fused_lstm(lstm.cell, x, h0, c0, splits))
    names = ["sequence", "h", "c", "d x", "d h0", "d c0", "d kernel", "d recurrent kernel", "d bias"]
    for name, a, b in zip(names, want, got):
        assert _rel(a, b) < 1e-5, name


def test_trained_fused_model_saves_and_renders(tmp_path):
    """A few fused updates move the weights; the saved model renders (Keras layer, XLA) exactly what
    the in-memory model renders, and its training-mode forward (fused) agrees with its inference."""
    import keras

    from amptrain.losses import Loss
    from amptrain.model import AmpNet
    from amptrain.sampling.render import render_sequential
    from amptrain.tbptt import TBPTT

    keras.utils.set_random_seed(0)
    m = AmpNet(hidden_size=8, n_cond=1, knobs=[{"name": "gain", "kind": "continuous", "min": 0, "max": 10,
                                                "default": 5, "unit": ""}]).build_weights()
    before = [np.asarray(v).copy() for v in m.weights]
    t = TBPTT(m, keras.optimizers.Adam(1e-2), Loss("hp"), warmup=20, window=100)
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal((4, 420, 1))).astype(np.float32)
    c = rng.random((4, 1)).astype(np.float32)
    for _ in range(3):
        t.batch(x, c, np.tanh(3 * x))
    assert max(float(np.max(np.abs(a - np.asarray(v)))) for a, v in zip(before, m.weights)) > 1e-3
    m.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    sig = (0.3 * rng.standard_normal(2000)).astype(np.float32)
    a, b = render_sequential(m, sig, np.array([0.4], np.float32)), render_sequential(loaded, sig, np.array([0.4], np.float32))
    np.testing.assert_array_equal(a, b)
    inputs = (sig[None, :, None], np.full((1, 2000, 1), 0.4, np.float32), *m.zero_state(1))
    keras_path, fused = m(inputs, training=False)[0], m(inputs, training=True)[0]
    assert _rel(keras_path, fused) < 1e-5
