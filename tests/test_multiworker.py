"""Multi-worker data-parallel training (`trainer.strategy=multi_worker`, cluster from TF_CONFIG): two
worker processes on localhost run the real CLI and follow the loss trajectory of one process with
the same global batch, through a resume; only the chief writes; workers started with different
configs stop before training; a worker whose peers never come, or whose peer dies, ends with one
error line instead of waiting forever. Also TF_CONFIG parsing and the SLURM wrapper
(scripts/slurm_tf_config.py)."""
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ampcap.errors import ConfigError
from tests.conftest import ROOT, run_cli

QUICK = ["trainer=quick", "trainer.progress=false", "model=lstm8"]


@pytest.fixture(scope="module")
def gain_dataset(tmp_path_factory):
    """Gain only, 2 training settings of 4.2 s: a well-conditioned small problem (see TOLERANCE)."""
    out = tmp_path_factory.mktemp("ds") / "gain"
    p = run_cli("capture", "sweep", "sweep=gain_sweep", "sweep.n_train=2", "sweep.n_heldout=2",
                "signal.duration_s=6", "progress=false", f"out={out}")
    assert p.returncode == 0, p.stderr
    return out


def free_ports(n: int) -> list[int]:
    """n free TCP ports on the loopback interface (bound together, so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def start(args, cwd: Path, log: Path, tf_config_json: str | None = None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("AMPCAP_DEBUG", None)
    env.pop("TF_CONFIG", None)
    if tf_config_json:
        env["TF_CONFIG"] = tf_config_json
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "amptrain", *QUICK, *map(str, args)], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=env)


def run_workers(n: int, args_of, tmp_path: Path, tag: str, timeout: float = 240) -> tuple[list[int], list[str], float]:
    """Start n workers (args_of(i): worker i's arguments), wait for all; (exit codes, logs, seconds)."""
    ports = free_ports(n)
    t0 = time.perf_counter()
    procs = [start(args_of(i), tmp_path / f"cwd{i}", tmp_path / f"{tag}{i}.log", tf_config(ports, i)) for i in range(n)]
    try:
        codes = [p.wait(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return codes, [(tmp_path / f"{tag}{i}.log").read_text() for i in range(n)], time.perf_counter() - t0


def history(run: Path) -> list[dict]:
    from amptrain.checkpoint import read_state

    return read_state(run / "checkpoints" / "last.npz")["history"]


def files(run: Path) -> set[str]:
    return {"tb/events" if p.parent.name == "tb" else str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()}


# Tolerance of the two-worker trajectory against one worker's. The maths is the same: each worker
# runs its half of the same global batch's rows, the loss is the whole batch's (predictions gathered),
# the summed gradient is clipped once, Adam sees the same numbers. What differs is float32 rounding:
# the weight gradients are summed per worker and then across workers (another order than one
# process's sum), so weights differ by ~1 ulp after the first update, and a non-chaotic trajectory
# stays close: the 3 epochs here differed by at most 4e-7 relative (loss and validation ESR,
# measured 2026-11-26). 1e-4 leaves a wide margin for other CPUs' kernels; a wrong split of the maths
# (mean of per-worker loss ratios, per-worker clipping, a worker on the wrong rows) differs by 1e-2
# or more already in the first epoch (10% in tests/test_distribute.py's case).
# The dataset matters: on sweep=tiny (quiet settings, epoch-1 loss in the thousands) training is
# chaotic and ulp differences grow to 20% by epoch 2 -- for one process too, e.g. with oneDNN's
# kernels switched off (TF_ENABLE_ONEDNN_OPTS=0) -- so no tolerance short of that would be a test.
TOLERANCE = 1e-4


@pytest.mark.slow
def test_two_workers_follow_one_worker_through_a_resume(gain_dataset, tmp_path):
    common = ["dataset=path", f"dataset.path={gain_dataset}", "trainer.patience=4"]
    # one process, plain strategy: the reference
    t0 = time.perf_counter()
    one = start([*common, "trainer.max_epochs=3", f"run_dir={tmp_path / 'one'}"], tmp_path, tmp_path / "one.log")
    assert one.wait(timeout=240) == 0, (tmp_path / "one.log").read_text()
    one_s = time.perf_counter() - t0

    # two workers, 2 epochs, then resumed (training length extended) to 3: the chief reads its
    # checkpoint and sends weights, optimiser and trainer state to the worker
    chief_run, worker_run = tmp_path / "two", tmp_path / "never"  # the worker's own run_dir is never used

    def args(epochs, *extra):
        return lambda i: [*common, f"trainer.max_epochs={epochs}", "trainer.strategy=multi_worker",
                          f"run_dir={chief_run if i == 0 else worker_run}", *extra]

    codes, logs, first_s = run_workers(2, args(2), tmp_path, "first")
    assert codes == [0, 0], logs
    assert "the chief writes it" in logs[1] and "run directory:" in logs[0] and "run directory:" not in logs[1]
    codes, logs, resume_s = run_workers(2, args(3, "trainer.resume=true"), tmp_path, "resume")
    assert codes == [0, 0], logs
    assert all("continuing after epoch 2" in log for log in logs), logs

    # only the chief wrote: the worker's run_dir and working directory stay empty
    assert not worker_run.exists() and not any((tmp_path / "cwd1").iterdir())
    assert files(chief_run) == files(tmp_path / "one")
    assert not [p for p in chief_run.rglob(".*") if p.is_file()]  # no temp files

    a, b = history(tmp_path / "one"), history(chief_run)
    print(f"\n1 worker: {one_s:.1f} s; 2 workers: {first_s:.1f} s (2 epochs) + {resume_s:.1f} s (resume, 1 epoch)")
    for x, y in zip(a, b):
        print(f"epoch {x['epoch']}: loss {x['train_loss']:.9f} vs {y['train_loss']:.9f}, val ESR {x['val_esr']:.9f} vs "
              f"{y['val_esr']:.9f}; epoch {x['seconds']:.2f} s vs {y['seconds']:.2f} s")
    assert [r["epoch"] for r in b] == [r["epoch"] for r in a] == [1, 2, 3]
    assert a[-1]["train_loss"] < 0.5 * a[0]["train_loss"]  # it trains
    for x, y in zip(a, b):
        assert y["train_loss"] == pytest.approx(x["train_loss"], rel=TOLERANCE), (x, y)
        assert y["val_esr"] == pytest.approx(x["val_esr"], rel=TOLERANCE), (x, y)
        assert y["lr"] == x["lr"]
    ma = json.loads((tmp_path / "one" / "metrics.json").read_text())
    mb = json.loads((chief_run / "metrics.json").read_text())
    assert mb["training"]["best_epoch"] == ma["training"]["best_epoch"]
    assert mb["heldout"]["esr"] == pytest.approx(ma["heldout"]["esr"], rel=TOLERANCE)


@pytest.mark.slow
def test_workers_with_different_configs_stop_before_training(gain_dataset, tmp_path):
    """The handshake: a worker started with another seed stops, naming the key; so does the chief."""
    common = ["dataset=path", f"dataset.path={gain_dataset}", "trainer.strategy=multi_worker", f"run_dir={tmp_path / 'run'}"]
    codes, logs, _ = run_workers(2, lambda i: [*common, f"trainer.seed={i}"], tmp_path, "w", timeout=120)
    errors = [[l for l in log.splitlines() if l.startswith("error:")] for log in logs]
    assert codes == [2, 2], logs
    assert errors[1] == ["error: multi-worker: this worker's config differs from the chief's (trainer.seed); "
                         "run the same command on every host"], logs[1]
    assert len(errors[0]) == 1 and "another worker could not start" in errors[0][0], logs[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_worker_whose_peer_never_comes_ends_with_one_line(gain_dataset, tmp_path):
    ports = free_ports(2)
    t0 = time.perf_counter()
    p = start(["dataset=path", f"dataset.path={gain_dataset}", "trainer.strategy=multi_worker",
               "trainer.cluster_timeout=3", f"run_dir={tmp_path / 'run'}"], tmp_path, tmp_path / "w.log", tf_config(ports, 0))
    code = p.wait(timeout=120)
    seconds = time.perf_counter() - t0
    errors = [l for l in (tmp_path / "w.log").read_text().splitlines() if l.startswith("error:")]
    assert code == -signal.SIGKILL, code  # TensorFlow's wait holds the GIL: only a kill ends it
    assert len(errors) == 1 and "joined within 3 s (trainer.cluster_timeout)" in errors[0], errors
    assert seconds < 60
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_worker_that_dies_ends_the_other_with_one_line(gain_dataset, tmp_path):
    ports = free_ports(2)
    args = ["dataset=path", f"dataset.path={gain_dataset}", "trainer.strategy=multi_worker", "trainer.max_epochs=6"]
    procs = [start([*args, f"run_dir={tmp_path / 'run'}"], tmp_path / f"cwd{i}", tmp_path / f"w{i}.log", tf_config(ports, i))
             for i in range(2)]
    try:
        deadline = time.time() + 180
        while "epoch   1" not in (tmp_path / "w1.log").read_text():
            assert time.time() < deadline and procs[1].poll() is None
            time.sleep(0.1)
        procs[1].kill()
        procs[1].wait()
        t0 = time.perf_counter()
        code = procs[0].wait(timeout=120)
        seconds = time.perf_counter() - t0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    text = (tmp_path / "w0.log").read_text()
    lines = [l for l in text.splitlines() if l.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "lost contact with another worker" in lines[0], text
    assert "trainer.resume=true" in lines[0]
    assert seconds < 60
    # the chief's checkpoints are whole: the run continues with trainer.resume=true
    from amptrain.checkpoint import read_state

    assert read_state(tmp_path / "run" / "checkpoints" / "last.npz")["epoch"] >= 1


# --- fast: TF_CONFIG and the SLURM wrapper --------------------------------------------------------

@pytest.mark.parametrize("cfg, expect", [
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, (2, 0)),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, (2, 1)),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}, (3, 0)),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, (3, 1)),
    ({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, (1, 0)),
])
def test_cluster_from_tf_config(monkeypatch, cfg, expect):
    from amptrain.cluster import cluster_from_env, is_chief

    monkeypatch.setenv("TF_CONFIG", json.dumps(cfg))
    c = cluster_from_env()
    assert (c["workers"], c["index"]) == expect
    assert is_chief() == (expect[1] == 0)


@pytest.mark.parametrize("raw, expect", [
    ("{not json", "not valid"),
    (json.dumps({"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}), "job 'ps'"),
    (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}), "task worker:1 is not in"),
    (json.dumps({"cluster": {"chief": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}), "only one"),
])
def test_bad_tf_config_is_one_line(monkeypatch, raw, expect):
    from amptrain.cluster import cluster_from_env

    monkeypatch.setenv("TF_CONFIG", raw)
    with pytest.raises(ConfigError, match=expect):
        cluster_from_env()


def test_no_tf_config_is_one_process(monkeypatch):
    from amptrain.cluster import cluster_from_env, is_chief

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster_from_env() is None and is_chief()


def _slurm():
    spec = importlib.util.spec_from_file_location("slurm_tf_config", ROOT / "scripts" / "slurm_tf_config.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_slurm_hostlists_expand():
    s = _slurm()
    assert s.expand_hostlist("node[01-03,07],gpu5") == ["node01", "node02", "node03", "node07", "gpu5"]
    assert s.expand_hostlist("a[1-2]-ib[0-1]") == ["a1-ib0", "a1-ib1", "a2-ib0", "a2-ib1"]
    assert s.expand_hostlist("single") == ["single"]
    assert s.expand_tasks_per_node("2(x3),1") == [2, 2, 2, 1]


def test_slurm_tf_config_for_every_task():
    s = _slurm()
    env = {"SLURM_STEP_NODELIST": "gpu[1-2]", "SLURM_STEP_TASKS_PER_NODE": "2(x2)", "SLURM_STEP_NUM_TASKS": "4",
           "SLURM_JOB_ID": "1234"}
    workers = ["gpu1:21234", "gpu1:21235", "gpu2:21234", "gpu2:21235"]
    for rank in range(4):
        node, local = divmod(rank, 2)
        c = s.tf_config({**env, "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(local), "SLURMD_NODENAME": f"gpu{node + 1}"})
        assert c == {"cluster": {"worker": workers}, "task": {"type": "worker", "index": rank}}
    assert s.tf_config({**env, "SLURM_PROCID": "0"}, port=30000)["cluster"]["worker"][1] == "gpu1:30001"
    # tasks placed cyclically (srun --distribution=cyclic): the task is not where block order puts it
    with pytest.raises(ValueError, match="distribution=block"):
        s.tf_config({**env, "SLURM_PROCID": "1", "SLURM_LOCALID": "0", "SLURMD_NODENAME": "gpu2"})
    with pytest.raises(ValueError, match="SLURM_PROCID"):
        s.tf_config({k: v for k, v in env.items()})
