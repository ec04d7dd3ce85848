"""Every sweep design: counts, ranges, held-out settings disjoint from (and off) the training grid."""
import numpy as np
import pytest

from ampcap.errors import ConfigError
from capture.host import BuiltinAmp
from capture.sweep import DESIGNS, design_identity, edge_warp, parse_shard, plan

KNOBS = BuiltinAmp().knobs


def split(p, name):
    return [s["knobs"] for s in p if s["split"] == name]


def key(s):
    return tuple(sorted(s.items()))


def check_common(p):
    assert [s["index"] for s in p] == list(range(len(p)))
    for s in p:
        for k in KNOBS:
            v = s["knobs"][k.name]
            assert (v in k.choices) if k.discrete else (k.min <= v <= k.max)
    train = {key(s) for s in split(p, "train")}
    held = split(p, "val") + split(p, "test")
    assert held, "every design must produce held-out settings"
    assert not any(key(s) in train for s in held), "held-out setting found in training set"
    assert len({key(s["knobs"]) for s in p}) == len(p), "duplicate settings"


@pytest.mark.parametrize("design", ["random", "sobol", "lhs"])
def test_space_filling_designs(design):
    p = plan(KNOBS, {"design": design, "n_train": 16, "n_heldout": 6, "seed": 3})
    check_common(p)
    assert len(split(p, "train")) == 16 and len(split(p, "val")) + len(split(p, "test")) == 6
    assert abs(len(split(p, "val")) - len(split(p, "test"))) <= 2  # alternated within each channel
    gains = [s["gain"] for s in split(p, "train")]
    assert max(gains) - min(gains) > 5  # spread over the range
    assert {s["channel"] for s in split(p, "train")} == {"clean", "lead"}
    assert plan(KNOBS, {"design": design, "n_train": 16, "n_heldout": 6, "seed": 3}) == p  # seeded
    assert plan(KNOBS, {"design": design, "n_train": 16, "n_heldout": 6, "seed": 4}) != p


def test_heldout_val_and_test_both_hold_every_channel():
    """Sobol alternates the channel; a plain val/test alternation put every lead setting in val and
    every clean one in test, so the model was chosen on one channel and tested on the other."""
    p = plan(KNOBS, {"design": "sobol", "n_train": 24, "n_heldout": 8, "seed": 0})
    for name in ("val", "test"):
        assert sorted(s["channel"] for s in split(p, name)) == ["clean", "clean", "lead", "lead"], name


def test_lhs_strata_each_used_once():
    p = plan(KNOBS, {"design": "lhs", "n_train": 10, "n_heldout": 2, "seed": 0})
    gains = np.array([s["gain"] for s in split(p, "train")])
    assert sorted(np.floor(gains / 10 * 10).astype(int).clip(0, 9)) == list(range(10))


def test_grid_counts_and_offgrid_heldout():
    p = plan(KNOBS, {"design": "grid", "levels": 3, "vary": ["gain", "bass", "channel"], "n_heldout": 6})
    check_common(p)
    assert len(split(p, "train")) == 3 * 3 * 2
    for s in split(p, "val") + split(p, "test"):
        assert s["gain"] in (2.5, 7.5) and s["bass"] in (2.5, 7.5)  # cell centres
        assert s["treble"] == 5.0  # not varied: default


def test_oat_moves_one_knob_at_a_time():
    p = plan(KNOBS, {"design": "oat", "levels": 5})
    check_common(p)
    centre = {k.name: k.default for k in KNOBS}
    for s in p:
        assert sum(s["knobs"][n] != centre[n] for n in centre) <= 1
    assert len(split(p, "train")) == 1 + 6 * 4 + 1  # centre + 4 new levels per knob + other channel


def test_line_gain_sweep():
    p = plan(KNOBS, {"design": "line", "knob": "gain", "n_train": 9, "n_heldout": 8})
    check_common(p)
    train_g = sorted(s["gain"] for s in split(p, "train"))
    assert train_g == [i * 1.25 for i in range(9)]
    held_g = [s["gain"] for s in split(p, "val") + split(p, "test")]
    assert len(held_g) == 8 and all(g not in train_g for g in held_g)
    for s in p:
        assert all(s["knobs"][n] == KNOBS[n].default for n in KNOBS.names if n != "gain")
    many = plan(KNOBS, {"design": "line", "knob": "gain", "n_train": 3, "n_heldout": 7})
    check_common(many)
    assert len(split(many, "val") + split(many, "test")) == 7


