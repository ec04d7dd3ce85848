"""Plugin hosting: one interface for every amp (builtin, VST3/AU via pedalboard, Python class): load it, map its
knobs, set and read them, process audio. Audio goes through an amp only by capture/reamp.py's `render_setting`."""
from __future__ import annotations

import difflib
import importlib
import os
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from ampcap.errors import ConfigError, PluginError
from ampcap.files import sha256_bytes, sha256_of
from ampcap.knobs import Knob, KnobSet, knob_from_config

from .builtin_amp import KNOB_SPECS, amp_process


class Amp(ABC):
    """An amp with named knobs. `process` always starts from a reset state."""

    name: str = "amp"
    sample_rate: int = 48000
    knobs: KnobSet
    reported_latency: int = 0

    @abstractmethod
    def set_knobs(self, values: dict) -> None:
        """Set every knob (values already validated and complete)."""

    @abstractmethod
    def read_knobs(self) -> dict:
        """Read the knob values back from the amp itself (to catch plugins that don't keep them)."""

    @abstractmethod
    def process(self, audio: np.ndarray) -> np.ndarray:
        """Process mono float32 audio from a reset state; returns the same number of samples."""

    def parameters(self) -> list[dict]:
        """Every parameter the amp exposes: name, display, range/values, unit, value (for `capture params`)."""
        current = self.read_knobs()
        rows = []
        for k in self.knobs:
            rng = "|".join(map(str, k.choices)) if k.discrete else f"{k.min:g} .. {k.max:g}"
            rows.append({"name": k.name, "display": k.name, "range": rng, "unit": k.unit, "value": current[k.name],
                         **({"choices": [str(c) for c in k.choices]} if k.discrete else {})})
        return rows

    def identity(self) -> dict:
        return {"name": self.name, "kind": "builtin"}

    def close(self) -> None:
        pass


class BuiltinAmp(Amp):
    """The embedded amp from `builtin_amp.py`; stateless, so it is reset by construction."""

    def __init__(self, sample_rate: int = 48000, name: str = "builtin"):
        self.name = name
        self.sample_rate = int(sample_rate)
        self.knobs = KnobSet([knob_from_config(n, s) for n, s in KNOB_SPECS.items()])
        self._values = {k.name: k.default for k in self.knobs}

    def set_knobs(self, values: dict) -> None:
        self._values = dict(values)

    def read_knobs(self) -> dict:
        return dict(self._values)

    def process(self, audio: np.ndarray) -> np.ndarray:
        return amp_process(audio, self.sample_rate, self._values)

    def identity(self) -> dict:
        src = Path(__file__).with_name("builtin_amp.py").read_bytes()
        return {"name": self.name, "kind": "builtin", "source_sha256": sha256_bytes(src)}


def resolve_plugin_path(cfg: dict) -> str:
    """plugin.path if set, else the environment variable named by plugin.path_env, else the OS default."""
    if cfg.get("path"):
        return os.path.expanduser(str(cfg["path"]))
    env = cfg.get("path_env")
    if env and os.environ.get(env):
        return os.path.expanduser(os.environ[env])
    defaults = cfg.get("default_paths") or {}
    for key in (sys.platform, "linux" if sys.platform.startswith("linux") else sys.platform):
        if defaults.get(key):
            return os.path.expanduser(os.path.expandvars(str(defaults[key])))
    raise ConfigError(f"plugin.path: no path given for plugin '{cfg.get('name')}' on {sys.platform}"
                      + (f" (set plugin.path=... or ${env})" if env else " (set plugin.path=...)"))


def _close(word: str, options: list[str]) -> str:
    m = difflib.get_close_matches(word, options, n=4, cutoff=0.4)
    if not m:
        low = word.lower().replace(" ", "_")
        m = [o for o in options if low in o.lower() or o.lower() in low][:4]
    return f"; close matches: {', '.join(m)}" if m else ""


