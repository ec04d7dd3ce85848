"""Exports checked by the loaders players use, not only by our reader: `.nam` through the
neural-amp-modeler package, Proteus JSON through PyTorch's LSTM (the layout GuitarML trains and
Proteus reads), RTNeural/AIDA-X JSON through a Keras LSTM (the layout RTNeural's exporter writes);
models a format cannot hold are refused in one line."""
import json

import numpy as np
import pytest

from amptrain.cli import main as amptrain_main
from amptrain.losses import esr as _esr
from tests.test_sampling import KNOBS, SR, di, make_net

GAIN = [KNOBS[0]]


def esr(y, ref):
    return _esr(ref, y)  # energy of (y - ref) over the reference's


def amp_of(net):
    from amptrain import AmpModel

    return AmpModel(net)


def settled_render(net, x, cond):
    """Our output from the state a .nam starts in (the LSTM settled on 1 s of silence)."""
    from amptrain.export import SETTLE_SAMPLES
    from amptrain.render import Stream

    s = Stream(net)
    s.process(np.zeros(SETTLE_SAMPLES, np.float32), cond)
    return s.process(x, cond)


@pytest.mark.parametrize("conditioning", ["concat", "film"])
def test_nam_export_loads_in_neural_amp_modeler_and_matches(tmp_path, conditioning):
    import torch
    from nam.models import init_from_nam

    from amptrain.export import export

    net = make_net(hidden=12, conditioning=conditioning)
    if conditioning == "film":  # the zero-initialised FiLM projection would make the knobs inert
        w, b = net.film.proj.get_weights()
        net.film.proj.set_weights([np.random.default_rng(0).normal(0, 0.5, w.shape).astype(np.float32), b])
    amp = amp_of(net)
    path = export(amp, "nam", tmp_path / "m.nam", {"gain": 6.5, "channel": "lead"})
    cfg = json.loads(path.read_text())
    assert cfg["architecture"] == "LSTM" and cfg["config"] == {"input_size": 1, "hidden_size": 12, "num_layers": 1}
    assert cfg["sample_rate"] == SR and cfg["metadata"]["knob_values"] == {"gain": 6.5, "channel": "lead"}
    nam_model = init_from_nam(cfg)
    nam_model.eval()
    x = di(1.0)
    with torch.no_grad():
        y_nam = nam_model(torch.from_numpy(x)).numpy()
    ours = settled_render(net, x, amp.features(1, {"gain": 6.5, "channel": "lead"}))
    assert esr(y_nam, ours) < 1e-4, esr(y_nam, ours)
    other = settled_render(net, x, amp.features(1, {"gain": 1.0, "channel": "clean"}))
    assert esr(other, ours) > 1e-2  # the folded knobs matter


def torch_simple_rnn(cfg):
    """GuitarML's SimpleRNN as Proteus' training code defines it: rec (LSTM) + lin, input skip."""
    import torch

    md = cfg["model_data"]

    class SimpleRNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rec = torch.nn.LSTM(md["input_size"], md["hidden_size"], num_layers=md["num_layers"], batch_first=True)
            self.lin = torch.nn.Linear(md["hidden_size"], md["output_size"], bias=md["bias_fl"])

        def forward(self, x):
            out, _ = self.rec(x)
            return self.lin(out) + (x[..., : md["skip"]] if md["skip"] else 0)

    m = SimpleRNN()
    m.load_state_dict({k: torch.tensor(v) for k, v in cfg["state_dict"].items()}, strict=True)
    return m.eval()


@pytest.mark.parametrize("skip", [False, True])
def test_proteus_json_loads_in_pytorch_and_keeps_the_knob_live(tmp_path, skip):
    import torch

    from amptrain.export import export

    net = make_net(hidden=10, knobs=GAIN, skip=skip)
    amp = amp_of(net)
    cfg = json.loads(export(amp, "proteus", tmp_path / "p.json").read_text())
    assert cfg["model_data"]["input_size"] == 2 and cfg["model_data"]["skip"] == int(skip)
    assert cfg["ampcap"]["inputs"] == ["audio", "gain"]
    model = torch_simple_rnn(cfg)
    x = di(0.5)
    for gain in (1.0, 8.0):
        ours = amp.render(x, mode="sequential", gain=gain)
        u = (gain - 0.0) / 10.0
        inp = torch.from_numpy(np.stack([x, np.full_like(x, u)], axis=-1)[None])
        with torch.no_grad():
            theirs = model(inp).numpy()[0, :, 0]
        assert esr(theirs, ours) < 1e-8, esr(theirs, ours)


