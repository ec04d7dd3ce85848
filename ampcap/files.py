"""Files written whole or not at all, and their checksums: the one place that writes a file.

Every writer goes through `atomic_path`: the content goes to a temp file beside the target
(`.NAME.XXXXXXXX.tmp`, with the target's suffix added when the writer needs one, e.g. `.keras`),
is fsynced, renamed over the target, and the directory is fsynced, so a reader (or a power cut)
sees the old file or the new one, never half of one. The temp file is created with the mode
open() would give (0666 less the umask), so shared datasets and runs stay readable by others.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

# Temp files of killed writers: `.NAME.*.tmp` (and `.NAME.*.tmp.SUFFIX`); `.model.*.keras` are those of
# runs written before this module named every temp file alike.
STALE = re.compile(r"^\..+\.tmp(\.\w+)?$|^\.model\..+\.keras$")


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def sha256_json(obj) -> str:
    """sha256 of a JSON-able object, independent of key order (config hashes)."""
    return sha256_bytes(json.dumps(obj, sort_keys=True, default=str).encode())


def sha256_of(path, chunk: int = 1 << 20) -> str:
    """sha256 of a file, or of every file inside a directory (a plugin bundle), sorted by relative
    path, each preceded by that path."""
    h = hashlib.sha256()
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode())
        with open(f, "rb") as fh:
            while b := fh.read(chunk):
                h.update(b)
    return h.hexdigest()


def _named(e: OSError, path: Path) -> OSError:
    """An OSError that names `path` (a failed write names no file of its own)."""
    return e if e.filename else OSError(e.errno, e.strerror, str(path))


def _new_temp(path: Path, suffix: str) -> Path:
    """Create an empty temp file beside `path` with open()'s mode (0666 less the umask)."""
    while True:
        tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp{suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
        except OSError as e:
            raise _named(e, path) from None


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(d: Path) -> None:
    """Make a rename in `d` durable (a power cut after it keeps the new file, not the old one); a
    file system that cannot fsync a directory is left as it is."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path, suffix: str = "") -> Iterator[Path]:
    """A temp path beside `path` for a writer that wants a file name (Keras, matplotlib): what it
    writes there replaces `path` atomically when the block ends, and is removed if the block fails.
    `suffix` is appended to the temp name for writers that choose the format by it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp(path, suffix)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise _named(e, path) from None
        raise
    fsync_dir(path.parent)


def atomic_write(path, write: Callable) -> None:
    """`write(f)` into a binary file object that replaces `path` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
        f.flush()


def atomic_write_bytes(path, data: bytes) -> None:
    """Write bytes so that readers never see half a file (temp file, fsync, rename, fsync of the dir)."""
    atomic_write(path, lambda f: f.write(data))


def write_json(path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, default=float) + "\n").encode())


def atomic_copy(src, dst) -> None:
    """Copy a file so that `dst` is the old file or the whole copy."""
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def remove_stale_temps(folder) -> list[Path]:
    """Delete the temp files atomic writes under `folder` left when their process was killed (SIGKILL
    runs no cleanup). Only for a folder that no other process is writing."""
    gone = []
    for f in sorted(Path(folder).rglob(".*")):
        if f.is_file() and STALE.match(f.name):
            f.unlink(missing_ok=True)
            gone.append(f)
    return gone