class PluginAmp(Amp):
    """A VST3 (or AU) hosted by pedalboard; our knob names map to the plugin's parameters."""

    def __init__(self, cfg: dict, map_knobs: bool = True):
        self.cfg = cfg
        self.name = cfg["name"]
        self.sample_rate = int(cfg.get("sample_rate") or 48000)
        self.path = self.check_path(cfg)
        self.plugin = self._load()
        self.params = dict(self.plugin.parameters)
        self.knobs, self.fixed, self._resolved, self._values = KnobSet([]), {}, {}, {}
        self.reported_latency = int(getattr(self.plugin, "reported_latency_samples", 0) or 0)
        if map_knobs:  # `capture params` lists the plugin's parameters first, then maps (the map may be wrong)
            self.map_knobs()

    @staticmethod
    def check_path(cfg: dict) -> str:
        """The plugin file the config points at; one line naming the fix if it is not there."""
        path = resolve_plugin_path(cfg)
        if not os.path.exists(path):
            raise PluginError(f"plugin.path: plugin file not found: {path}"
                              + (f" (set plugin.path=... or ${cfg['path_env']})" if cfg.get("path_env") else ""))
        return path

    def map_knobs(self) -> None:
        """Map the config's knobs and fixed parameters onto this instance's parameters (one-line errors)."""
        cfg = self.cfg
        self.knobs = KnobSet([self._map_knob(n, dict(k)) for n, k in (cfg.get("knobs") or {}).items()])
        if not len(self.knobs):
            raise ConfigError("plugin.knobs: no knobs mapped; list the plugin's parameters with python -m capture params "
                              "plugin=..., or write a config from them: python -m capture params plugin.path=... "
                              "--write-config myplugins/plugin/myamp.yaml")
        self.fixed = {self._param_key(name, f"plugin.fixed.{name}"): v for name, v in (cfg.get("fixed") or {}).items()}
        for key, v in self.fixed.items():
            self._set(key, v, f"plugin.fixed.{self.params[key].name}")

    def _load(self):
        import pedalboard

        try:
            return pedalboard.load_plugin(self.path, plugin_name=self.cfg.get("plugin_name") or None,
                                          initialization_timeout=float(self.cfg.get("init_timeout_s") or 10.0))
        except Exception as e:  # pedalboard raises ImportError/ValueError/RuntimeError with long texts
            msg = " ".join(str(e).split())
            if "plugin_name" in msg or "contains" in msg and "plugins" in msg:
                names = []
                try:
                    names = pedalboard.VST3Plugin.get_plugin_names_for_file(self.path)
                except Exception:
                    pass
                raise PluginError(f"plugin.plugin_name: {self.path} holds several plugins; set plugin.plugin_name to one of {names}") from None
            raise PluginError(f"plugin.path: could not load {self.path} as a VST3/AU plugin: {msg[:200]}; point plugin.path at "
                              "the plugin's .vst3 bundle (or .component on macOS)") from None

    def reload(self) -> None:
        """Load a fresh instance (for plugins that don't keep parameters across resets)."""
        self.plugin = self._load()
        self.params = dict(self.plugin.parameters)
        for key, v in self.fixed.items():
            self._set(key, v, f"plugin.fixed.{self.params[key].name}")

    def _param_key(self, name: str, where: str) -> str:
        """Find a plugin parameter by python key or display name (case/space-insensitive)."""
        if name in self.params:
            return name
        norm = lambda s: "".join(ch for ch in str(s).lower() if ch.isalnum())
        for key, p in self.params.items():
            if norm(p.name) == norm(name) or norm(key) == norm(name):
                return key
        options = sorted(set(self.params) | {p.name for p in self.params.values()})
        raise PluginError(f"{where}: plugin has no parameter '{name}'{_close(name, options)}")

    def _resolutions(self, name: str, template: str, where: str) -> dict:
        """Expand a param template like "{channel} Gain" (knob whose parameter depends on a switch)
        into {(switch values...): plugin key} for every choice of the switches it names."""
        import itertools
        import string

        refs = [f for _, f, _, _ in string.Formatter().parse(template) if f]
        if not refs:
            return {(): self._param_key(template, where)}
        cfg_knobs = self.cfg.get("knobs") or {}
        for r in refs:
            if r == name or r not in cfg_knobs or not (cfg_knobs[r] or {}).get("choices"):
                raise ConfigError(f"{where}: '{{{r}}}' must name another knob that has choices")
        combos = itertools.product(*[[str(c) for c in cfg_knobs[r]["choices"]] for r in refs])
        return {combo: self._param_key(template.format(**dict(zip(refs, combo))), where) for combo in combos}

    def _map_knob(self, name: str, kcfg: dict) -> Knob:
        where = f"plugin.knobs.{name}"
        if not kcfg.get("param"):
            raise ConfigError(f"{where}.param: missing (the plugin parameter this knob turns)")
        self._resolved[name] = res = self._resolutions(name, str(kcfg["param"]), f"{where}.param")
        plist = [self.params[k] for k in res.values()]
        p = plist[0]
        kcfg = {**kcfg, "param": str(kcfg["param"]) if len(res) > 1 else next(iter(res.values()))}
        if p.type is float:
            lo, hi = max(q.min_value for q in plist), min(q.max_value for q in plist)
            if kcfg.get("min") is None:
                kcfg["min"] = lo
            if kcfg.get("max") is None:
                kcfg["max"] = hi
            for end in ("min", "max"):
                v = float(kcfg[end])
                if not (lo - 1e-6 <= v <= hi + 1e-6):
                    raise ConfigError(f"{where}.{end}: {v:g} is outside the plugin's range {lo:g}..{hi:g} for '{p.name}'")
            kcfg.setdefault("unit", p.label or "")
        else:
            valid = [str(v) for v in p.valid_values]
            choices = kcfg.get("choices") or valid
            for c in choices:
                if str(c) not in valid:
                    raise ConfigError(f"{where}.choices: '{c}' is not a value of '{p.name}' (valid: {valid})")
            kcfg["choices"] = [str(c) for c in choices]
            kcfg.pop("min", None), kcfg.pop("max", None)
        return knob_from_config(name, kcfg)

    def _key_for(self, knob: Knob, values: dict) -> str:
        """The plugin key a knob turns at this setting (templated params follow their switch)."""
        res = self._resolved[knob.name]
        if len(res) == 1:
            return next(iter(res.values()))
        import string

        refs = [f for _, f, _, _ in string.Formatter().parse(str(knob.param)) if f]
        return res[tuple(str(values[r]) for r in refs)]

    def _set(self, key: str, value: Any, where: str) -> None:
        p = self.params[key]
        if p.type is float:
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: {value!r} is not a number") from None
            if not (p.min_value - 1e-6 <= v <= p.max_value + 1e-6):
                raise ConfigError(f"{where}: {v:g} is outside {p.min_value:g}..{p.max_value:g}")
            value = min(max(v, p.min_value), p.max_value)
        elif p.type is bool:
            value = bool(value) if not isinstance(value, str) else value.lower() in ("1", "true", "on", "yes")
        else:
            valid = [str(v) for v in p.valid_values]
            if str(value) not in valid:
                raise ConfigError(f"{where}: '{value}' is not valid for '{p.name}' (valid: {valid})")
            value = str(value)
        try:
            setattr(self.plugin, key, value)
        except Exception as e:
            raise PluginError(f"{where}: plugin refused {value!r}: {' '.join(str(e).split())[:160]}") from None

    def set_knobs(self, values: dict) -> None:
        for k in sorted(self.knobs, key=lambda k: not k.discrete):  # switches first
            self._set(self._key_for(k, values), values[k.name], f"knob '{k.name}'")
        self._values = dict(values)

    def read_knobs(self) -> dict:
        out = {}
        for k in self.knobs:
            v = getattr(self.plugin, self._key_for(k, self._values) if self._values else next(iter(self._resolved[k.name].values())))
            out[k.name] = str(v) if k.discrete else float(v)
        return out

    def process(self, audio: np.ndarray) -> np.ndarray:
        y = self.plugin.process(audio[None, :].astype(np.float32), float(self.sample_rate), reset=True)
        y = np.asarray(y, dtype=np.float32)
        return y.mean(axis=0) if y.ndim == 2 else y  # stereo-out amps: mono sum

    def parameters(self) -> list[dict]:
        rows = []
        for key, p in self.params.items():
            extra = {}
            if p.type is float:
                rng = f"{p.min_value:g} .. {p.max_value:g}"
            else:  # every value: `capture params` shortens long lists for the terminal (--all: not)
                extra["choices"] = [str(v) for v in p.valid_values]
                rng = "|".join(extra["choices"])
            rows.append({"name": key, "display": p.name, "range": rng, "unit": p.label or "",
                         "value": str(getattr(self.plugin, key)), **extra})
        return rows

    def param_specs(self) -> list[dict]:
        """Every parameter as plain data (key, display name, kind, range or values, unit, current value):
        what `capture params --write-config` guesses a knob map from."""
        out = []
        for key, p in self.params.items():
            d = {"key": key, "name": p.name, "unit": p.label or "", "value": getattr(self.plugin, key)}
            if p.type is float:
                d.update(kind="float", min=float(p.min_value), max=float(p.max_value), value=float(d["value"]))
            else:
                d.update(kind="bool" if p.type is bool else "choice", choices=[str(v) for v in p.valid_values],
                         value=str(d["value"]))
            out.append(d)
        return out

    def identity(self) -> dict:
        return {"name": self.name, "kind": "external", "path": self.path,
                "plugin_name": self.cfg.get("plugin_name"), "file_sha256": sha256_of(self.path),
                "descriptive_name": getattr(self.plugin, "descriptive_name", None),
                "manufacturer": getattr(self.plugin, "manufacturer_name", None),
                "version": getattr(self.plugin, "version", None),
                "reported_latency": self.reported_latency}


