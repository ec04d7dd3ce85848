"""A real VST3 through the path users take with Nolly: RefAmp (tests/fixtures/refamp, JUCE) is built,
loaded by pedalboard, its display-named parameters mapped by conf/plugin/refamp.yaml, swept, verified,
trained on and rendered at a setting never captured; mapping mistakes give one line naming the fix."""
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from ampcap.dataset import read_manifest
from tests.conftest import error_lines, run_cli

SMALL = ["signal.duration_s=6", "progress=false"]
LATENCY = 48  # what RefAmp reports and really delays its output by


def capture(refamp, *args, **kw):
    return run_cli("capture", *args, "plugin=refamp", f"plugin.path={refamp}", **kw)


def test_params_lists_the_plugins_real_names_ranges_units_and_choices(refamp):
    p = capture(refamp, "params")
    assert p.returncode == 0, p.stderr
    rows = {l.split()[0]: l for l in p.stdout.splitlines()[2:]}
    assert "Input Level" in rows["input_level_db"] and "-12 .. 12" in rows["input_level_db"] and " dB " in rows["input_level_db"]
    assert "Master Volume" in rows["master_volume_db"] and "-30 .. 6" in rows["master_volume_db"]
    assert "Clean|Crunch|Lead" in rows["amp_channel"] and rows["amp_channel"].split()[-1] == "channel"
    assert "False|True" in rows["bright_switch"] and rows["bright_switch"].split()[-1] == "bright"
    assert {"noise_gate", "gate_threshold_db", "cab_sim", "bypass"} <= set(rows)


@pytest.fixture(scope="module")
def refamp_dataset(refamp, tmp_path_factory):
    out = tmp_path_factory.mktemp("refamp") / "ds"
    p = capture(refamp, "sweep", "sweep=gain_sweep", "sweep.n_train=5", "sweep.n_heldout=2", *SMALL, f"out={out}")
    assert p.returncode == 0, p.stderr
    return out, p


def test_sweep_of_a_real_vst3_is_verified_latency_compensated_and_repeatable(refamp, refamp_dataset):
    out, p = refamp_dataset
    assert run_cli("capture", "verify", out).returncode == 0
    m = read_manifest(out)
    assert m["plugin"]["reported_latency"] == LATENCY and m["plugin"]["descriptive_name"] == "RefAmp"
    # pedalboard shifts the output back by the reported latency; our probe measures what is left. A
    # plugin whose real delay differed from its report would leave a non-zero residual here.
    assert m["checks"]["latency_probe"] == 0 and all(s["latency"] == 0 for s in m["settings"])
    assert m["checks"]["fresh_equals_reused"] and m["checks"]["deterministic"]
    assert m["checks"]["repeat_relative_error"] == 0.0
    assert all(not s["warnings"] for s in m["settings"])  # every readback equalled what was set
    gains = sorted(s["knobs"]["gain"] for s in m["settings"])
    assert len(set(gains)) == 7 and all(s["knobs"]["channel"] == "Crunch" for s in m["settings"])
    # the same setting rendered again, in a new process, is bit-identical
    again = out.parent / "again"
    p2 = capture(refamp, "sweep", "sweep=gain_sweep", "sweep.n_train=5", "sweep.n_heldout=2", *SMALL, f"out={again}")
    assert p2.returncode == 0, p2.stderr
    first = read_manifest(out)["settings"][3]
    assert read_manifest(again)["settings"][3]["sha256"] == first["sha256"]


def test_output_is_aligned_with_the_di_despite_the_plugins_latency(refamp, refamp_dataset):
    """An impulse-like click in the DI comes out of the dataset's render at the same sample."""
    out, _ = refamp_dataset
    m = read_manifest(out)
    di, _ = sf.read(out / "input.wav", dtype="float32")
    y, _ = sf.read(out / m["settings"][0]["file"], dtype="float32")
    lags = np.arange(-200, 201)
    seg = slice(48000, 48000 + 96000)
    xc = [np.dot(np.abs(di[seg]), np.abs(np.roll(y, -k)[seg])) for k in lags]
    assert abs(int(lags[int(np.argmax(xc))])) <= 3  # envelope alignment (the amp's own phase aside)


