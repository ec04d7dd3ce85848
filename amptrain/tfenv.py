"""TensorFlow imported quietly. Its Python logger's retracing notice (our renders retrace on purpose)
is filtered, and TF_CPP_MIN_LOG_LEVEL defaults to 2 (3 on a machine with no NVIDIA driver). The C++ start-up chatter this TensorFlow prints
anyway (oneDNN, CUDA probing: absl logs before its logging is set up, which no variable turns off)
goes to /dev/null only in a process that is ours: `python -m amptrain` calls `own_stderr()` first.
A host application that loads a model (`AmpModel.load`) keeps its stderr: nothing touches file
descriptor 2 there."""
from __future__ import annotations

import logging
import os
import sys

_STATE = {"own_stderr": False}
NVIDIA_DRIVER = "/proc/driver/nvidia/version"


def own_stderr() -> None:
    """Declare this process's stderr ours (the command line): TensorFlow's import chatter is dropped."""
    _STATE["own_stderr"] = True


def quiet_tensorflow():
    """Import TensorFlow (TF_CPP_MIN_LOG_LEVEL=2 unless set; its start-up chatter dropped when the
    process's stderr is ours) and filter its retracing notice; returns the module."""
    if "tensorflow" not in sys.modules:
        # 3 where no NVIDIA driver is installed: TensorFlow's "failed call to cuInit: CUDA error" is an
        # error-level line there that only says the machine has no GPU
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if os.path.exists(NVIDIA_DRIVER) else "3")
        if _STATE["own_stderr"]:
            _import_without_stderr()
    import tensorflow as tf

    log = tf.get_logger()
    if not any(isinstance(f, NoRetracingNotice) for f in log.filters):
        log.addFilter(NoRetracingNotice())
    return tf


def _import_without_stderr() -> None:
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probing prints when devices are first listed
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class NoRetracingNotice(logging.Filter):
    """Drop TensorFlow's "triggered tf.function retracing" notice: rendering compiles one XLA function
    per input shape on purpose (validation, test and renders have different shapes), so the notice
    at the end of every run would only alarm users."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()
