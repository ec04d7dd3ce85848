"""The VST3 player's maths (amptrain/sampling/player/ampcap_engine.h with the generated ModelData.h),
compiled with g++ alone into its harness and checked against the Python render sample by sample: at the
model's rate, with knobs moving between blocks (against AmpModel.stream), at 44.1 / 88.2 / 96 kHz host rates
(against render(x, rate), the resampling inside the plugin), for every model option (concat, FiLM, level,
drive, skip, the DC blocker). The plugin itself, built with JUCE and hosted by pedalboard: test_vst3_export.py."""
import shutil
import subprocess

import numpy as np
import pytest

from tests.models import SR, di, make_net

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to compile the engine's harness")


def esr(y, ref):
    ref = np.asarray(ref, np.float64)
    return float(np.sum((np.asarray(y, np.float64) - ref) ** 2) / np.sum(ref ** 2))


class Harness:
    """The engine compiled for one model: run(x, rate, block, rows) -> (output, reported latency)."""

    def __init__(self, net, folder, flags=()):
        from amptrain.sampling.amp import AmpModel
        from amptrain.sampling.player_project import compile_harness, write_project

        self.amp, self.dir = AmpModel(net), folder
        write_project(net, folder / "project", "Test Amp")
        self.exe = compile_harness(folder / "project", folder / "harness", flags)

    def run(self, x, rate=SR, block=512, rows=None):
        x = np.asarray(x, np.float32)
        x.tofile(self.dir / "in.f32")
        args = [str(self.exe), str(self.dir / "in.f32"), str(self.dir / "out.f32"), str(rate), str(block)]
        if rows is not None:
            np.asarray(rows, np.float32).tofile(self.dir / "knobs.f32")
            args.append(str(self.dir / "knobs.f32"))
        p = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return np.fromfile(self.dir / "out.f32", np.float32), int(p.stdout.split()[1])

    def run_aligned(self, x, rate, rows=None):
        """The output with the reported latency taken off (zeros fed after the input, as a host flushes)."""
        y, lat = self.run(np.concatenate([x, np.zeros(4096, np.float32)]), rate, 512, rows)
        return y[lat: lat + len(x)], lat


MODELS = {  # the AVX-512 kernels run where the CPU has them (H a multiple of 32); -DAMPCAP_NO_DISPATCH: AVX2 only
    "concat-level-drive-dc": (dict(hidden=16, level=True, drive=True), ()),
    "film-skip": (dict(hidden=12, conditioning="film", skip=True), ()),
    "concat-hidden32": (dict(hidden=32), ()),
    "concat-hidden32-avx2": (dict(hidden=32), ("-DAMPCAP_NO_DISPATCH",)),
    "concat-hidden20-any-size": (dict(hidden=20), ()),
}


@pytest.fixture(scope="module", params=list(MODELS))
def harness(request, tmp_path_factory):
    kwargs, flags = MODELS[request.param]
    net = make_net(**kwargs)
    if request.param.endswith("-dc"):
        net.dc_block_hz = 2.0  # the output DC blocker, started settled (no start-up step)
    return Harness(net, tmp_path_factory.mktemp(request.param), flags)


@pytest.mark.parametrize("gain, channel", [(7.3, 1), (0.4, 0)])
def test_at_the_models_rate_the_engine_is_the_python_render(harness, gain, channel):
    x = di(1.5)
    y, latency = harness.run(x, SR, 512, [[gain, channel]])
    ref = harness.amp.render(x, gain=gain, channel=["clean", "lead"][channel], mode="sequential")
    assert latency == 0
    assert esr(y, ref) <= 1e-6, esr(y, ref)
    assert abs(y[0] - ref[0]) < 1e-4  # pre-warmed: the same first sample, no start-up bump


def test_knobs_moving_between_blocks_equal_amp_stream(harness):
    """512-sample blocks, a knob changed between blocks: the engine's per-sample smoothing and its state
    carried over equal AmpModel.stream given the same changes."""
    x = di(1.5, seed=3)
    rows = [[1.0 + (b * 1.7) % 9, (b // 4) % 2] for b in range(len(x) // 512 + 1)]
    y, _ = harness.run(x, SR, 512, rows)
    stream = harness.amp.stream()
    ref = np.concatenate([stream.process(x[i: i + 512], gain=rows[b][0], channel=["clean", "lead"][int(rows[b][1])])
                          for b, i in enumerate(range(0, len(x), 512))])
    assert esr(y, ref) <= 1e-5, esr(y, ref)


def test_a_knob_jump_does_not_click(harness):
    """A gain jump between two blocks of a steady tone: the smoothed change leaves no sample of the
    output's derivative above what the tone itself has around it."""
    t = np.arange(int(0.6 * SR)) / SR
    x = (0.2 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)
    n_blocks = len(x) // 512 + 1
    rows = [[2.0 if b < n_blocks // 2 else 8.0, 0] for b in range(n_blocks)]
    y, _ = harness.run(x, SR, 512, rows)
    step = (n_blocks // 2) * 512
    d = np.abs(np.diff(y))
    around = d[step - 2000: step + 2000]
    settled = max(d[step - 6000: step - 2000].max(), d[step + 8000: step + 12000].max())
    assert around.max() <= 1.25 * settled, (around.max(), settled)


@pytest.mark.parametrize("rate", [44100, 88200, 96000])
def test_at_another_host_rate_the_engine_resamples_as_render_does(harness, rate):
    from amptrain.sampling.amp import resample

    x = resample(di(1.0, seed=5), SR, rate)
    y, latency = harness.run_aligned(x, rate, [[6.0, 1]])
    ref = harness.amp.render(x, rate, gain=6.0, channel="lead")
    assert 0 < latency < 64  # a few samples of filter delay, reported to the host
    assert esr(y, ref) <= 1e-3, esr(y, ref)


def test_a_model_the_engine_cannot_play_is_refused_in_one_line(tmp_path):
    from amptrain.sampling.player_project import PlayerError, write_project

    net = make_net(hidden=4)
    net.conditioning = "attention"
    with pytest.raises(PlayerError) as e:
        write_project(net, tmp_path / "p", "Bad")
    assert "format vst3: the plugin's engine (model format 1) does not play a model with conditioning 'attention'" in str(e.value)
    assert "\n" not in str(e.value) and not (tmp_path / "p").exists()


def test_the_generated_weights_are_exact(tmp_path):
    """ModelData.h holds every float32 weight exactly (hex floats), and the knob specs as the model's."""
    import re

    from amptrain.sampling.player_project import model_header

    net = make_net(hidden=4)
    text = model_header(net, "Exact")
    kernel = np.asarray(net.lstm.get_weights()[0], np.float32).reshape(-1)
    m = re.search(r"kKernel\[\d+\] = \{([^}]*)\}", text)
    got = np.array([float.fromhex(v.rstrip("f")) for v in m.group(1).split(",")], np.float32)
    assert np.array_equal(got, kernel)
    assert '{"gain", "dB", false, 0.0, 10.0, 5.0, 0, nullptr, 0}' in text
    assert 'kChoices1[] = {"clean", "lead"}' in text