def load_python_amp(cfg: dict) -> Amp:
    """`kind: python`, `target: package.module:Class`: a Python amp class implementing `Amp`."""
    target = str(cfg.get("target") or "")
    if ":" not in target:
        raise ConfigError("plugin.target: expected 'module:Class' for a python amp")
    mod, cls = target.split(":", 1)
    try:
        obj = getattr(importlib.import_module(mod), cls)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"plugin.target: cannot import {target}: {e}") from None
    return obj(cfg)


class DescribedAmp(Amp):
    """An amp known only by its description (knobs, rate, identity), taken from a worker process that
    loaded it: the capture process plans and labels the dataset with it, but never loads the plugin."""

    def __init__(self, d: dict):
        self.name, self.sample_rate, self.knobs = d["name"], int(d["sample_rate"]), d["knobs"]
        self.reported_latency, self._identity = int(d.get("reported_latency") or 0), dict(d["identity"])

    def set_knobs(self, values: dict) -> None:
        raise RuntimeError("a described amp cannot be driven; render in a worker (capture/worker.py)")

    read_knobs = process = set_knobs

    def identity(self) -> dict:
        return dict(self._identity)


def describe(cfg: dict, for_params: bool = False) -> dict:
    """Load the amp and say what the capture process needs: its knobs, rate and identity (a sweep), or
    its parameter table and the knob map's problem if any (`capture params`). Runs in a worker process."""
    if not for_params:
        amp = make_amp(cfg)
        return {"name": amp.name, "sample_rate": amp.sample_rate, "knobs": amp.knobs,
                "reported_latency": amp.reported_latency, "identity": amp.identity()}
    amp = make_amp(cfg, map_knobs=False)
    rows, problem = amp.parameters(), None
    specs = amp.param_specs() if isinstance(amp, PluginAmp) else []
    if isinstance(amp, PluginAmp):
        try:
            amp.map_knobs()
            by_param = {key: k.name for k in amp.knobs for key in amp._resolved[k.name].values()}
            for r in rows:
                r["knob"] = by_param.get(r["name"], "")
        except (ConfigError, PluginError) as e:
            problem = str(e)
    else:
        for r in rows:
            r["knob"] = r["name"]
    return {"rows": rows, "problem": problem, "specs": specs, "sample_rate": amp.sample_rate,
            "identity": amp.identity()}


def make_amp(cfg: dict, map_knobs: bool = True) -> Amp:
    """Instantiate the amp a plugin config describes (see conf/plugin/*.yaml)."""
    kind = cfg.get("kind")
    if kind == "builtin":
        return BuiltinAmp(cfg.get("sample_rate") or 48000, name=cfg.get("name", "builtin"))
    if kind == "external":
        return PluginAmp(cfg, map_knobs=map_knobs)
    if kind == "python":
        return load_python_amp(cfg)
    raise ConfigError(f"plugin.kind: '{kind}' is not one of builtin, external, python")