@pytest.mark.parametrize("override, message", [
    ("plugin.knobs.gain.param=Gian", "plugin has no parameter 'Gian'; close matches: Gain"),
    ("plugin.knobs.gain.max=12", "plugin.knobs.gain.max: 12 is outside the plugin's range 0..10 for 'Gain'"),
    ("plugin.knobs.channel.choices=[Clean,Metal]", "'Metal' is not a value of 'Amp Channel' (valid: ['Clean', 'Crunch', 'Lead'])"),
    ("+plugin.fixed.Gate_Threshold=-100", "-100 is outside -90..-20"),
    ("+plugin.fixed.Amp_Channel=Metal", "'Metal' is not valid for 'Amp Channel' (valid: ['Clean', 'Crunch', 'Lead'])"),
])
def test_mapping_errors_on_a_real_plugin_name_the_fix(refamp, tmp_path, override, message):
    p = capture(refamp, "sweep", "sweep=tiny", *SMALL, f"out={tmp_path / 'ds'}", override)
    lines = error_lines(p)
    assert p.returncode != 0 and len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "ds").exists()


def test_a_users_own_config_folder_drives_the_real_plugin(refamp, tmp_path):
    """`--config-dir ./myplugins plugin=myamp`: the user's file, the package untouched."""
    from tests.conftest import ROOT

    d = tmp_path / "myplugins" / "plugin"
    d.mkdir(parents=True)
    text = (ROOT / "conf" / "plugin" / "refamp.yaml").read_text().replace("name: refamp", "name: myamp")
    (d / "myamp.yaml").write_text(text.replace("path: null", f"path: {refamp}"))
    out = tmp_path / "ds"
    p = run_cli("capture", "sweep", "--config-dir", tmp_path / "myplugins", "plugin=myamp", "sweep=tiny", *SMALL, f"out={out}")
    assert p.returncode == 0, p.stderr
    m = read_manifest(out)
    assert m["config"]["plugin"]["name"] == "myamp" and m["plugin"]["reported_latency"] == LATENCY


