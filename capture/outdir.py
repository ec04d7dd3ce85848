"""The capture's output folder (`out=`): where it may be, and which of its files a capture owns. A
rerun with `overwrite=true` removes only files a capture wrote (its manifest's files, its report,
its temp files, its shards); a folder holding anything else is refused, naming one foreign file."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from ampcap import dataset as ds
from ampcap.cli import cannot_write
from ampcap.dirlock import LOCK
from ampcap.errors import ConfigError, DatasetError, StorageError
from ampcap.files import STALE

REPORT_PAGE = "report.html"
REPORT_DIRS = ("report", ".report.new", ".report.old")   # ampcap/reportkit.py ReportFiles
SHARD_DIR = re.compile(r"^\d+-of-\d+$")


def check_out_location(root: Path, key: str = "out") -> None:
    """Refuse, before any work, an output folder that is a file or cannot be created or written; the
    probe (a temp folder made and removed in the nearest existing ancestor) leaves nothing behind."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{key}={root}: is a file, not a folder; choose a folder for the dataset (a new one, or a dataset's)")
    base = root
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise ConfigError(f"{key}={root}: {base} is a file, so the folder cannot be made there; choose another {key}=...")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".ampcap-probe-", dir=base))
    except OSError as e:
        raise StorageError(f"{key}={root}: cannot write there: {cannot_write(e)}") from None


def owned_files(root: Path) -> set[Path]:
    """The files under `root` that a capture wrote there (by its manifest, when it has a readable one;
    the lock always; temp files are matched by name in foreign_files)."""
    root = Path(root)
    owned = {root / LOCK}
    try:
        m = ds.read_manifest(root)
    except DatasetError:
        m = None
    if m is not None:
        owned |= {root / ds.MANIFEST, root / REPORT_PAGE}
        owned.add(root / str(m.get("signal", {}).get("file", ds.INPUT)))
        settings = [s for s in m.get("settings", []) if isinstance(s, dict)]
        owned |= {root / str(s["file"]) for s in settings if s.get("file")}
        # a pending setting's file too: a capture killed after writing it, before its manifest said so
        owned |= {root / "settings" / f"{s['id']}.wav" for s in settings if s.get("id")}
        for d in REPORT_DIRS:
            owned |= set((root / d).rglob("*.flac"))
    shards = root / "shards"
    if shards.is_dir():
        for sub in shards.iterdir():
            if sub.is_dir() and SHARD_DIR.match(sub.name):
                owned |= owned_files(sub)
    return owned


def foreign_files(root: Path) -> list[Path]:
    """Files under `root` that no capture wrote there (a user's own), sorted; empty: all ours."""
    owned = owned_files(root)
    return [p for p in sorted(Path(root).rglob("*")) if not p.is_dir() and p not in owned and not STALE.match(p.name)]


def refuse_foreign(root: Path, overwrite: bool) -> None:
    """One line naming a file of the user's in `root`; with overwrite=true it says why nothing was removed
    (without it, overwrite=true is not suggested: it would not help)."""
    foreign = foreign_files(root)
    if foreign:
        first = foreign[0].relative_to(root)
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        why = "overwrite=true only replaces a capture's own files, so nothing was removed; " if overwrite else ""
        raise DatasetError(f"out={root}: holds files no capture wrote ({first}{more}), so it is not a dataset folder; "
                           f"{why}choose another out=... (a new or empty folder)")


def clear_capture(root: Path) -> None:
    """Remove a previous capture from `root` for overwrite=true: only after checking that every file
    there is the capture's own (refuse_foreign)."""
    refuse_foreign(root, overwrite=True)
    for name in (ds.MANIFEST, ds.INPUT, REPORT_PAGE):
        (root / name).unlink(missing_ok=True)
    for d in ("settings", "shards", *REPORT_DIRS):
        shutil.rmtree(root / d, ignore_errors=True)
    for f in root.iterdir():
        if f.is_file() and f.name != LOCK:
            f.unlink(missing_ok=True)  # the input under another name, stale temp files
