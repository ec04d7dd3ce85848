"""The output DC blocker: its response against known answers (no DC, the audio band untouched), blocks
filtered in turn equal the whole, a settled start has no step, the auto rule (on for DC-free targets, off
for targets with DC), and every render mode of a model that makes an offset comes out without it."""
import numpy as np
import pytest
from scipy.signal import freqz

from amptrain.sampling.dc_block import DC_BLOCK_HZ, choose_cutoff, coefficients, dc_block, dc_share, settled_state

SR = 48000


def gain_at(hz: float, cutoff: float = DC_BLOCK_HZ) -> complex:
    b, a = coefficients(cutoff, SR)
    return freqz(b, a, worN=[hz], fs=SR)[1][0]


def test_response_removes_dc_and_leaves_the_audio_band():
    assert abs(gain_at(0.0)) < 1e-12
    assert abs(gain_at(SR / 2)) == pytest.approx(1.0, abs=1e-9)
    assert 20 * np.log10(abs(gain_at(DC_BLOCK_HZ))) == pytest.approx(-3.0, abs=0.1)  # a one-pole: -3 dB at the cutoff
    assert 20 * np.log10(abs(gain_at(80.0))) == pytest.approx(-0.0027, abs=0.0005)  # the low E string: -0.003 dB
    assert np.degrees(np.angle(gain_at(80.0))) == pytest.approx(1.43, abs=0.05)     # and 1.4 degrees ahead


def test_a_constant_offset_goes_and_the_tone_stays():
    t = np.arange(2 * SR) / SR
    tone = 0.2 * np.sin(2 * np.pi * 220 * t)
    y, _ = dc_block((tone + 0.05)[None], DC_BLOCK_HZ, SR)
    tail = slice(SR, None)  # after 1 s (12 time constants at 2 Hz) the offset is gone
    assert abs(np.mean(y[0, tail])) < 1e-5
    err = np.sum((y[0, tail] - tone[tail]) ** 2) / np.sum(tone[tail] ** 2)
    assert err < 1e-3


def test_blocks_in_turn_equal_the_whole():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((3, 10000)) + 0.3
    whole, _ = dc_block(y, 5.0, SR)
    state, parts = None, []
    for a in range(0, 10000, 1234):
        part, state = dc_block(y[:, a:a + 1234], 5.0, SR, state)
        parts.append(part)
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-6)


def test_a_settled_start_has_no_step():
    offset = np.array([0.02, -0.1])
    const = np.broadcast_to(offset[:, None], (2, 500))
    y, _ = dc_block(const, 5.0, SR, settled_state(5.0, SR, offset))
    assert np.max(np.abs(y)) < 1e-7
    cold, _ = dc_block(const, 5.0, SR)
    assert np.max(np.abs(cold)) > 0.01  # from rest the offset first passes (the step pre-warming removes)


def test_dc_share_and_the_auto_rule():
    t = np.arange(SR) / SR
    clean = 0.3 * np.sin(2 * np.pi * 110 * t)
    assert dc_share(clean[None]) < 1e-6
    with_dc = np.stack([clean, clean + 0.1])  # one setting with DC: mean^2 / power = 0.01 / (0.045 + 0.01)
    assert dc_share(with_dc) == pytest.approx(0.01 / 0.055, rel=1e-3)
    assert dc_share(np.zeros((2, 100))) == 0.0
    assert choose_cutoff("auto", dc_share(clean[None])) == DC_BLOCK_HZ
    assert choose_cutoff("auto", dc_share(with_dc)) == 0.0
    assert choose_cutoff("on", dc_share(with_dc)) == DC_BLOCK_HZ and choose_cutoff("off", dc_share(clean[None])) == 0.0


@pytest.fixture(scope="module")
def offset_amp():
    """A model whose output carries a constant offset of 0.05 (its output layer's bias)."""
    from amptrain import AmpModel
    from tests.models import make_net

    net = make_net()
    w, b = net.out.get_weights()
    net.out.set_weights([w, b + 0.05])
    return AmpModel(net)


@pytest.mark.parametrize("mode", ["chunked", "sequential", "streaming"])
def test_every_render_mode_takes_the_offset_out(offset_amp, mode):
    from tests.models import di

    x = di(2.0)
    net = offset_amp.net
    net.dc_block_hz = 0.0
    raw = offset_amp.render(x, mode="sequential", gain=6.0, channel="lead")
    net.dc_block_hz = DC_BLOCK_HZ
    try:
        y = offset_amp.render(x, mode=mode, gain=6.0, channel="lead")
        ref = offset_amp.render(x, mode="sequential", gain=6.0, channel="lead")
    finally:
        net.dc_block_hz = 0.0
    assert abs(np.mean(raw)) > 0.03            # the raw output carries the offset ...
    assert abs(np.mean(y)) < 0.1 * abs(np.mean(raw))  # ... the blocked one hardly any
    assert abs(y[0]) < 0.2 * np.max(np.abs(y))   # and it starts without a step (the blocker is pre-warmed)
    assert np.sum((y - ref) ** 2) / np.sum(ref ** 2) < 1e-6  # every mode the same filter


def test_export_says_the_file_leaves_the_blocker_out():
    from types import SimpleNamespace

    from amptrain.sampling.export import dc_block_note

    with_blocker, without = SimpleNamespace(dc_block_hz=2.0), SimpleNamespace(dc_block_hz=0.0)
    for fmt in ("nam", "proteus", "rtneural"):
        note = dc_block_note(with_blocker, fmt)
        assert note.startswith("note: ") and "2 Hz" in note and fmt in note
        assert dc_block_note(without, fmt) is None
    assert dc_block_note(with_blocker, "keras") is None  # the native file keeps it
    assert dc_block_note(SimpleNamespace(), "nam") is None  # a model saved before the blocker


def test_the_training_log_says_why():
    from amptrain.build import dc_block_line

    assert dc_block_line("auto", 2.0, 2e-8).startswith("output DC blocker: on (2 Hz")
    line = dc_block_line("auto", 0.0, 0.18)
    assert "carry DC" in line and "off" in line and "1.8e-01" in line
    assert dc_block_line("off", 0.0, 2e-8) == "output DC blocker: off (model.dc_block=off)"


@pytest.mark.parametrize("mode", ["chunked", "sequential", "streaming"])
def test_a_model_without_knobs_renders_through_the_blocker(mode):
    from amptrain import AmpModel
    from tests.models import di, make_net

    net = make_net(knobs=[])  # a snapshot (train_vs_nam, static): no knob features at all
    w, b = net.out.get_weights()
    net.out.set_weights([w, b + 0.05])
    net.dc_block_hz = DC_BLOCK_HZ
    y = AmpModel(net).render(di(1.0), mode=mode)
    assert np.all(np.isfinite(y)) and abs(np.mean(y)) < 0.01
