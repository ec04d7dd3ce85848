"""`python -m amptrain sample|export|knobs key=value ...` (dispatched by amptrain/cli.py): render a DI
file through a trained model at any knob setting (fixed, automated, or a grid of values), export it
for real-time players, list its knobs."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from ampcap.cli import print_table
from ampcap.errors import ConfigError, ModelError, SignalError
from ampcap.wav import SOFTWARE, wav_truncation, write_wav

from ..plots import plot_knob_grid
from .amp import MODES, AmpModel, model_path, read_info
from .automation import DEFAULT_SMOOTH_MS
from .export import FORMATS, aida_x_note, check_knobs_for, dc_block_note, export
from .outputs import check_existing, check_output, parse_bool
from .player_project import plugin_name

SAMPLE_KEYS = {"run", "input", "output", "mode", "smooth_ms", "progress", "overwrite"}
EXPORT_KEYS = {"run", "format", "output", "overwrite"}
PATH_KEYS = {"run", "input", "output", "dataset"}


def parse_args(args: list[str], allowed: set[str], command: str) -> tuple[dict, dict]:
    """key=value arguments -> (options, knobs); knobs come as knobs.NAME=VALUE."""
    opts, knobs = {}, {}
    for a in args:
        if "=" not in a:
            raise ConfigError(f"{command}: '{a}' is not key=value (keys: {', '.join(sorted(allowed))}, knobs.NAME)")
        key, value = a.split("=", 1)
        if key.startswith("knobs."):
            name = key[len("knobs."):]
            if not name:
                raise ConfigError(f"{command}: '{a}': give the knob's name, as knobs.gain=7")
            knobs[name] = parse_knob_value(name, value)
        elif key in allowed:
            opts[key] = os.path.expanduser(value) if key in PATH_KEYS else value  # the shell leaves ~ after key= alone
        else:
            raise ConfigError(f"{command}: unknown key '{key}' (keys: {', '.join(sorted(allowed))}, knobs.NAME)")
    return opts, knobs


def _scalar(text: str):
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return text


def parse_knob_value(name: str, text: str):
    """'7.3' -> 7.3; 'lead' -> 'lead'; '[1,3,5]' -> a grid (list of values); '0:2,4.5:8' -> automation
    [(0, 2), (4.5, 8)] (seconds:value pairs)."""
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        values = [_scalar(v) for v in t[1:-1].split(",") if v.strip()]
        if not values:
            raise ConfigError(f"knobs.{name}: the list of values is empty")
        return GridValues(values)
    if ":" in t:
        points = []
        for p in t.split(","):
            if p.count(":") != 1:
                raise ConfigError(f"knobs.{name}: automation is seconds:value pairs separated by commas, as 0:2,4.5:8 (got '{p}')")
            sec, val = p.split(":")
            points.append((_scalar(sec), _scalar(val)))
        return points
    if not t:
        raise ConfigError(f"knobs.{name}: no value given")
    return _scalar(t)


class GridValues(list):
    """A knob given as [v1, v2, ...]: render one file per value."""


def read_di(path: Path, model_rate: int, log) -> tuple[np.ndarray, int]:
    """The DI as mono float32 at the file's own rate, and that rate. Stereo is mixed to mono, another
    rate than the model's is said in the log (the render resamples it in and back out); missing,
    unreadable, truncated, empty or NaN files are refused."""
    if not path.exists():
        raise SignalError(f"input: {path}: no such file (check the path; relative paths start from the current directory)")
    if path.is_dir():
        raise SignalError(f"input: {path}: is a directory; give an audio file")
    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises its own LibsndfileError / RuntimeError
        raise SignalError(f"input: {path}: not a readable audio file ({' '.join(str(e).split())[:120]}); "
                          "give a WAV, FLAC or AIFF file") from None
    cut = wav_truncation(path)
    if cut:
        raise SignalError(f"input: {path}: the file is truncated (only {100 * cut[0] / cut[1]:.0f}% of the audio its "
                          "header declares is there); copy or export it again")
    if audio.shape[0] == 0:
        raise SignalError(f"input: {path}: the file holds no samples; give a recording")
    if not np.all(np.isfinite(audio)):
        raise SignalError(f"input: {path}: the file holds NaN or infinite samples; re-export it (e.g. as 24-bit PCM WAV)")
    if audio.shape[1] > 1:
        log(f"input: {path.name} has {audio.shape[1]} channels; rendering their mix (mono)")
        audio = audio.mean(axis=1, keepdims=True)
    if sr != model_rate:
        log(f"input: {path.name} is at {sr} Hz, the model at {model_rate} Hz; resampling in and back out")
    return audio[:, 0].astype(np.float32), int(sr)


def cmd_sample(args: list[str], log) -> int:
    opts, knobs = parse_args(args, SAMPLE_KEYS, "sample")
    for key in ("run", "input", "output"):
        if key not in opts:
            raise ConfigError(f"sample: {key}=... is required (python -m amptrain sample run=RUN_DIR input=DI.wav output=OUT.wav knobs.NAME=VALUE)")
    mode = opts.get("mode", "chunked")
    if mode not in MODES:
        raise ConfigError(f"sample: mode '{mode}' is not one of {', '.join(MODES)}")
    smooth_ms = _float(opts.get("smooth_ms", DEFAULT_SMOOTH_MS), "smooth_ms")
    progress = opts.get("progress", "true").lower() not in ("0", "false", "no")
    overwrite = parse_bool(opts.get("overwrite", "false"), "overwrite")
    grid = [(n, v) for n, v in knobs.items() if isinstance(v, GridValues)]
    if len(grid) > 1:
        raise ConfigError(f"sample: only one knob may be a list of values (got {', '.join(n for n, _ in grid)})")
    # a grid writes one file per value (checked below), not `output` itself
    inputs = (opts["input"], model_file(opts["run"]))
    out = check_output(Path(opts["output"]), (".wav",), overwrite or bool(grid), inputs=inputs)
    # Everything the user gave is checked before the network loads (TensorFlow takes seconds): the
    # model file and its knobs (read from the file's config), the input, every knob value.
    info = read_info(opts["run"])
    info.check_knobs(knobs)
    x, in_rate = read_di(Path(opts["input"]), info.sample_rate, log)
    if grid:
        name, values = grid[0]
        knob = next(k for k in info.knobs if k.name == name)
        values = [knob.check(v, f"knob '{name}'") for v in values]  # all checked before any file is written
        for f in [grid_file(out, name, v) for v in values] + [out.with_name(f"{out.stem}_{name}.png")]:
            check_output(f, (f.suffix,), overwrite, inputs=inputs)
        info.check_values(len(x), {**knobs, name: values[0]}, in_rate)
    else:
        info.check_values(len(x), knobs, in_rate)
    amp = AmpModel.load(opts["run"])
    n_in = len(x)

    def render(values: dict) -> np.ndarray:
        y = amp.render(x, in_rate, mode=mode, smooth_ms=smooth_ms, progress=progress, **values)
        peak = float(np.max(np.abs(y))) if len(y) else 0.0
        if peak > 1.0:
            log(f"note: the output peaks at {peak:.2f} (above full scale); it is written as float, unclipped")
        return y.astype(np.float32)

    if not grid:
        write_wav(out, render(knobs), in_rate, SOFTWARE)
        log(f"wrote {out} ({n_in / in_rate:.1f} s at {in_rate} Hz; {describe(amp, knobs)})")
        return 0
    renders, files = [], []
    for v in values:
        y = render({**knobs, name: v})
        f = grid_file(out, name, v)
        write_wav(f, y, in_rate, SOFTWARE)
        renders.append(y)
        files.append(f)
        log(f"wrote {f}")
    png = out.with_name(f"{out.stem}_{name}.png")
    plot_knob_grid(png, name, values, renders, in_rate)
    log(f"wrote {png} (loudness and spectrum against {name})")
    return 0


def grid_file(out: Path, name: str, v) -> Path:
    """The file a grid render of `name`=v writes beside `out`."""
    return out.with_name(f"{out.stem}_{name}-{_tag(v)}{out.suffix}")


def model_file(run: str) -> Path | None:
    """The model file `run=` names (None when there is none: read_info then says so)."""
    try:
        return model_path(run)
    except ModelError:
        return None


def _tag(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _float(text, key: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"{key}: '{text}' is not a number") from None
    if not v >= 0:
        raise ConfigError(f"{key}: must be >= 0")
    return v


def describe(amp, knobs: dict) -> str:
    parts = []
    for k in amp.knobs:
        v = knobs.get(k.name, k.default)
        parts.append(f"{k.name}={'automated' if isinstance(v, list) else v}")
    return ", ".join(parts) or "no knobs"


def cmd_export(args: list[str], log) -> int:
    opts, knobs = parse_args(args, EXPORT_KEYS, "export")
    for key in ("run", "format"):
        if key not in opts:
            raise ConfigError(f"export: {key}=... is required (python -m amptrain export run=RUN_DIR format={'|'.join(FORMATS)})")
    fmt = opts["format"]
    if fmt not in FORMATS:
        raise ConfigError(f"export: format '{fmt}' is not one of {', '.join(FORMATS)}")
    for n, v in knobs.items():
        if not isinstance(v, (str, float)):
            raise ConfigError(f"export: knobs.{n} must be one value (a snapshot), not a list or automation")
    check_knobs_for(fmt, knobs)
    overwrite = parse_bool(opts.get("overwrite", "false"), "overwrite")
    out = check_output(Path(opts["output"]), (FORMATS[fmt],), overwrite, inputs=(model_file(opts["run"]),)) if "output" in opts else None
    info = read_info(opts["run"])  # the model file and the knob values checked before TensorFlow loads
    info.check_values(1, knobs)
    amp = AmpModel.load(opts["run"])
    run_name = amp.source_file.parent.parent.name if amp.source_file.parent.parent.name else None
    if out is None:
        base = amp.source_file.parent / "export"
        tag = "_".join(f"{n}-{_tag(v)}" for n, v in sorted(knobs.items()))
        stem = plugin_name(run_name or "model") if fmt == "vst3" else f"model{'_' + tag if tag else ''}"
        out = base / f"{stem}{'_' + fmt if fmt in ('proteus', 'rtneural') else ''}{FORMATS[fmt]}"
        check_existing(out, overwrite)
    export(amp, fmt, out, knobs, make_dir="output" not in opts, name=run_name if fmt != "vst3" else None, log=log)
    log(f"wrote {out} ({fmt})")
    for note in (aida_x_note(amp.net) if fmt == "rtneural" else None, dc_block_note(amp.net, fmt)):
        if note:
            log(note)
    return 0


def cmd_knobs(args: list[str], log) -> int:
    opts, _ = parse_args(args, {"run"}, "knobs")
    if "run" not in opts:
        raise ConfigError("knobs: run=... is required (python -m amptrain knobs run=RUN_DIR)")
    amp = AmpModel.load(opts["run"])
    print_table(amp.describe(), ["name", "range", "unit", "default"])
    print(f"\n{amp.net.hidden_size} LSTM units, {amp.net.conditioning} conditioning, {amp.sample_rate} Hz", file=sys.stderr)
    return 0
