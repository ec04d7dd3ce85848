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
from ampcap.files import write_json
from ampcap.wav import SOFTWARE, wav_truncation, write_wav

from ..plots import plot_knob_grid
from .amp import MODES, AmpModel, model_path, read_info, resample
from .automation import DEFAULT_SMOOTH_MS
from .export import FORMATS, aida_x_note, check_knobs_for, dc_block_note, export
from .match import MAX_DELAY_MS, STARTS, STEPS, check_fixed, check_pair, verify
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


def read_di(path: Path, model_rate: int, log, key: str = "input") -> tuple[np.ndarray, int]:
    """The DI as mono float32 at the file's own rate, and that rate. Stereo is mixed to mono, another
    rate than the model's is said in the log (the render resamples it in and back out); missing,
    unreadable, truncated, empty or NaN files are refused."""
    if not path.exists():
        raise SignalError(f"{key}: {path}: no such file (check the path; relative paths start from the current directory)")
    if path.is_dir():
        raise SignalError(f"{key}: {path}: is a directory; give an audio file")
    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises its own LibsndfileError / RuntimeError
        raise SignalError(f"{key}: {path}: not a readable audio file ({' '.join(str(e).split())[:120]}); "
                          "give a WAV, FLAC or AIFF file") from None
    cut = wav_truncation(path)
    if cut:
        raise SignalError(f"{key}: {path}: the file is truncated (only {100 * cut[0] / cut[1]:.0f}% of the audio its "
                          "header declares is there); copy or export it again")
    if audio.shape[0] == 0:
        raise SignalError(f"{key}: {path}: the file holds no samples; give a recording")
    if not np.all(np.isfinite(audio)):
        raise SignalError(f"{key}: {path}: the file holds NaN or infinite samples; re-export it (e.g. as 24-bit PCM WAV)")
    if audio.shape[1] > 1:
        log(f"{key}: {path.name} has {audio.shape[1]} channels; rendering their mix (mono)")
        audio = audio.mean(axis=1, keepdims=True)
    if sr != model_rate:
        log(f"{key}: {path.name} is at {sr} Hz, the model at {model_rate} Hz; resampling in and back out")
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
        y = amp.render(x, in_rate, values, mode=mode, smooth_ms=smooth_ms, progress=progress)
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


MATCH_KEYS = {"run", "input", "target", "output", "render", "verify", "level", "starts", "steps", "max_delay_ms",
              "seed", "dataset", "overwrite", "progress"}


