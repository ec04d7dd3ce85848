"""Plugin hosting in child processes: a plugin that crashes, hangs or raises fails only the task it
was given (a setting, or the plugin checks), never the capture. The supervisor side (`HostProcess`)
sends one task at a time and waits with a deadline; the child side (`serve`) holds the plugin."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_any
from pathlib import Path

import numpy as np

from ampcap import errors
from ampcap.errors import STORAGE_ERRNOS, AmpcapError

from .host import describe, make_amp
from .tasks import capture_one, plugin_checks, probe_one

START_TIMEOUT_S = 60.0   # spawn + imports + plugin load, on top of plugin.init_timeout_s


class WorkerFailed(Exception):
    """A task did not complete: the child crashed, timed out, or reported an error (the message says which)."""


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this child when the capture process dies (even by SIGKILL), so no
    orphan keeps rendering or writing after the run that owned it is gone."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except Exception:
            pass


def serve(conn: Connection, pcfg: dict, di: np.ndarray, root: str) -> None:
    """Child process: load the plugin, then answer ("capture", setting, reload_each, region), ("probe", knobs,
    reload_each) and ("checks", check, other) tasks until told to stop or the pipe closes."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    try:
        amp = make_amp(pcfg)
    except Exception as e:
        conn.send(("fail", _describe(e)))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task[0] == "stop":
            return
        try:
            if task[0] == "capture":
                _, setting, reload_each, region = task
                result = capture_one(amp, setting, di, Path(root), pcfg, reload_each, tuple(region))
            elif task[0] == "probe":
                _, knobs, reload_each = task
                result = probe_one(amp, knobs, di, pcfg, reload_each)
            elif task[0] == "checks":
                _, check, other = task
                result, _ = plugin_checks(amp, pcfg, check, other, di)
            else:
                raise ValueError(f"unknown task {task[0]!r}")
            reply = ("ok", result)
        except OSError as e:
            reply = ("oserror", e.errno, e.strerror, e.filename) if e.errno in STORAGE_ERRNOS else ("fail", _describe(e))
        except Exception as e:
            reply = ("fail", _describe(e))
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


def _describe(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text if isinstance(e, AmpcapError) else f"plugin raised {type(e).__name__}: {text[:300]}"


def exit_reason(exitcode: int | None) -> str:
    """What a dead child's exit code means, in words (negative: killed by that signal)."""
    if exitcode is None:
        return "plugin process stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"plugin process crashed ({name})"
    return f"plugin process exited with code {exitcode}"


class HostProcess:
    """One plugin instance in its own process. `submit` a task, then `poll` it until it is done;
    a crash, a deadline passed or an error reply raises WorkerFailed and leaves the process dead."""

    def __init__(self, pcfg: dict, di: np.ndarray, root: Path, ctx=None):
        ctx = ctx or mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=serve, args=(child, pcfg, di, str(root)), daemon=True)
        self.proc.start()
        child.close()
        self.task: tuple | None = None
        self.deadline = float("inf")
        self.started = time.monotonic()
        self.ready = False
        self.start_deadline = self.started + START_TIMEOUT_S + float(pcfg.get("init_timeout_s") or 10.0)

    def wait_ready(self) -> None:
        """Block until the plugin is loaded in the child (or raise WorkerFailed)."""
        while not self.ready:
            left = self.start_deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerFailed(f"plugin did not load in a worker process within {self.start_deadline - self.started:.0f} s")
            if self.conn.poll(min(left, 0.5)):
                msg = self._recv()
                if msg[0] != "ready":
                    self.kill()
                    raise WorkerFailed(msg[1])
                self.ready = True
            elif not self.proc.is_alive():
                reason = self._death()
                raise WorkerFailed(f"{reason} while loading the plugin")

    def submit(self, task: tuple, timeout_s: float) -> None:
        self.wait_ready()
        self.task = task
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        self.conn.send(task)

    @property
    def waitables(self) -> list:
        return [self.conn, self.proc.sentinel]

    def poll(self):
        """The finished task's result, None while it runs; raises WorkerFailed if it failed."""
        if self.conn.poll():
            msg = self._recv()
            self.task = None
            if msg[0] == "ok":
                return msg[1]
            if msg[0] == "oserror":
                raise OSError(*msg[1:])
            self.kill()
            raise WorkerFailed(msg[1])
        if not self.proc.is_alive():
            self.task = None
            raise WorkerFailed(self._death())
        if time.monotonic() > self.deadline:
            self.task = None
            self.kill()
            raise WorkerFailed(f"timed out after {self.timeout_s:.0f} s (plugin hung?); raise timeout_s=... if it is just slow")
        return None

    def _recv(self):
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            return ("fail", self._death())

    def _death(self) -> str:
        self.proc.join(2.0)
        reason = exit_reason(self.proc.exitcode)
        self.kill()
        return reason

    def stop(self) -> None:
        """Ask an idle child to exit; kill it if it does not."""
        if self.proc.is_alive() and self.task is None:
            try:
                self.conn.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
            self.proc.join(5.0)
        self.kill()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5.0)
        if not self.conn.closed:
            self.conn.close()


