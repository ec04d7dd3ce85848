"""A trained amp as a user sees it: `AmpModel.load(run_dir_or_file)`, its knobs, and `amp(x, sample_rate,
{"gain": 7.3})` (or `render(x, sample_rate, gain=7.3)`) at any setting (pedalboard's convention: audio at another
rate than the model's is resampled in and back out), with knobs fixed, per-sample or automated, offline or
streaming; tone match and export from the same object."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ampcap.errors import KnobError, ModelError, ModelInputError  # noqa: F401 - ModelError is part of this module's API
from ampcap.knobs import Knob

from ..conditioning import encode
from .automation import DEFAULT_SMOOTH_MS, knob_values, smooth
from .modelfile import DAMAGED_FIX, check_keras_file, load_net, model_path, save_net  # noqa: F401 - part of this module's API
from .render import DEFAULT_OVERLAP, MODES, Stream, render
from .resampling import fit_length, resample  # noqa: F401 - resample is part of this module's API

if TYPE_CHECKING:
    from .match import MatchResult


def read_info(path) -> "ModelInfo":
    """The knobs, fixed knobs and sample rate of a model file or run directory, read from the archive's
    config without loading the network (no TensorFlow): bad knobs and inputs are refused fast."""
    f = model_path(path)
    cfg = check_keras_file(f).get("config")
    try:
        return ModelInfo(cfg["knobs"], cfg["fixed_knobs"], cfg["sample_rate"], f)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ModelError(f"{f}: the model's knob metadata is missing or damaged; {DAMAGED_FIX}") from None


class ModelInfo:
    """What a model takes: its knobs (specs), the knobs fixed in its training data, its sample rate;
    checks knob values against them. `read_info` makes one from a file without TensorFlow."""

    def __init__(self, knobs: list, fixed_knobs: dict, sample_rate: int, source_file: Path | None = None):
        self.source_file = source_file  # the .keras file it was read from (None if built in memory)
        self.knobs = [Knob.from_json(k) for k in knobs]
        self.fixed_knobs = dict(fixed_knobs)
        self.sample_rate = int(sample_rate)

    @property
    def knob_names(self) -> list[str]:
        return [k.name for k in self.knobs]

    def describe(self) -> list[dict]:
        """One row per knob: name, range or choices, default (fixed knobs say so)."""
        rows = [{"name": k.name, "range": f"{k.min:g}..{k.max:g}" if not k.discrete else " | ".join(map(str, k.choices)),
                 "unit": k.unit, "default": k.default} for k in self.knobs]
        rows += [{"name": n, "range": "fixed", "unit": "", "default": v} for n, v in self.fixed_knobs.items()]
        return rows

    def check_knobs(self, values: dict) -> None:
        """Unknown names and fixed knobs set to other values are errors that list what there is."""
        for name, v in values.items():
            if name in self.knob_names:
                continue
            if name in self.fixed_knobs:
                fixed = self.fixed_knobs[name]
                if isinstance(v, (str, int, float)) and (v == fixed or str(v).lower() == str(fixed).lower()):
                    continue
                raise KnobError(f"knob '{name}' was fixed at {fixed} in the training data; this model "
                                  f"cannot follow it (knobs: {', '.join(self.knob_names) or 'none'})")
            raise KnobError(f"unknown knob '{name}' (knobs: {', '.join(self.knob_names) or 'none'})")

    def features(self, n: int, values: dict, smooth_ms: float = DEFAULT_SMOOTH_MS) -> np.ndarray:
        """Conditioning input for n samples: (C,) when every knob is fixed, else a smoothed (n, C)
        track. Missing knobs take their default."""
        self.check_knobs(values)
        vals = {k.name: knob_values(k, values.get(k.name, k.default), n, self.sample_rate) for k in self.knobs}
        specs = [k.to_json() for k in self.knobs]
        if all(np.ndim(v) == 0 for v in vals.values()):
            return encode(specs, vals)
        return smooth(encode(specs, vals, n), self.sample_rate, smooth_ms)

    def check_values(self, n: int, values: dict, sample_rate: int | None = None) -> None:
        """Every knob value (fixed, per-sample or automation over n samples at sample_rate, default the
        model's) valid, or a one-line error."""
        self.check_knobs(values)
        for k in self.knobs:
            knob_values(k, values.get(k.name, k.default), n, sample_rate or self.sample_rate)


class AmpModel(ModelInfo):
    """A trained knob-conditioned amp: `knobs`, `render`, `stream`."""

    def __init__(self, net, source_file: Path | None = None):
        super().__init__(net.knobs, net.fixed_knobs, net.sample_rate, source_file)
        self.net = net

    @classmethod
    def load(cls, path) -> "AmpModel":
        """Load a trained amp.

        Args:
            path: a run directory (outputs/runs/<name>/<time>), an experiment's runs folder (its newest finished
                run) or a model.keras file.

        Returns:
            The AmpModel; a missing, damaged or foreign file is a one-line ModelError.
        """
        return cls(load_net(path), model_path(path))

    def __repr__(self) -> str:
        ks = ", ".join(f"{k.name}={k.default}" for k in self.knobs) or "no knobs"
        return f"AmpModel({self.source_file or 'in memory'}: {self.net.hidden_size} units, {self.net.conditioning}; {ks})"

    def render(self, x: np.ndarray, sample_rate: int | None = None, knobs: Mapping | None = None, *,
               mode: str | None = None, smooth_ms: float | None = None, chunk: int | None = None,
               overlap: int | None = None, progress: bool | None = None, prewarm: bool | None = None,
               **knob_kwargs) -> np.ndarray:
        """The amp's output for mono float audio, at any knob setting.

        Args:
            x: mono float audio in [-1, 1] (1-D).
            sample_rate: x's rate in Hz (None: the model's); another rate is resampled to the model's and back.
            knobs: knob values as a mapping ({"gain": 7.3}); keywords (gain=7.3) add to it. A value is a number
                (or a switch's choice), a per-sample array at x's rate, or automation [(seconds, value), ...].
                Knobs left out take their defaults. A knob named like an option below goes in the mapping.
            mode: "chunked" (default: parallel chunks with warm-up overlap) or "sequential".
            smooth_ms: smoothing of knob movements (default 10 ms).
            chunk, overlap: chunked mode's chunk and warm-up lengths in samples (None: automatic).
            progress: a progress bar (default off).
            prewarm: start from the state the model settles in on silence at the starting knobs (default on;
                False: zero state).

        Returns:
            The output, float32, of x's length and at x's rate.
        """
        x = check_audio(x)
        rate = self.check_rate(sample_rate)
        values = self.knob_mapping(knobs, knob_kwargs, mode=mode, smooth_ms=smooth_ms, chunk=chunk, overlap=overlap,
                                   progress=progress, prewarm=prewarm)
        mode = "chunked" if mode is None else mode
        if mode not in MODES:
            raise ModelInputError(f"mode '{mode}' is not one of {', '.join(MODES)}")
        opts = {"mode": mode, "chunk": chunk, "overlap": DEFAULT_OVERLAP if overlap is None else overlap,
                "progress": bool(progress), "prewarm": prewarm is not False}
        smooth_ms = DEFAULT_SMOOTH_MS if smooth_ms is None else smooth_ms
        if rate == self.sample_rate:
            return self.render_at_own_rate(x, values, smooth_ms, opts)
        self.check_values(len(x), values, rate)  # per-sample tracks are at x's rate: checked there
        if len(x) == 0:
            return x.copy()
        xm = resample(x, rate, self.sample_rate)
        y = self.render_at_own_rate(xm, {n: retime(v, len(x), len(xm)) for n, v in values.items()}, smooth_ms, opts)
        return fit_length(resample(y, self.sample_rate, rate), len(x))

    def render_at_own_rate(self, x: np.ndarray, values: dict, smooth_ms: float, opts: dict) -> np.ndarray:
        cond = self.features(len(x), values, smooth_ms)
        if len(x) == 0:
            return x.copy()
        return render(self.net, x, cond, **opts)

    __call__ = render   # amp(audio, sample_rate, {"gain": 7}) as a pedalboard plugin is called

    def knob_mapping(self, knobs: Mapping | None, keywords: dict, **options) -> dict:
        """The knob values of a call: the mapping and the keywords joined. A name given both ways is a one-line
        error, and so is a call option given by keyword that is also a knob of this model, unless the mapping
        holds that knob (else the knob would silently become the option)."""
        if knobs is not None and not isinstance(knobs, Mapping):
            raise KnobError(f"knobs must be a mapping of knob names to values, as {{'gain': 7}}; got {type(knobs).__name__}")
        both = sorted(set(knobs or {}) & set(keywords))
        if both:
            raise KnobError(f"knob '{both[0]}' is given twice (in the knobs mapping and as a keyword)")
        for name, value in options.items():
            if value is not None and name in self.knob_names and name not in (knobs or {}):
                raise KnobError(f"'{name}' is both a knob of this model and a render option: pass the knob in the "
                                f"knobs mapping, as render(x, sample_rate, {{'{name}': value}})")
        return {**(knobs or {}), **keywords}

    def match(self, x: np.ndarray, y: np.ndarray, sample_rate: int | None = None, *, fixed: Mapping | None = None,
              **options) -> "MatchResult":
        """Tone match: the knob setting whose output from a DI comes closest to a recording.

        Args:
            x: the DI, mono float audio (1 s at least).
            y: the target recording of that DI, mono, of x's length (up to the delay searched).
            sample_rate: both clips' rate in Hz (None: the model's).
            fixed: knobs held at given values ({"master": 5}).
            **options: starts, steps, level ("free": the target's level is found; "fixed"), max_delay_ms, seed,
                progress, log (sampling/match.py).

        Returns:
            A MatchResult (sampling/match.py): knobs, ESR, bands, delay, polarity and level, the knobs the clip
            cannot tell, settings that sound alike, and the render lined up with the target (at x's rate).
        """
        from .match import match

        x, y = check_audio(x), check_audio(y)
        rate = self.check_rate(sample_rate)
        if rate == self.sample_rate:
            return match(self, x, y, fixed, **options)
        res = match(self, resample(x, rate, self.sample_rate), resample(y, rate, self.sample_rate), fixed, **options)
        res.render = fit_length(resample(res.render, self.sample_rate, rate), len(x))
        res.delay_samples, res.sample_rate = int(round(res.delay_ms * rate / 1000)), rate
        return res

    def check_rate(self, sample_rate) -> int:
        """A sample rate in Hz (None: the model's), or a one-line error."""
        if sample_rate is None:
            return self.sample_rate
        if isinstance(sample_rate, (bool, np.bool_)) or not isinstance(sample_rate, (int, float, np.integer, np.floating)):
            raise ModelInputError(f"sample_rate must be a number of Hz (as render(x, 44100, ...)), got {sample_rate!r}")
        if not np.isfinite(sample_rate) or sample_rate <= 0 or float(sample_rate) != int(sample_rate):
            raise ModelInputError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
        return int(sample_rate)

    def stream(self, sample_rate: int | None = None, *, smooth_ms: float = DEFAULT_SMOOTH_MS,
               prewarm: bool = True) -> "AmpStream":
        """Live use, block by block, at the model's own rate (a block-by-block resampler would add its own
        latency and edges: another rate is refused; resample before the stream).

        Args:
            sample_rate: the blocks' rate (None or the model's own).
            smooth_ms: smoothing of knob movements between blocks.
            prewarm: start from the state settled on silence at the first block's knobs.

        Returns:
            An AmpStream: `stream(block, {"gain": 7})` (or `.process`) returns each block's output; `reset()`.
        """
        rate = self.check_rate(sample_rate)
        if rate != self.sample_rate:
            raise ModelInputError(f"stream: the model runs at {self.sample_rate} Hz and a stream does not resample; "
                              f"give it audio at {self.sample_rate} Hz, or render offline with render(x, {rate}, ...)")
        return AmpStream(self, smooth_ms, prewarm)

    def export(self, fmt: str, out, knobs: Mapping | None = None, *, name: str | None = None, make_dir: bool = False,
               log=None) -> Path:
        """Write the model in a format a real-time player loads, atomically (never a half-written file; an existing
        `out` is replaced: the export command is the one that refuses a file it did not write).

        Args:
            fmt: "vst3" (a plugin of its own, every knob live), "keras", "rtneural", "proteus" or "nam".
            out: the file or bundle to write.
            knobs: the setting a fixed-knob format (nam) is frozen at; knobs left out take their defaults.
            name: the plugin's or the .nam model's name (default: out's stem).
            make_dir: create out's folder (once everything has been checked).
            log: a function for progress lines (the VST3 build).

        Returns:
            The path written.
        """
        from .export import export

        return export(self, fmt, Path(out), dict(knobs or {}), make_dir=make_dir, name=name, log=log)


class AmpStream:
    """Live use: `process(block, gain=...)` with the LSTM state and the knob smoother carried between
    blocks, so the result equals an offline render of the joined blocks with the same knob track;
    `reset()` starts over, pre-warmed again at the next block's knobs."""

    def __init__(self, amp: AmpModel, smooth_ms: float = DEFAULT_SMOOTH_MS, prewarm: bool = True):
        self.amp, self.smooth_ms = amp, smooth_ms
        self._stream = Stream(amp.net, prewarm)  # pre-warmed at its first block's knobs, again after reset
        self._last = None  # the smoothed features at the end of the previous block

    def reset(self) -> None:
        self._stream.reset()
        self._last = None

    def process(self, block: np.ndarray, knobs: Mapping | None = None, **knob_kwargs) -> np.ndarray:
        """The next block's output (float32, the block's length) at these knob values (a mapping and/or keywords,
        as render takes them; a value per block, or a per-sample array of the block's length)."""
        x = check_audio(block)
        target = self.amp.features(len(x), self.amp.knob_mapping(knobs, knob_kwargs), 0.0)
        track = np.broadcast_to(target, (len(x), self.amp.net.n_cond))
        if len(x) == 0:
            return x.copy()
        start = track[0] if self._last is None else self._last
        cond = smooth(track, self.amp.sample_rate, self.smooth_ms, start=start)
        self._last = cond[-1].astype(np.float64)
        return self._stream.process(x, cond)

    __call__ = process


def check_audio(x) -> np.ndarray:
    """Mono float audio as float32 (T,); one-line errors for anything else."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise ModelInputError(f"audio must be mono, one dimension (T,); got shape {a.shape} (mix or pick a channel first)")
    if not np.issubdtype(a.dtype, np.floating):
        raise ModelInputError(f"audio must be float samples in [-1, 1], got {a.dtype} (integer PCM: divide by its full scale)")
    a = a.astype(np.float32)
    if not np.all(np.isfinite(a)):
        raise ModelInputError("audio holds NaN or infinite samples")
    return a


def retime(value, n_from: int, n_to: int):
    """A knob value for audio resampled from n_from to n_to samples: per-sample tracks are re-sampled
    (linear for numbers, nearest for switches); values and automation (in seconds) pass unchanged."""
    if not isinstance(value, np.ndarray) and not (isinstance(value, (list, tuple)) and len(value) == n_from
                                                  and not any(isinstance(p, (list, tuple)) for p in value)):
        return value
    arr = np.asarray(value)
    if arr.ndim != 1 or len(arr) != n_from or n_from == 0:
        return value  # wrong shape: the knob check names it
    pos = np.arange(n_to) * (n_from / max(n_to, 1))
    if np.issubdtype(arr.dtype, np.number):
        return np.interp(pos, np.arange(n_from), arr.astype(np.float64))
    return arr[np.clip(np.round(pos).astype(int), 0, n_from - 1)]
