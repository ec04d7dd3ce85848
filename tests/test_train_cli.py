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

from ampcap.config import to_dict, validate
from amptrain.config import compose_train
from capture.config import compose_capture
from tests.conftest import ROOT, error_lines, run_cli

EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))  # every one there is
QUICK = ["trainer=quick", "trainer.progress=false", "model=lstm8"]


def train(*args, **kw):
    return run_cli("amptrain", *QUICK, *args, **kw)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_builds_a_model(name):
    from ampcap.knobs import knob_from_config
    from amptrain.conditioning import n_features
    from amptrain.config import TrainConfig, check
    from amptrain.model import AmpNet
    from capture.host import make_amp

    cfg = to_dict(validate(compose_train([f"+experiment={name}"]), TrainConfig))
    check(cfg)
    assert cfg["name"] == name
    ccfg = to_dict(compose_capture([f"plugin={cfg['dataset']['plugin']}", f"sweep={cfg['dataset']['sweep']}"]))
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
    (["model.conditioning=xyz"], "config key 'model.conditioning': Invalid value 'xyz', expected one of [concat, film, none]"),
    (["model.dc_block=maybe"], "model.dc_block"),
    (["trainer.schedule=cosin"], "config key 'trainer.schedule': Invalid value 'cosin', expected one of [cosine, plateau]"),
    (["trainer.batch_size=0"], "trainer.batch_size"),
    (["trainer.select=first"], "trainer.select"),
    (["loss.pre_emphasis=pink"], "loss.pre_emphasis"),
    (["dataset=path"], "dataset.path"),
    (["dataset=path", "dataset.path=/nonexistent/ds"], "/nonexistent/ds"),
    (["trainer.resume=true", "name=never_ran"], "no run of 'never_ran'"),
])
def test_bad_inputs_give_one_line(tmp_path, run_main, args, expect):
    p = run_main("amptrain", *QUICK, *args, cwd=tmp_path)  # in this process (the nolly test above: a new one)
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), p.stderr
    assert expect in lines[0], lines[0]
    assert not (tmp_path / "outputs" / "runs").exists()


def test_tampered_dataset_is_refused(small_dataset, tmp_path, run_main):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(small_dataset, bad)
    f = bad / "settings" / "00001.wav"
    b = bytearray(f.read_bytes())
    b[-7] ^= 0xFF
    f.write_bytes(bytes(b))
    p = run_main("amptrain", *QUICK, "dataset=path", f"dataset.path={bad}", cwd=tmp_path)
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1 and "capture verify" in lines[0], p.stderr


def test_dataset_with_failed_settings_says_which_and_how_to_retry(small_dataset, tmp_path, run_main):
    import shutil

    from ampcap.dataset import read_manifest, write_manifest

    bad = tmp_path / "partial"
    shutil.copytree(small_dataset, bad)
    m = read_manifest(bad)
    m["settings"][2].update(status="failed", error="plugin process crashed (SIGSEGV)")
    m["complete"] = False
    write_manifest(bad, m)
    p = run_main("amptrain", *QUICK, "dataset=path", f"dataset.path={bad}", cwd=tmp_path)
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert "has 1 failed setting(s) (00002: the plugin crashed, hung or gave NaN/silence" in lines[0]
    assert "to retry them" in lines[0]


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

    from ampcap.dataset import read_manifest
    from amptrain.data import load_split
    from amptrain.evaluate import evaluate
    from amptrain.model import AmpNet

    model = keras.saving.load_model(run / "model.keras")
    knobs = model.knobs
    assert [k["name"] for k in knobs] == ["gain", "bass", "mid", "treble", "presence", "master", "channel"]
    heldout = load_split(out, read_manifest(out), "test", "test", knobs)
    again, _ = evaluate(model, heldout, 48000, "aw")
    assert again["esr"] == pytest.approx(m["heldout"]["esr"], rel=1e-5)
    keras.utils.set_random_seed(0)  # the untrained model this run started from
    fresh = AmpNet.from_config(model.get_config()).build_weights()
    assert fresh.dc_block_hz == model.dc_block_hz > 0  # the embedded amp's output has no DC: the run renders through the blocker
    untrained, _ = evaluate(fresh, heldout, 48000, "aw")
    assert m["heldout"]["esr"] < untrained["esr"], (m["heldout"]["esr"], untrained["esr"])
    fresh.dc_block_hz = 0.0  # the untrained model's raw output: most of its error is an offset the blocker removes
    raw, _ = evaluate(fresh, heldout, 48000, "aw")
    assert m["heldout"]["esr"] < 0.5 * raw["esr"], (m["heldout"]["esr"], raw["esr"])


