"""The training loop's own rules: the cosine schedule ends at the budget, the weights' moving average,
the warning when validation rises while the loss falls, and a wall budget that stops at the next batch
(checkpointed there) from which an extended run continues to the uninterrupted result."""
import json

import numpy as np
import pytest

from amptrain.ema import EMA
from amptrain.focus import FOCUS_CAP, FOCUS_DECAY, Focus
from amptrain.schedule import scheduled_lr
from amptrain.train import rising_warning
from amptrain.train_state import TrainState
from tests.conftest import run_cli


def test_cosine_schedule_warms_up_then_ends_at_min_lr():
    t = {"learning_rate": 0.01, "min_lr": 1e-5, "lr_warmup": 0.1}
    assert scheduled_lr(t, 0.0) == pytest.approx(1e-4)          # 1 % of the peak at the start
    assert scheduled_lr(t, 0.05) == pytest.approx(0.005)        # half-way up the ramp
    assert scheduled_lr(t, 0.1) == pytest.approx(0.01)          # the peak where the warm-up ends
    assert scheduled_lr(t, 0.55) == pytest.approx((0.01 + 1e-5) / 2)
    assert scheduled_lr(t, 1.0) == pytest.approx(1e-5) == scheduled_lr(t, 1.7)
    lrs = [scheduled_lr(t, p) for p in np.linspace(0.1, 1, 50)]
    assert all(b <= a for a, b in zip(lrs, lrs[1:]))


def test_ema_averages_weights():
    import keras

    m = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    m.weights[0].assign([[0.0]])
    e = EMA(0.5, None)
    e.update(m, 0)                        # the first update starts the average at the weights
    m.weights[0].assign([[1.0]])
    for n in range(1, 40):
        e.update(m, n)
    assert float(e.avg[0][0, 0]) == pytest.approx(1.0, abs=1e-6)  # decay 0.5: converged
    m.weights[0].assign([[3.0]])
    e.update(m, 40)
    held = e.swap(m)
    assert float(np.asarray(m.weights[0])[0, 0]) == pytest.approx(2.0) and float(held[0][0, 0]) == 3.0


def test_focus_weights_follow_each_settings_running_esr():
    """trainer.focus: a setting's weight is its base weight times (its running ESR / the mean)^power, capped,
    1 until it is seen; its running sums decay per sighting and live in the state (resume)."""
    base = np.array([1.0, 1.0, 2.0, 1.0, 1.0], np.float32)
    state = TrainState(lr=0.01)
    f = Focus(1.0, base, state)
    np.testing.assert_allclose(f.weights(), base / base.mean())           # nothing seen yet: the base weights
    f.update(np.array([0, 1, 2]), np.array([0.01, 0.04, 0.01]), np.array([1.0, 1.0, 1.0]))
    w = f.weights() * base.mean() / base                                  # the focus factors (up to one scale)
    assert w[1] / w[0] == pytest.approx(4.0) and w[2] == pytest.approx(w[0]) and w[3] == pytest.approx(w[4])
    assert w[3] / w[0] == pytest.approx(2.0)  # unseen: factor 1; ESRs 0.01, 0.04, 0.01 -> mean 0.02 -> 0.5, 2, 0.5
    assert f.weights().mean() == pytest.approx(1.0)
    f.update(np.array([3, 4]), np.array([10.0, 0.01]), np.array([1.0, 1.0]))  # one far worse than the rest: capped
    factors = f.weights() * base.mean() / base
    assert factors[3] / factors[0] == pytest.approx(FOCUS_CAP ** 2, rel=1e-5)   # 4.97 -> cap, 0.005 -> 1/cap
    assert factors[1] == pytest.approx(factors[0]) == pytest.approx(factors[4])
    f.update(np.array([1]), np.array([0.0]), np.array([1.0]))             # a sighting decays the old sums
    assert state.focus_err[1] == pytest.approx(FOCUS_DECAY * 0.04) and state.focus_ref[1] == pytest.approx(1.9)
    g = Focus(1.0, base, state)                                           # a resumed run takes the sums up again
    np.testing.assert_array_equal(g.weights(), f.weights())
    half = Focus(0.5, base, TrainState(lr=0.01, focus_err=[0.01, 0.04, 0.0, 0.0, 0.0], focus_ref=[1.0, 1.0, 0.0, 0.0, 0.0]))
    hw = half.weights()
    assert hw[1] / hw[0] == pytest.approx(2.0)                            # power 0.5: sqrt of the ESR ratio


def test_the_state_saved_in_a_checkpoint_loads_back_and_an_older_one_too():
    """TrainState round-trips through a checkpoint's JSON; a checkpoint from before a field existed loads with
    that field's start value; a misspelt field is an error, not a new key."""
    s = TrainState(lr=0.003, epoch=2, batch=5, history=[{"epoch": 1, "val_esr": 0.1}], focus_err=[0.5], focus_ref=[1.0])
    assert TrainState.from_json(json.loads(json.dumps(s.to_json())), 0.01) == s
    old = {k: v for k, v in s.to_json().items() if k not in ("focus_err", "focus_ref", "chosen_epoch")}
    back = TrainState.from_json(old, 0.01)
    assert back.focus_err == [] and back.chosen_epoch is None and back.epoch == 2 and back.lr == 0.003
    with pytest.raises(AttributeError, match="no field 'epochs'"):
        s.update(epochs=3)


