"""One training run end to end: find (or capture) the dataset, make or resume the run directory,
train, then evaluate on held-out settings x unseen audio and write model, metrics, plots, renders.

Run directory (`outputs/runs/<name>/<timestamp>/`):
  config.yaml  run.json  model.keras  metrics.json  checkpoints/{best,last}.npz  tb/  plots/  renders/
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np

from capture import dataset as ds
from capture.config import changed_keys, compose, to_dict, validate
from capture.errors import AmpcapError, ConfigError, DatasetError

from . import checkpoint
from .config import TrainConfig, check

RUN_FORMAT = "ampcap-run"
RUN_VERSION = 1
# keys that may change when a run is resumed (they only say how long or how loudly to train)
RESUMABLE_CHANGES = {"trainer.resume", "trainer.progress", "trainer.max_epochs", "trainer.max_minutes",
                     "trainer.patience", "run_dir", "runs_dir",
                     # how many workers compute it (the maths is the same global batch either way)
                     "trainer.strategy", "trainer.cluster_timeout",
                     # how many cores run the fused LSTM's row blocks (the same maths, summed in another order)
                     "trainer.lstm_splits", "trainer.fused_lstm", "trainer.keep_epochs"}


def capture_command(d: dict) -> str:
    args = [f"plugin={d['plugin']}", f"sweep={d['sweep']}"]
    if d["signal"] != "builtin":
        args.append(f"signal={d['signal']}")
    return "python -m capture sweep " + " ".join(args + list(d["capture_overrides"]))


def locate_dataset(cfg: dict, log, config_dir: str | None = None) -> Path:
    """The dataset directory of the experiment; captured first when missing and the amp is embedded."""
    d = cfg["dataset"]
    if d["plugin"] == "@path" and not d["path"]:
        raise ConfigError("config key 'dataset.path': no value given (set dataset.path=DIR of a captured dataset)")
    if d["path"]:
        root = Path(d["path"]).expanduser()
        ccfg = None
    else:
        overrides = [f"plugin={d['plugin']}", f"sweep={d['sweep']}", f"signal={d['signal']}", *d["capture_overrides"]]
        ccfg = compose("capture", overrides, config_dir)
        root = Path(ccfg.out)
    manifest = None
    if (root / ds.MANIFEST).exists():
        manifest = ds.read_manifest(root)
        if manifest.get("complete"):
            return root
        failed = [s for s in manifest["settings"] if s.get("status") == "failed"]
        if d["allow_failed"] and failed and not any(s.get("status") == "pending" for s in manifest["settings"]):
            if any(s.get("status") == "done" and s.get("split") == "train" for s in manifest["settings"]):
                log(f"dataset {root}: training without its {len(failed)} failed setting(s) (dataset.allow_failed=true):")
                for s in failed:
                    log(f"  {s['id']} ({s['split']}) {s['knobs']}: {s.get('error')}")
            return root  # (nothing left to train on: load_dataset says so in one line)
    cmd = capture_command(d) if ccfg is not None else None
    embedded = ccfg is not None and ccfg.plugin.kind == "builtin"
    if embedded and d["auto_capture"]:
        from capture.runner import run_sweep

        ccfg.progress = cfg["trainer"]["progress"]
        log(f"dataset {root} {'is incomplete' if manifest else 'not found'}: capturing it first ({cmd})")
        run_sweep(ccfg, log=log)
        return root
    failed = [s["id"] for s in (manifest or {}).get("settings", []) if s.get("status") == "failed"]
    if failed:
        raise DatasetError(f"dataset {root} has {len(failed)} failed setting(s) ({', '.join(failed[:4])}"
                           f"{', ...' if len(failed) > 4 else ''}: the plugin crashed, hung or gave NaN/silence on them, "
                           f"see its manifest.json); rerun {'its capture command: ' + cmd if cmd else 'the capture command that made it'} "
                           "to retry them, or train on the captured ones with dataset.allow_failed=true")
    what = "is incomplete (the capture was interrupted)" if manifest else "not found"
    how = f"capture it first: {cmd}" if cmd else "capture it with python -m capture sweep ... out=<dir>"
    raise DatasetError(f"dataset {root} {what}; {how}")


def load_dataset(root: Path, allow_failed: bool = False) -> dict:
    problems = ds.verify(root, allow_failed=allow_failed)
    if problems:
        raise DatasetError(f"dataset {root}: {problems[0]} (run python -m capture verify {root})")
    return ds.read_manifest(root)


def new_run_dir(cfg: dict) -> Path:
    base = Path(cfg["runs_dir"]) / cfg["name"]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    d, i = base / stamp, 2
    while d.exists():
        d, i = base / f"{stamp}-{i}", i + 1
    return d


def latest_run(cfg: dict) -> Path | None:
    base = Path(cfg["runs_dir"]) / cfg["name"]
    runs = sorted(p for p in base.glob("*") if (p / "checkpoints" / "last.npz").exists()) if base.is_dir() else []
    return runs[-1] if runs else None


def choose_run_dir(cfg: dict) -> tuple[Path, bool]:
    """(run directory, resuming?) from run_dir / trainer.resume."""
    resume = cfg["trainer"]["resume"]
    if cfg["run_dir"]:
        d = Path(cfg["run_dir"]).expanduser()
        has = (d / "checkpoints" / "last.npz").exists()
        if has and not resume:
            raise ConfigError(f"run_dir={d} already holds a run; pass trainer.resume=true to continue it or choose another run_dir")
        if d.exists() and not has and any(p.name != ds.LOCK for p in d.iterdir()) and not (d / "config.yaml").exists():
            raise ConfigError(f"run_dir={d} exists and is not an ampcap run; choose another run_dir")
        return d, has
    if resume:
        d = latest_run(cfg)
        if d is None:
            raise ConfigError(f"trainer.resume=true: no run of '{cfg['name']}' to resume under {Path(cfg['runs_dir']) / cfg['name']}")
        return d, True
    return new_run_dir(cfg), False


def check_resume(run: Path, cfg: dict, manifest: dict, knobs: list[dict]) -> None:
    """A resumed run must have the same config (up to training length) and the same data."""
    try:
        old_cfg = json.loads((run / "run.json").read_text())
    except (OSError, ValueError):
        raise ConfigError(f"{run}: run.json is missing or unreadable; this is not a resumable run") from None
    old_names, new_names = [k["name"] for k in old_cfg["knobs"]], [k["name"] for k in knobs]
    if old_cfg["knobs"] != knobs:
        raise DatasetError(f"dataset knobs ({', '.join(new_names) or 'none'}) do not match the model's "
                           f"({', '.join(old_names) or 'none'}) in {run}; train a new run for this dataset")
    changed = changed_keys(old_cfg["config"], cfg, RESUMABLE_CHANGES)
    if changed:
        raise ConfigError(f"{run} was started with a different config (changed: {', '.join(changed[:4])}); "
                          "start a new run instead of trainer.resume=true")
    if old_cfg["dataset"]["config_sha256"] != manifest["config_sha256"]:
        raise DatasetError(f"{run} was trained on another capture than {old_cfg['dataset']['path']} holds now; start a new run")


def usable_cores() -> int:
    """Cores this process may run on (its affinity, e.g. under taskset or a batch scheduler)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def make_strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


