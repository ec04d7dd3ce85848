"""Our trainer against Neural Amp Modeler's LSTM trainer on the same captured setting of the embedded
amp, at the same hidden size and the same wall-clock budget: training samples/s, ESR on the same unseen
test audio, parameters; plus our gain-conditioned model (gain_sweep) at that setting, i.e. the price
of one model for every gain against a snapshot trained on this setting only.

    python -m benchmarks.train_vs_nam [--minutes 2] [--hidden 16] [--conditioned outputs/runs/gain_sweep]

The setting is the embedded amp at its default knobs (gain 5, a gain_sweep training level), captured
by `sweep=single` with the same DI generator as gain_sweep. Both trainers see its train region and
validate on its val region; ESR (plain, no pre-emphasis) is on its test region. Writes
outputs/benchmarks/train_vs_nam.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def snapshot_dataset(log) -> Path:
    """The embedded amp at its default knobs (captured if missing), as the `static` experiment uses."""
    from ampcap.config import to_dict
    from amptrain.config import compose_train
    from amptrain.rundir import locate_dataset

    cfg = to_dict(compose_train(["+experiment=static"]))
    return locate_dataset(cfg, log)


def train_ours(root: Path, hidden: int, minutes: float, runs: Path, log) -> dict:
    from amptrain import AmpModel
    from amptrain.config import compose_train
    from amptrain.run import train

    cfg = compose_train(["+experiment=static", "dataset=path", f"dataset.path={root}", f"model.hidden_size={hidden}",
                                    f"trainer.max_minutes={minutes}", "trainer.max_epochs=100000", "trainer.patience=100000",
                                    "trainer.progress=false", "trainer.renders=0", f"runs_dir={runs}", "name=ours_snapshot"])
    t = time.perf_counter()
    run = train(cfg, log=lambda m: None)
    wall = time.perf_counter() - t
    m = json.loads((Path(run) / "metrics.json").read_text())
    amp = AmpModel.load(run)
    return {"trainer": "ampcap (TF/Keras, TBPTT)", "hidden": hidden, "parameters": m["training"]["parameters"],
            "epochs": m["training"]["epochs"], "train_seconds": m["training"]["train_seconds"], "wall_seconds": round(wall, 1),
            "samples_per_s": m["training"]["samples_per_s"], "amp": amp}


def train_nam(x: np.ndarray, y: np.ndarray, regions: dict, hidden: int, minutes: float, log) -> dict:
    """NAM's own LightningModule (its LSTM with burn-in and truncation, its loss and optimiser set-up)
    driven by PyTorch Lightning with a wall-clock limit."""
    import logging
    import warnings

    import pytorch_lightning as pl
    import torch
    from nam.data import Dataset
    from nam.train.lightning_module import LightningModule
    from torch.utils.data import DataLoader

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    (a, b), (va, vb) = regions["train"], regions["val"]
    ny = 8192
    train_ds = Dataset(xt, yt, nx=1, ny=ny, start_samples=a, stop_samples=b, sample_rate=48000, require_input_pre_silence=None)
    val_ds = Dataset(xt, yt, nx=1, ny=None, start_samples=va, stop_samples=vb, sample_rate=48000, require_input_pre_silence=None)
    # NAM's LSTM recipe (burn-in 4096, truncation 512, Adam 0.01 with exponential decay, ESR validation)
    config = {"net": {"name": "LSTM", "config": {"hidden_size": hidden, "num_layers": 1, "train_burn_in": 4096,
                                                 "train_truncate": 512}},
              "loss": {"val_loss": "esr", "mask_first": 4096},
              "optimizer": {"lr": 0.01},
              "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.995}}}
    model = LightningModule.init_from_config(config)
    batch = 16

    class Count(pl.Callback):
        batches = 0
        seconds = 0.0

        def on_train_epoch_start(self, trainer, module):
            self._t = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            self.seconds += time.perf_counter() - self._t

        def on_train_batch_end(self, *args, **kw):
            self.batches += 1

    count = Count()
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_time={"seconds": int(minutes * 60)}, max_epochs=10 ** 6,
                         enable_checkpointing=False, logger=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[count])
    t = time.perf_counter()
    trainer.fit(model, DataLoader(train_ds, batch_size=batch, shuffle=True, drop_last=True), DataLoader(val_ds, batch_size=1))
    wall = time.perf_counter() - t
    model.eval()
    n_params = sum(p.numel() for p in model.net.parameters())
    samples = count.batches * batch * ny
    return {"trainer": "Neural Amp Modeler (PyTorch Lightning)", "hidden": hidden, "parameters": int(n_params),
            "epochs": trainer.current_epoch, "train_seconds": round(count.seconds, 1), "wall_seconds": round(wall, 1),
            "samples_per_s": round(samples / count.seconds, 1) if count.seconds else None, "net": model.net}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=2.0, help="wall-clock budget of each trainer")
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--conditioned", default="outputs/runs/gain_sweep", help="a gain_sweep run (skipped if missing)")
    a = ap.parse_args()

    from amptrain.tfenv import own_stderr, quiet_tensorflow

    own_stderr()  # a command line: TensorFlow's start-up chatter is not for the reader

    quiet_tensorflow()
    import torch

    from ampcap.cli import print_table
    from ampcap.dataset import load_setting, read_manifest, read_wav
    from amptrain import AmpModel, ModelError
    from amptrain.losses import esr

    log = print
    root = snapshot_dataset(log)
    m = read_manifest(root)
    setting = m["settings"][0]
    x, sr = read_wav(root / m["signal"]["file"])
    y = load_setting(root, setting)
    regions = {k: tuple(v) for k, v in m["signal"]["regions"].items()}
    ta, tb = regions["test"]
    print(f"setting: {setting['knobs']}; train {(regions['train'][1] - regions['train'][0]) / sr:.1f} s, "
          f"test {(tb - ta) / sr:.1f} s; budget {a.minutes:g} min each, hidden {a.hidden}")

    runs = Path("outputs/benchmarks/train_vs_nam_runs")
    ours = train_ours(root, a.hidden, a.minutes, runs, log)
    ours["test_esr"] = round(esr(y[ta:tb], ours.pop("amp").render(x[ta:tb])), 5)
    nam = train_nam(x, y, regions, a.hidden, a.minutes, log)
    with torch.no_grad():
        y_nam = nam.pop("net")(torch.from_numpy(x[ta:tb])).numpy()
    nam["test_esr"] = round(esr(y[ta:tb], y_nam), 5)
    rows = [ours, nam]
    try:
        cond = AmpModel.load(a.conditioned)
        knobs = {k: v for k, v in setting["knobs"].items() if k in cond.knob_names}
        rows.append({"trainer": f"ampcap conditioned ({', '.join(cond.knob_names)}; {Path(cond.source_file).parent.name})",
                     "hidden": cond.net.hidden_size, "parameters": int(cond.net.count_params()), "epochs": "-",
                     "train_seconds": "-", "wall_seconds": "-", "samples_per_s": "-",
                     "test_esr": round(esr(y[ta:tb], cond.render(x[ta:tb], **knobs)), 5)})
    except ModelError as e:
        print(f"(no conditioned model: {e})")
    cols = ["trainer", "hidden", "parameters", "epochs", "train_seconds", "samples_per_s", "test_esr"]
    print()
    print_table(rows, cols)
    out = Path("outputs/benchmarks")
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_vs_nam.json").write_text(json.dumps({"minutes": a.minutes, "hidden": a.hidden, "setting": setting["knobs"],
                                                       "rows": rows}, indent=1))
    print(f"\nwritten to {out / 'train_vs_nam.json'}")


if __name__ == "__main__":
    main()
