"""`python -m amptrain` as a user runs it: experiments compose, the dataset is found or captured,
a run directory is complete and its numbers reproducible, killed runs resume to the same result,
and bad inputs give one line."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from capture.config import compose, to_dict, validate
from tests.conftest import ROOT, SMALL, error_lines, run_cli

EXPERIMENTS = ["gain_sweep", "full_amp", "static", "nolly_gain_sweep", "nolly_full", "refamp_gain_sweep"]
QUICK = ["trainer=quick", "trainer.progress=false", "model=lstm8"]


def train(*args, **kw):
    return run_cli("amptrain", *QUICK, *args, **kw)


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "small"
    p = run_cli("capture", "sweep", *SMALL, f"out={out}")
    assert p.returncode == 0, p.stderr
    return out


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_builds_a_model(name):
    from amptrain.config import TrainConfig, check
    from amptrain.conditioning import n_features
    from amptrain.model import AmpNet
    from capture.host import make_amp
    from capture.knobs import knob_from_config

    cfg = to_dict(validate(compose("train", [f"+experiment={name}"]), TrainConfig))
    check(cfg)
    assert cfg["name"] == name
    ccfg = to_dict(compose("capture", [f"plugin={cfg['dataset']['plugin']}", f"sweep={cfg['dataset']['sweep']}"]))
    if ccfg["plugin"]["kind"] == "builtin":
        knobs = [k.to_json() for k in make_amp(ccfg["plugin"]).knobs]
    else:  # Nolly is not installed here: knob specs from its config, ranges (read from the plugin) 0-10
        knobs = [knob_from_config(n, k if k.get("choices") or k.get("min") is not None else {**k, "min": 0, "max": 10}).to_json()
                 for n, k in ccfg["plugin"]["knobs"].items()]
    if cfg["dataset"]["sweep"] == "gain_sweep":
        knobs = [k for k in knobs if k["name"] == "gain"]
    n_cond = 0 if cfg["model"]["conditioning"] == "none" else n_features(knobs)
    m = AmpNet(hidden_size=cfg["model"]["hidden_size"], n_cond=n_cond, conditioning=cfg["model"]["conditioning"],
                 knobs=knobs).build_weights()
    assert m.count_params() > 4 * cfg["model"]["hidden_size"] ** 2
    assert (m.conditioning == "none") == (name == "static")


def test_nolly_without_dataset_prints_the_capture_command(tmp_path):
    p = train("+experiment=nolly_gain_sweep", cwd=tmp_path)
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert "python -m capture sweep plugin=nolly sweep=gain_sweep" in lines[0] and "not found" in lines[0]
    assert not (tmp_path / "outputs" / "runs").exists()


@pytest.mark.parametrize("args, expect", [
    (["+experiment=no_such"], "experiment"),
    (["trainer.bogus=1"], "trainer.bogus"),
    (["model.hidden_size=abc"], "model.hidden_size"),
    (["model.conditioning=xyz"], "model.conditioning"),
    (["trainer.batch_size=0"], "trainer.batch_size"),
    (["loss.pre_emphasis=pink"], "loss.pre_emphasis"),
    (["dataset=path"], "dataset.path"),
    (["dataset=path", "dataset.path=/nonexistent/ds"], "/nonexistent/ds"),
    (["trainer.resume=true", "name=never_ran"], "no run of 'never_ran'"),
])
def test_bad_inputs_give_one_line(tmp_path, args, expect):
    p = train(*args, cwd=tmp_path)
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), p.stderr
    assert expect in lines[0], lines[0]
    assert not (tmp_path / "outputs" / "runs").exists()


def test_tampered_dataset_is_refused(small_dataset, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(small_dataset, bad)
    f = bad / "settings" / "00001.wav"
    b = bytearray(f.read_bytes())
    b[-7] ^= 0xFF
    f.write_bytes(bytes(b))
    p = train("dataset=path", f"dataset.path={bad}", cwd=tmp_path)
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1 and "capture verify" in lines[0], p.stderr


def _run_dir(proc) -> Path:
    line = [l for l in proc.stderr.splitlines() if l.startswith("run directory: ")][-1]
    return Path(line.split(": ", 1)[1])


@pytest.mark.slow
def test_builtin_dataset_is_captured_then_a_complete_run_written(tmp_path):
    """Missing embedded-amp dataset -> captured first (logged); the run directory has every artefact
    and model.keras reproduces metrics.json; training cut held-out ESR well below the untrained model's."""
    out = tmp_path / "ds"
    p = train("dataset.sweep=tiny", f"dataset.capture_overrides=['signal.duration_s=6','out={out}']",
              "trainer.max_epochs=6", "trainer.patience=6", "name=tiny", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert f"dataset {out} not found: capturing it first (python -m capture sweep plugin=builtin sweep=tiny" in p.stderr
    run = tmp_path / _run_dir(p)
    for f in ["config.yaml", "run.json", "model.keras", "metrics.json", "checkpoints/best.npz", "checkpoints/last.npz",
              "plots/loss.png", "plots/esr_vs_knob.png", "plots/spectrum.png", "plots/waveform.png", "renders/di_test.wav"]:
        assert (run / f).stat().st_size > 100, f
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert len(list((run / "renders").glob("*_prediction.wav"))) == 1
    m = json.loads((run / "metrics.json").read_text())
    assert m["headline"] == "heldout" and m["heldout"]["n_settings"] == 1 and m["train_settings"]["n_settings"] == 4
    assert set(m["heldout"]["bands_db"]) == {"low", "mid", "high"} and m["training"]["samples_per_s"] > 0
    assert "held-out test settings (ESR)" in p.stderr

    import keras

    from amptrain.data import load_split
    from amptrain.evaluate import evaluate
    from amptrain.model import AmpNet
    from capture.dataset import read_manifest

    model = keras.saving.load_model(run / "model.keras")
    knobs = model.knobs
    assert [k["name"] for k in knobs] == ["gain", "bass", "mid", "treble", "presence", "master", "channel"]
    heldout = load_split(out, read_manifest(out), "test", "test", knobs)
    again, _ = evaluate(model, heldout, 48000, "aw")
    assert again["esr"] == pytest.approx(m["heldout"]["esr"], rel=1e-5)
    keras.utils.set_random_seed(0)  # the untrained model this run started from
    fresh = AmpNet.from_config(model.get_config()).build_weights()
    untrained, _ = evaluate(fresh, heldout, 48000, "aw")
    assert m["heldout"]["esr"] < 0.5 * untrained["esr"], (m["heldout"]["esr"], untrained["esr"])


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(small_dataset, tmp_path):
    common = ["dataset=path", f"dataset.path={small_dataset}", "trainer.max_epochs=4", "trainer.patience=4"]
    ref = train(*common, f"run_dir={tmp_path / 'ref'}", cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr
    run = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "amptrain", *QUICK, *common, f"run_dir={run}"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    from amptrain.checkpoint import read_state

    deadline = time.time() + 240
    while time.time() < deadline:  # kill once 2 epochs are checkpointed, mid-way through the third
        last = run / "checkpoints" / "last.npz"
        if last.exists() and read_state(last)["epoch"] >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "metrics.json").exists()
    again = train(*common, f"run_dir={run}", cwd=tmp_path)  # without resume=true: refused
    assert again.returncode == 2 and "trainer.resume=true" in error_lines(again)[0]
    res = train(*common, f"run_dir={run}", "trainer.resume=true", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "continuing after epoch" in res.stderr
    a = json.loads((tmp_path / "ref" / "metrics.json").read_text())
    b = json.loads((run / "metrics.json").read_text())
    assert b["training"]["epochs"] == a["training"]["epochs"] == 4
    assert b["heldout"]["esr"] == pytest.approx(a["heldout"]["esr"], rel=1e-6)
    assert not list(run.rglob("*.tmp"))


@pytest.mark.slow
def test_resume_refuses_a_dataset_with_other_knobs(small_dataset, tmp_path):
    run = tmp_path / "r"
    p = train("dataset=path", f"dataset.path={small_dataset}", "trainer.max_epochs=1", f"run_dir={run}", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    gain = tmp_path / "gain"
    assert run_cli("capture", "sweep", "sweep=gain_sweep", "sweep.n_train=3", "sweep.n_heldout=2",
                   "signal.duration_s=6", "progress=false", f"out={gain}").returncode == 0
    p = train("dataset=path", f"dataset.path={gain}", f"run_dir={run}", "trainer.resume=true", cwd=tmp_path)
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert "dataset knobs (gain) do not match the model's (gain, bass" in lines[0]
