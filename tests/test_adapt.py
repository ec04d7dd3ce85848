"""Adaptive capture (`adapt=probes`, amptrain/adapt.py): the round plan keeps the capture budget, the picks go
where the probes err and spread over those regions, probes are real plugin renders, an adaptive dataset is one
dataset that verifies (and refuses edited round labels), and a run grows its dataset round by round, reports
the rounds and resumes after a kill at the capture step."""
import json

import numpy as np
import pytest

from ampcap import dataset as ds
from ampcap.errors import ConfigError
from amptrain.adapt import pick, plan_rounds, round_deadline, unit_coords
from capture.probe import plugin_seconds, probe_signal, render_probes
from capture.sweep import candidate_points, design_errors, plan
from tests.conftest import error_lines, run_cli

ADAPT = {"rounds": 3, "initial": 0.25, "budget": None, "candidates": 256, "probe_s": 2.0, "pool": 0.25, "shares": "equal",
         "select": "probes"}


def test_the_round_plan_spends_the_budget_probes_included():
    p = plan_rounds(ADAPT, 512, setting_plugin_s=31.0, probe_plugin_s=3.1)
    assert p.initial == 128 and p.probe_settings == pytest.approx(25.6)
    assert p.picks == (512 - 128 - 3 * 25.6) // 3 == 102
    assert p.initial + 3 * (p.picks + p.probe_settings) <= 512
    assert plan_rounds({**ADAPT, "budget": 256}, 512, 31.0, 3.1).initial == 64


def test_scoring_by_disagreement_spends_the_whole_budget_on_settings():
    p = plan_rounds({**ADAPT, "select": "disagree"}, 512, setting_plugin_s=31.0, probe_plugin_s=3.1)
    assert p.probe_settings == 0 and p.picks == (512 - 128) // 3 == 128


def test_a_budget_too_small_for_its_probes_names_the_key():
    with pytest.raises(ConfigError, match="adapt.budget.*cannot hold"):
        plan_rounds({**ADAPT, "budget": 40}, 512, 31.0, 3.1)


def test_round_deadlines_share_the_wall_budget_equally_or_as_the_data_grows():
    p = plan_rounds(ADAPT, 512, setting_plugin_s=31.0, probe_plugin_s=3.1)   # 128 settings, then 102 more a round
    assert [round_deadline(r, p, 1200.0) for r in range(4)] == [300.0, 600.0, 900.0, 1200.0]
    by_settings = [round_deadline(r, p, 1124.0, "settings") for r in range(4)]   # 128 + 230 + 332 + 434 = 1124
    assert by_settings == pytest.approx([128.0, 358.0, 690.0, 1124.0])


def test_picks_are_the_worst_of_each_region_where_the_model_errs():
    rng = np.random.default_rng(0)
    pts = rng.random((400, 2))
    errs = 0.01 + 0.001 * rng.random(400)
    corner_a = (pts[:, 0] > 0.85) & (pts[:, 1] > 0.85)      # two bad corners, a worse one and a milder one
    corner_b = (pts[:, 0] < 0.15) & (pts[:, 1] < 0.15)
    errs[corner_a] += 1.0 + rng.random(corner_a.sum())
    errs[corner_b] += 0.5 + 0.1 * rng.random(corner_b.sum())
    errs[5] = np.nan                                        # a probe that failed
    assert corner_a.sum() + corner_b.sum() > 0.03 * 400 > corner_a.sum()
    chosen = pick(pts, errs, 6, pool=0.03, seed=0)
    assert len(chosen) == len(set(chosen)) == 6 and 5 not in chosen
    assert int(np.nanargmax(errs)) in chosen                # the worst probe is always among the picks
    assert all(corner_a[i] or corner_b[i] for i in chosen)  # only where the model errs ...
    assert any(corner_a[i] for i in chosen) and any(corner_b[i] for i in chosen)  # ... in both regions


def test_picks_without_clustering_are_the_worst():
    errs = np.array([0.1, 0.5, 0.3, np.nan, 0.2])
    assert pick(np.zeros((5, 1)), errs, 2, pool=0.01, seed=0) == [1, 2]
    assert pick(np.zeros((5, 1)), errs, 10, pool=1.0, seed=0) == [1, 2, 4, 0]


def test_unit_coords_spread_a_switch_over_the_cube():
    from ampcap.knobs import Knob

    knobs = [Knob("gain", 0, 10, 5), Knob("channel", default="a", choices=["a", "b", "c"])]
    u = unit_coords(knobs, [{"gain": 2.5, "channel": "c"}, {"gain": 10, "channel": "a"}])
    assert u.tolist() == [[0.25, 1.0], [1.0, 0.0]]