@pytest.mark.slow
def test_training_on_the_refamp_dataset_then_sampling_an_uncaptured_setting(refamp_dataset, tmp_path):
    import keras

    from amptrain import AmpModel
    from amptrain.data import load_split
    from amptrain.evaluate import evaluate
    from amptrain.model import AmpNet

    out, _ = refamp_dataset
    p = run_cli("amptrain", "dataset=path", f"dataset.path={out}", "trainer=quick", "trainer.progress=false",
                "model=lstm16", "trainer.max_epochs=8", "trainer.patience=8", "name=refamp", f"runs_dir={tmp_path / 'runs'}",
                cwd=tmp_path, timeout=900)
    assert p.returncode == 0, p.stderr
    run = next((tmp_path / "runs" / "refamp").iterdir())
    m = json.loads((run / "metrics.json").read_text())
    assert m["knobs"] == ["gain"] and m["heldout"]["n_settings"] == 1  # 2 held out: 1 validation, 1 test
    model = keras.saving.load_model(run / "model.keras")
    heldout = load_split(out, read_manifest(out), "test", "test", model.knobs)
    keras.utils.set_random_seed(0)
    untrained, _ = evaluate(AmpNet.from_config(model.get_config()).build_weights(), heldout, 48000, "aw")
    assert m["heldout"]["esr"] < 0.5 * untrained["esr"], (m["heldout"]["esr"], untrained["esr"])

    captured = {s["knobs"]["gain"] for s in read_manifest(out)["settings"]}
    assert 3.3 not in captured
    sf.write(tmp_path / "di.wav", sf.read(out / "input.wav", dtype="float32")[0][: 48000 * 2], 48000, subtype="FLOAT")
    p = run_cli("amptrain", "sample", f"run={run}", f"input={tmp_path / 'di.wav'}", f"output={tmp_path / 'out.wav'}",
                "knobs.gain=3.3", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    y, sr = sf.read(tmp_path / "out.wav", dtype="float32")
    assert sr == 48000 and len(y) == 96000 and np.sqrt(np.mean(y ** 2)) > 1e-3
    amp = AmpModel.load(run)
    assert amp.fixed_knobs["channel"] == "Crunch"
    shutil.rmtree(run / "tb", ignore_errors=True)


def test_a_wrong_name_under_fixed_gets_the_fixed_hint(refamp):
    """`capture params` says which entry to edit: the fixed: one, not knobs.<name>.param."""
    p = capture(refamp, "params", "+plugin.fixed.Nose_Gate=false")
    assert p.returncode == 0, p.stderr
    assert "knob map problem: plugin.fixed.Nose_Gate: plugin has no parameter 'Nose_Gate'" in p.stderr
    assert "Edit the plugin config's fixed: entry 'Nose_Gate' to one of the names above" in p.stderr
    assert "knobs.<name>.param" not in p.stderr and ".param to one of" not in p.stderr
    p = capture(refamp, "params", "plugin.knobs.gain.param=Gian")
    assert "Edit the plugin config's knobs.gain.param to one of the names above" in p.stderr


def write_config(refamp, tmp_path, name="amp"):
    target = tmp_path / "myplugins" / "plugin" / f"{name}.yaml"
    p = run_cli("capture", "params", f"plugin.path={refamp}", "--write-config", target, cwd=tmp_path)
    return p, target


def test_write_config_guesses_the_knobs_of_a_plugin_it_never_saw(refamp, tmp_path):
    p, target = write_config(refamp, tmp_path)
    assert p.returncode == 0, p.stderr
    text = target.read_text()
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(OmegaConf.create(text))
    assert cfg["name"] == "amp" and cfg["kind"] == "external" and cfg["path"] == str(refamp)
    params = {k: v["param"] for k, v in cfg["knobs"].items()}
    assert params == {"gain": "Gain", "bass": "Bass", "mid": "Middle", "treble": "Treble", "presence": "Presence",
                      "master": "Master Volume", "input": "Input Level", "channel": "Amp Channel"}
    assert cfg["knobs"]["channel"]["choices"] == ["Clean", "Crunch", "Lead"]
    assert "min" not in cfg["knobs"]["gain"] and cfg["knobs"]["master"]["default"] == -6.0  # the plugin's range/default
    assert cfg["fixed"] == {"Noise Gate": False, "Gate Threshold": -90.0, "Bypass": False}  # held off
    knob_lines = [l for l in text.splitlines() if l.startswith("  ") and ": {param:" in l]
    assert len(knob_lines) == 8 and all("# guessed: '" in l for l in knob_lines)
    assert all("# held off: '" in l for l in text.splitlines() if l.startswith('  "'))
    assert '#   bright_switch: {param: "Bright Switch"' in text and '#   cab_sim: {param: "Cab Sim"' in text
    assert f"capture:   python -m capture sweep --config-dir {tmp_path / 'myplugins'} plugin=amp" in p.stdout
    # the map it wrote is complete: capture params shows every knob mapped and no problem
    q = run_cli("capture", "params", "--config-dir", tmp_path / "myplugins", "plugin=amp", cwd=tmp_path)
    assert q.returncode == 0 and "problem" not in q.stderr, q.stderr
    rows = {l.split()[0]: l.split()[-1] for l in q.stdout.splitlines()[2:]}
    assert rows["middle"] == "mid" and rows["amp_channel"] == "channel" and rows["master_volume_db"] == "master"
    # never over an existing file
    before = target.read_bytes()
    again, _ = write_config(refamp, tmp_path)
    lines = error_lines(again)
    assert again.returncode == 2 and len(lines) == 1 and "already exists; nothing was written" in lines[0]
    assert target.read_bytes() == before


@pytest.mark.slow
def test_the_written_config_captures_and_trains_without_edits(refamp, tmp_path):
    p, target = write_config(refamp, tmp_path)
    assert p.returncode == 0, p.stderr
    out = tmp_path / "ds"
    p = run_cli("capture", "sweep", "--config-dir", tmp_path / "myplugins", "plugin=amp", "sweep=tiny", *SMALL,
                f"out={out}", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert run_cli("capture", "verify", out).returncode == 0
    m = read_manifest(out)
    assert [k["name"] for k in m["knobs"]] == ["gain", "bass", "mid", "treble", "presence", "master", "input", "channel"]
    assert m["fixed_parameters"] == {"Noise Gate": False, "Gate Threshold": -90.0, "Bypass": False}
    p = run_cli("amptrain", "dataset=path", f"dataset.path={out}", "trainer=quick", "trainer.progress=false",
                "model=lstm8", "trainer.max_epochs=1", f"run_dir={tmp_path / 'run'}", cwd=tmp_path, timeout=900)
    assert p.returncode == 0, p.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(metrics["knobs"]) == 8 and (tmp_path / "run" / "model.keras").exists()
