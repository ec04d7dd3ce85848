"""Training under tf.distribute: MirroredStrategy over two (logical CPU) devices follows the same
loss trajectory as one device with the same batch: each replica runs its half of the rows, the loss
is the whole batch's (predictions gathered; ESR and DC are ratios over the batch, so a mean of the
halves' losses would be another loss) and the summed gradient is clipped as one device clips it.
Multi-worker training (processes, TF_CONFIG) is tests/test_multiworker.py."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from amptrain.model import AmpNet
from amptrain.tbptt import TBPTT
from amptrain.losses import Loss

def run(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        m = AmpNet(hidden_size=8, n_cond=1).build_weights()
        opt = keras.optimizers.Adam(3e-3)
    t = TBPTT(m, opt, Loss("hp"), warmup=50, window=200, clipnorm=0.05, strategy=strategy)  # small: the clipping is active
    rng = np.random.default_rng(1)
    x = (0.4 * rng.standard_normal((4, 650, 1))).astype(np.float32)   # 4 different rows: 2 per replica
    c = rng.random((4, 1)).astype(np.float32)
    y = np.tanh(3 * x * (1 + c[:, None, :]))
    w = np.array([0.5, 2.0, 1.0, 0.7], np.float32)                     # per-row loss weights
    results = [t.batch(x, c, y, w) for _ in range(8)]
    losses = [r.loss for r in results]
    rows = [results[-1].err.tolist(), results[-1].ref.tolist()]        # trainer.focus's per-row energies
    sent = [np.array([[1.5, -2.0], [0.25, 3.0]]), np.array(7.0)]
    got = t.broadcast(sent)
    ok = all(np.array_equal(a, b) for a, b in zip(sent, got))
    return losses, [np.asarray(v).tolist() for v in m.weights], ok, rows

one, w1, _, r1 = run(tf.distribute.get_strategy())
two, w2, ok, r2 = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
print(json.dumps({"one": one, "two": two, "broadcast": ok, "rows1": r1, "rows2": r2,
                  "wdiff": max(float(np.max(np.abs(np.array(a) - np.array(b)))) for a, b in zip(w1, w2))}))
"""


@pytest.mark.slow
def test_mirrored_two_devices_follow_one_device():
    p = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["one"][-1] < r["one"][0]  # it trains
    for a, b in zip(r["one"], r["two"]):  # float32 sums in another order: rounding only
        assert b == pytest.approx(a, rel=1e-4, abs=1e-6)
    assert r["wdiff"] < 1e-4
    assert r["broadcast"]
    for a, b in zip(r["rows1"], r["rows2"]):  # each row's plain energies (trainer.focus) match too
        assert b == pytest.approx(a, rel=1e-4)
