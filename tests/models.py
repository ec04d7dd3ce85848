"""Small untrained models the tests render, export and load: `make_net` builds one whose knob inputs are
strong enough to matter audibly (knobs gain 0..10 and channel clean | lead; bass fixed at 5 in its
training data), and `di` is guitar-like test audio."""
import numpy as np

SR = 48000
KNOBS = [{"name": "gain", "kind": "continuous", "min": 0.0, "max": 10.0, "default": 5.0, "unit": "dB"},
         {"name": "channel", "kind": "discrete", "choices": ["clean", "lead"], "default": "clean"}]


def make_net(hidden=16, knobs=KNOBS, conditioning="concat", skip=False, seed=1, sample_rate=SR, level=False, drive=False):
    """An untrained model with its knob inputs made strong enough to matter audibly."""
    from amptrain.tfenv import quiet_tensorflow

    quiet_tensorflow()
    import keras

    from amptrain.conditioning import n_features
    from amptrain.model import AmpNet

    keras.utils.set_random_seed(seed)
    net = AmpNet(hidden_size=hidden, n_cond=n_features(knobs), conditioning=conditioning, skip=skip, level=level, drive=drive,
                 knobs=knobs, sample_rate=sample_rate, fixed_knobs={"bass": 5.0}).build_weights()
    k, r, b = net.lstm.get_weights()
    k[0] *= 4.0   # drive the audio input into the nonlinearity
    k[1:] *= 3.0  # and make the knobs change the sound
    net.lstm.set_weights([k, r, b])
    if level:  # the zero-initialised level layer would be 1 at every setting: make it follow the knobs
        w, b = net.gain.get_weights()
        net.gain.set_weights([np.linspace(-2.0, 1.0, w.size).reshape(w.shape).astype(np.float32), b + 0.3])
    if drive:  # likewise the input drive
        w, b = net.drive_gain.get_weights()
        net.drive_gain.set_weights([np.linspace(1.5, -1.0, w.size).reshape(w.shape).astype(np.float32), b - 0.2])
    return net


def di(seconds=2.0, seed=0):
    """Guitar-like test audio: decaying harmonic plucks plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = np.zeros_like(t)
    for start in np.arange(0, seconds, 0.5):
        f = rng.uniform(80, 400)
        env = np.where(t >= start, np.exp(-(t - start) * 3), 0)
        x += env * sum(np.sin(2 * np.pi * f * k * t) / k for k in (1, 2, 3))
    return (0.3 * x / np.max(np.abs(x)) + 0.003 * rng.standard_normal(len(t))).astype(np.float32)
