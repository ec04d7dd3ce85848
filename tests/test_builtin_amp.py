"""The embedded amp behaves like an amp: distortion grows with gain, even harmonics, tone knobs act
where they should and interact with the gain, every knob matters, output stays in [-1, 1]."""
import numpy as np
import pytest

from capture.builtin_amp import KNOB_SPECS, amp_process

SR = 48000
BASE = {n: s["default"] for n, s in KNOB_SPECS.items()}


def sine(f=220.0, amp=0.3, seconds=1.0):
    t = np.arange(int(SR * seconds)) / SR
    return (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)


def harmonics(y, f0=220.0, n=10):
    """Amplitudes of harmonics 1..n of f0 over the settled second half."""
    y = y[len(y) // 2:]
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    return np.array([np.sqrt(np.sum(spec[np.abs(freqs - k * f0) < 4] ** 2)) for k in range(1, n + 1)])


def thd(y):
    h = harmonics(y)
    return np.sqrt(np.sum(h[1:] ** 2)) / h[0]


def band_db(y, lo, hi):
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return 10 * np.log10(np.sum(spec[(f >= lo) & (f < hi)]) + 1e-20)


def noise(level=0.02, seconds=2.0, seed=0):
    return (level * np.random.default_rng(seed).standard_normal(int(SR * seconds))).astype(np.float32)


@pytest.mark.parametrize("channel", ["clean", "lead"])
def test_thd_rises_with_gain(channel):
    t = [thd(amp_process(sine(), SR, {**BASE, "channel": channel, "gain": g})) for g in (1, 5, 9)]
    assert t[0] < t[1] < t[2], t
    assert t[2] > 2 * t[0]


def test_asymmetric_clipping_makes_even_harmonics():
    h = harmonics(amp_process(sine(), SR, {**BASE, "gain": 6}))
    assert h[1] / h[0] > 0.03  # 2nd harmonic present (a symmetric clipper would give ~0)


@pytest.mark.parametrize("knob,lo,hi", [("bass", 60, 250), ("mid", 400, 1000), ("treble", 2500, 5000),
                                        ("presence", 3500, 6000)])
def test_tone_knobs_move_their_band(knob, lo, hi):
    x = noise()
    low_set = amp_process(x, SR, {**BASE, "gain": 1, "master": 3, knob: 0})
    high_set = amp_process(x, SR, {**BASE, "gain": 1, "master": 3, knob: 10})
    gain_in_band = band_db(high_set, lo, hi) - band_db(low_set, lo, hi)
    # the knob's own band moves most; a band far away moves much less
    far = (2500, 5000) if knob in ("bass", "mid") else (60, 250)
    gain_far = band_db(high_set, *far) - band_db(low_set, *far)
    assert gain_in_band > 6, gain_in_band
    assert gain_in_band > gain_far + 4, (gain_in_band, gain_far)


@pytest.mark.parametrize("knob", list(KNOB_SPECS))
def test_every_knob_changes_output(knob):
    x = noise(0.05)
    spec = KNOB_SPECS[knob]
    a, b = (spec["choices"] if "choices" in spec else (2.0, 8.0))
    ya, yb = amp_process(x, SR, {**BASE, knob: a}), amp_process(x, SR, {**BASE, knob: b})
    diff = np.sum((ya - yb) ** 2) / np.sum(ya ** 2)
    assert diff > 0.01, diff


def test_knobs_interact_bass_depends_on_gain():
    """Because the tone stack sits before the power stage, the same bass move changes the output
    differently at low and high gain (a plain EQ would give the same change)."""
    x = sine(82.4, 0.3) + sine(330, 0.1)

    def bass_effect(gain):
        lo = amp_process(x, SR, {**BASE, "gain": gain, "master": 8, "bass": 2})
        hi = amp_process(x, SR, {**BASE, "gain": gain, "master": 8, "bass": 8})
        return band_db(hi, 60, 120) - band_db(lo, 60, 120)

    assert abs(bass_effect(2) - bass_effect(9)) > 1.5, (bass_effect(2), bass_effect(9))


def test_cabinet_rolls_off_top_end_and_output_in_range():
    x = noise(0.3)
    for setting in ({**BASE}, {**BASE, "gain": 10, "master": 10, "treble": 10, "presence": 10, "bass": 10}):
        y = amp_process(x, SR, setting)
        assert np.max(np.abs(y)) < 1.0
        assert band_db(y, 10000, 20000) < band_db(y, 1000, 3000) - 20


def test_deterministic_and_length_preserving():
    x = noise()
    a, b = amp_process(x, SR, BASE), amp_process(x, SR, BASE)
    assert len(a) == len(x) and np.array_equal(a, b)