def test_probe_signal_takes_pieces_of_the_training_audio():
    di = np.arange(48000 * 10, dtype=np.float32)
    x = probe_signal(di, (48000, 48000 * 9), 2.0, 48000, pieces=4)
    assert len(x) == 96000
    assert x[0] == 48000 and x[-1] == 48000 * 9 - 1       # the first piece starts the region, the last ends it
    with pytest.raises(Exception, match="adapt.probe_s"):
        probe_signal(di, (0, 48000), 2.0, 48000)


def test_a_probe_costs_its_audio_plus_the_preroll_and_latency_probe():
    pcfg = {"preroll_s": 0.5, "max_latency": 4800}
    assert plugin_seconds(96000, 48000, pcfg) == pytest.approx(2.0 + 0.5 + 0.5 + 0.1)


def test_candidates_are_new_points_over_the_varied_knobs():
    from capture.host import make_amp

    amp = make_amp({"kind": "builtin", "name": "builtin"})
    sweep = {"design": "sobol", "n_train": 16, "n_heldout": 4, "seed": 0, "fixed": {"master": 5.0}}
    u, cands = candidate_points(amp.knobs, sweep, 32, 1)
    assert u.shape == (32, len(amp.knobs) - 1) and all(c["master"] == 5.0 for c in cands)
    design = {tuple(sorted(s["knobs"].items())) for s in plan(amp.knobs, sweep)}
    assert not design & {tuple(sorted(c.items())) for c in cands}
    assert candidate_points(amp.knobs, sweep, 32, 1)[1] == cands != candidate_points(amp.knobs, sweep, 32, 2)[1]


def test_probes_are_the_plugins_own_render():
    from capture.host import make_amp
    from capture.reamp import render_setting

    pcfg = {"kind": "builtin", "name": "builtin", "preroll_s": 0.1, "max_latency": 256, "init_timeout_s": 10}
    amp = make_amp(pcfg)
    x = (0.3 * np.sin(np.arange(4800) * 0.05)).astype(np.float32)
    settings = [{**{k.name: k.default for k in amp.knobs}, "gain": g} for g in (1.0, 9.0)]
    ys = render_probes(pcfg, x, 48000, settings, workers=2, reload_each=False, progress=False)
    for s, y in zip(settings, ys):
        np.testing.assert_allclose(y, render_setting(make_amp(pcfg), s, x, 0.1, 256).audio, atol=1e-6)
    assert np.sum((ys[0] - ys[1]) ** 2) > 1e-3


def adaptive_manifest(small_manifest: dict) -> dict:
    from ampcap.knobs import Knob, KnobSet
    from capture.runner import added_entries

    m = json.loads(json.dumps(small_manifest))
    knobs = KnobSet([Knob.from_json(k) for k in m["knobs"]])
    new = [dict(s["knobs"]) for s in m["settings"][:2]]
    m["settings"] += added_entries(m, knobs, new, 1, [0.5, 0.25])
    m["labels_sha256"] = ds.labels_sha256(m)
    return m


def test_an_adaptive_rounds_settings_pass_the_design_check(small_dataset):
    m = adaptive_manifest(ds.read_manifest(small_dataset))
    assert design_errors(m) == []
    last = m["settings"][-1]
    assert last["round"] == 1 and last["split"] == "train" and last["probe_esr"] == 0.25
    assert last["index"] == len(m["settings"]) - 1


def test_a_round_setting_marked_held_out_or_relabelled_is_refused(small_dataset):
    m = adaptive_manifest(ds.read_manifest(small_dataset))
    m["settings"][-1]["split"] = "test"
    assert any("adaptive round 1 but marked test" in e for e in design_errors(m))
    m = adaptive_manifest(ds.read_manifest(small_dataset))
    m["settings"][-1]["round"] = 0     # passed off as the design's: the design's count no longer matches
    assert m["labels_sha256"] != ds.labels_sha256(m)
    assert any("settings were added or removed" in e for e in design_errors(m))


FAST = ["trainer.progress=false", "model=lstm8", "trainer.segment=4800", "trainer.batch_size=16", "trainer.renders=0",
        "adapt=probes", "adapt.candidates=12", "adapt.probe_s=0.5", "adapt.rounds=2", "trainer.max_minutes=0.4",
        "dataset.capture_overrides=['signal.duration_s=6','sweep.n_train=16','sweep.n_heldout=4','workers=2']"]