def test_fixed_and_vary():
    p = plan(KNOBS, {"design": "sobol", "n_train": 8, "n_heldout": 2, "vary": ["gain"], "fixed": {"channel": "clean"}})
    assert all(s["knobs"]["channel"] == "clean" and s["knobs"]["bass"] == 5.0 for s in p)


@pytest.mark.parametrize("cfg,msg", [
    ({"design": "nope"}, "sweep.design"),
    ({"design": "grid", "levels": 1}, "sweep.levels"),
    ({"design": "line", "knob": "channel", "n_train": 3}, "sweep.knob"),
    ({"design": "sobol", "n_train": 0}, "sweep.n_train"),
    ({"design": "sobol", "n_train": 4, "edges": 1.5}, "sweep.edges"),
    ({"design": "grid", "levels": 3, "edges": 0.5}, "sweep.edges: applies to"),
    ({"design": "sobol", "n_train": 4, "vary": ["volume"]}, "unknown knob 'volume'"),
    ({"design": "sobol", "n_train": 4, "fixed": {"gain": 11}}, "outside its range"),
])
def test_bad_designs_name_the_key(cfg, msg):
    with pytest.raises(ConfigError, match=msg):
        plan(KNOBS, cfg)


def test_parse_shard():
    assert parse_shard("1/4") == (1, 4) and parse_shard(None) is None
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(ConfigError, match="sweep.shard"):
            parse_shard(bad)


def test_all_designs_listed():
    assert set(DESIGNS) == {"grid", "random", "sobol", "lhs", "oat", "line", "single"}


def test_single_is_one_setting_at_the_defaults_and_fixed_values():
    p = plan(KNOBS, {"design": "single", "fixed": {"gain": 7.5, "channel": "clean"}})
    assert [s["split"] for s in p] == ["train"]
    expect = {k.name: k.default for k in KNOBS} | {"gain": 7.5, "channel": "clean"}
    assert p[0]["knobs"] == expect


def test_edge_warp_keeps_ends_and_middle_and_packs_the_ends():
    u = np.linspace(0, 1, 101)
    assert np.array_equal(edge_warp(u, 0.0), u)
    for e in (0.5, 1.0):
        w = edge_warp(u, e)
        assert w[0] == 0 and abs(w[-1] - 1) < 1e-12 and abs(w[50] - 0.5) < 1e-12
        assert np.all(np.diff(w) > 0)  # monotone: the design's order and strata survive
    # density at the ends is 1 / (1 - edges) of uniform: 2x for 0.5 (uniform would put 2 % within 0.01 of an end)
    warped = edge_warp(np.random.default_rng(0).random(200_000), 0.5)
    assert 0.036 < np.mean((warped < 0.01) | (warped > 0.99)) < 0.040


def test_edges_moves_training_settings_only():
    base = plan(KNOBS, {"design": "sobol", "n_train": 64, "n_heldout": 16, "seed": 0})
    edgy = plan(KNOBS, {"design": "sobol", "n_train": 64, "n_heldout": 16, "seed": 0, "edges": 0.8})
    check_common(edgy)
    assert [s for s in base if s["split"] != "train"] == [s for s in edgy if s["split"] != "train"]
    # the channel is a switch: its balance is the same, the continuous knobs sit nearer their ends
    assert [s["channel"] for s in split(base, "train")] == [s["channel"] for s in split(edgy, "train")]
    def end_distance(p):
        return np.mean([min(s["gain"], 10 - s["gain"]) for s in split(p, "train")])
    assert end_distance(edgy) < 0.8 * end_distance(base)


def test_design_identity_drops_shard_and_a_zero_edges():
    """Datasets captured before sweep.edges existed keep their identity (resume, reuse by the trainer)."""
    cfg = {"design": "sobol", "n_train": 4, "shard": "0/2"}
    assert design_identity({**cfg, "edges": 0.0}) == {"design": "sobol", "n_train": 4, "shard": None}
    assert design_identity({**cfg, "edges": 0.5})["edges"] == 0.5
