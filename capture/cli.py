"""Command line: the subcommand is the first argument; for sweep/params every other argument is a
Hydra override (plus --config-dir DIR for a folder of your own configs)."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ampcap.cli import guarded, print_table, split_config_dir, unknown_command
from ampcap.errors import AmpcapError, DatasetError

USAGE = """usage: python -m capture <command> [args]

commands:
  sweep  [--config-dir DIR] [overrides]   capture a dataset (default: the embedded amp, plugin=builtin)
  sweep --multirun [overrides]            Hydra multirun, e.g. shards on a launcher (see README)
  params [--config-dir DIR] [overrides]   list a plugin's parameters (names, ranges, units, values);
         [--all] [--write-config FILE]    --all: nothing shortened; --write-config: a plugin config from them
  verify DATASET_DIR                      re-check a dataset: schema, checksums, lengths, sample rate
  merge  DATASET_DIR [SHARD_DIR ...]      join shards captured with sweep.shard=i/n into DATASET_DIR
  report DATASET_DIR                      write DATASET_DIR/report.html (design, levels, warnings, players)
  realplay [RATE]                         build (or find) the real-playing clips training evaluates on (default 48000 Hz)

examples:
  python -m capture sweep
  python -m capture sweep plugin=nolly sweep=gain_sweep workers=2
  python -m capture sweep --config-dir ./myplugins plugin=myamp
  python -m capture sweep --multirun sweep.shard=0/2,1/2 hydra/launcher=joblib
  python -m capture params plugin=nolly
  python -m capture params plugin.path=Amp.vst3 --write-config myplugins/plugin/amp.yaml
  python -m capture verify outputs/datasets/builtin-default
