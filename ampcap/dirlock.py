"""One writer per directory: an exclusive lock on DIR/.ampcap.lock (flock), naming its holder, so two
captures into one dataset, or two trainings of one run directory, cannot interleave their files."""
from __future__ import annotations

import atexit
import errno
import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import DatasetError

LOCK = ".ampcap.lock"
_HELD: dict[str, tuple[int, Path]] = {}


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError, UnicodeDecodeError):
        info = {}
    if not info.get("pid"):
        return "another process"
    host = f" on {info['host']}" if info.get("host") and info["host"] != os.uname().nodename else ""
    return f"pid {info['pid']}{host}, since {info.get('since', '?')}"


def lock_dir(path: Path, busy: str) -> Path:
    """Take the exclusive lock of a directory for this process (flock on DIR/.ampcap.lock, which names
    the holder's pid); `busy` (with {holder}) is the one-line error when another process holds it. The
    kernel drops the lock of a process that dies, so a killed run never blocks the next one."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    f = path / LOCK
    key = str(f.resolve())
    if key in _HELD:
        return f
    while True:
        try:
            fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise OSError(e.errno, e.strerror, str(f)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise DatasetError(busy.format(holder=holder)) from None
        except OSError as e:  # a file system without locks (some cluster mounts): run unlocked, as before
            os.close(fd)
            if e.errno in (errno.ENOLCK, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                return f
            raise OSError(e.errno, e.strerror, str(f)) from None
        try:  # its last holder may have removed the file between our open and flock: lock the new one
            if os.stat(f).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    if not _HELD:
        atexit.register(lambda: [unlock_dir(Path(k).parent) for k in list(_HELD)])
    _HELD[key] = (fd, f)
    return f


def unlock_dir(path: Path) -> None:
    """Release a lock taken by lock_dir (the lock file goes; a waiting process then locks afresh)."""
    key = str((Path(path) / LOCK).resolve())
    if key in _HELD:
        fd, f = _HELD.pop(key)
        try:
            f.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(fd)


@contextmanager
def dir_lock(path: Path, busy: str):
    """lock_dir for a block of code."""
    lock_dir(path, busy)
    try:
        yield
    finally:
        unlock_dir(path)

