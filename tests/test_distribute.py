"""Training under tf.distribute: MirroredStrategy over two (logical CPU) devices follows the same
loss trajectory as one device. Rows are duplicated so each replica's share has the statistics of
the whole batch, which makes the two runs mathematically identical (not only close)."""
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
from amptrain.losses import make_loss

def run(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        m = AmpNet(hidden_size=8, n_cond=1).build_weights()
        opt = keras.optimizers.Adam(3e-3)
    t = TBPTT(m, opt, make_loss("hp"), warmup=50, window=200, strategy=strategy)
    rng = np.random.default_rng(1)
    losses = []
    x = (0.4 * rng.standard_normal((2, 650, 1))).astype(np.float32)
    c = rng.random((2, 1)).astype(np.float32)
    y = np.tanh(3 * x * (1 + c[:, None, :]))
    # rows [a, a, b, b]: replica 0 gets rows 0 and 2 (a, b), replica 1 gets rows 1 and 3 (a, b)
    dup = lambda a: np.repeat(a, 2, axis=0)
    for _ in range(8):
        losses.append(t.batch(dup(x), dup(c), dup(y)))
    return losses, [np.asarray(w).tolist() for w in m.weights]

one, w1 = run(tf.distribute.get_strategy())
two, w2 = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
print(json.dumps({"one": one, "two": two, "wdiff": max(float(np.max(np.abs(np.array(a) - np.array(b)))) for a, b in zip(w1, w2))}))
"""


@pytest.mark.slow
def test_mirrored_two_devices_follow_one_device():
    p = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["one"][-1] < r["one"][0]  # it trains
    for a, b in zip(r["one"], r["two"]):
        assert b == pytest.approx(a, rel=1e-4, abs=1e-6)
    assert r["wdiff"] < 1e-4
