"""Settings spread over plugin processes (capture/worker.py): the plugin checks first, then every
pending setting on `workers` processes at once; a setting whose process crashes, hangs past its
deadline or reports an error is retried on a fresh process, then recorded as failed."""
from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path

from tqdm import tqdm

from ampcap import dataset as ds
from ampcap.errors import CaptureFailed, PluginError

from .worker import HostProcess, WorkerFailed, wait_for_any

GIVE_UP_AFTER = 3           # stop early when this many settings failed and none succeeded


def auto_timeout(seconds: float, pcfg: dict) -> float:
    """Per-setting deadline when timeout_s is not given: generous for any plugin that renders at least
    at half real time, plus its load time (reloaded plugins load once per setting)."""
    return 60.0 + 2.0 * (seconds + pcfg["preroll_s"] + 1.0) + 2.0 * float(pcfg.get("init_timeout_s") or 10.0)


def clear_partial_files(root: Path, setting_id: str | None = None) -> None:
    """Remove temp files left by a write that was killed (all of them at start, one setting's after a
    worker is killed): they are never read, but should not pile up."""
    pattern = f".{setting_id}.wav.*.tmp" if setting_id else ".*.tmp"
    for d in (root, root / "settings"):
        for p in d.glob(pattern):
            p.unlink(missing_ok=True)


def run_checks(spawn, entries: list[dict], timeout: float, log) -> tuple[dict, HostProcess]:
    """The plugin checks in a worker. A plugin that fails them on one pair of settings is tried on
    the next pair (up to three); returns the checks and the live worker, to reuse for capture."""
    n = len(entries)
    pairs = [(entries[i], entries[n - 1 - i] if n > 1 else entries[0]) for i in range(min(3, max(1, n // 2)))]
    reasons = []
    for check, other in pairs:
        try:
            host = spawn()
            host.wait_ready()
        except WorkerFailed as e:
            raise PluginError(f"plugin: {e}") from None
        host.submit(("checks", check, other), 2 * timeout)
        try:
            while (result := host.poll()) is None:
                wait_for_any([host], 0.5)
            return result, host
        except WorkerFailed as e:
            reasons.append(f"{check['id']}/{other['id']}: {e}")
            log(f"warning: plugin checks on settings {check['id']} and {other['id']} failed: {e}")
    raise CaptureFailed(f"plugin checks failed on {len(reasons)} pair(s) of settings ({reasons[-1]}); "
                        "the plugin crashes or misbehaves on every setting tried")


def capture_pending(pending, entries, spawn, idle, task, root, manifest, cfg, timeout, attempts, seconds, log):
    """Render the pending settings (see PendingCapture); returns (settings captured, seconds)."""
    return PendingCapture(pending, entries, spawn, idle, task, root, manifest, cfg, timeout, attempts, seconds, log).run()


class PendingCapture:
    """Render the pending settings on `workers` plugin processes. A setting whose worker crashes,
    hangs past `timeout` or reports an error is retried on a fresh process, then recorded as failed.
    `entries` (the manifest's settings by index) are updated as results come, and the manifest is
    written at most once a second (and after each failure)."""

    def __init__(self, pending, entries, spawn, idle, task, root, manifest, cfg, timeout, attempts, seconds, log):
        self.entries, self.spawn, self.idle, self.task = entries, spawn, idle, task
        self.root, self.manifest, self.timeout, self.attempts, self.seconds = root, manifest, timeout, attempts, seconds
        self.progress, self.log, self.n_pending = cfg["progress"], log, len(pending)
        self.bar = tqdm(total=len(pending), unit="setting", desc=f"capture {cfg['plugin']['name']}", disable=not cfg["progress"],
                        file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
        self.queue = deque((s, 1) for s in pending)
        self.busy: dict[HostProcess, tuple[dict, int]] = {}
        self.reasons: dict[int, list[str]] = {}
        self.done_now = self.failed_now = 0
        self.workers = min(cfg["workers"], max(1, len(pending)))

    def say(self, m: str) -> None:
        if self.progress:
            self.bar.write(m, file=sys.stderr)
        else:
            self.log(m)

    def run(self) -> tuple[int, float]:
        self.t0 = time.perf_counter()
        self.last_write = time.monotonic()
        try:
            while self.queue or self.busy:
                self.start_more()
                busy = self.busy
                wait_for_any(list(busy), min(h.deadline for h in busy) - time.monotonic() + 0.05 if busy else 0)
                self.collect()
        finally:
            for host in self.busy:
                host.kill()
            self.bar.close()
        return self.done_now, time.perf_counter() - self.t0

    def start_more(self) -> None:
        """Hand queued settings to idle (or new) processes until `workers` are busy."""
        while self.queue and len(self.busy) < self.workers:
            s, attempt = self.queue.popleft()
            host = self.idle.pop() if self.idle else self.spawn()
            try:
                host.submit(self.task(s), self.timeout)
            except WorkerFailed as e:   # the plugin no longer loads: counts as this setting's attempt
                host.kill()
                self.fail(s, attempt, str(e))
                continue
            self.busy[host] = (s, attempt)

    def collect(self) -> None:
        """Take the results of the processes that finished (or failed) their setting."""
        for host in list(self.busy):
            s, attempt = self.busy[host]
            try:
                result = host.poll()
            except WorkerFailed as e:
                del self.busy[host]
                clear_partial_files(self.root, s["id"])
                self.fail(s, attempt, str(e))
                continue
            if result is None:
                continue
            del self.busy[host]
            self.idle.append(host)
            self.entries[s["index"]].update({**result, "error": None, "attempts": self.reasons.pop(s["index"], [])})
            self.done_now += 1
            for w in result["warnings"]:
                self.say(f"warning: setting {s['id']}: {w}")
            self.bar.update(1)
            self.bar.set_postfix_str(f"{self.done_now * self.seconds / (time.perf_counter() - self.t0):.0f}x real time")
            if time.monotonic() - self.last_write > 1.0:
                ds.write_manifest(self.root, self.manifest)
                self.last_write = time.monotonic()

    def fail(self, s: dict, attempt: int, reason: str) -> None:
        """A failed attempt: queued again on a fresh process, or (out of attempts) recorded as failed."""
        self.reasons.setdefault(s["index"], []).append(reason)
        if attempt < self.attempts:
            self.say(f"warning: setting {s['id']} failed (attempt {attempt} of {self.attempts}): {reason}; "
                     "retrying on a fresh plugin process")
            self.queue.appendleft((s, attempt + 1))
            return
        self.say(f"warning: setting {s['id']} failed (attempt {attempt} of {self.attempts}): {reason}; recorded as failed")
        self.entries[s["index"]].update({"status": "failed", "error": reason, "attempts": self.reasons.pop(s["index"])})
        self.failed_now += 1
        self.bar.update(1)
        ds.write_manifest(self.root, self.manifest)
        if self.failed_now >= min(GIVE_UP_AFTER, self.n_pending) and self.done_now == 0:
            raise CaptureFailed(f"the first {self.failed_now} settings all failed ({reason}); stopping: the plugin "
                                "fails on every setting tried (settings captured before are kept; see the manifest)")