# --- several workers (trainer.strategy=multi_worker, cluster from TF_CONFIG) -------------------------

class ClusterError(AmpcapError):
    """Multi-worker training could not start, or lost a worker."""


# keys each worker may set for itself (where its files are, what it prints); every other key of the
# model, loss and trainer must match the chief's, or the workers would not compute the same updates
WORKER_LOCAL = {"trainer.resume", "trainer.progress", "trainer.cluster_timeout", "trainer.renders"}


def cluster_from_env() -> dict | None:
    """The cluster of TF_CONFIG: {"workers": N, "index": this task's place (0: the chief, which is the
    `chief` task or else worker 0), "task": "worker:1", "addresses": [...]}; None without TF_CONFIG."""
    import os

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


def _watchdog(timeout: float, message: str):
    """A small process that prints `message` and kills this one unless its stdin is closed within
    `timeout` seconds. TensorFlow waits for the cluster inside C++ without releasing the GIL, so
    neither a thread nor a signal handler of this process could end that wait."""
    import subprocess
    import sys

    code = ("import os, select, signal, sys\n"
            "ready, _, _ = select.select([sys.stdin], [], [], float(sys.argv[2]))\n"
            "if not ready:\n"
            "    sys.stderr.write(sys.argv[3] + '\\n'); sys.stderr.flush()\n"
            "    os.kill(int(sys.argv[1]), signal.SIGKILL)\n")
    import os

    return subprocess.Popen([sys.executable, "-I", "-S", "-c", code, str(os.getpid()), str(timeout), message],
                            stdin=subprocess.PIPE)


