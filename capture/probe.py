"""Probes: a few seconds of the DI through the plugin at many candidate settings, far cheaper than capturing
them, so the adaptive loop (amptrain/adapt.py) can measure its model's real error where nothing is captured
yet. Probes are rendered in plugin processes like a capture (a crash or hang fails one probe), and nothing is
written."""
from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ampcap.errors import CaptureFailed

from .pool import auto_timeout
from .reamp import PROBE_GAP_S
from .worker import HostProcess, WorkerFailed, wait_for_any

PROBE_ATTEMPTS = 2   # a probe whose process fails is tried once more on a fresh one, then left out


def probe_signal(di: np.ndarray, region: tuple[int, int], seconds: float, sample_rate: int, pieces: int = 4) -> np.ndarray:
    """The probe DI: `pieces` equal pieces of the DI's `region`, spread evenly over it and joined, `seconds` long in
    all (a little of every kind of material instead of one phrase)."""
    a, b = int(region[0]), int(region[1])
    n = max(1, int(round(seconds * sample_rate / pieces)))
    if b - a < n * pieces:
        raise CaptureFailed(f"adapt.probe_s: {seconds:g} s of probe is longer than the DI's training audio "
                            f"({(b - a) / sample_rate:.1f} s)")
    starts = np.linspace(a, b - n, pieces).astype(int)
    return np.concatenate([di[s: s + n] for s in starts]).astype(np.float32)


def plugin_seconds(n_samples: int, sample_rate: int, pcfg: dict) -> float:
    """Seconds of audio the plugin renders for one setting of `n_samples` of DI: the pre-roll, the latency probe
    and its gaps, the DI and the latency tail (capture/reamp.py render_setting): what a probe or a setting costs."""
    extra = pcfg["preroll_s"] + 2 * PROBE_GAP_S + pcfg["max_latency"] / sample_rate
    return n_samples / sample_rate + extra


def render_probes(pcfg: dict, di: np.ndarray, sample_rate: int, settings: list[dict], workers: int, reload_each: bool,
                  progress: bool = True, log=print) -> list[np.ndarray | None]:
    """The plugin's output for the probe DI `di` at each setting (knob values), on `workers` plugin processes; a
    probe that fails twice is None (and said); every probe failing is an error."""
    timeout = auto_timeout(len(di) / sample_rate, pcfg)
    out: list[np.ndarray | None] = [None] * len(settings)
    queue = deque((i, 1) for i in range(len(settings)))
    busy: dict[HostProcess, tuple[int, int]] = {}
    idle: list[HostProcess] = []
    failed: list[str] = []
    bar = tqdm(total=len(settings), unit="probe", desc=f"probe {pcfg['name']}", disable=not progress, file=sys.stderr,
               dynamic_ncols=True, mininterval=0.5, leave=False)

    def fail(i: int, attempt: int, why: str) -> None:
        if attempt < PROBE_ATTEMPTS:
            queue.append((i, attempt + 1))
        else:
            failed.append(why)
            log(f"warning: probe at {settings[i]} failed twice ({why}); left out")
            bar.update(1)

    try:
        while queue or busy:
            while queue and len(busy) < max(1, workers):
                i, attempt = queue.popleft()
                host = idle.pop() if idle else HostProcess(pcfg, di, Path("."))
                try:
                    host.submit(("probe", settings[i], reload_each), timeout)
                except WorkerFailed as e:
                    host.kill()
                    fail(i, attempt, str(e))
                    continue
                busy[host] = (i, attempt)
            if busy:
                wait_for_any(list(busy), min(h.deadline for h in busy) - time.monotonic() + 0.05)
            for host in list(busy):
                i, attempt = busy[host]
                try:
                    result = host.poll()
                except WorkerFailed as e:
                    del busy[host]
                    fail(i, attempt, str(e))
                    continue
                if result is None:
                    continue
                del busy[host]
                idle.append(host)
                out[i] = result
                bar.update(1)
    finally:
        for host in busy:
            host.kill()
        for host in idle:
            host.stop()
        bar.close()
    if settings and all(o is None for o in out):
        raise CaptureFailed(f"every one of the {len(settings)} probes failed ({failed[-1]}); the plugin fails on every "
                            "setting tried")
    return out
