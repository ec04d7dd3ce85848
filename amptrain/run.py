"""One training run end to end (`python -m amptrain`): plan it (run directory, dataset, resume;
amptrain/rundir.py), agree on the plan across workers (amptrain/cluster.py), build the model and the
trainer (amptrain/build.py), train (amptrain/train.py), then evaluate and write the run's files
(amptrain/report.py); with adapt.rounds, the adaptive loop instead (amptrain/adapt.py).
The capture stage's counterpart is capture/runner.py."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from ampcap.config import to_dict, validate
from ampcap.errors import AmpcapError, ConfigError, DatasetError

from . import checkpoint
from .build import Plan, build, dc_block_line, restore
from .cluster import ClusterError, any_failed, broadcast_json, cluster_from_env, compared_config, make_strategy, start_cluster
from .config import TrainConfig, check
from .data import load_split
from .report import finish
from .rundir import check_resume, choose_run_dir, load_dataset, locate_dataset, lock_run, model_knobs, write_run_files
from .sampling.dc_block import choose_cutoff, dc_share
from .train import fit


def train(cfg_in, log=print, config_dir: str | None = None) -> Path:
    """Run (or resume) the training run described by the composed config; returns its directory."""
    cfg = to_dict(validate(cfg_in, TrainConfig))
    check(cfg)
    t = cfg["trainer"]
    if cfg["adapt"]["rounds"]:
        from .adapt import run_adaptive

        return run_adaptive(cfg, log, config_dir)
    cluster = cluster_from_env() if t["strategy"] == "multi_worker" else None
    if cluster is None or cluster["workers"] == 1:
        return run_training(cfg, log, config_dir, None)
    # several workers: the strategy first (TensorFlow wants it before any other op), then the run
    strategy = start_cluster(cluster, t["cluster_timeout"], log)
    try:
        return run_training(cfg, log, config_dir, strategy, cluster)
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
            tf.errors.CancelledError) as e:
        why = re.search(r"aborted by: ([^\n]+)", str(e))  # TensorFlow's first lines are where, not why
        why = " ".join((why.group(1) if why else str(e).strip().splitlines()[-1]).split())[:160]
        raise ClusterError(f"multi-worker: lost contact with another worker ({type(e).__name__}: {why}); "
                           "restart the same command on every host with trainer.resume=true") from None


def budget_text(t: dict) -> str:
    """The training budget in words, for the line a run starts with."""
    if t["max_minutes"]:
        return f"training for {t['max_minutes']:g} minutes (at most {t['max_epochs']} epochs)"
    return f"training for {t['max_epochs']} epochs, no time limit (trainer.max_minutes=N sets one)"


def run_training(cfg: dict, log, config_dir: str | None, strategy, cluster: dict | None = None) -> Path:
    t = cfg["trainer"]
    multi = strategy is not None
    chief = not multi or cluster["index"] == 0
    p = plan_on_cluster(cfg, log, config_dir, strategy, chief) if multi else plan_run(cfg, log, config_dir)
    train_data = load_split(p.root, p.manifest, "train", "train", p.knobs)
    # validation: held-out val settings on the val audio; a snapshot dataset validates on its setting
    splits = {s["split"] for s in p.manifest["settings"] if s["status"] == "done"}
    val_data = load_split(p.root, p.manifest, "val" if "val" in splits else "train", "val", p.knobs)
    if strategy is None:
        strategy = make_strategy(t["strategy"])
    if t["batch_size"] % strategy.num_replicas_in_sync:
        raise ConfigError(f"config key 'trainer.batch_size': {t['batch_size']} does not split evenly over "
                          f"{strategy.num_replicas_in_sync} replicas")
    if chief:
        lock_run(p.run, log)
        if not p.resuming:
            write_run_files(p.run, cfg, p.root, p.manifest, p.knobs, p.fixed)
    log(f"run {p.run} ({'resuming' if p.resuming else 'new'}{'' if chief else '; the chief writes it'}); dataset {p.root}: "
        f"{len(train_data.settings)} training settings, {len(val_data.settings)} validation; "
        f"model inputs: {', '.join(k['name'] for k in p.knobs) or 'audio only'}; {budget_text(t)}")
    share = dc_share(train_data.y)  # the training targets' DC: decides the output DC blocker (model.dc_block=auto)
    model, optimizer, tbptt = build(cfg, p, train_data, strategy, choose_cutoff(cfg["model"]["dc_block"], share))
    log(dc_block_line(cfg["model"]["dc_block"], model.dc_block_hz, share))
    state = restore(cfg, p, model, optimizer, tbptt, chief, multi, log)
    ckpt_dir = p.run / "checkpoints"
    writer = tf.summary.create_file_writer(str(p.run / "tb")) if chief else None
    sr = int(p.manifest["sample_rate"])
    state = fit(model, optimizer, tbptt, train_data, val_data, t, sr, cfg["loss"]["pre_emphasis"], ckpt_dir, state,
                writer, log=log, chief=chief,
                sync=tbptt.broadcast if multi else None)
    log(state.stop_reason)
    if chief:
        checkpoint.load(ckpt_dir / "best.npz", model)
        finish(p.run, cfg, model, p.root, p.manifest, p.knobs, state, log)
    if multi:  # the workers wait for the chief's evaluation and files, so all end together
        tbptt.broadcast([np.zeros(1)])
    return p.run


def plan_run(cfg: dict, log, config_dir: str | None) -> Plan:
    """The chief's (or the only process's) plan: pick or resume the run directory, find the dataset
    (capturing it if needed), check that a resumed run is the same run."""
    run, resuming = choose_run_dir(cfg)
    root = locate_dataset(cfg, log, config_dir)
    manifest = load_dataset(root, cfg["dataset"]["allow_failed"])
    knobs, fixed = model_knobs(cfg, manifest)
    if resuming:
        check_resume(run, cfg, manifest, knobs)
    return Plan(run, resuming, root, manifest, knobs, fixed)


def plan_on_cluster(cfg: dict, log, config_dir: str | None, strategy, chief: bool) -> Plan:
    """The chief plans and tells the workers; a worker reads only the dataset (its own copy, or a
    shared one) and checks it has the chief's config and data. A problem anywhere stops every worker."""
    plan = problem = shared = None
    if chief:
        try:
            plan = plan_run(cfg, log, config_dir)
            shared = {"run": str(plan.run), "resuming": plan.resuming, "dataset": plan.manifest["config_sha256"],
                      "config": compared_config(cfg)}
        except AmpcapError as e:
            problem, shared = e, {"error": str(e)}
    shared = broadcast_json(strategy, shared)
    if problem is not None:
        raise problem
    if "error" in shared:
        raise ClusterError(f"multi-worker: the chief stopped: {shared['error']}")
    if not chief:
        try:
            plan = worker_plan(cfg, log, config_dir, shared)
        except AmpcapError as e:
            problem = e
    if any_failed(strategy, problem is not None):
        if problem is not None:
            raise problem
        raise ClusterError("multi-worker: another worker could not start (see its log); nothing was trained")
    return plan


def worker_plan(cfg: dict, log, config_dir: str | None, shared: dict) -> Plan:
    """A worker's plan from the chief's: the same run directory, this worker's copy of the dataset."""
    root = locate_dataset({**cfg, "dataset": {**cfg["dataset"], "auto_capture": False}}, log, config_dir)
    manifest = load_dataset(root, cfg["dataset"]["allow_failed"])
    knobs, fixed = model_knobs(cfg, manifest)
    mine = compared_config(cfg)
    differ = sorted(k for k in set(shared["config"]) | set(mine) if shared["config"].get(k) != mine.get(k))
    if differ:
        raise ConfigError(f"multi-worker: this worker's config differs from the chief's ({', '.join(differ[:4])}); "
                          "run the same command on every host")
    if manifest["config_sha256"] != shared["dataset"]:
        raise DatasetError(f"multi-worker: dataset {root} on this worker is another capture than the chief's; "
                           "every worker needs the same dataset")
    return Plan(Path(shared["run"]), shared["resuming"], root, manifest, knobs, fixed)


