#!/usr/bin/env python3
"""Run a command with TF_CONFIG built from SLURM's variables: one SLURM task is one worker of
`python -m amptrain ... trainer.strategy=multi_worker`.

    srun --nodes=2 --ntasks-per-node=1 python scripts/slurm_tf_config.py -- \\
        python -m amptrain +experiment=gain_sweep trainer.strategy=multi_worker

Task SLURM_PROCID is worker SLURM_PROCID; worker 0 is the chief (it writes the run directory). The
workers listen on PORT + their local task id on their node (PORT: --port, default 20000 + the job id
modulo 10000, so two jobs sharing a node rarely collide). Tasks must be placed in block order (srun's
default distribution; the script checks it where SLURM says which node a task is on)."""
from __future__ import annotations

import json
import os
import re
import sys


def _split_top(spec: str) -> list[str]:
    """Split on the commas that are not inside [...]."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(spec):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(spec[start:i])
            start = i + 1
    parts.append(spec[start:])
    return [p for p in parts if p]


def _expand_one(part: str) -> list[str]:
    m = re.match(r"^([^\[]*)\[([^\]]+)\](.*)$", part)
    if not m:
        return [part]
    prefix, ranges, rest = m.groups()
    tails = _expand_one(rest)
    out = []
    for r in ranges.split(","):
        lo, _, hi = r.partition("-")
        numbers = [str(n).zfill(len(lo)) for n in range(int(lo), int(hi) + 1)] if hi else [lo]
        out += [prefix + n + t for n in numbers for t in tails]
    return out


def expand_hostlist(spec: str) -> list[str]:
    """SLURM's compressed host list: "node[01-03,07],gpu5" -> node01 node02 node03 node07 gpu5."""
    return [h for part in _split_top(spec.strip()) for h in _expand_one(part)]


def expand_tasks_per_node(spec: str) -> list[int]:
    """SLURM_TASKS_PER_NODE: "2(x3),1" -> [2, 2, 2, 1]."""
    counts = []
    for item in spec.split(","):
        m = re.fullmatch(r"\s*(\d+)(?:\(x(\d+)\))?\s*", item)
        if not m:
            raise ValueError(f"cannot read tasks per node '{spec}'")
        counts += [int(m.group(1))] * int(m.group(2) or 1)
    return counts


def _get(env: dict, *names: str) -> str | None:
    return next((env[n] for n in names if env.get(n)), None)


def tf_config(env: dict, port: int | None = None) -> dict:
    """TF_CONFIG of this SLURM task (env: the SLURM_* variables)."""
    nodes = _get(env, "SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST")
    rank = _get(env, "SLURM_PROCID")
    if nodes is None or rank is None:
        raise ValueError("SLURM_PROCID / SLURM_STEP_NODELIST not set: run this under srun")
    hosts = expand_hostlist(nodes)
    per_node = expand_tasks_per_node(_get(env, "SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE") or "1")
    if len(per_node) == 1 and len(hosts) > 1:
        per_node *= len(hosts)
    if port is None:
        port = 20000 + int(_get(env, "SLURM_JOB_ID") or 0) % 10000
    workers = [f"{h}:{port + j}" for h, k in zip(hosts, per_node) for j in range(k)]
    ntasks = int(_get(env, "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS") or len(workers))
    index = int(rank)
    if len(workers) != ntasks or not 0 <= index < ntasks:
        raise ValueError(f"{ntasks} tasks, but the node list and tasks per node give {len(workers)} workers")
    node, local = _get(env, "SLURMD_NODENAME"), _get(env, "SLURM_LOCALID")
    if node is not None and local is not None and workers[index] != f"{node}:{port + int(local)}":
        raise ValueError(f"task {index} runs on {node} (local id {local}), not where block order puts it "
                         f"({workers[index]}): use srun --distribution=block")
    return {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}


def main(argv: list[str]) -> int:
    port = None
    if argv[:1] == ["--port"]:
        port, argv = int(argv[1]), argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: srun ... python scripts/slurm_tf_config.py [--port PORT] -- COMMAND ...", file=sys.stderr)
        return 2
    try:
        cfg = tf_config(dict(os.environ), port)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    os.environ["TF_CONFIG"] = json.dumps(cfg)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
