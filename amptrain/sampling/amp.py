"""A trained amp as a user sees it: `AmpModel.load(run_dir_or_file)`, its knobs, and `render(x,
sample_rate, gain=7.3)` at any setting (pedalboard's convention: audio at another rate than the
model's is resampled in and back out), with knobs fixed, per-sample or automated, offline or streaming."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ampcap.errors import KnobError, ModelError, ModelInputError
from ampcap.files import atomic_path
from ampcap.knobs import Knob

from ..conditioning import encode
from ..tfenv import quiet_tensorflow
from .automation import DEFAULT_SMOOTH_MS, knob_values, smooth
from .render import DEFAULT_OVERLAP, MODES, Stream, render
from .resampling import fit_length, resample  # noqa: F401 - resample is part of this module's API

if TYPE_CHECKING:
    from .match import MatchResult

MODEL_FILE = "model.keras"
REGISTERED = "ampcap>AmpNet"


def model_path(path) -> Path:
    """A run directory (holding model.keras), an experiment's runs folder (its newest finished run),
    or a .keras file -> the .keras file."""
    p = Path(path)
    if p.is_dir():
        f = p / MODEL_FILE
        if f.exists():
            return f
        runs = sorted(d / MODEL_FILE for d in p.iterdir() if (d / MODEL_FILE).is_file())
        if runs:
            return runs[-1]
        raise ModelError(f"{p}: no {MODEL_FILE} here or in its run folders (is it a finished training run? "
                         f"runs are under outputs/runs/<name>/<time>/)")
    if not p.exists():
        raise ModelError(f"{p}: no such model file or run directory; give run= a run directory "
                         f"(outputs/runs/<name>/<time>) or its {MODEL_FILE}")
    return p


DAMAGED_FIX = "use the model.keras of a finished training run (or train again)"


def _check_keras_file(f: Path) -> dict:
    """Refuse anything but a .keras archive holding one of our models, before Keras reads it; returns
    the archive's config.json."""
    try:
        with zipfile.ZipFile(f) as z:
            cfg = json.loads(z.read("config.json"))
            if "model.weights.h5" not in z.namelist():
                raise ModelError(f"{f}: the model file has no weights (model.weights.h5 missing); {DAMAGED_FIX}")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, OSError):
        raise ModelError(f"{f}: not a .keras model file (damaged or another format); {DAMAGED_FIX}") from None
    if not isinstance(cfg, dict) or cfg.get("registered_name") != REGISTERED:
        name = cfg.get("registered_name") or cfg.get("class_name") if isinstance(cfg, dict) else None
        raise ModelError(f"{f}: not an ampcap amp model (it holds {name or 'something else'}); "
                         "use a model.keras written by python -m amptrain")
    return cfg


def read_info(path) -> "ModelInfo":
    """The knobs, fixed knobs and sample rate of a model file or run directory, read from the archive's
    config without loading the network (no TensorFlow): bad knobs and inputs are refused fast."""
    f = model_path(path)
    cfg = _check_keras_file(f).get("config")
    try:
        return ModelInfo(cfg["knobs"], cfg["fixed_knobs"], cfg["sample_rate"], f)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ModelError(f"{f}: the model's knob metadata is missing or damaged; {DAMAGED_FIX}") from None


def load_net(path):
    """Load our Keras network from a run directory or .keras file: validated first, safe mode (no
    code in the file is run), one-line errors."""
    f = model_path(path)
    _check_keras_file(f)
    quiet_tensorflow()
    import keras  # (TensorFlow: imported when a model is loaded, not with this module)

    from .. import model as _  # noqa: F401 - registers our layers (and imports Keras)

    try:
        net = keras.saving.load_model(f, compile=False, safe_mode=True)
    except Exception as e:  # a truncated weights file, a config that does not build, ...
        raise ModelError(f"{f}: the model file could not be loaded ({type(e).__name__}: {' '.join(str(e).split())[:160]}); "
                         f"{DAMAGED_FIX}") from None
    return net


