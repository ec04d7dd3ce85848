"""Training on what capture left: a dataset with failed settings (`dataset.allow_failed=true`, the failed
ones named in the log and in run.json), and one training per run directory (a second one into it
stops at once naming the first's pid; a killed run's lock does not block the rerun); a dataset of another
design at the experiment's path is refused, not reused."""
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ampcap.dataset import read_manifest
from tests.conftest import SMALL, error_lines, run_cli

QUICK = ["trainer=quick", "trainer.progress=false", "model=lstm8"]


@pytest.fixture(scope="module")
def failed_dataset(tmp_path_factory, small_dataset):
    """A capture in which the plugin crashed on one training setting (twice: recorded as failed)."""
    out = tmp_path_factory.mktemp("failed") / "ds"
    m = read_manifest(small_dataset)  # the same design (SMALL): its gains
    bad = next(s for s in m["settings"] if s["split"] == "train" and s["index"] > 0)
    p = run_cli("capture", "sweep", *SMALL, f"out={out}", "plugin.kind=python", "plugin.target=tests.amps:BrokenAmp",
                "plugin.name=builtin", f"+plugin.options.segfault_gains=[{bad['knobs']['gain']}]")
    assert p.returncode == 3, p.stderr
    assert [s["id"] for s in read_manifest(out)["settings"] if s["status"] == "failed"] == [bad["id"]]
    return out, bad


def test_without_allow_failed_the_message_names_the_option(failed_dataset, tmp_path, run_main):
    out, bad = failed_dataset
    p = run_main("amptrain", *QUICK, "dataset=path", f"dataset.path={out}", cwd=tmp_path)
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert f"has 1 failed setting(s) ({bad['id']}" in lines[0] and "dataset.allow_failed=true" in lines[0]
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_allow_failed_trains_on_the_captured_settings_and_lists_the_failed_ones(failed_dataset, tmp_path):
    out, bad = failed_dataset
    run = tmp_path / "run"
    p = run_cli("amptrain", *QUICK, "dataset=path", f"dataset.path={out}", "dataset.allow_failed=true",
                "trainer.max_epochs=1", f"run_dir={run}", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "training without its 1 failed setting(s) (dataset.allow_failed=true)" in p.stderr
    assert f"  {bad['id']} (train)" in p.stderr and "SIGSEGV" in p.stderr
    n_train = sum(s["split"] == "train" for s in read_manifest(out)["settings"])
    assert f"{n_train - 1} training settings" in p.stderr
    info = json.loads((run / "run.json").read_text())
    failed = info["dataset"]["failed_settings"]
    assert [f["id"] for f in failed] == [bad["id"]] and "SIGSEGV" in failed[0]["error"]
    assert (run / "model.keras").exists() and (run / "metrics.json").exists()
    assert not (run / ".ampcap.lock").exists()  # released when the run ended


@pytest.mark.slow
def test_a_second_training_into_a_run_dir_stops_at_once_and_a_killed_ones_lock_does_not_block(tmp_path, small_dataset):
    ds = small_dataset
    run = tmp_path / "run"
    args = [*QUICK, "dataset=path", f"dataset.path={ds}", f"run_dir={run}"]
    first = subprocess.Popen([sys.executable, "-m", "amptrain", *args, "trainer.max_epochs=200"], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while not (run / ".ampcap.lock").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first.poll() is None, "the first training should be running"
        second = run_cli("amptrain", *args, "trainer.resume=true", cwd=tmp_path)
        lines = error_lines(second)
        assert second.returncode == 2 and len(lines) == 1, second.stderr
        assert lines[0].startswith(f"error: run_dir={run}: another training is using this run directory (pid {first.pid}")
        assert first.poll() is None, "the second training must not disturb the first"
        first.send_signal(signal.SIGKILL)
        first.wait()
        third = run_cli("amptrain", *args, "trainer.resume=true", "trainer.max_epochs=1", cwd=tmp_path)
        assert third.returncode == 0, third.stderr
        assert (run / "model.keras").exists() and not (run / ".ampcap.lock").exists()
    finally:
        first.kill()
        first.wait()


def test_a_dataset_captured_with_another_design_is_not_reused(small_dataset, tmp_path, run_main):
    """The experiment's dataset path comes from its capture config; a complete dataset there from
    another design (here 4 training settings where the config now asks for 3) is refused in one line
    naming the changed keys and both ways on, not trained on as if it were the new one."""
    stale = tmp_path / "outputs" / "datasets" / "builtin-tiny"
    shutil.copytree(small_dataset, stale)
    p = run_main("amptrain", *QUICK, "dataset.sweep=tiny",
                 "dataset.capture_overrides=['signal.duration_s=6','sweep.n_train=3']", cwd=tmp_path)
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert "was captured with another config (changed: sweep.n_train)" in lines[0]
    assert "overwrite=true" in lines[0] and f"dataset.path={Path('outputs/datasets/builtin-tiny')}" in lines[0]
    assert not (tmp_path / "outputs" / "runs").exists()
