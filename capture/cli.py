"""Command line: the subcommand is the first argument; for sweep/params every other argument is a
Hydra override (plus --config-dir DIR for a folder of your own configs)."""
from __future__ import annotations

import errno
import os
import sys
import traceback
from pathlib import Path

from .errors import STORAGE_ERRNOS, AmpcapError, DatasetError

USAGE = """usage: python -m capture <command> [args]

commands:
  sweep  [--config-dir DIR] [overrides]   capture a dataset (default: the embedded amp, plugin=builtin)
  sweep --multirun [overrides]            Hydra multirun, e.g. shards on a launcher (see README)
  params [--config-dir DIR] [overrides]   list a plugin's parameters (names, ranges, units, values)
  verify DATASET_DIR                      re-check a dataset: schema, checksums, lengths, sample rate
  merge  DATASET_DIR [SHARD_DIR ...]      join shards captured with sweep.shard=i/n into DATASET_DIR
  report DATASET_DIR                      write DATASET_DIR/report.html (design, levels, warnings, players)

examples:
  python -m capture sweep
  python -m capture sweep plugin=nolly sweep=gain_sweep workers=2
  python -m capture sweep --config-dir ./myplugins plugin=myamp
  python -m capture sweep --multirun sweep.shard=0/2,1/2 hydra/launcher=joblib
  python -m capture params plugin=nolly
  python -m capture verify outputs/datasets/builtin-default
"""


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


def print_table(rows: list[dict], cols: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    print("  ".join("-" * widths[c] for c in cols))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols))


def cmd_sweep(args):
    from .config import compose
    from .runner import run_sweep

    multi = [a for a in args if a in ("-m", "--multirun")]
    config_dir, overrides = split_config_dir([a for a in args if a not in multi])
    if multi:
        from .multirun import multirun

        return multirun(overrides, config_dir, log=lambda m: print(m, file=sys.stderr))
    run_sweep(compose("capture", overrides, config_dir), log=lambda m: print(m, file=sys.stderr))
    return 0


def cmd_params(args):
    from .config import compose
    from .runner import params_table

    config_dir, overrides = split_config_dir(args)
    rows, problem = params_table(compose("capture", overrides, config_dir))
    print_table(rows, ["name", "display", "range", "unit", "value", "knob"])
    if problem:
        print(f"\nknob map problem: {problem}", file=sys.stderr)
        print("Edit the plugin config's knobs.<name>.param to one of the names above (name or display).", file=sys.stderr)
    return 0


def cmd_verify(args):
    from .dataset import dataset_summary, read_manifest, verify

    if len(args) != 1:
        raise AmpcapError("verify: give exactly one dataset directory")
    problems = verify(Path(args[0]))
    if problems:
        for p in problems:
            print(f"  - {p}")
        more = f" (and {len(problems) - 1} more, listed above)" if len(problems) > 1 else ""
        raise DatasetError(f"{args[0]}: {problems[0]}{more}; rerun the capture command to resume or recapture, "
                           "or restore the changed files")
    s = dataset_summary(read_manifest(Path(args[0])))
    print(f"ok: {args[0]}: {s['settings']} settings (train {s['train']}, val {s['val']}, test {s['test']}), "
          f"{s['seconds_per_setting']:.1f} s each; every checksum matches")
    return 0


def cmd_merge(args):
    from .dataset import merge

    if not args:
        raise AmpcapError("merge: give the dataset directory (shards found in DIR/shards) or DIR then shard dirs")
    out = Path(args[0])
    shards = [Path(a) for a in args[1:]] or sorted(p for p in (out / "shards").glob("*-of-*") if p.is_dir())
    m = merge(shards, out)
    from .report import write_dataset_report

    write_dataset_report(out, log=lambda msg: print(msg, file=sys.stderr), check=False)
    print(f"merged {len(shards)} shards into {out} ({len(m['settings'])} settings)")
    return 0


def cmd_report(args):
    from .report import write_dataset_report

    if len(args) != 1 or args[0].startswith("-"):
        raise AmpcapError("report: give exactly one dataset directory")
    out = write_dataset_report(Path(args[0]), log=lambda m: print(m, file=sys.stderr))
    print(f"ok: {out}")
    return 0


COMMANDS = {"sweep": cmd_sweep, "params": cmd_params, "verify": cmd_verify, "merge": cmd_merge, "report": cmd_report}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    cmd = COMMANDS.get(argv[0])
    if cmd is None:
        print(f"error: unknown command '{argv[0]}' (commands: {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    return guarded(cmd, argv[1:])


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
