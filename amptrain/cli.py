"""Command line: `python -m amptrain [--config-dir DIR] [overrides]` trains (every argument is a
Hydra override of conf/train.yaml, e.g. +experiment=gain_sweep); `sample`, `export` and `knobs` use a
trained model (amptrain/sample.py)."""
from __future__ import annotations

import logging
import os
import sys

from capture.cli import guarded, split_config_dir

USAGE = """usage: python -m amptrain [train] [--config-dir DIR] [overrides]
       python -m amptrain sample run=RUN input=DI.wav output=OUT.wav [knobs.NAME=VALUE ...] [mode=chunked|sequential|streaming]
       python -m amptrain export run=RUN format=nam|proteus|rtneural|keras [knobs.NAME=VALUE ...] [output=FILE]
       python -m amptrain knobs run=RUN
       python -m amptrain report run=RUN [dataset=DIR] [grid=7]   (re)write RUN/report.html

Trains a knob-conditioned LSTM on a captured dataset; results go to outputs/runs/<name>/<time>/.
RUN is a run directory (or its model.keras). A knob value is a number or choice (knobs.gain=7.3),
automation as seconds:value pairs (knobs.gain=0:2,4.5:9), or a list that renders one file per value
plus a plot (knobs.gain=[2,5,8]).

experiments (+experiment=NAME): {experiment}
groups: dataset={dataset}  model={model}  loss={loss}
        trainer={trainer}
examples:
  python -m amptrain +experiment=gain_sweep
  python -m amptrain +experiment=full_amp model=lstm64 trainer.max_minutes=30
  python -m amptrain +experiment=gain_sweep trainer.resume=true         continue the latest run
  python -m amptrain dataset=path dataset.path=outputs/datasets/mine   any captured dataset
  python -m amptrain sample run=outputs/runs/gain_sweep input=di.wav output=out.wav knobs.gain=7.3
  python -m amptrain export run=outputs/runs/gain_sweep format=nam knobs.gain=6
"""


def usage() -> str:
    """USAGE with the experiments and group options found in conf/ (never a list kept by hand)."""
    from capture.config import find_conf_dir

    conf = find_conf_dir()
    names = {g: sorted(p.stem for p in (conf / g).glob("*.yaml")) for g in ("experiment", "dataset", "model", "loss", "trainer")}
    return USAGE.format(experiment=", ".join(names.pop("experiment")), **{g: "|".join(v) for g, v in names.items()})


def quiet_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up chatter (oneDNN, CUDA probing) sent to /dev/null."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        _filter_retracing()
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
    _filter_retracing()


def _filter_retracing() -> None:
    import tensorflow as tf

    log = tf.get_logger()
    if not any(isinstance(f, _NoRetracingNotice) for f in log.filters):
        log.addFilter(_NoRetracingNotice())


class _NoRetracingNotice(logging.Filter):
    """Drop TensorFlow's "triggered tf.function retracing" notice: rendering compiles one XLA function
    per input shape on purpose (validation, test and renders have different shapes), so the notice
    at the end of every run would only alarm users."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def cmd_train(args) -> int:
    from capture.config import compose

    from . import config  # noqa: F401 - registers the schema
    from .run import train

    config_dir, overrides = split_config_dir(args)
    cfg = compose("train", overrides, config_dir)
    quiet_tensorflow()
    train(cfg, log=lambda m: print(m, file=sys.stderr), config_dir=config_dir)
    return 0


def _model_command(name: str):
    def run(args):
        from . import sample

        if any(a in ("-h", "--help") for a in args):
            print(usage())
            return 0
        return getattr(sample, f"cmd_{name}")(args, log=lambda m: print(m, file=sys.stderr))
    return run


def _report_command(args):
    from .report_html import cmd_report

    if any(a in ("-h", "--help") for a in args):
        print(usage())
        return 0
    return cmd_report(args, log=lambda m: print(m, file=sys.stderr))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv and argv[0] in ("sample", "export", "knobs"):
        return guarded(_model_command(argv[0]), argv[1:], "interrupted: nothing was written")
    if argv and argv[0] == "report":
        return guarded(_report_command, argv[1:], "interrupted: the previous report (if any) is kept")
    if argv and argv[0] == "train":
        argv = argv[1:]
    return guarded(cmd_train, argv, "interrupted: continue with the same command plus trainer.resume=true")