def save_net(net, path) -> None:
    """Save a Keras network as a .keras file, atomically (never a half-written model)."""
    with atomic_path(path, ".keras") as tmp:
        net.save(tmp)


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
        return cls(load_net(path), model_path(path))

    def __repr__(self) -> str:
        ks = ", ".join(f"{k.name}={k.default}" for k in self.knobs) or "no knobs"
        return f"AmpModel({self.source_file or 'in memory'}: {self.net.hidden_size} units, {self.net.conditioning}; {ks})"

    def render(self, x: np.ndarray, sample_rate: int | None = None, *, mode: str = "chunked",
               smooth_ms: float = DEFAULT_SMOOTH_MS, chunk: int | None = None, overlap: int | None = None,
               progress: bool = False, prewarm: bool = True, **knobs) -> np.ndarray:
        """The amp's output for mono float audio x at `sample_rate` (None: the model's own rate), of
        x's length and rate. Another rate is resampled to the model's and back. A knob is a value, a
        per-sample array (at x's rate), or automation [(seconds, value), ...]. The render starts from
        the state the model settles in on silence at the starting knobs (prewarm=False: zero state)."""
        x = check_audio(x)
        rate = self.check_rate(sample_rate)
        if mode not in MODES:
            raise ModelInputError(f"mode '{mode}' is not one of {', '.join(MODES)}")
        if rate != self.sample_rate:
            self.check_values(len(x), knobs, rate)  # per-sample tracks are at x's rate: checked there
            if len(x) == 0:
                return x.copy()
            xm = resample(x, rate, self.sample_rate)
            km = {n: retime(v, len(x), len(xm)) for n, v in knobs.items()}
            y = self.render(xm, mode=mode, smooth_ms=smooth_ms, chunk=chunk, overlap=overlap,
                            progress=progress, prewarm=prewarm, **km)
            return fit_length(resample(y, self.sample_rate, rate), len(x))
        cond = self.features(len(x), knobs, smooth_ms)
        if len(x) == 0:
            return x.copy()
        return render(self.net, x, cond, mode, chunk=chunk, overlap=DEFAULT_OVERLAP if overlap is None else overlap,
                      progress=progress, prewarm=prewarm)

    def match(self, x: np.ndarray, y: np.ndarray, sample_rate: int | None = None, *, fixed: dict | None = None,
              **options) -> "MatchResult":
        """Tone match: the knob settings whose output from DI x comes closest to the target recording y (both mono,
        at `sample_rate`; None: the model's). `fixed`: knobs held at given values ({"master": 5}). Options:
        starts, steps, level ("free": the target's level is found; "fixed"), max_delay_ms, seed, progress, log.
        Returns a MatchResult (sampling/match.py): knobs, ESR, bands, delay, polarity, level, the knobs the clip
        cannot tell, settings that sound alike, and the render lined up with the target (at x's rate)."""
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
        """Live use at the model's own rate (a block-by-block resampler would add its own latency and
        edges: another rate is refused, resample before the stream)."""
        rate = self.check_rate(sample_rate)
        if rate != self.sample_rate:
            raise ModelInputError(f"stream: the model runs at {self.sample_rate} Hz and a stream does not resample; "
                              f"give it audio at {self.sample_rate} Hz, or render offline with render(x, {rate}, ...)")
        return AmpStream(self, smooth_ms, prewarm)


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

    def process(self, block: np.ndarray, **knobs) -> np.ndarray:
        x = check_audio(block)
        target = self.amp.features(len(x), knobs, 0.0)
        track = np.broadcast_to(target, (len(x), self.amp.net.n_cond))
        if len(x) == 0:
            return x.copy()
        start = track[0] if self._last is None else self._last
        cond = smooth(track, self.amp.sample_rate, self.smooth_ms, start=start)
        self._last = cond[-1].astype(np.float64)
        return self._stream.process(x, cond)


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
