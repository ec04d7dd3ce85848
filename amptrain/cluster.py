"""Training on several workers (trainer.strategy=multi_worker, the cluster from TF_CONFIG): who is the
chief, starting the cluster with a deadline, and the small agreements the workers need (the chief's
plan and checkpoint on every worker, "did anyone fail?"). One process: none of this runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from ampcap.config import flatten
from ampcap.errors import AmpcapError, ConfigError

from .tbptt import broadcast


def make_strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


class ClusterError(AmpcapError):
    """Multi-worker training could not start, or lost a worker."""


# keys each worker may set for itself (where its files are, what it prints); every other key of the
# model, loss and trainer must match the chief's, or the workers would not compute the same updates
WORKER_LOCAL = {"trainer.resume", "trainer.progress", "trainer.cluster_timeout", "trainer.renders"}


def cluster_from_env() -> dict | None:
    """The cluster of TF_CONFIG: {"workers": N, "index": this task's place (0: the chief, which is the
    `chief` task or else worker 0), "task": "worker:1", "addresses": [...]}; None without TF_CONFIG."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        tf_config = json.loads(raw)
        cluster, task = tf_config.get("cluster") or {}, tf_config.get("task") or {}
        kind, index = task.get("type"), int(task.get("index", 0))
    except (ValueError, TypeError, AttributeError):
        raise ConfigError("TF_CONFIG is not valid: it must be JSON like {\"cluster\": {\"worker\": [\"host1:port\", "
                          "\"host2:port\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}") from None
    other = sorted(set(cluster) - {"chief", "worker"})
    if other:
        raise ConfigError(f"TF_CONFIG: job '{other[0]}' is not supported; multi-worker training uses 'worker' "
                          "(and optionally one 'chief') tasks only")
    chiefs, workers = list(cluster.get("chief") or []), list(cluster.get("worker") or [])
    if len(chiefs) > 1:
        raise ConfigError(f"TF_CONFIG: {len(chiefs)} chief tasks; there can be only one")
    if kind not in ("chief", "worker") or not 0 <= index < len(chiefs if kind == "chief" else workers):
        raise ConfigError(f"TF_CONFIG: task {kind}:{index} is not in its cluster ({len(chiefs)} chief, {len(workers)} workers)")
    place = index if kind == "chief" else len(chiefs) + index
    return {"workers": len(chiefs) + len(workers), "index": place, "task": f"{kind}:{index}",
            "addresses": chiefs + workers}


def is_chief() -> bool:
    """With TF_CONFIG (multi-worker), only the chief (or worker 0) writes the run directory."""
    cluster = cluster_from_env()
    return cluster is None or cluster["index"] == 0


def watchdog(timeout: float, message: str):
    """A small process that prints `message` and kills this one unless its stdin is closed within
    `timeout` seconds. TensorFlow waits for the cluster inside C++ without releasing the GIL, so
    neither a thread nor a signal handler of this process could end that wait."""
    code = ("import os, select, signal, sys\n"
            "ready, _, _ = select.select([sys.stdin], [], [], float(sys.argv[2]))\n"
            "if not ready:\n"
            "    sys.stderr.write(sys.argv[3] + '\\n'); sys.stderr.flush()\n"
            "    os.kill(int(sys.argv[1]), signal.SIGKILL)\n")
    return subprocess.Popen([sys.executable, "-I", "-S", "-c", code, str(os.getpid()), str(timeout), message],
                            stdin=subprocess.PIPE)


def start_cluster(cluster: dict, timeout: float, log):
    """MultiWorkerMirroredStrategy for the TF_CONFIG cluster, once every worker has joined; after
    `timeout` seconds without them, one `error:` line and the process ends (exit status 137)."""
    import tensorflow as tf

    n = cluster["workers"]
    log(f"multi-worker: task {cluster['task']} ({'the chief' if cluster['index'] == 0 else 'a worker'}), "
        f"{n} workers; waiting for all of them (trainer.cluster_timeout={timeout:g} s)")
    dog = watchdog(timeout, f"error: multi-worker: not all {n} workers of TF_CONFIG ({', '.join(cluster['addresses'])}) "
                             f"joined within {timeout:g} s (trainer.cluster_timeout): start the same command on every host, "
                             "with the same TF_CONFIG cluster and each its own task, and check that the ports are reachable")
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except (tf.errors.OpError, ValueError, RuntimeError) as e:
        raise ClusterError(f"multi-worker: the cluster of TF_CONFIG could not start ({type(e).__name__}: "
                           f"{' '.join(str(e).split())[:200]})") from None
    finally:
        dog.stdin.close()
        dog.wait()
    return strategy


def broadcast_json(strategy, obj) -> dict:
    """The chief's JSON-able `obj` on every worker (others pass None): its length, then its bytes."""
    data = json.dumps(obj).encode() if obj is not None else b""
    (length,) = broadcast(strategy, [np.array(len(data))])
    data = data or bytes(int(length))
    (arr,) = broadcast(strategy, [np.frombuffer(data, np.uint8)])
    return json.loads(arr.astype(np.uint8).tobytes())


def any_failed(strategy, failed: bool) -> bool:
    """True on every worker when any worker passed failed=True."""
    import tensorflow as tf

    per = strategy.experimental_distribute_values_from_function(lambda ctx: tf.constant(1.0 if failed else 0.0, tf.float64))
    return float(strategy.reduce(tf.distribute.ReduceOp.SUM, per, axis=None)) > 0


def compared_config(cfg: dict) -> dict:
    """The keys every worker's config must share with the chief's."""
    return {k: v for k, v in flatten({"model": cfg["model"], "loss": cfg["loss"], "trainer": cfg["trainer"]}).items()
            if k not in WORKER_LOCAL}