def start_cluster(cluster: dict, timeout: float, log):
    """MultiWorkerMirroredStrategy for the TF_CONFIG cluster, once every worker has joined; after
    `timeout` seconds without them, one `error:` line and the process ends (exit status 137)."""
    import tensorflow as tf

    n = cluster["workers"]
    log(f"multi-worker: task {cluster['task']} ({'the chief' if cluster['index'] == 0 else 'a worker'}), "
        f"{n} workers; waiting for all of them (trainer.cluster_timeout={timeout:g} s)")
    dog = _watchdog(timeout, f"error: multi-worker: not all {n} workers of TF_CONFIG ({', '.join(cluster['addresses'])}) "
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


def _broadcast_json(strategy, obj) -> dict:
    """The chief's JSON-able `obj` on every worker (others pass None): its length, then its bytes."""
    from .tbptt import broadcast

    data = json.dumps(obj).encode() if obj is not None else b""
    (length,) = broadcast(strategy, [np.array(len(data))])
    data = data or bytes(int(length))
    (arr,) = broadcast(strategy, [np.frombuffer(data, np.uint8)])
    return json.loads(arr.astype(np.uint8).tobytes())


def _any_failed(strategy, failed: bool) -> bool:
    """True on every worker when any worker passed failed=True."""
    import tensorflow as tf

    per = strategy.experimental_distribute_values_from_function(lambda ctx: tf.constant(1.0 if failed else 0.0, tf.float64))
    return float(strategy.reduce(tf.distribute.ReduceOp.SUM, per, axis=None)) > 0


def _compared_config(cfg: dict) -> dict:
    from capture.config import flatten

    return {k: v for k, v in flatten({"model": cfg["model"], "loss": cfg["loss"], "trainer": cfg["trainer"]}).items()
            if k not in WORKER_LOCAL}


def write_json(path: Path, obj) -> None:
    ds.atomic_write_bytes(path, (json.dumps(obj, indent=1, default=float) + "\n").encode())


def train(cfg_in, log=print, config_dir: str | None = None) -> Path:
    """Run (or resume) the training run described by the composed config; returns its directory."""
    cfg = to_dict(validate(cfg_in, TrainConfig))
    check(cfg)
    t = cfg["trainer"]
    cluster = cluster_from_env() if t["strategy"] == "multi_worker" else None
    if cluster is None or cluster["workers"] == 1:
        return _train(cfg, log, config_dir, None)
    # several workers: the strategy first (TensorFlow wants it before any other op), then the run
    import tensorflow as tf

    strategy = start_cluster(cluster, t["cluster_timeout"], log)
    try:
        return _train(cfg, log, config_dir, strategy, cluster)
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
            tf.errors.CancelledError) as e:
        why = re.search(r"aborted by: ([^\n]+)", str(e))  # TensorFlow's first lines are where, not why
        why = " ".join((why.group(1) if why else str(e).strip().splitlines()[-1]).split())[:160]
        raise ClusterError(f"multi-worker: lost contact with another worker ({type(e).__name__}: {why}); "
                           "restart the same command on every host with trainer.resume=true") from None


