"""Exports checked against the rules their players' loaders apply, and played by a numpy
re-implementation of each loader's forward pass over the file, which must reproduce our render:
`.nam` as NeuralAmpModelerCore reads it (schema 0.5.x, weight count, initial state, 0.5 s pre-warm;
also loaded by the neural-amp-modeler package), Proteus JSON as the GuitarML Proteus plugin reads it
(its model-list check, state_dict keys and shapes, always-on input skip, 44.1 kHz, one knob) and
RTNeural/AIDA-X JSON as RTNeural's JSON parser reads it (layer list, shapes, input size, in_skip).
Models a format (or its player) cannot play as trained are refused in one line."""
import json
from datetime import datetime

import numpy as np
import pytest

from amptrain.cli import main as amptrain_main
from amptrain.losses import esr as _esr
from tests.conftest import error_lines, run_cli
from tests.models import KNOBS, SR, di, make_net

GAIN = [KNOBS[0]]
P_SR = 44100


def esr(y, ref):
    return _esr(ref, y)  # energy of (y - ref) over the reference's


def amp_of(net):
    from amptrain import AmpModel

    return AmpModel(net)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step(z, c, H):
    """One LSTM update from the 4H gate pre-activations in the order i, f, g (cell), o: the order of
    PyTorch's weights, of NAM's core and of RTNeural's loaders alike."""
    i, f, g, o = sigmoid(z[:H]), sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sigmoid(z[3 * H:])
    c = f * c + i * g
    return o * np.tanh(c), c


# --- NAM: NeuralAmpModelerCore's get_dsp / lstm.cpp --------------------------------------------

def nam_core_problems(cfg: dict) -> list[str]:
    """What NAM's C++ core checks or relies on when it loads a .nam (get_dsp.cpp, lstm.cpp), plus the
    metadata NAM's trainer writes (date object, loudness, gain)."""
    p = []
    try:
        major, minor, patch = (int(v) for v in str(cfg["version"]).split("."))
        if (major, minor) != (0, 5):
            p.append(f"version {cfg['version']}: the core loads 0.5.x only")
    except (KeyError, ValueError):
        p.append("version is not a major.minor.patch string")
    if cfg.get("architecture") != "LSTM":
        p.append(f"architecture {cfg.get('architecture')!r} is not LSTM")
    conf = cfg.get("config", {})
    if not all(isinstance(conf.get(k), int) for k in ("num_layers", "input_size", "hidden_size")):
        return p + ["config needs integer num_layers, input_size, hidden_size"]
    L, In, H = conf["num_layers"], conf["input_size"], conf["hidden_size"]
    expected = sum(4 * H * ((In if l == 0 else H) + H) + 4 * H + 2 * H for l in range(L)) + H + 1
    w = cfg.get("weights")
    if not isinstance(w, list) or not all(isinstance(v, (int, float)) for v in w):
        p.append("weights is not a list of numbers")
    elif len(w) != expected:
        p.append(f"{len(w)} weights; the LSTM reads exactly {expected}")
    if not isinstance(cfg.get("sample_rate"), (int, float)):
        p.append("no sample_rate: the plugin would not resample for it")
    md = cfg.get("metadata", {})
    if not isinstance(md.get("loudness"), (int, float)):
        p.append("metadata.loudness missing: players cannot normalise its level")
    date = md.get("date")
    if not (isinstance(date, dict) and sorted(date) == sorted(["year", "month", "day", "hour", "minute", "second"])
            and all(isinstance(v, int) for v in date.values())):
        p.append(f"metadata.date {date!r} is not NAM's object (year, month, day, hour, minute, second)")
    if not (isinstance(md.get("gain"), (int, float)) and 0 <= md["gain"] <= 1):
        p.append("metadata.gain missing or outside 0..1")
    return p


