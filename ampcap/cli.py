"""What both command lines share: every command runs `guarded` (a user's error is one `error:` line and
an exit code, never a traceback), `--config-dir DIR` beside Hydra overrides, and aligned tables."""
from __future__ import annotations

import difflib
import errno
import os
import sys
import traceback

from .errors import STORAGE_ERRNOS, AmpcapError


def split_config_dir(args: list[str]) -> tuple[str | None, list[str]]:
    config_dir, rest, i = None, [], 0
    while i < len(args):
        a = args[i]
        if a in ("--config-dir", "-cd"):
            if i + 1 >= len(args):
                raise AmpcapError(f"{a}: needs a directory")
            config_dir, i = args[i + 1], i + 2
            continue
        if a.startswith("--config-dir="):
            config_dir = a.split("=", 1)[1]
        elif a.startswith("-"):
            raise AmpcapError(f"unknown option {a} (overrides look like key=value; see python -m capture --help)")
        else:
            rest.append(a)
        i += 1
    return config_dir, rest


def unknown_command(word: str, commands) -> str:
    """One line for a command name that is not one: the close match, and the list."""
    close = difflib.get_close_matches(word, list(commands), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown command '{word}'{hint} (commands: {', '.join(commands)})"


def fit_widths(rows: list[dict], cols: list[str], width: int | None, shrink: list[str] | None = None) -> dict:
    """Column widths: each column's longest cell, then the `shrink` columns narrowed one after the
    other (down to 10 characters) until the table fits `width` characters."""
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    for c in [c for c in (shrink or cols) if c in widths]:  # in order: the first is cut first
        while width and sum(widths.values()) + 2 * (len(cols) - 1) > width and widths[c] > max(10, len(c)):
            widths[c] -= 1
    return widths


def _cell(v, w: int) -> str:
    v = str(v)
    return (v if len(v) <= w else v[: w - 3] + "...").ljust(w)


def print_table(rows: list[dict], cols: list[str], width: int | None = None, shrink: list[str] | None = None) -> bool:
    """Print rows as aligned columns, cut to `width` characters (cells shortened with '...');
    returns whether any cell was shortened."""
    widths = fit_widths(rows, cols, width, shrink)
    print("  ".join(_cell(c, widths[c]) for c in cols).rstrip())
    print("  ".join("-" * widths[c] for c in cols))
    for r in rows:
        print("  ".join(_cell(r.get(c, ""), widths[c]) for c in cols).rstrip())
    return any(len(str(r.get(c, ""))) > widths[c] for r in rows for c in cols)


def storage_message(e: OSError) -> str:
    """An OS error while reading or writing, as one line that says what to do. Every file we write is
    written atomically, so what was there before the error is intact."""
    where = f"{e.filename}: " if e.filename else ""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"{where}disk full ({e.strerror}); free space or write elsewhere, then rerun the same command "
                "(what was written before is intact and is reused)")
    if e.errno == errno.EROFS:
        return f"{where}read-only file system; choose an output location you can write to"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"{where}permission denied; fix the permissions, or choose an output location you can write to"
    return f"{where}{e.strerror or e}"


def cannot_write(e: OSError) -> str:
    """Why a location cannot be written, and what to do, for an early check's one line."""
    if e.errno in STORAGE_ERRNOS:
        return storage_message(OSError(e.errno, e.strerror))
    return f"{e.strerror or e}; choose an output location you can write to"


def guarded(cmd, args, interrupted: str = "interrupted: rerun the same command to resume") -> int:
    """Run a command: user errors become one `error:` line and their exit code; bugs one line too
    (the traceback with AMPCAP_DEBUG=1)."""
    try:
        return cmd(args)
    except AmpcapError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130
    except OSError as e:
        print(f"error: {storage_message(e)}", file=sys.stderr)
        return 4 if e.errno in STORAGE_ERRNOS else 1
    except Exception as e:  # a bug, not a user error: one line, the traceback on request
        if os.environ.get("AMPCAP_DEBUG"):
            traceback.print_exc()
        print(f"internal error: {type(e).__name__}: {' '.join(str(e).split())[:300]} (set AMPCAP_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
