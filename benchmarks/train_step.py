"""Training-step throughput of the conditioned LSTM on this CPU: one compiled TBPTT update
(forward + backward + Adam) on a batch of windows, state carried, for hidden sizes 16/32/64.

    python -m benchmarks.train_step [--batch 32] [--window 1000]
"""
from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    import keras
    import tensorflow as tf

    from amptrain.losses import make_loss
    from amptrain.model import AmpModel
    from amptrain.tbptt import TBPTT

    print(f"{'hidden':>6} {'mode':>7} {'samples/s':>12}")
    for hidden in (16, 32, 64):
        for mode in ("concat", "film"):
            m = AmpModel(hidden_size=hidden, n_cond=8, conditioning=mode).build_weights()
            opt, loss_fn = keras.optimizers.Adam(1e-3), make_loss("hp")
            B, T = a.batch, a.window
            x = tf.random.uniform((B, T, 1), -0.5, 0.5)
            c = tf.random.uniform((B, T, 8))
            y = tf.random.uniform((B, T, 1))

            step = TBPTT(m, opt, loss_fn)._update  # the exact compiled update training uses
            h, s = m.zero_state(B)
            step(x, c, y, h, s)  # trace + compile
            t0 = time.perf_counter()
            for _ in range(a.steps):
                _, h, s = step(x, c, y, h, s)
            print(f"{hidden:>6} {mode:>7} {a.steps * B * T / (time.perf_counter() - t0):>12,.0f}")


if __name__ == "__main__":
    main()