def wait_for_any(hosts: list[HostProcess], timeout: float) -> None:
    """Sleep until one busy host has a reply, dies, or `timeout` passes."""
    objs = [o for h in hosts for o in h.waitables]
    if objs:
        wait_any(objs, timeout=max(0.0, timeout))
    else:
        time.sleep(max(0.0, timeout))


# --- loading a plugin for its description (knobs, identity, parameters) ---------------------------

def _describe_serve(conn: Connection, pcfg: dict, for_params: bool) -> None:
    """Child process: load the plugin once and send back its description (or the error)."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        reply = ("ok", describe(pcfg, for_params))
    except AmpcapError as e:
        reply = ("error", type(e).__name__, str(e))
    except Exception as e:
        reply = ("fail", _describe(e))
    conn.send(reply)


def describe_in_worker(pcfg: dict, for_params: bool = False, ctx=None) -> dict:
    """Load the plugin in a child process and return its description (capture/host.py `describe`), so
    a plugin that crashes or hangs while it loads ends that child, not the command. Config and plugin
    errors come back as the same one-line errors as when loaded here."""
    ctx = ctx or mp.get_context("spawn")
    conn, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_describe_serve, args=(child, pcfg, for_params), daemon=True)
    proc.start()
    child.close()
    limit = START_TIMEOUT_S + float(pcfg.get("init_timeout_s") or 10.0)
    who = pcfg.get("path") or pcfg.get("target") or pcfg.get("name")
    try:
        deadline = time.monotonic() + limit
        msg = None
        while msg is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.PluginError(f"plugin: {who} did not finish loading within {limit:.0f} s (it hangs while "
                                         "loading?); raise plugin.init_timeout_s=... if it is only slow")
            wait_any([conn, proc.sentinel], timeout=min(left, 0.5))
            if conn.poll():
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    msg = ("crash",)
            elif not proc.is_alive():
                msg = ("crash",)
        if msg[0] == "crash":
            proc.join(2.0)
            raise errors.PluginError(f"plugin: {who} crashed while loading ({exit_reason(proc.exitcode)}); the plugin "
                                     "itself failed, nothing was written: check that it loads in a DAW, reinstall or "
                                     "update it")
        if msg[0] == "error":
            cls = getattr(errors, msg[1], errors.AmpcapError)
            raise (cls if isinstance(cls, type) and issubclass(cls, errors.AmpcapError) else errors.AmpcapError)(msg[2])
        if msg[0] == "fail":
            raise errors.PluginError(f"plugin: {who} could not be loaded: {msg[1]}")
        return msg[1]
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5.0)
        conn.close()