"""


PARAMS_WIDTH = 100   # `capture params` fits a terminal of this width unless --all
CHOICES_WIDTH = 30   # a parameter's list of choices is cut to this unless --all


def short_choices(choices: list[str], width: int = CHOICES_WIDTH) -> str:
    """'A|B|C|... (25)': the first choices that fit `width` characters, then how many there are."""
    full = "|".join(choices)
    if len(full) <= width:
        return full
    tail, out = f"|... ({len(choices)})", []
    for c in choices:
        if len("|".join(out + [c])) + len(tail) > width:
            break
        out.append(c)
    if not out:  # even the first choice is too long: a cut of it
        out = [choices[0][: max(4, width - len(tail) - 3)] + "..."]
    return "|".join(out) + tail


def cmd_sweep(args):
    from .config import compose_capture
    from .runner import run_sweep

    multi = [a for a in args if a in ("-m", "--multirun")]
    config_dir, overrides = split_config_dir([a for a in args if a not in multi])
    overrides = plugin_from_path(overrides)
    if multi:
        from .multirun import multirun

        return multirun(overrides, config_dir, log=lambda m: print(m, file=sys.stderr))
    command = "python -m capture sweep " + shlex.join(args)
    run_sweep(compose_capture(overrides, config_dir), log=lambda m: print(m, file=sys.stderr), command=command)
    return 0


def take_option(args: list[str], name: str, has_value: bool = False):
    """Remove `--name` (or `--name VALUE` / `--name=VALUE`) from args; returns (value or bool, rest)."""
    rest, value, i = [], False if not has_value else None, 0
    while i < len(args):
        a = args[i]
        if a == name and has_value:
            if i + 1 >= len(args) or "=" in args[i + 1] and not args[i + 1].endswith((".yaml", ".yml")):
                raise AmpcapError(f"{name}: needs a file, e.g. {name} myplugins/plugin/myamp.yaml")
            value, i = args[i + 1], i + 2
            continue
        if a == name:
            value = True
        elif has_value and a.startswith(name + "="):
            value = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    return value, rest


def plugin_from_path(overrides: list[str], name: str | None = None) -> list[str]:
    """`plugin.path=Amp.vst3` without `plugin=...` means that plugin file, not the embedded amp: it
    becomes an external plugin named after the file (or `name`)."""
    if any(o.startswith(("plugin=", "plugin.kind=")) for o in overrides):
        return overrides
    path = next((o.split("=", 1)[1] for o in overrides if o.startswith("plugin.path=")), None)
    if not path:
        return overrides
    stem = name or "".join(ch if ch.isalnum() else "_" for ch in Path(path.rstrip("/")).stem.lower()).strip("_") or "plugin"
    return ["plugin.kind=external", f"plugin.name={stem}", *overrides]


def cmd_params(args):
    from .config import compose_capture
    from .runner import params_description

    show_all, args = take_option(args, "--all")
    write_to, args = take_option(args, "--write-config", has_value=True)
    config_dir, overrides = split_config_dir(args)
    target = None
    if write_to:
        from .autoconfig import check_target

        target = check_target(write_to)
    overrides = plugin_from_path(overrides, target.stem if target else None)
    d = params_description(compose_capture(overrides, config_dir))
    if target is not None:
        from .autoconfig import write_config

        return write_config(d, target, log=lambda m: print(m, file=sys.stderr))
    rows = d["rows"]
    if not show_all:
        rows = [{**r, "range": short_choices(r["choices"]) if r.get("choices") else r["range"]} for r in rows]
    cut = print_table(rows, ["name", "display", "range", "unit", "value", "knob"], None if show_all else PARAMS_WIDTH,
                      shrink=["display", "value", "knob", "unit", "range", "name"])
    if cut or any(r["range"] != full["range"] for r, full in zip(rows, d["rows"])):
        print(f"(long names and choice lists shortened to fit {PARAMS_WIDTH} columns; --all shows everything)", file=sys.stderr)
    problem = d["problem"]
    if problem and problem.startswith("plugin.knobs: no knobs mapped"):  # a bare plugin.path=: no config yet
        print("\nno knob map for this plugin yet: write one from these parameters with\n  python -m capture params "
              + " ".join(a for a in args if not a.startswith("--all")) + " --write-config myplugins/plugin/myamp.yaml",
              file=sys.stderr)
    elif problem:
        print(f"\nknob map problem: {problem}", file=sys.stderr)
        key = problem.split(":", 1)[0]
        if key.startswith("plugin.fixed."):
            print(f"Edit the plugin config's fixed: entry '{key[len('plugin.fixed.'):]}' to one of the names above "
                  "(name or display), or remove it.", file=sys.stderr)
        elif key.startswith("plugin.knobs."):
            knob = key.split(".")[2]
            print(f"Edit the plugin config's knobs.{knob}.param to one of the names above (name or display).", file=sys.stderr)
    return 0


def cmd_verify(args):
    from ampcap.dataset import dataset_summary, read_manifest, verify

    from .sweep import design_errors

    if len(args) != 1:
        raise AmpcapError("verify: give exactly one dataset directory")
    problems = verify(Path(args[0]), design_check=design_errors)
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
    from .merge import merge

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


def cmd_realplay(args):
    from .realplay import cache_dir, clips, ensure_tools

    if len(args) > 1 or (args and not args[0].isdigit()):
        raise AmpcapError("realplay: give at most a sample rate in Hz, e.g. python -m capture realplay 44100")
    rate = int(args[0]) if args else 48000
    parts = clips(rate, log=lambda m: print(m, file=sys.stderr))
    folder = cache_dir(rate, ensure_tools())
    for name, x in parts.items():
        print(f"{folder / (name + '.wav')}  {len(x) / rate:.1f} s, peak {float(abs(x).max()):.2f}")
    return 0


COMMANDS = {"sweep": cmd_sweep, "params": cmd_params, "verify": cmd_verify, "merge": cmd_merge, "report": cmd_report,
            "realplay": cmd_realplay}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    cmd = COMMANDS.get(argv[0])
    if cmd is None:
        print(f"error: {unknown_command(argv[0], COMMANDS)}", file=sys.stderr)
        return 2
    if any(a in ("-h", "--help") for a in argv[1:]):
        print(USAGE)
        return 0
    return guarded(cmd, argv[1:])
