"""TBPTT training: the state is carried through a segment, and a short run learns a knob-dependent
nonlinearity (held-out knob values and unseen audio improve clearly)."""
import numpy as np
import pytest

from amptrain.losses import Loss, esr
from amptrain.model import AmpNet
from amptrain.sampling.render import render
from amptrain.tbptt import TBPTT


def toy_amp(x, g):
    """A tiny 'amp': gain-dependent asymmetric saturation with a one-pole memory."""
    y = np.tanh((1 + 4 * g) * x + 0.2) - np.tanh(0.2)
    out = np.empty_like(y)
    acc = 0.0
    for i, v in enumerate(y):
        acc = 0.7 * acc + 0.3 * v
        out[i] = acc
    return out.astype(np.float32)


def data(gains, n, seed):
    rng = np.random.default_rng(seed)
    x = (0.3 * rng.standard_normal((len(gains), n))).astype(np.float32)
    x = np.apply_along_axis(lambda r: np.convolve(r, np.ones(8) / 8, mode="same"), 1, x)
    y = np.stack([toy_amp(xi, g) for xi, g in zip(x, gains)])
    return x[..., None].astype(np.float32), np.array(gains, np.float32)[:, None], y[..., None]


def test_update_windows_carry_state():
    """Each window starts from the state the previous one ended with (after the warm-up): with lr 0 the
    batch's loss is the mean of the windows' losses of one sequential run (several replicas run the same
    window step: tests/test_distribute.py)."""
    import keras
    import tensorflow as tf

    m = AmpNet(hidden_size=4, n_cond=1).build_weights()
    loss_fn = Loss("none")
    t = TBPTT(m, keras.optimizers.SGD(0.0), loss_fn, warmup=50, window=100)
    x, c, y = data([0.5], 450, 0)
    got = t.batch(x, c, y).loss
    p, _, _ = m((x, np.repeat(c[:, None], 450, 1), *m.zero_state(1)), training=True)
    p = np.asarray(p)
    want = [float(loss_fn(tf.constant(y[:, a:a + 100, 0]), tf.constant(p[:, a:a + 100, 0]), tf.ones(1)))
            for a in range(50, 450, 100)]
    assert got == pytest.approx(np.mean(want), rel=1e-5)
    fresh = [float(loss_fn(tf.constant(y[:, a:a + 100, 0]), m((x[:, a:a + 100], np.repeat(c[:, None], 100, 1),
                                                                *m.zero_state(1)))[0][..., 0], tf.ones(1)))
             for a in range(50, 450, 100)]
    assert abs(np.mean(fresh) - np.mean(want)) > 1e-4  # a zero state per window would be another loss


def test_row_errors_are_each_rows_plain_energies_over_the_updates():
    """A batch's row errors (trainer.focus's input): per row, the plain squared error and the target energy
    summed over the updated windows (not the warm-up)."""
    import keras

    m = AmpNet(hidden_size=4, n_cond=1).build_weights()
    t = TBPTT(m, keras.optimizers.SGD(0.0), Loss("hp"), warmup=50, window=100)
    x, c, y = data([0.1, 0.9, 0.5], 430, 3)
    result = t.batch(x, c, y, np.array([1.0, 3.0, 0.5], np.float32))
    p, _, _ = m((x, np.repeat(c[:, None], 430, 1), *m.zero_state(3)), training=True)
    p = np.asarray(p)[:, 50:, 0].astype(np.float64)
    err, ref = result.err, result.ref
    assert err.shape == ref.shape == (3,)
    np.testing.assert_allclose(err, np.sum((y[:, 50:, 0] - p) ** 2, axis=1), rtol=1e-4)
    np.testing.assert_allclose(ref, np.sum(y[:, 50:, 0].astype(np.float64) ** 2, axis=1), rtol=1e-5)
    assert len(set(np.round(err / ref, 6))) == 3  # rows stay apart


@pytest.mark.slow
def test_short_training_improves_heldout_esr():
    import keras
    import tensorflow as tf

    tf.random.set_seed(0)
    keras.utils.set_random_seed(0)
    m = AmpNet(hidden_size=16, n_cond=1).build_weights()
    t = TBPTT(m, keras.optimizers.Adam(5e-3), Loss("hp"), warmup=100, window=500)
    xt, ct, yt = data([0.0, 0.25, 0.5, 0.75, 1.0], 4100, 1)
    xh, ch, yh = data([0.125, 0.625, 0.875], 4000, 2)  # held-out gains, unseen audio

    def heldout():
        p = [render(m, xh[i, :, 0], ch[i], "sequential", prewarm=False) for i in range(len(xh))]
        return np.mean([esr(yh[i, :, 0], p[i]) for i in range(len(p))])

    before = heldout()
    for epoch in range(40):
        t.batch(xt, ct, yt)
    after = heldout()
    assert after < 0.1 and after < before / 5, (before, after)