def _train(cfg: dict, log, config_dir: str | None, strategy, cluster: dict | None = None) -> Path:
    t = cfg["trainer"]
    multi = strategy is not None
    chief = not multi or cluster["index"] == 0
    # The chief picks (or resumes) the run directory and finds the dataset (capturing it if needed),
    # then tells the workers; a worker reads only the dataset (its own copy, or a shared one).
    run, resuming, plan, problem = None, False, None, None
    if chief:
        try:
            run, resuming = choose_run_dir(cfg)
            root = locate_dataset(cfg, log, config_dir)
            manifest = load_dataset(root, cfg["dataset"]["allow_failed"])
            knobs, fixed = _model_knobs(cfg, manifest)
            if resuming:
                check_resume(run, cfg, manifest, knobs)
            plan = {"run": str(run), "resuming": resuming, "dataset": manifest["config_sha256"],
                    "config": _compared_config(cfg)}
        except AmpcapError as e:
            if not multi:
                raise
            problem, plan = e, {"error": str(e)}
    if multi:
        plan = _broadcast_json(strategy, plan)
        if problem is not None:
            raise problem
        if "error" in plan:
            raise ClusterError(f"multi-worker: the chief stopped: {plan['error']}")
        if not chief:
            try:
                run, resuming = Path(plan["run"]), plan["resuming"]
                root = locate_dataset({**cfg, "dataset": {**cfg["dataset"], "auto_capture": False}}, log, config_dir)
                manifest = load_dataset(root, cfg["dataset"]["allow_failed"])
                knobs, fixed = _model_knobs(cfg, manifest)
                differ = sorted(k for k in set(plan["config"]) | set(_compared_config(cfg))
                                if plan["config"].get(k) != _compared_config(cfg).get(k))
                if differ:
                    raise ConfigError(f"multi-worker: this worker's config differs from the chief's ({', '.join(differ[:4])}); "
                                      "run the same command on every host")
                if manifest["config_sha256"] != plan["dataset"]:
                    raise DatasetError(f"multi-worker: dataset {root} on this worker is another capture than the chief's; "
                                       "every worker needs the same dataset")
            except AmpcapError as e:
                problem = e
        if _any_failed(strategy, problem is not None):
            if problem is not None:
                raise problem
            raise ClusterError("multi-worker: another worker could not start (see its log); nothing was trained")

    import keras
    import tensorflow as tf

    from .data import load_split
    from .losses import make_loss
    from .model import AmpNet
    from .tbptt import TBPTT

    sr = int(manifest["sample_rate"])
    splits = {s["split"] for s in manifest["settings"] if s["status"] == "done"}
    train_data = load_split(root, manifest, "train", "train", knobs)
    # validation: held-out val settings on the val audio; a snapshot dataset validates on its setting
    val_data = load_split(root, manifest, "val" if "val" in splits else "train", "val", knobs)
    if strategy is None:
        strategy = make_strategy(t["strategy"])
    if t["batch_size"] % strategy.num_replicas_in_sync:
        raise ConfigError(f"config key 'trainer.batch_size': {t['batch_size']} does not split evenly over "
                          f"{strategy.num_replicas_in_sync} replicas")

    ckpt_dir = run / "checkpoints"
    if chief:
        # one training per run directory (held until this process ends; a killed run's lock is void)
        ds.lock_dir(run, f"run_dir={run}: another training is using this run directory ({{holder}}); wait for it "
                         "to finish or stop it, or start a new run")
        for f in checkpoint.remove_stale_temps(run):
            log(f"removed {f.relative_to(run)}, left by a killed run")
    if not resuming and chief:
        from omegaconf import OmegaConf

        ds.atomic_write_bytes(run / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(cfg)).encode())
        write_json(run / "run.json", {
            "format": RUN_FORMAT, "format_version": RUN_VERSION, "name": cfg["name"], "config": cfg,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "dataset": {"path": str(root), "config_sha256": manifest["config_sha256"], "plugin": manifest["plugin"],
                        "failed_settings": [{k: s.get(k) for k in ("id", "split", "knobs", "error")}  # dataset.allow_failed
                                            for s in manifest["settings"] if s["status"] == "failed"]},
            "knobs": knobs, "fixed_knobs": fixed, "sample_rate": sr})
    log(f"run {run} ({'resuming' if resuming else 'new'}{'' if chief else '; the chief writes it'}); dataset {root}: "
        f"{len(train_data.settings)} training settings, {len(val_data.settings)} validation; "
        f"model inputs: {', '.join(k['name'] for k in knobs) or 'audio only'}")

    keras.utils.set_random_seed(t["seed"])
    with strategy.scope():
        model = AmpNet(hidden_size=cfg["model"]["hidden_size"], n_cond=train_data.cond.shape[1],
                         conditioning=cfg["model"]["conditioning"], film_units=cfg["model"]["film_units"],
                         skip=cfg["model"]["skip"], knobs=knobs, sample_rate=sr, fixed_knobs=fixed).build_weights()
        optimizer = keras.optimizers.Adam(t["learning_rate"], clipnorm=t["clipnorm"])
    model.fused_splits = (t["lstm_splits"] or usable_cores()) if t["fused_lstm"] else 0
    lc = cfg["loss"]
    loss = make_loss(lc["pre_emphasis"], lc["esr_weight"], lc["dc_weight"], lc["stft_weight"], lc["plain_weight"],
                     lc["low_weight"], lc["low_pool"])
    tbptt = TBPTT(model, optimizer, loss, t["warmup"], t["window"], strategy=strategy)
    from .train import fit, new_state

    state = new_state(t["learning_rate"])
    if resuming and chief:
        state = {**new_state(t["learning_rate"]), **checkpoint.load(ckpt_dir / "last.npz", model, optimizer)}
        # training length may be extended on resume
        if state["done"] and state["stop_reason"].startswith(("max_epochs", "max_minutes")) and state["epoch"] < t["max_epochs"] \
                and not (t["max_minutes"] and state["elapsed_seconds"] / 60 >= t["max_minutes"]):
            state.update(done=False, stop_reason=None)
    if multi and resuming:  # the chief's checkpoint to every worker: no worker reads the run directory
        state = _broadcast_json(strategy, state if chief else None)
        variables = list(model.weights) + list(optimizer.variables)
        for v, a in zip(variables, tbptt.broadcast([np.asarray(v) for v in variables])):
            v.assign(a.astype(v.dtype))
    if resuming:
        log(f"continuing after epoch {state['epoch']} (best validation ESR {state['best_val']})" if not state["done"]
            else "training had finished; redoing the final evaluation")
    writer = tf.summary.create_file_writer(str(run / "tb")) if chief else None
    state = fit(model, optimizer, tbptt, train_data, val_data, t, sr, cfg["loss"]["pre_emphasis"], ckpt_dir, state,
                writer, log=log, chief=chief, balance=cfg["loss"]["balance_settings"],
                sync=tbptt.broadcast if multi else None)
    log(state["stop_reason"])
    if chief:
        checkpoint.load(ckpt_dir / "best.npz", model)
        from .report import finish

        finish(run, cfg, model, root, manifest, knobs, state, log)
    if multi:  # the workers wait for the chief's evaluation and files, so all end together
        tbptt.broadcast([np.zeros(1)])
    return run


def _model_knobs(cfg: dict, manifest: dict) -> tuple[list[dict], dict]:
    from .data import varying_knobs

    knobs, fixed = varying_knobs(manifest)
    if cfg["model"]["conditioning"] == "none":
        knobs, fixed = [], {k["name"]: manifest["settings"][0]["knobs"][k["name"]] for k in manifest["knobs"]}
    return knobs, fixed