def test_rising_validation_warning():
    rows = lambda val, loss: [{"val_esr": v, "train_loss": l} for v, l in zip(val, loss)]
    w = rising_warning(rows([0.3, 0.28, 0.50, 0.55, 1.73], [0.5, 0.4, 0.3, 0.25, 0.2]))
    assert w and "0.28, 0.5, 0.55, 1.73" in w and "more settings" in w
    assert rising_warning(rows([0.3, 0.28, 0.50, 0.45, 1.73], [0.5, 0.4, 0.3, 0.25, 0.2])) is None  # not 3 in a row
    assert rising_warning(rows([0.3, 0.4, 0.5, 0.6], [0.3, 0.4, 0.5, 0.6])) is None  # both rise: diverging, not this
    assert rising_warning(rows([0.3, 0.4, 0.5], [0.5, 0.4, 0.3])) is None


@pytest.mark.slow
def test_budget_stops_mid_epoch_and_an_extended_run_continues_there(small_dataset, tmp_path):
    """An epoch of 8 batches; a budget that runs out after the first batch stops there (not at the
    epoch's end), validated and checkpointed; resumed with a larger budget, the run ends with the weights
    of a run that was never stopped (trainer.focus on: its per-setting sums are resumed as well)."""
    from amptrain import checkpoint  # noqa: F401 - numpy-only reader below

    common = ["trainer=quick", "trainer.progress=false", "model=lstm8", "trainer.batch_size=2", "trainer.max_epochs=2",
              "trainer.renders=0", "dataset=path", f"dataset.path={small_dataset}",
              "trainer.focus=1.0"]  # its running per-setting sums resume too
    whole = run_cli("amptrain", *common, f"run_dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr[-1500:]
    cut = run_cli("amptrain", *common, "trainer.max_minutes=0.0001", f"run_dir={tmp_path / 'cut'}")
    assert cut.returncode == 0, cut.stderr[-1500:]
    state = checkpoint.read_state(tmp_path / "cut" / "checkpoints" / "last.npz")
    assert state["epoch"] == 0 and state["batch"] == 1 and state["stop_reason"].startswith("max_minutes")
    assert json.loads((tmp_path / "cut" / "metrics.json").read_text())["training"]["stop_reason"].startswith("max_minutes")
    more = run_cli("amptrain", *common, "trainer.max_minutes=60", "trainer.resume=true", f"run_dir={tmp_path / 'cut'}")
    assert more.returncode == 0, more.stderr[-1500:]
    assert "continuing" in more.stdout + more.stderr
    with np.load(tmp_path / "whole" / "checkpoints" / "last.npz") as a, np.load(tmp_path / "cut" / "checkpoints" / "last.npz") as b:
        keys = [k for k in a.files if k.startswith(("model/", "opt/"))]
        assert keys and all(np.array_equal(a[k], b[k]) for k in keys)


def test_retracing_notice_is_dropped_other_warnings_kept():
    """Rendering compiles per input shape on purpose; TensorFlow's retracing notice would end every run."""
    import logging

    from amptrain.tfenv import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    seen = []
    h = logging.Handler()
    h.emit = lambda r: seen.append(r.getMessage())
    log = tf.get_logger()
    log.addHandler(h)
    try:
        log.warning("5 out of the last 30 calls to <function f> triggered tf.function retracing. Tracing is expensive")
        log.warning("something else")
    finally:
        log.removeHandler(h)
    assert seen == ["something else"]


@pytest.mark.slow
@pytest.mark.parametrize("select", ["last", "best"])
def test_the_kept_model_is_the_last_validated_or_the_best(small_dataset, tmp_path, select):
    """trainer.select=last keeps the weights of the last validation (the schedule's end), best the weights
    of the lowest validation ESR; metrics.json says which epoch's model it is."""
    from amptrain import checkpoint

    run = tmp_path / select
    p = run_cli("amptrain", "trainer=quick", "trainer.progress=false", "model=lstm8", "trainer.batch_size=2",
                "trainer.max_epochs=4", "trainer.renders=0", "trainer.keep_epochs=true", "trainer.learning_rate=0.05",
                f"trainer.select={select}", "dataset=path", f"dataset.path={small_dataset}", f"run_dir={run}")
    assert p.returncode == 0, p.stderr[-1500:]
    epochs = sorted((run / "checkpoints").glob("epoch-*.npz"))
    val = [checkpoint.read_state(f)["history"][-1]["val_esr"] for f in epochs]
    want = epochs[-1] if select == "last" else epochs[int(np.argmin(val))]
    assert int(np.argmin(val)) != len(val) - 1, val  # the two rules differ on this run (else the test proves nothing)
    with np.load(run / "checkpoints" / "best.npz") as a, np.load(want) as b:
        keys = [k for k in a.files if k.startswith("model/")]
        assert keys and all(np.array_equal(a[k], b[k]) for k in keys)
    tr = json.loads((run / "metrics.json").read_text())["training"]
    assert tr["select"] == select
    assert tr["chosen_epoch"] == checkpoint.read_state(want)["history"][-1]["epoch"]

