"""A finished run opened once (amptrain/finished_run.py): Run.open reads run.json, metrics.json and the dataset,
its evaluation reproduces the run's own held-out figure, a moved dataset is found with dataset=, and missing,
damaged or foreign files are one-line errors."""
import json
import shutil

import pytest

from ampcap.errors import ConfigError, DatasetError
from amptrain.finished_run import Run


def test_a_run_opens_and_its_evaluation_reproduces_its_own_heldout_figure(trained_run):
    r = Run.open(trained_run)
    assert r.path == trained_run and r.info["format"] == "ampcap-run" and r.metrics["format"] == "ampcap-metrics"
    test = r.split("test")
    assert [s["id"] for s in test.settings] == [s["id"] for s in r.manifest["settings"] if s["split"] == "test"]
    assert test.y.shape[0] == len(test.settings) and test.cond.shape[1] >= len(r.knobs)
    figures, _ = r.evaluate(r.net(), test)
    assert figures["esr"] == pytest.approx(r.metrics["heldout"]["esr"], rel=1e-4)
    assert r.plugin["name"] and r.sample_rate == int(r.manifest["sample_rate"])


def test_a_moved_dataset_is_named_and_found_with_dataset(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    info = json.loads((run / "run.json").read_text())
    real_root = info["dataset"]["path"]
    info["dataset"]["path"] = str(tmp_path / "gone")
    (run / "run.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="pass dataset=DIR if it moved"):
        Run.open(run)
    assert Run.open(run, real_root).root == type(run)(real_root)


@pytest.mark.parametrize("damage, message", [
    (lambda run: (run / "metrics.json").unlink(), "no metrics.json: not a finished training run"),
    (lambda run: (run / "run.json").write_text("{"), "not valid JSON"),
    (lambda run: (run / "run.json").write_text('{"format": "other"}'), "not an ampcap run's"),
    (lambda run: shutil.rmtree(run), "no such run directory"),
])
def test_missing_damaged_or_foreign_run_files_are_one_line_errors(trained_run, tmp_path, damage, message):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    damage(run)
    with pytest.raises(ConfigError, match=message):
        Run.open(run)
