"""benchmarks.accuracy: two benchmark processes running one variant side by side keep their own runs."""
import subprocess

from benchmarks import accuracy


def test_runs_of_one_variant_with_different_tags_keep_their_own_directories(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        run_dir = next(c.split("=", 1)[1] for c in cmd if c.startswith("run_dir="))
        (tmp_path / run_dir).mkdir(parents=True, exist_ok=True)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(accuracy.subprocess, "run", fake_run)
    runs = tmp_path / "runs"
    first = accuracy.run_variant("full_amp", "base", [], 1.0, runs, None, "c0")
    (first / "metrics.json").write_text("{}")
    second = accuracy.run_variant("full_amp", "base", [], 1.0, runs, "1", "c1")
    assert first != second and first.name == "basec0" and second.name == "basec1"
    assert (first / "metrics.json").exists()  # the other process's run is left alone
    assert calls[1][:3] == ["taskset", "-c", "1"]
    again = accuracy.run_variant("full_amp", "base", [], 1.0, runs, None, "c0")
    assert again == first and not (first / "metrics.json").exists()  # its own old run is replaced


def test_signal_parts_join_into_one_dataset_of_their_own():
    """Parts that change the generated DI (@ overrides) become one capture config with its own folder, so
    two materials never share (or overwrite) a dataset, and a seed part does not change the folder."""
    out = accuracy.overrides_of("phr85+levels+seed1", "gain_sweep")
    assert out[0] == "trainer.seed=1"
    assert out[1] == ("dataset.capture_overrides=['signal.mix={phrase:0.85,sweep:0.04,noise:0.04,levels:0.04,silence:0.03}',"
                      "'signal.phrase_peak_db=[-24,0]','out=outputs/datasets/gain_sweep-phr85+levels']")
    assert accuracy.overrides_of("base+seed1") == ["trainer.seed=1"]