def test_rtneural_json_rebuilds_as_the_keras_layers_it_describes(tmp_path):
    import keras

    from amptrain.export import export

    net = make_net(hidden=8, skip=True)
    amp = amp_of(net)
    cfg = json.loads(export(amp, "rtneural", tmp_path / "r.json").read_text())
    assert cfg["in_shape"] == [None, None, 4] and cfg["in_skip"] == 1
    assert [l["type"] for l in cfg["layers"]] == ["lstm", "dense"]
    lstm, dense = cfg["layers"]
    k = keras.Sequential([keras.Input((None, cfg["in_shape"][2])), keras.layers.LSTM(lstm["shape"][2], return_sequences=True),
                          keras.layers.Dense(dense["shape"][2])])
    k.set_weights([np.array(w, np.float32) for l in cfg["layers"] for w in l["weights"]])
    x = di(0.5)
    feats = amp.features(len(x), {"gain": 3.0, "channel": "lead"})
    inp = np.concatenate([x[:, None], np.broadcast_to(feats, (len(x), len(feats)))], axis=1)[None]
    theirs = k.predict(inp, verbose=0)[0, :, 0] + cfg["in_skip"] * x
    ours = amp.render(x, mode="sequential", gain=3.0, channel="lead")
    assert esr(theirs, ours) < 1e-8


@pytest.mark.parametrize("fmt, build, message", [
    ("proteus", dict(), "Proteus takes at most 2 knob inputs; this model has 3 (gain, channel=clean, channel=lead)"),
    ("proteus", dict(knobs=GAIN, conditioning="film"), "a FiLM-conditioned model cannot be expressed"),
    ("rtneural", dict(knobs=GAIN, conditioning="film"), "a FiLM-conditioned model cannot be expressed"),
    ("nam", dict(knobs=GAIN, skip=True), "NAM's LSTM has no input-to-output skip"),
])
def test_formats_refuse_models_they_cannot_hold(tmp_path, fmt, build, message):
    from amptrain.export import ExportError, export

    with pytest.raises(ExportError) as e:
        export(amp_of(make_net(hidden=4, **build)), fmt, tmp_path / "x.out")
    assert message in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_export_command_writes_each_format_next_to_the_run(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    make_net(hidden=6, knobs=GAIN).save(run / "model.keras")
    for args, name in [(["format=nam", "knobs.gain=6"], "model_gain-6.nam"), (["format=proteus"], "model_proteus.json"),
                       (["format=rtneural"], "model_rtneural.json"), (["format=keras"], "model.keras")]:
        assert amptrain_main(["export", f"run={run}", *args]) == 0, capsys.readouterr().err
        assert (run / "export" / name).is_file()
    from amptrain import AmpModel

    again = AmpModel.load(run / "export" / "model.keras")
    x = di(0.2)
    np.testing.assert_array_equal(again.render(x, gain=4), AmpModel.load(run).render(x, gain=4))
    assert amptrain_main(["export", f"run={run}", "format=nam", f"output={tmp_path / 'mine.nam'}"]) == 0
    assert json.loads((tmp_path / "mine.nam").read_text())["metadata"]["knob_values"] == {"gain": 5.0}


@pytest.mark.parametrize("args, message", [
    (["format=onnx"], "format 'onnx' is not one of nam, proteus, rtneural, keras"),
    (["format=proteus", "knobs.gain=3"], "knobs stay live in this format"),
    (["format=nam", "knobs.drive=3"], "unknown knob 'drive' (knobs: gain)"),
    (["format=nam", "knobs.gain=[1,2]"], "must be one value"),
    (["format=nam", "output=nodir/x.nam"], "does not exist"),
    (["format=nam", "output=x.json"], "should end in .nam"),
    ([], "format=... is required"),
])
def test_export_bad_inputs_are_one_line(tmp_path, capsys, monkeypatch, args, message):
    run = tmp_path / "run"
    run.mkdir()
    make_net(hidden=4, knobs=GAIN).save(run / "model.keras")
    monkeypatch.chdir(tmp_path)
    code = amptrain_main(["export", f"run={run}", *args])
    lines = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert code != 0 and len(lines) == 1 and message in lines[0], lines
    assert not (run / "export").exists()