def nam_core_play(cfg: dict, x: np.ndarray) -> np.ndarray:
    """NAM's core over the file: per layer W (4H x (In+H), row-major), b, initial h, initial c; then
    the head; pre-warmed on 0.5 s of silence in blocks of 4096 as get_dsp does; then x."""
    conf, w = cfg["config"], np.asarray(cfg["weights"], np.float64)
    In, H = conf["input_size"], conf["hidden_size"]
    k = 0
    W = w[k: k + 4 * H * (In + H)].reshape(4 * H, In + H); k += 4 * H * (In + H)
    b = w[k: k + 4 * H]; k += 4 * H
    h = w[k: k + H].copy(); k += H
    c = w[k: k + H].copy(); k += H
    head_w, head_b = w[k: k + H], w[k + H]
    prewarm = -(-int(0.5 * cfg["sample_rate"]) // 4096) * 4096
    out = []
    for i, v in enumerate(np.concatenate([np.zeros(prewarm), x])):
        h, c = lstm_step(W @ np.concatenate([[v], h]) + b, c, H)
        if i >= prewarm:
            out.append(head_w @ h + head_b)
    return np.asarray(out)


@pytest.mark.parametrize("conditioning", ["concat", "film", "level", "drive"])
def test_nam_file_follows_the_core_rules_and_plays_as_our_render(tmp_path, conditioning):
    import torch
    from nam.models import init_from_nam

    from amptrain.sampling.export import export

    # level: concat with a knob-set output level, folded into NAM's output layer like FiLM; drive: a knob-set
    # input drive and output level, folded into the LSTM's input weights and the output layer
    net = make_net(hidden=12, conditioning="film" if conditioning == "film" else "concat",
                   level=conditioning in ("level", "drive"), drive=conditioning == "drive")
    if conditioning == "film":  # the zero-initialised FiLM projection would make the knobs inert
        w, b = net.film.proj.get_weights()
        net.film.proj.set_weights([np.random.default_rng(0).normal(0, 0.5, w.shape).astype(np.float32), b])
    amp = amp_of(net)
    knobs = {"gain": 6.5, "channel": "lead"}
    cfg = json.loads(export(amp, "nam", tmp_path / "m.nam", knobs).read_text())
    assert nam_core_problems(cfg) == []
    assert cfg["config"] == {"input_size": 1, "hidden_size": 12, "num_layers": 1} and cfg["sample_rate"] == SR
    assert cfg["metadata"]["ampcap"]["knob_values"] == knobs
    x = di(0.5)
    ours = amp.render(x, mode="sequential", **knobs)  # pre-warmed, as NAM's engine pre-warms
    theirs = nam_core_play(cfg, x)
    assert esr(theirs, ours) < 1e-6, esr(theirs, ours)
    model = init_from_nam(cfg)  # and the neural-amp-modeler package itself
    model.eval()
    with torch.no_grad():
        y_nam = model(torch.from_numpy(x)).numpy()
    assert esr(y_nam, ours) < 1e-4, esr(y_nam, ours)
    other = amp.render(x, mode="sequential", gain=1.0, channel="clean")
    assert esr(other, ours) > 1e-2  # the folded knobs matter


def test_nam_metadata_is_what_nams_trainer_writes(tmp_path):
    import torch
    from nam.models import init_from_nam

    from amptrain.sampling.export import export

    before = datetime.now().replace(microsecond=0)
    cfg = json.loads(export(amp_of(make_net(hidden=12, knobs=GAIN)), "nam", tmp_path / "m.nam", {"gain": 6.0},
                            name="gain_sweep").read_text())
    md = cfg["metadata"]
    assert before <= datetime(**md["date"]) <= datetime.now()
    assert md["name"] == "gain_sweep (gain=6.0)" and md["gear_type"] == "amp"
    model = init_from_nam(cfg)
    model.eval()
    with torch.no_grad():  # NAM's own measures on its own reference input
        nam_loudness, nam_gain = model._metadata_loudness(), float(model._metadata_gain())
    assert abs(md["loudness"] - nam_loudness) < 1.5, (md["loudness"], nam_loudness)
    assert abs(md["gain"] - nam_gain) < 0.2, (md["gain"], nam_gain)
    quiet = json.loads(export(amp_of(make_net(hidden=12, knobs=GAIN)), "nam", tmp_path / "q.nam", {"gain": 0.0}).read_text())
    assert quiet["metadata"]["loudness"] != md["loudness"]  # measured at the exported setting


def test_nam_rules_catch_what_the_core_would_refuse_or_misread(tmp_path):
    from amptrain.sampling.export import export

    cfg = json.loads(export(amp_of(make_net(hidden=4, knobs=GAIN)), "nam", tmp_path / "m.nam", {}).read_text())
    assert nam_core_problems({**cfg, "version": "0.6.0"}) == ["version 0.6.0: the core loads 0.5.x only"]
    assert nam_core_problems({**cfg, "weights": cfg["weights"][:-1]}) == [f"{len(cfg['weights']) - 1} weights; the LSTM reads exactly {len(cfg['weights'])}"]
    iso = {**cfg, "metadata": {**cfg["metadata"], "date": "2026-12-01T10:00:00"}}
    assert "is not NAM's object" in nam_core_problems(iso)[0]


# --- Proteus: the GuitarML Proteus plugin (isValidFormat, RT_LSTM::load_json / process) ---------

PROTEUS_KEYS = {"rec.weight_ih_l0", "rec.weight_hh_l0", "rec.bias_ih_l0", "rec.bias_hh_l0", "lin.weight", "lin.bias"}


def proteus_problems(cfg: dict) -> list[str]:
    """What the Proteus plugin accepts and how it plays: its model list takes unit_type "LSTM" with
    hidden_size 40; RT_LSTM reads the six state_dict tensors into LSTM(in, 40) + Dense(40, 1); its
    processing drives one knob (input_size 2, or 1 without knobs), always adds the input to the
    output and runs the model at 44.1 kHz."""
    md = cfg.get("model_data", {})
    p = []
    if not (md.get("unit_type") == "LSTM" and md.get("hidden_size") == 40):
        return [f"model list refuses it: unit_type {md.get('unit_type')!r}, hidden_size {md.get('hidden_size')!r}"]
    n_in = md.get("input_size")
    if n_in not in (1, 2):
        p.append(f"input_size {n_in!r}: the plugin plays one knob (input_size 2) or none (1)")
    sd = cfg.get("state_dict", {})
    if set(sd) != PROTEUS_KEYS:
        return p + [f"state_dict keys {sorted(sd)}"]
    shapes = {k: np.shape(v) for k, v in sd.items()}
    want = {"rec.weight_ih_l0": (160, n_in), "rec.weight_hh_l0": (160, 40), "rec.bias_ih_l0": (160,),
            "rec.bias_hh_l0": (160,), "lin.weight": (1, 40), "lin.bias": (1,)}
    p += [f"{k} has shape {shapes[k]}, the loader reads {want[k]}" for k in want if shapes[k] != want[k]]
    if md.get("skip") != 1:
        p.append("trained without the input skip the plugin always adds")
    if cfg.get("ampcap", {}).get("sample_rate") != 44100:
        p.append(f"model at {cfg.get('ampcap', {}).get('sample_rate')} Hz; the plugin runs it at 44100 Hz")
    return p


def proteus_play(cfg: dict, x: np.ndarray, knob: float | None = None) -> np.ndarray:
    """RT_LSTM over the file: W = weight_ih transposed, U = weight_hh transposed, bias = bias_ih +
    bias_hh, from the reset (zero) state; each sample [x, knob] in, dense(h) + x out."""
    sd = {k: np.asarray(v, np.float64) for k, v in cfg["state_dict"].items()}
    W, U = sd["rec.weight_ih_l0"].T, sd["rec.weight_hh_l0"].T
    b = sd["rec.bias_ih_l0"] + sd["rec.bias_hh_l0"]
    dw, db = sd["lin.weight"], sd["lin.bias"]
    H = U.shape[0]
    h, c, out = np.zeros(H), np.zeros(H), []
    for v in x:
        inp = np.array([v] if knob is None else [v, knob])
        h, c = lstm_step(inp @ W + h @ U + b, c, H)
        out.append((dw @ h)[0] + db[0] + v)
    return np.asarray(out)


def proteus_net(knobs=GAIN, conditioning="concat"):
    return make_net(hidden=40, knobs=knobs, conditioning=conditioning, skip=True, sample_rate=P_SR)


def test_proteus_file_passes_the_plugins_checks_and_plays_as_our_render(tmp_path):
    from amptrain.sampling.amp import resample
    from amptrain.sampling.export import export

    amp = amp_of(proteus_net())
    cfg = json.loads(export(amp, "proteus", tmp_path / "p.json").read_text())
    assert proteus_problems(cfg) == []
    assert cfg["model_data"]["input_size"] == 2 and cfg["ampcap"]["inputs"] == ["audio", "gain"]
    x = resample(di(0.25), SR, P_SR)
    renders = {}
    for gain in (1.0, 8.0):
        ours = amp.render(x, P_SR, mode="sequential", prewarm=False, gain=gain)  # Proteus starts from reset
        theirs = proteus_play(cfg, x, (gain - 0.0) / 10.0)  # its Gain control in 0..1 is the knob's input
        assert esr(theirs, ours) < 1e-6, esr(theirs, ours)
        renders[gain] = ours
    assert esr(renders[1.0], renders[8.0]) > 1e-3  # the knob stays live
    snapshot = amp_of(proteus_net(knobs=[], conditioning="none"))  # no knobs: input_size 1
    cfg1 = json.loads(export(snapshot, "proteus", tmp_path / "s.json").read_text())
    assert proteus_problems(cfg1) == [] and cfg1["model_data"]["input_size"] == 1
    assert esr(proteus_play(cfg1, x), snapshot.render(x, P_SR, mode="sequential", prewarm=False)) < 1e-6


def test_proteus_rules_catch_files_the_plugin_would_refuse_or_misplay(tmp_path):
    from amptrain.sampling.export import export

    cfg = json.loads(export(amp_of(proteus_net()), "proteus", tmp_path / "p.json").read_text())
    assert "model list refuses it" in proteus_problems({**cfg, "model_data": {**cfg["model_data"], "hidden_size": 32}})[0]
    assert proteus_problems({**cfg, "model_data": {**cfg["model_data"], "skip": 0}}) == [
        "trained without the input skip the plugin always adds"]
    assert "44100 Hz" in proteus_problems({**cfg, "ampcap": {**cfg["ampcap"], "sample_rate": 48000}})[0]


REFUSED = [  # (model, the reasons its one error line must give)
    (dict(hidden=40, skip=True, sample_rate=P_SR), ["it drives one knob input and this model has 3 (gain, channel=clean, channel=lead)"]),
    (dict(hidden=32, knobs=GAIN, skip=True, sample_rate=P_SR), ["its model list takes only LSTMs of 40 units and this one has 32"]),
    (dict(hidden=40, knobs=GAIN, skip=False, sample_rate=P_SR), ["it always adds the input to the output and this model was trained without that skip"]),
    (dict(hidden=40, knobs=GAIN, skip=True), ["it runs models at 44100 Hz and this one is at 48000 Hz"]),
    (dict(hidden=32, knobs=GAIN), ["40 units and this one has 32", "without that skip", "this one is at 48000 Hz"]),
]


@pytest.mark.parametrize("build, reasons", REFUSED)
def test_proteus_refuses_what_the_plugin_would_not_play_as_trained(tmp_path, build, reasons):
    from amptrain.sampling.export import ExportError, export

    with pytest.raises(ExportError) as e:
        export(amp_of(make_net(**build)), "proteus", tmp_path / "p.json")
    msg = str(e.value)
    assert msg.startswith("format proteus: the Proteus plugin would not play this model as trained: ") and "\n" not in msg
    assert all(r in msg for r in reasons), msg
    assert "+experiment=proteus" in msg and "export rtneural or nam" in msg
    assert list(tmp_path.iterdir()) == []


# --- RTNeural / AIDA-X: RTNeural's json_parser::parseJson ---------------------------------------

def rtneural_problems(cfg: dict) -> list[str]:
    """What RTNeural's JSON parser reads: in_shape (its last entry the input size) and layers (each
    with type, shape whose last entry is its size, weights); an LSTM's weights are the kernel
    (in x 4H), recurrent kernel (H x 4H) and bias (4H), a dense layer's (in x out) and (out); an empty
    activation adds none. AIDA-X also reads in_skip (0 or 1)."""
    shape, layers = cfg.get("in_shape"), cfg.get("layers")
    if not isinstance(shape, list) or not isinstance(layers, list):
        return ["in_shape and layers must be lists"]
    p, size = [], shape[-1]
    types = [l.get("type") for l in layers]
    if types != ["lstm", "dense"]:
        p.append(f"layers {types}, expected lstm then dense")
        return p
    lstm, dense = layers
    H = lstm["shape"][-1]
    want = [(size, 4 * H), (H, 4 * H), (4 * H,)]
    got = [np.shape(w) for w in lstm["weights"]]
    if got != want:
        p.append(f"lstm weights {got}, the parser reads {want}")
    if [np.shape(w) for w in dense["weights"]] != [(H, dense["shape"][-1]), (dense["shape"][-1],)]:
        p.append(f"dense weights {[np.shape(w) for w in dense['weights']]}")
    if dense["shape"][-1] != 1:
        p.append("the output is not one sample")
    if any(l.get("activation", "") != "" for l in layers):
        p.append("an activation would be added after a layer")
    if cfg.get("in_skip") not in (0, 1):
        p.append(f"in_skip {cfg.get('in_skip')!r}: AIDA-X takes 0 or 1")
    if len(cfg.get("ampcap", {}).get("inputs", [])) != size:
        p.append("the inputs listed do not match in_shape")
    return p


def rtneural_play(cfg: dict, inputs: np.ndarray) -> np.ndarray:
    """RTNeural over the file from the reset (zero) state: LSTM (Keras layout, gates i, f, c, o), then
    dense; plus the audio input when in_skip is 1 (AIDA-X)."""
    lstm, dense = cfg["layers"]
    K, R, b = (np.asarray(w, np.float64) for w in lstm["weights"])
    Dw, Db = (np.asarray(w, np.float64) for w in dense["weights"])
    H = R.shape[0]
    h, c, out = np.zeros(H), np.zeros(H), []
    for row in inputs:
        h, c = lstm_step(row @ K + h @ R + b, c, H)
        out.append((h @ Dw)[0] + Db[0] + cfg["in_skip"] * row[0])
    return np.asarray(out)


@pytest.mark.parametrize("skip", [False, True])
def test_rtneural_file_follows_the_parser_and_plays_as_our_render(tmp_path, skip):
    from amptrain.sampling.export import export

    amp = amp_of(make_net(hidden=8, skip=skip))
    cfg = json.loads(export(amp, "rtneural", tmp_path / "r.json").read_text())
    assert rtneural_problems(cfg) == []
    assert cfg["in_shape"] == [None, None, 4] and cfg["in_skip"] == int(skip)
    assert cfg["ampcap"]["inputs"] == ["audio", "gain", "channel=clean", "channel=lead"]
    x = di(0.25)
    feats = amp.features(len(x), {"gain": 3.0, "channel": "lead"})
    inputs = np.concatenate([x[:, None], np.broadcast_to(feats, (len(x), len(feats)))], axis=1)
    ours = amp.render(x, mode="sequential", prewarm=False, gain=3.0, channel="lead")  # RTNeural starts from reset
    assert esr(rtneural_play(cfg, inputs), ours) < 1e-6
    bad = {**cfg, "layers": [cfg["layers"][0], {**cfg["layers"][1], "activation": "tanh"}]}
    assert rtneural_problems(bad) == ["an activation would be added after a layer"]
    # the same file from the model's own method
    assert json.loads(amp.export("rtneural", tmp_path / "m.json").read_text())["layers"] == cfg["layers"]


def test_rtneural_export_says_when_aida_x_would_not_list_the_model(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    make_net(hidden=10, knobs=GAIN).save(run / "model.keras")
    assert amptrain_main(["export", f"run={run}", "format=rtneural"]) == 0
    err = capsys.readouterr().err
    assert "AIDA-X plays LSTMs of 8, 12, 16, 20, 32, 40 or 64 units with up to 3 inputs; this one has 10 units" in err
    make_net(hidden=8, knobs=GAIN).save(run / "model.keras")
    assert amptrain_main(["export", f"run={run}", "format=rtneural"]) == 0
    assert "AIDA-X" not in capsys.readouterr().err


# --- refusals, the export command -------------------------------------------------------------

@pytest.mark.parametrize("fmt, build, message", [
    ("proteus", dict(knobs=GAIN, conditioning="film"), "a FiLM-conditioned model cannot be expressed"),
    ("rtneural", dict(knobs=GAIN, conditioning="film"), "a FiLM-conditioned model cannot be expressed"),
    ("rtneural", dict(knobs=GAIN, level=True), "a knob-conditioned output level (model.level) cannot be expressed"),
    ("proteus", dict(knobs=GAIN, level=True), "a knob-conditioned output level (model.level) cannot be expressed"),
    ("rtneural", dict(knobs=GAIN, drive=True), "a knob-conditioned input drive (model.drive) cannot be expressed"),
    ("proteus", dict(knobs=GAIN, drive=True), "a knob-conditioned input drive (model.drive) cannot be expressed"),
    ("nam", dict(knobs=GAIN, skip=True), "NAM's LSTM has no input-to-output skip"),
])
def test_formats_refuse_models_they_cannot_hold(tmp_path, fmt, build, message):
    from amptrain.sampling.export import ExportError, export

    with pytest.raises(ExportError) as e:
        export(amp_of(make_net(hidden=4, **build)), fmt, tmp_path / "x.out")
    assert message in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_export_command_writes_each_format_next_to_the_run(tmp_path, capsys):
    run = tmp_path / "runs" / "gain_sweep" / "20260101-000000"
    run.mkdir(parents=True)
    make_net(hidden=6, knobs=GAIN).save(run / "model.keras")
    for args, name in [(["format=nam", "knobs.gain=6"], "model_gain-6.nam"), (["format=rtneural"], "model_rtneural.json"),
                       (["format=keras"], "model.keras")]:
        assert amptrain_main(["export", f"run={run}", *args]) == 0, capsys.readouterr().err
        assert (run / "export" / name).is_file()
    assert json.loads((run / "export" / "model_gain-6.nam").read_text())["metadata"]["name"] == "gain_sweep (gain=6.0)"
    from amptrain import AmpModel

    again = AmpModel.load(run / "export" / "model.keras")
    x = di(0.2)
    np.testing.assert_array_equal(again.render(x, gain=4), AmpModel.load(run).render(x, gain=4))
    assert amptrain_main(["export", f"run={run}", "format=nam", f"output={tmp_path / 'mine.nam'}"]) == 0
    assert json.loads((tmp_path / "mine.nam").read_text())["metadata"]["ampcap"]["knob_values"] == {"gain": 5.0}
    proteus_run = tmp_path / "p"
    proteus_run.mkdir()
    proteus_net().save(proteus_run / "model.keras")
    assert amptrain_main(["export", f"run={proteus_run}", "format=proteus"]) == 0
    assert proteus_problems(json.loads((proteus_run / "export" / "model_proteus.json").read_text())) == []


@pytest.mark.parametrize("args, message", [
    (["format=onnx"], "format 'onnx' is not one of nam, proteus, rtneural, keras"),
    (["format=proteus", "knobs.gain=3"], "knobs stay live in this format"),
    (["format=proteus"], "format proteus: the Proteus plugin would not play this model as trained: its model list"),
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


# --- the path to a model Proteus plays: model=proteus, +experiment=proteus ----------------------

def test_the_proteus_experiment_is_a_model_proteus_plays():
    from amptrain.config import compose_train
    from capture.config import compose_capture

    cfg = compose_train(["+experiment=proteus"])
    assert (cfg.model.hidden_size, cfg.model.skip, cfg.model.conditioning) == (40, True, "concat")
    cap = compose_capture([f"plugin={cfg.dataset.plugin}", f"sweep={cfg.dataset.sweep}", *cfg.dataset.capture_overrides])
    assert cap.plugin.sample_rate == 44100 and cap.sweep.design == "line"  # one knob moves
    assert cap.out != compose_capture(["sweep=gain_sweep"]).out  # not the 48 kHz dataset's folder


@pytest.mark.slow
def test_a_trained_proteus_experiment_exports_a_file_the_plugin_plays(tmp_path):
    """+experiment=proteus end to end on a small capture: train (quick), export format=proteus, and
    the file passes the plugin's checks and plays as our render at 44.1 kHz."""
    ds = tmp_path / "ds"
    p = run_cli("amptrain", "+experiment=proteus", "trainer=quick", "trainer.max_epochs=1", "trainer.progress=false",
                f"runs_dir={tmp_path / 'runs'}",
                "dataset.capture_overrides=[" + ",".join(f"'{o}'" for o in (  # the experiment's two, and a small capture
                    "plugin.sample_rate=44100", f"out={ds}", "signal.duration_s=6", "sweep.n_train=3", "sweep.n_heldout=2")) + "]",
                cwd=tmp_path, timeout=900)
    assert p.returncode == 0, error_lines(p)[-5:]
    assert json.loads((ds / "manifest.json").read_text())["sample_rate"] == 44100
    run = next((tmp_path / "runs" / "proteus").iterdir())
    p = run_cli("amptrain", "export", f"run={run}", "format=proteus", cwd=tmp_path)
    assert p.returncode == 0, error_lines(p)
    cfg = json.loads((run / "export" / "model_proteus.json").read_text())
    assert proteus_problems(cfg) == []
    from amptrain import AmpModel

    amp = AmpModel.load(run)
    # the embedded amp's output has no DC, so the model has an output DC blocker, which the file leaves out (and says so)
    assert amp.net.dc_block_hz > 0 and "DC blocker" in p.stdout + p.stderr and "35 Hz" in p.stdout + p.stderr
    amp.net.dc_block_hz = 0.0  # the file plays the raw output: compare with that
    x = di(0.1)  # any audio, taken as 44.1 kHz
    assert esr(proteus_play(cfg, x, 0.6), amp.render(x, P_SR, mode="sequential", prewarm=False, gain=6.0)) < 1e-6