def cmd_match(args: list[str], log) -> int:
    """`python -m amptrain match run=RUN input=DI.wav target=TONE.wav [fixed.NAME=VALUE ...] [--verify]`: the knob
    settings whose output comes closest to the target; prints them and the figures, writes the matched render and
    the result as JSON (beside the target unless render=/output= say where)."""
    if any(a.startswith("knobs.") for a in args):
        raise ConfigError("match: knobs.NAME is not an option here: hold a knob with fixed.NAME=VALUE (the others are searched)")
    args = ["verify=true" if a == "--verify" else ("knobs." + a[len("fixed."):] if a.startswith("fixed.") else a) for a in args]
    opts, fixed = parse_args(args, MATCH_KEYS, "match")
    for key in ("run", "input", "target"):
        if key not in opts:
            raise ConfigError(f"match: {key}=... is required (python -m amptrain match run=RUN_DIR input=DI.wav target=TONE.wav)")
    for n, v in fixed.items():
        if not isinstance(v, (str, float)):
            raise ConfigError(f"match: fixed.{n} must be one value, not a list or automation")
    level = opts.get("level", "free")
    if level not in ("free", "fixed"):
        raise ConfigError(f"match: level '{level}' is not free (the target's recording level is found) or fixed (the amp's own)")
    starts, steps, seed = (_int(opts.get(k, d), k, lo) for k, d, lo in (("starts", STARTS, 1), ("steps", STEPS, 1), ("seed", 0, 0)))
    max_delay = _float(opts.get("max_delay_ms", MAX_DELAY_MS), "max_delay_ms")
    if max_delay > 100:
        raise ConfigError(f"match: max_delay_ms={max_delay:g}: at most 100 ms (a DI and its amp's output line up within milliseconds)")
    do_verify, overwrite = parse_bool(opts.get("verify", "false"), "verify"), parse_bool(opts.get("overwrite", "false"), "overwrite")
    progress = parse_bool(opts.get("progress", "true"), "progress")
    target = Path(opts["target"])
    inputs = (opts["input"], opts["target"], model_file(opts["run"]))
    out_json = check_output(Path(opts.get("output") or target.with_name(f"{target.stem}_match.json")), (".json",), overwrite, inputs)
    out_wav = check_output(Path(opts.get("render") or target.with_name(f"{target.stem}_match.wav")), (".wav",), overwrite, inputs)
    info = read_info(opts["run"])  # everything given is checked before TensorFlow loads
    fixed = check_fixed(info, fixed)
    x, rate = read_di(Path(opts["input"]), info.sample_rate, log)
    y, t_rate = read_di(target, info.sample_rate, lambda m: None, key="target")
    if t_rate != rate:
        log(f"target: {target.name} is at {t_rate} Hz, the DI at {rate} Hz; resampling the target to {rate} Hz")
        y = resample(y, t_rate, rate)
    check_pair(x, y, rate, max_delay)
    plugin_cfg = None
    if do_verify:
        from ..finished_run import Run

        plugin_cfg = Run.open(info.source_file.parent, opts.get("dataset")).plugin
    amp = AmpModel.load(opts["run"])
    res = amp.match(x, y, rate, fixed=fixed, starts=starts, steps=steps, level=level, max_delay_ms=max_delay, seed=seed,
                    progress=progress, log=log)
    if plugin_cfg is not None:
        log("match: rendering the found setting through the amp itself ...")
        verify(res, x, y, rate, plugin_cfg, info.sample_rate, info.fixed_knobs)
    print_match(res, fixed)
    write_wav(out_wav, res.render, rate, SOFTWARE)
    write_json(out_json, {**res.to_json(), "run": str(info.source_file), "input": str(opts["input"]), "target": str(target),
                          "render": str(out_wav), "fixed": fixed, "level_mode": level})
    log(f"wrote {out_wav} (the model at the found knobs, lined up with the target) and {out_json} ({res.seconds:.0f} s)")
    return 0


def print_match(res, fixed: dict) -> None:
    """The found knobs (which the clip cannot tell, which were held) and the figures, for people."""
    rows = [{"knob": n, "value": v, "note": "held (fixed.)" if n in fixed else
             ("flat: this clip does not tell its value" if n in res.flat_knobs else "")} for n, v in res.knobs.items()]
    print_table(rows, ["knob", "value", "note"])
    b = res.bands_db
    print(f"model at these knobs: ESR {res.esr:.4f} (pre-emphasised {res.esr_pre:.4f}); bands low {b['low']:+.2f} / "
          f"mid {b['mid']:+.2f} / high {b['high']:+.2f} dB")
    print(f"target: delay {res.delay_ms:+.2f} ms, polarity {'inverted' if res.polarity < 0 else 'as is'}, "
          f"level {res.level_db:+.2f} dB against the model")
    if res.plugin:
        p = res.plugin["bands_db"]
        print(f"the amp itself at these knobs: ESR {res.plugin['esr']:.4f}; bands low {p['low']:+.2f} / mid {p['mid']:+.2f} / "
              f"high {p['high']:+.2f} dB")
    for a in res.alike[:3]:
        print(f"sounds alike (loss x{a['loss_x']:.2f}): " + ", ".join(f"{k}={v}" for k, v in a["knobs"].items()))


def _int(text, key: str, lo: int) -> int:
    try:
        v = int(str(text))
    except ValueError:
        raise ConfigError(f"match: {key} '{text}' is not a whole number") from None
    if v < lo:
        raise ConfigError(f"match: {key}={v}: must be at least {lo}")
    return v
