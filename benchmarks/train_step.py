"""Training throughput of the conditioned LSTM on this CPU: `TBPTT.batch` (warm-up, then compiled
updates every 1000 samples with the state carried, Adam) on batches of 0.5 s segments, for hidden
sizes 16/32/64, batch sizes, and one device vs MirroredStrategy over one logical CPU per core.

    python -m benchmarks.train_step [--segment 24000] [--repeats 2]
"""
from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segment", type=int, default=24000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--hidden", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--batch", type=int, nargs="+", default=[32, 64])
    a = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    cores = os.cpu_count() or 1
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cores)
    import keras
    import numpy as np

    from amptrain.losses import make_loss
    from amptrain.model import AmpNet
    from amptrain.tbptt import TBPTT

    strategies = {"1 device": tf.distribute.get_strategy(),
                  f"mirrored x{cores}": tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(cores)])}
    rng = np.random.default_rng(0)
    print(f"{'hidden':>6} {'batch':>6} {'strategy':>12} {'samples/s':>12} {'updates/s':>10}")
    for hidden in a.hidden:
        for B in a.batch:
            x = (0.3 * rng.standard_normal((B, a.segment, 1))).astype(np.float32)
            c = rng.random((B, 1)).astype(np.float32)
            y = np.tanh(2 * x)
            for name, strategy in strategies.items():
                with strategy.scope():
                    m = AmpNet(hidden_size=hidden, n_cond=1).build_weights()
                    opt = keras.optimizers.Adam(1e-3)
                t = TBPTT(m, opt, make_loss("aw"), 200, 1000, strategy=strategy)
                t.batch(x[:, :2200], c, y[:, :2200])  # trace + compile
                t0 = time.perf_counter()
                for _ in range(a.repeats):
                    t.batch(x, c, y)
                dt = time.perf_counter() - t0
                updates = a.repeats * -(-(a.segment - 200) // 1000)
                print(f"{hidden:>6} {B:>6} {name:>12} {a.repeats * B * a.segment / dt:>12,.0f} {updates / dt:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