def test_adapt_needs_a_wall_budget_and_a_space_filling_design(tmp_path):
    p = run_cli("amptrain", "+experiment=full_amp", *FAST, "trainer.max_minutes=null", cwd=tmp_path)
    assert p.returncode == 2 and error_lines(p) == [error_lines(p)[0]] and "trainer.max_minutes" in p.stderr
    p = run_cli("amptrain", "+experiment=gain_sweep", *FAST, cwd=tmp_path)
    assert p.returncode == 2 and "space-filling" in error_lines(p)[0] and "dataset.sweep" in error_lines(p)[0]
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_an_adaptive_run_grows_its_dataset_reports_the_rounds_and_resumes(tmp_path, monkeypatch):
    """Killed at the first capture step (after its probes), the run resumes there: each round is captured once,
    the dataset verifies, and the run's files hold the rounds."""
    import capture.runner
    from amptrain.cli import main

    run = tmp_path / "run"
    args = ["+experiment=full_amp", *FAST, f"run_dir={run}", f"runs_dir={tmp_path}"]
    real = capture.runner.add_settings

    def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(capture.runner, "add_settings", killed)
    monkeypatch.chdir(tmp_path)
    assert main(args) != 0
    doc = json.loads((run / "adapt.json").read_text())
    assert (doc["round"], doc["step"]) == (0, "capture") and len(doc["rounds"][0]["picked"]) == doc["plan"]["picks"]
    monkeypatch.setattr(capture.runner, "add_settings", real)
    assert main([*args, "trainer.resume=true"]) == 0
    m = ds.read_manifest(run / "dataset")
    assert ds.verify(run / "dataset", design_check=design_errors) == []
    rounds = [s.get("round", 0) for s in m["settings"] if s["split"] == "train"]
    picks = doc["plan"]["picks"]
    assert [rounds.count(r) for r in range(3)] == [doc["plan"]["initial"], picks, picks]
    assert sorted(m["adapt_rounds"]) == ["1", "2"] and m["adapt_rounds"]["1"]["candidates"] == 12
    picked = [p["knobs"] for p in doc["rounds"][0]["picked"]]
    assert [s["knobs"] for s in m["settings"] if s.get("round") == 1] == picked
    metrics = json.loads((run / "metrics.json").read_text())
    assert [r["round"] for r in metrics["adapt"]["rounds"]] == [0, 1, 2]
    assert all(r["heldout_esr"] > 0 for r in metrics["adapt"]["rounds"])
    spent = metrics["adapt"]["plugin_seconds"]
    assert 0 < spent["probes"] and spent["train_settings"] + spent["probes"] <= spent["budget"]
    assert metrics["training"]["wall_minutes"] <= 0.4 + 0.05
    assert (run / "plots" / "adapt.png").exists() and "adapt.png" in (run / "report.html").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("option", ["disagree", "grow"])
def test_an_adaptive_run_without_probes_spends_the_whole_budget_on_settings(option, tmp_path, monkeypatch):
    """adapt=disagree: round 0 keeps its half-way model to compare with, and each pick carries its disagreement
    as the score that chose it. adapt=grow (the control): each round adds the design's next points, after the
    held-out ones. Neither renders a probe through the plugin."""
    import capture.probe
    from amptrain.cli import main
    from capture.runner import load_amp

    def no_probes(*a, **k):
        raise AssertionError("the plugin rendered a probe")

    monkeypatch.setattr(capture.probe, "render_probes", no_probes)
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    assert main(["+experiment=full_amp", *FAST, f"adapt={option}", f"run_dir={run}", f"runs_dir={tmp_path}"]) == 0
    doc = json.loads((run / "adapt.json").read_text())
    select = {"disagree": "disagree", "grow": "design"}[option]
    assert doc["plan"]["probe_settings"] == 0 and doc["plan"]["picks"] == (16 - 4) // 2 == 6
    assert [r["select"] for r in doc["rounds"][:2]] == [select, select]
    m = ds.read_manifest(run / "dataset")
    train = [s for s in m["settings"] if s["split"] == "train"]
    assert len(train) == 16 and m["adapt_rounds"]["1"]["select"] == select
    spent = json.loads((run / "metrics.json").read_text())["adapt"]["plugin_seconds"]
    assert spent["probes"] == 0 and spent["train_settings"] == pytest.approx(spent["budget"])
    if option == "disagree":
        assert (run / "checkpoints" / "round-0-half.npz").exists()
        assert all(p["probe_esr"] > 0 for r in doc["rounds"][:2] for p in r["picked"])
    else:   # the first 4 design points, 4 held-out, then the design's next 12
        sweep = m["config"]["sweep"]
        design = [p["knobs"] for p in plan(load_amp(m["config"]["plugin"]).knobs, {**sweep, "n_train": 20, "n_heldout": 2})]
        assert [s["knobs"] for s in train] == design[:4] + design[8:20]


def test_an_adaptive_run_never_writes_into_a_users_folder(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "take1.wav").write_bytes(b"not ours")
    p = run_cli("amptrain", "+experiment=full_amp", *FAST, f"run_dir={mine}", cwd=tmp_path)
    assert p.returncode == 2 and "is not an ampcap run" in error_lines(p)[0]
    assert sorted(x.name for x in mine.iterdir()) == ["take1.wav"] and (mine / "take1.wav").read_bytes() == b"not ours"
