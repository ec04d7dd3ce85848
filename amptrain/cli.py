"""Command line: `python -m amptrain [--config-dir DIR] [overrides]` trains (every argument is a
Hydra override of conf/train.yaml, e.g. +experiment=gain_sweep) and `report` (re)writes a run's
report; `sample`, `export`, `knobs` and `match` use a trained model (amptrain/sampling/cli.py). Each command
imports its modules when it runs, so `--help` or a bad argument answers before TensorFlow loads."""
from __future__ import annotations

import sys

from ampcap.cli import guarded, split_config_dir, unknown_command
from ampcap.config import find_conf_dir
from ampcap.errors import ConfigError

from .tfenv import own_stderr, quiet_tensorflow

USAGE = """usage: python -m amptrain [train] [--config-dir DIR] [overrides]
       python -m amptrain sample run=RUN input=DI.wav output=OUT.wav [knobs.NAME=VALUE ...] [mode=chunked|sequential|streaming]
       python -m amptrain export run=RUN format=nam|proteus|rtneural|keras [knobs.NAME=VALUE ...] [output=FILE]
       python -m amptrain knobs run=RUN
       python -m amptrain match run=RUN input=DI.wav target=TONE.wav [fixed.NAME=VALUE ...] [--verify] [output=match.json]
       python -m amptrain report run=RUN [dataset=DIR] [grid=7]   (re)write RUN/report.html

Trains a knob-conditioned LSTM on a captured dataset; results go to outputs/runs/<name>/<time>/.
RUN is a run directory (or its model.keras). A knob value is a number or choice (knobs.gain=7.3),
automation as seconds:value pairs (knobs.gain=0:2,4.5:9), or a list that renders one file per value
plus a plot (knobs.gain=[2,5,8]).

experiments (+experiment=NAME): {experiment}
groups: dataset={dataset}  model={model}  loss={loss}
        trainer={trainer}  adapt={adapt}
examples:
  python -m amptrain +experiment=gain_sweep
  python -m amptrain +experiment=full_amp model=lstm64 trainer.max_minutes=30
  python -m amptrain +experiment=gain_sweep trainer.resume=true         continue the latest run
  python -m amptrain +experiment=full_amp adapt=probes                  capture where the model errs (adaptive)
  python -m amptrain dataset=path dataset.path=outputs/datasets/mine   any captured dataset
  python -m amptrain sample run=outputs/runs/gain_sweep input=di.wav output=out.wav knobs.gain=7.3
  python -m amptrain export run=outputs/runs/gain_sweep format=nam knobs.gain=6
  python -m amptrain match run=outputs/runs/full_amp input=di.wav target=tone.wav fixed.channel=lead   which knobs give this tone?
"""


def usage() -> str:
    """USAGE with the experiments and group options found in conf/ (never a list kept by hand)."""
    conf = find_conf_dir()
    names = {g: sorted(p.stem for p in (conf / g).glob("*.yaml")) for g in ("experiment", "dataset", "model", "loss", "trainer", "adapt")}
    return USAGE.format(experiment=", ".join(names.pop("experiment")), **{g: "|".join(v) for g, v in names.items()})


def log(m: str) -> None:
    print(m, file=sys.stderr)


def cmd_train(args) -> int:
    from .config import compose_train

    config_dir, overrides = split_config_dir(args)
    cfg = compose_train(overrides, config_dir)  # config errors come before TensorFlow loads
    quiet_tensorflow()
    from .run import train  # imports Keras (and TensorFlow, quiet now)

    train(cfg, log=log, config_dir=config_dir)
    return 0


def cmd_report(args: list[str]) -> int:
    """`python -m amptrain report run=RUN [dataset=DIR] [grid=N]`: (re)write RUN/report.html."""
    from .finished_run import Run
    from .report_html import GRID, write_run_report
    from .sampling.amp import model_path, read_info
    from .sampling.cli import parse_args

    opts, knobs = parse_args(args, {"run", "dataset", "grid"}, "report")
    if knobs:
        raise ConfigError("report: knobs.NAME is not an option here (the explorer renders every knob across its range)")
    if "run" not in opts:
        raise ConfigError("report: run=... is required (python -m amptrain report run=RUN_DIR)")
    try:
        grid = int(opts.get("grid", GRID))
    except ValueError:
        raise ConfigError(f"report: grid '{opts['grid']}' is not a whole number (renders per knob, 2..21)") from None
    if not 2 <= grid <= 21:
        raise ConfigError(f"report: grid={grid}: give 2..21 renders per knob")
    run = model_path(opts["run"]).parent   # a run directory, an experiment's runs folder or a model.keras
    read_info(run)                          # a damaged model file is one line, before TensorFlow loads
    Run.open(run, opts.get("dataset"))      # and so are a missing metrics.json or dataset
    out = write_run_report(run, log=log, dataset=opts.get("dataset"), grid=grid)
    print(f"ok: {out}")
    return 0


def _model_command(name: str):
    def run(args):
        from .sampling import cli

        return getattr(cli, f"cmd_{name}")(args, log=log)
    return run


COMMANDS = {"sample": (_model_command("sample"), "interrupted: nothing was written"),
            "export": (_model_command("export"), "interrupted: nothing was written"),
            "knobs": (_model_command("knobs"), "interrupted: nothing was written"),
            "match": (_model_command("match"), "interrupted: nothing was written"),
            "report": (cmd_report, "interrupted: the previous report (if any) is kept")}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own_stderr()  # the command line's process: TensorFlow's start-up chatter is not for the user
    if not argv:  # the default capture and training take hours: say how to start instead of starting
        print(usage())
        print("error: nothing was run: give an experiment (python -m amptrain +experiment=gain_sweep trains the main one "
              "in 10 minutes), or `python -m amptrain train` for the default config (544 settings, 40 epochs: hours)",
              file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    word = argv[0]
    if word not in COMMANDS and word != "train" and "=" not in word and not word.startswith(("-", "+", "~")):
        print(f"error: {unknown_command(word, [*COMMANDS, 'train'])}", file=sys.stderr)
        return 2
    if argv and argv[0] in COMMANDS:
        if any(a in ("-h", "--help") for a in argv[1:]):
            print(usage())
            return 0
        cmd, interrupted = COMMANDS[argv[0]]
        return guarded(cmd, argv[1:], interrupted)
    if argv and argv[0] == "train":
        argv = argv[1:]
    return guarded(cmd_train, argv, "interrupted: continue with the same command plus trainer.resume=true")
