"""`python -m capture sweep --multirun ...`: Hydra's multirun over the capture config, so a sweep split
into shards (`sweep.shard=0/4,1/4,2/4,3/4`) runs through any Hydra launcher: `hydra/launcher=joblib`
on one machine, the submitit (SLURM) or Ray launchers on a cluster. Each job captures one shard into
`<out>/shards/i-of-n`; `python -m capture merge <out>` joins them."""
from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ampcap.config import hydra_session, one_line
from ampcap.errors import AmpcapError, ConfigError

from .config import SCHEMAS
from .runner import run_sweep


def shard_job(cfg) -> tuple[int, str]:
    """One Hydra job: capture one shard. Returns (exit code, message) so user errors stay one line."""
    # launchers run jobs in their own process pools (joblib: loky); plugin processes are plain spawns
    multiprocessing.set_start_method("spawn", force=True)
    where = f"shard {cfg.sweep.shard}" if cfg.sweep.get("shard") else "job"
    try:
        root = run_sweep(cfg, log=lambda m: print(f"[{where}] {m}", file=sys.stderr, flush=True))
        return 0, str(root)
    except AmpcapError as e:
        return e.exit_code, f"{where}: {e}"
    except KeyboardInterrupt:
        return 130, f"{where}: interrupted"
    except Exception as e:  # a bug: one line, as everywhere else
        return 1, f"{where}: internal error: {type(e).__name__}: {one_line(e)[:300]} ({OmegaConf.select(cfg, 'out')})"


def multirun(overrides: list[str], config_dir: str | None, log=print) -> int:
    """Run the capture config under Hydra's multirun; prints one line per job and the merge command."""
    try:
        with hydra_session(overrides, config_dir, SCHEMAS) as ov:
            batches = GlobalHydra.instance().hydra.multirun(config_name="capture", task_function=shard_job, overrides=ov,
                                                            with_log_configuration=False)
    except (HydraException, OmegaConfBaseException, ValueError) as e:
        raise ConfigError(f"config: {one_line(e).split(' Config search path:')[0]}") from None
    results = []
    for batch in batches or []:
        for job in batch:
            try:
                code, msg = job.return_value
            except Exception as e:  # the launcher itself failed this job
                code, msg = 1, f"job {job.overrides}: {one_line(e)[:300]}"
            results.append((code, msg, job))
    outs = set()
    for code, msg, job in results:
        if code == 0:
            log(f"ok: {' '.join(job.overrides)} -> {msg}")
            if "/shards/" in msg:
                outs.add(str(Path(msg).parent.parent))
    failed = [(c, m) for c, m, _ in results if c != 0]
    for c, m in failed[:-1]:
        log(f"error: {m}")
    if outs and not failed:
        for o in sorted(outs):
            log(f"all shards captured: join them with  python -m capture merge {o}")
    if failed:
        c, m = failed[-1]
        raise JobFailed(f"{m}" + (f" ({len(failed)} of {len(results)} jobs failed)" if len(results) > 1 else "")
                         + "; rerun the same command to resume", c)
    return 0


class JobFailed(AmpcapError):
    def __init__(self, msg: str, code: int):
        super().__init__(msg)
        self.exit_code = code
