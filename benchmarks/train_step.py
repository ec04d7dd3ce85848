"""Training throughput of one TBPTT batch on this CPU (warm-up, then an update every 1000 samples with
the state carried, Adam, the training loss): Keras' LSTM layer (a per-step while_loop) against the
fused kernel our trainer uses (amptrain/fused_lstm.py; rows in 1 block, or one block per core), and a
bare `torch.nn.LSTM` update of the same shape (the kernel Neural Amp Modeler trains with), one run.

    python -m benchmarks.train_step [--segment 24000] [--repeats 2] [--hidden 16 32 64] [--batch 32 64 128]
"""
from __future__ import annotations

import argparse
import os
import time


def tf_rate(hidden: int, B: int, segment: int, repeats: int, splits: int) -> float:
    """samples/s of TBPTT.batch; splits=0: Keras' LSTM layer, else the fused kernel in `splits` blocks."""
    import keras
    import numpy as np

    from amptrain.losses import Loss
    from amptrain.model import AmpNet
    from amptrain.tbptt import TBPTT

    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal((B, segment, 1))).astype(np.float32)
    c = rng.random((B, 1)).astype(np.float32)
    y = np.tanh(2 * x)
    keras.utils.set_random_seed(0)
    m = AmpNet(hidden_size=hidden, n_cond=1, fused_splits=splits).build_weights()
    t = TBPTT(m, keras.optimizers.Adam(1e-3), Loss("aw"), warmup=200, window=1000, clipnorm=1.0)
    t.batch(x, c, y)  # trace + compile
    t0 = time.perf_counter()
    for _ in range(repeats):
        t.batch(x, c, y)
    return repeats * B * segment / (time.perf_counter() - t0)


def torch_rate(hidden: int, B: int, segment: int, repeats: int) -> float | None:
    """samples/s of the same TBPTT batch with a bare torch.nn.LSTM + Linear, Adam, ESR loss."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    lstm, lin = torch.nn.LSTM(2, hidden, batch_first=True), torch.nn.Linear(hidden, 1)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(lin.parameters()), 1e-3)
    g = torch.Generator().manual_seed(0)
    x = 0.3 * torch.randn(B, segment, 1, generator=g)
    xc = torch.cat([x, torch.rand(B, 1, 1, generator=g).expand(B, segment, 1)], dim=-1)
    y = torch.tanh(2 * x)

    def batch():
        with torch.no_grad():
            _, st = lstm(xc[:, :200])
        for a in range(200, segment, 1000):
            out, st2 = lstm(xc[:, a:a + 1000], st)
            p = lin(out)
            loss = ((y[:, a:a + 1000] - p) ** 2).sum() / ((y[:, a:a + 1000] ** 2).sum() + 1e-10)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(lstm.parameters()) + list(lin.parameters()), 1.0)
            opt.step()
            st = tuple(s.detach() for s in st2)
            float(loss.detach())

    batch()
    t0 = time.perf_counter()
    for _ in range(repeats):
        batch()
    return repeats * B * segment / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segment", type=int, default=24000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--hidden", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--batch", type=int, nargs="+", default=[32, 64, 128])
    a = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ampcap.cli import print_table

    cores = os.cpu_count() or 1
    rows = []
    for hidden in a.hidden:
        for B in a.batch:
            keras_r = tf_rate(hidden, B, a.segment, a.repeats, 0)
            fused1 = tf_rate(hidden, B, a.segment, a.repeats, 1)
            fusedn = tf_rate(hidden, B, a.segment, a.repeats, cores) if cores > 1 else fused1
            torch_r = torch_rate(hidden, B, a.segment, a.repeats)
            best = max(fused1, fusedn)
            rows.append({"hidden": hidden, "batch": B, "Keras LSTM": f"{keras_r / 1e3:,.0f}k",
                         "fused x1": f"{fused1 / 1e3:,.0f}k", f"fused x{cores}": f"{fusedn / 1e3:,.0f}k",
                         "torch nn.LSTM": "-" if torch_r is None else f"{torch_r / 1e3:,.0f}k",
                         "fused/Keras": f"{best / keras_r:.1f}x",
                         "fused/torch": "-" if torch_r is None else f"{best / torch_r:.2f}x"})
            print(f"hidden {hidden} batch {B} done", flush=True)
    print_table(rows, ["hidden", "batch", "Keras LSTM", "fused x1", f"fused x{cores}", "torch nn.LSTM",
                       "fused/Keras", "fused/torch"])
    print(f"samples/s of one TBPTT batch ({a.segment} samples per row, warm-up 200, updates every 1000); "
          f"fused xN: rows cut into N blocks run on separate cores; torch threads: default")


if __name__ == "__main__":
    main()
