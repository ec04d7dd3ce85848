"""Knob specs: our names for an amp's controls, their ranges, and their [0, 1] normalisation."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError, KnobError


@dataclass(frozen=True)
class Knob:
    """One control. Continuous knobs have min/max (in the plugin's own units); discrete ones have choices."""

    name: str
    min: float | None = None
    max: float | None = None
    default: Any = None
    unit: str = ""
    choices: tuple = ()
    param: str | None = None  # the plugin's parameter name (hosted plugins only)

    @property
    def discrete(self) -> bool:
        return bool(self.choices)

    def check(self, value: Any, where: str = "") -> Any:
        """Return the value in canonical form, or raise a one-line error naming the knob and its range."""
        label = where or f"knob '{self.name}'"
        if self.discrete:
            if isinstance(value, str) and value in self.choices:
                return value
            matches = [c for c in self.choices if str(c).lower() == str(value).lower()]
            if matches:
                return matches[0]
            raise KnobError(f"{label}: {value!r} is not one of {list(self.choices)}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise KnobError(f"{label}: {value!r} is not a number (range {self.min}..{self.max})") from None
        if v != v or not (self.min <= v <= self.max):
            raise KnobError(f"{label}: {v:g} is outside its range {self.min:g}..{self.max:g}")
        return v

    def normalise(self, value: Any) -> float:
        """Continuous: (v - min) / (max - min) in [0, 1]. Discrete: the choice's index."""
        if self.discrete:
            return float(self.choices.index(value))
        return (float(value) - self.min) / (self.max - self.min)

    def from_unit(self, u: float) -> Any:
        """Map a design coordinate in [0, 1] to a knob value (discrete: equal-width bins)."""
        if self.discrete:
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        return float(self.min + u * (self.max - self.min))

    def to_json(self) -> dict:
        d = {"name": self.name, "kind": "discrete" if self.discrete else "continuous", "default": self.default}
        if self.discrete:
            d["choices"] = list(self.choices)
        else:
            d.update(min=self.min, max=self.max, unit=self.unit)
        if self.param is not None:
            d["param"] = self.param
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Knob":
        return cls(name=d["name"], min=d.get("min"), max=d.get("max"), default=d.get("default"),
                   unit=d.get("unit", ""), choices=tuple(d.get("choices", ())), param=d.get("param"))


def knob_from_config(name: str, cfg: dict) -> Knob:
    """Build and sanity-check a knob from its config entry (`plugin.knobs.<name>`)."""
    where = f"plugin.knobs.{name}"
    choices = tuple(cfg.get("choices") or ())
    lo, hi = cfg.get("min"), cfg.get("max")
    if choices:
        if lo is not None or hi is not None:
            raise ConfigError(f"{where}: give either choices or min/max, not both")
        if len(set(choices)) != len(choices):
            raise ConfigError(f"{where}.choices: repeated values in {list(choices)}")
        default = cfg.get("default", choices[0])
        if default is None:
            default = choices[0]
    else:
        if lo is None or hi is None:
            raise ConfigError(f"{where}: a continuous knob needs min and max (or choices for a switch)")
        if not float(lo) < float(hi):
            raise ConfigError(f"{where}: min ({lo}) must be below max ({hi})")
        default = cfg.get("default")
        if default is None:
            default = (float(lo) + float(hi)) / 2
        lo, hi = float(lo), float(hi)
    knob = Knob(name=name, min=lo, max=hi, default=default, unit=cfg.get("unit") or "",
                choices=choices, param=cfg.get("param"))
    return Knob(**{**knob.__dict__, "default": knob.check(default, f"{where}.default")})


@dataclass
class KnobSet:
    """An ordered set of knobs with whole-setting validation."""

    knobs: list[Knob] = field(default_factory=list)

    def __iter__(self):
        return iter(self.knobs)

    def __len__(self):
        return len(self.knobs)

    @property
    def names(self) -> list[str]:
        return [k.name for k in self.knobs]

    def __getitem__(self, name: str) -> Knob:
        for k in self.knobs:
            if k.name == name:
                return k
        raise ConfigError(f"unknown knob '{name}' (knobs: {', '.join(self.names)})")

    def complete(self, values: dict, where: str = "") -> dict:
        """Fill missing knobs with defaults and validate every value; unknown names are errors."""
        unknown = [n for n in values if n not in self.names]
        if unknown:
            raise ConfigError(f"{where}unknown knob '{unknown[0]}' (knobs: {', '.join(self.names)})")
        return {k.name: k.check(values.get(k.name, k.default), f"{where}knob '{k.name}'") for k in self.knobs}

    def normalise(self, values: dict) -> dict:
        return {k.name: k.normalise(values[k.name]) for k in self.knobs}
