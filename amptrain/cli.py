"""Command line: `python -m amptrain [--config-dir DIR] [overrides]` trains (every argument is a
Hydra override of conf/train.yaml, e.g. +experiment=gain_sweep)."""
from __future__ import annotations

import os
import sys

from capture.cli import guarded, split_config_dir

USAGE = """usage: python -m amptrain [--config-dir DIR] [overrides]

Trains a knob-conditioned LSTM on a captured dataset; results go to outputs/runs/<name>/<time>/.

experiments (+experiment=NAME): gain_sweep, full_amp, static, nolly_gain_sweep, nolly_full
groups: dataset=builtin|nolly|path  model=lstm8|lstm16|lstm32|lstm64|film32  loss=esr_dc|esr_dc_stft
        trainer=default|quick
examples:
  python -m amptrain +experiment=gain_sweep
  python -m amptrain +experiment=full_amp model=lstm64 trainer.max_minutes=30
  python -m amptrain +experiment=gain_sweep trainer.resume=true         continue the latest run
  python -m amptrain dataset=path dataset.path=outputs/datasets/mine   any captured dataset
"""


def quiet_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up chatter (oneDNN, CUDA probing) sent to /dev/null."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def cmd_train(args) -> int:
    from capture.config import compose

    from . import config  # noqa: F401 - registers the schema
    from .run import train

    config_dir, overrides = split_config_dir(args)
    cfg = compose("train", overrides, config_dir)
    quiet_tensorflow()
    train(cfg, log=lambda m: print(m, file=sys.stderr), config_dir=config_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if argv and argv[0] == "train":
        argv = argv[1:]
    return guarded(cmd_train, argv, "interrupted: continue with the same command plus trainer.resume=true")