# timings: they differ between any two runs; everything else of a resumed run must be bit-equal
TIMING_KEYS = {"seconds", "val_seconds", "samples_per_s", "train_seconds", "elapsed_seconds", "minutes", "wall_minutes"}


def _untimed(obj):
    if isinstance(obj, dict):
        return {k: _untimed(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_untimed(v) for v in obj]
    return obj


def _checkpoints_load(run: Path) -> dict:
    """Every checkpoint present loads completely (a kill never leaves half a file); their states."""
    from amptrain.checkpoint import read_state

    states = {}
    for name in ("best.npz", "last.npz"):
        f = run / "checkpoints" / name
        if f.exists():
            with np.load(f, allow_pickle=False) as z:
                assert all(z[k].size >= 0 for k in z.files), f
            states[name] = read_state(f)
    return states


def _temps(run: Path) -> list[Path]:
    from ampcap.files import STALE

    return [f for f in run.rglob(".*") if STALE.match(f.name)]


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(small_dataset, tmp_path):
    """One run SIGKILLed four times at different points (during epoch 1 before any checkpoint, while a
    checkpoint is written, mid-epoch 3, during the final evaluation), resumed after each kill: the
    final checkpoints, weights and metrics equal the uninterrupted run's bit for bit, every checkpoint
    present after a kill loads, and no temp file of a killed write is left over."""
    common = ["dataset=path", f"dataset.path={small_dataset}", "trainer.max_epochs=4", "trainer.patience=4",
              "trainer.batch_size=32"]  # 5 batches an epoch: ~3 s epochs, and still 4 of them
    ref = train(*common, f"run_dir={tmp_path / 'ref'}", cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr
    from amptrain.checkpoint import read_state

    epoch_s = [r["seconds"] for r in read_state(tmp_path / "ref" / "checkpoints" / "last.npz")["history"]]
    run = tmp_path / "killed"
    last = run / "checkpoints" / "last.npz"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("AMPCAP_DEBUG", None)
    rng = np.random.default_rng(8)
    log = []

    def start(*extra):
        err = open(tmp_path / f"attempt{len(log)}.log", "w")
        return subprocess.Popen([sys.executable, "-m", "amptrain", *QUICK, *common, f"run_dir={run}", *extra],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err, env=env)

    def kill_when(proc, ready, delay=0.0, poll=0.02, what=""):
        deadline = time.time() + 240
        while not ready():
            assert proc.poll() is None, f"{what}: the run ended before its kill point"
            assert time.time() < deadline, f"{what}: kill point not reached"
            if poll:
                time.sleep(poll)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        states = _checkpoints_load(run)
        log.append((what, {k: (v["epoch"], v["done"]) for k, v in states.items()}))
        return states

    def epoch_of_last():
        try:
            return read_state(last)["epoch"]
        except Exception:  # not there yet
            return 0

    # 1. during epoch 1: no checkpoint yet, the resume starts the run afresh in the same directory
    s = kill_when(start(), lambda: (run / "run.json").exists(), delay=rng.uniform(0.5, 2.5), what="epoch 1")
    assert not (run / "metrics.json").exists()
    # 2. while a checkpoint is written: busy-poll for the temp file or the new last.npz, kill at once
    ckpt = run / "checkpoints"
    before = last.stat().st_ino if last.exists() else None

    def writing():
        names = os.listdir(ckpt) if ckpt.is_dir() else []
        return any(n.endswith(".tmp") for n in names) or (
            "last.npz" in names and (before is None or last.stat().st_ino != before))

    s = kill_when(start("trainer.resume=true"), writing, poll=0.001, what="checkpoint write")
    # 3. mid-epoch 3 (a seeded point inside it)
    p = start("trainer.resume=true")
    s = kill_when(p, lambda: epoch_of_last() >= 2, delay=rng.uniform(0.2, 0.6) * epoch_s[2], what="mid-epoch 3")
    assert s["last.npz"]["epoch"] in (2, 3) and not s["last.npz"]["done"], log
    assert not (run / "metrics.json").exists()
    again = train(*common, f"run_dir={run}", cwd=tmp_path)  # without resume=true: refused
    assert again.returncode == 2 and "trainer.resume=true" in error_lines(again)[0]
    # 4. after the last epoch, during the final evaluation and writing of model, metrics, plots
    p = start("trainer.resume=true")
    s = kill_when(p, lambda: epoch_of_last() >= 4, delay=rng.uniform(0.0, 2.0), what="final evaluation")
    assert s["last.npz"]["done"], log
    assert "continuing after epoch" in (tmp_path / "attempt3.log").read_text()
    res = train(*common, f"run_dir={run}", "trainer.resume=true", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "training had finished; redoing the final evaluation" in res.stderr
    print("kills:", log)

    assert not _temps(run), _temps(run)
    a = json.loads((tmp_path / "ref" / "metrics.json").read_text())
    b = json.loads((run / "metrics.json").read_text())
    assert b["training"]["epochs"] == a["training"]["epochs"] == 4
    assert _untimed(b) == _untimed(a)  # every metric, bit for bit (JSON floats round-trip exactly)
    for name in ("best.npz", "last.npz"):
        with np.load(tmp_path / "ref" / "checkpoints" / name) as za, np.load(run / "checkpoints" / name) as zb:
            assert za.files == zb.files
            for k in za.files:
                if k == "meta":
                    assert _untimed(json.loads(str(zb[k]))) == _untimed(json.loads(str(za[k]))), name
                else:  # weights and optimiser state
                    assert np.array_equal(za[k], zb[k]), (name, k)
    for f in ("model.keras", "config.yaml", "plots/loss.png", "renders/di_test.wav"):
        assert (run / f).stat().st_size > 100, f


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


def test_a_run_started_before_the_optimizer_and_loss_targets_existed_resumes(tmp_path):
    """Saved files stay compatible: a run.json written before conf/optimizer/, conf/adapt/ and loss._target_
    existed is the same run; a real change is still refused."""
    from ampcap.errors import ConfigError
    from amptrain.config import TrainConfig
    from amptrain.rundir import check_resume

    cfg = to_dict(validate(compose_train(["+experiment=gain_sweep"]), TrainConfig))
    old = {k: v for k, v in cfg.items() if k not in ("optimizer", "adapt")}
    old["loss"] = {k: v for k, v in cfg["loss"].items() if k != "_target_"}
    knobs = [{"name": "gain", "kind": "continuous", "min": 0.0, "max": 10.0, "default": 5.0}]
    (tmp_path / "run.json").write_text(json.dumps({"config": old, "knobs": knobs, "dataset": {"config_sha256": "x"}}))
    check_resume(tmp_path, cfg, {"config_sha256": "x"}, knobs)
    with pytest.raises(ConfigError, match="changed: loss.dc_weight"):
        check_resume(tmp_path, {**cfg, "loss": {**cfg["loss"], "dc_weight": 0.5}}, {"config_sha256": "x"}, knobs)


def test_an_adaptive_run_started_before_its_later_keys_existed_resumes(tmp_path):
    """adapt.shares and adapt.select came after adapt=probes: a run without them resumes when asked for what it
    did (equal shares, probes), and is refused when asked for another."""
    from ampcap.errors import ConfigError
    from amptrain.config import TrainConfig
    from amptrain.rundir import check_resume

    cfg = to_dict(validate(compose_train(["+experiment=full_amp", "adapt=probes"]), TrainConfig))
    old = {**cfg, "adapt": {k: v for k, v in cfg["adapt"].items() if k not in ("shares", "select")}}
    knobs = [{"name": "gain", "kind": "continuous", "min": 0.0, "max": 10.0, "default": 5.0}]
    (tmp_path / "run.json").write_text(json.dumps({"config": old, "knobs": knobs, "dataset": {"config_sha256": "x"}}))
    check_resume(tmp_path, cfg, {"config_sha256": "x"}, knobs)
    with pytest.raises(ConfigError, match="changed: adapt.select"):
        check_resume(tmp_path, {**cfg, "adapt": {**cfg["adapt"], "select": "disagree"}}, {"config_sha256": "x"}, knobs)
