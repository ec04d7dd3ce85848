"""The benchmark summary reads each script's JSON and judges it against the targets correctly."""
import json

import benchmarks.__main__ as bench


def test_headline_compares_each_figure_with_its_target(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "OUT", tmp_path)
    (tmp_path / "train_vs_nam.json").write_text(json.dumps({"minutes": 5, "hidden": 32, "rows": [
        {"samples_per_s": 700.0, "test_esr": 0.04}, {"samples_per_s": 400.0, "test_esr": 0.05}, {"test_esr": 0.06}]}))
    acc = {"train_settings_esr": 0.01, "worst_x_mean": 1.3}
    (tmp_path / "accuracy-gain_sweep.json").write_text(json.dumps({"rows": [
        {"variant": "base", "minutes": 10, "heldout_esr": 0.008, **acc},
        {"variant": "base", "minutes": 1, "heldout_esr": 0.05, **acc},
        {"variant": "cosine+lr2e-2", "minutes": 10, "heldout_esr": 0.001, **acc}]}))  # a variant is never the headline
    (tmp_path / "render.json").write_text(json.dumps({"speed": [
        {"model": "untrained H32", "mode": "chunked", "x_realtime": 49.0},
        {"model": "trained H32 (x)", "mode": "chunked", "x_realtime": 61.0}]}))
    (tmp_path / "capture.json").write_text(json.dumps({"rows": [
        {"what": "amp DSP called directly", "workers": 1, "x_realtime": 300.0},
        {"what": "capture sweep, 4 settings", "workers": 1, "x_realtime": 90.0},
        {"what": "capture sweep, 4 settings", "workers": 2, "x_realtime": 40.0}]}))
    rows = {r["figure"].split(" (")[0].split(",")[0]: r for r in bench.headline()}
    assert rows["training throughput"]["met"] is False  # 1.75x NAM: the target is 2x
    assert rows["snapshot test ESR after 5 min each"]["met"] is True
    assert rows["held-out ESR gain_sweep"]["ours"] == 0.008 and rows["held-out ESR gain_sweep"]["met"] is True
    assert rows["render speed"]["ours"] == 61.0 and rows["render speed"]["met"] is True
    assert rows["capture speed"]["ours"] == 90 and "1 worker" in rows["capture speed"]["reference"]
    assert "held-out ESR full_amp" not in rows
