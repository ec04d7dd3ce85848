"""Capture's structured config (`conf/capture.yaml` and its groups plugin/, sweep/, signal/): every key
is typed, so a wrong key or value is one line that names it. Composition itself: ampcap/config.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING, DictConfig

from ampcap.config import choices, compose

from .sweep import DESIGNS


@dataclass
class KnobConfig:   # one entry of plugin.knobs: each knob says what it has (None: not given)
    param: Optional[str] = None
    min: Optional[float] = None
    max: Optional[float] = None
    default: Any = None
    unit: Optional[str] = None
    choices: Optional[List[str]] = None


# Pure schema: types and valid keys only. Every default lives in the YAML (conf/capture.yaml, and conf/base/ for
# what each option of a group starts from; tests/test_config_defaults.py); a choice is an enum, so a typo is one
# line that lists the choices.
PluginKind = choices("PluginKind", ("builtin", "external", "python"), __name__)
Reload = choices("Reload", ("auto", "always", "never"), __name__)
Design = choices("Design", DESIGNS, __name__)
SignalKind = choices("SignalKind", ("builtin", "file"), __name__)


@dataclass
class PluginConfig:
    name: str = MISSING
    kind: PluginKind = MISSING          # builtin | external (VST3/AU via pedalboard) | python
    path: Optional[str] = MISSING       # plugin file; else $path_env; else default_paths[sys.platform]
    path_env: Optional[str] = MISSING
    default_paths: Dict[str, str] = MISSING
    plugin_name: Optional[str] = MISSING  # for shell plugins holding several plugins
    target: Optional[str] = MISSING     # kind=python: "module:Class"
    options: Dict[str, Any] = MISSING   # kind=python: passed to the class
    sample_rate: int = MISSING
    knobs: Dict[str, KnobConfig] = MISSING
    fixed: Dict[str, Any] = MISSING
    reload_per_setting: Reload = MISSING  # auto (decided by the fresh-vs-reused check) | always | never
    init_timeout_s: float = MISSING
    preroll_s: float = MISSING
    max_latency: int = MISSING


@dataclass
class SweepConfig:
    name: str = MISSING
    design: Design = MISSING            # grid | random | sobol | lhs | oat | line | single
    n_train: int = MISSING
    n_heldout: int = MISSING
    levels: int = MISSING
    knob: Optional[str] = MISSING       # design=line: the knob that moves
    vary: Optional[List[str]] = MISSING  # knobs the design moves (null: all not in `fixed`)
    fixed: Dict[str, Any] = MISSING
    seed: int = MISSING
    edges: float = MISSING              # random/sobol/lhs: training settings pushed towards the knobs' ends (0..1)
    shard: Optional[str] = MISSING      # "i/n": capture a deterministic share of the settings


@dataclass
class SignalConfig:
    name: str = MISSING
    kind: SignalKind = MISSING          # builtin (generated) | file
    path: Optional[str] = MISSING
    seed: int = MISSING
    duration_s: float = MISSING
    peak: float = MISSING
    val_fraction: float = MISSING
    test_fraction: float = MISSING
    min_duration_s: float = MISSING
    # kind=builtin: what the generated DI is made of (capture/signals.py Material; conf/base/signal.yaml)
    mix: Dict[str, float] = MISSING     # section weights
    phrases: Dict[str, float] = MISSING  # phrase weights
    note_off_ms: float = MISSING        # how long a released note takes to die
    pick_noise: float = MISSING         # a pick's scrape at each onset, relative to the note
    phrase_peak_db: Optional[List[float]] = MISSING  # each phrase normalised to a peak in [low, high] dB (null: by velocities)
    ring: float = MISSING               # notes held and strings sustaining this many times longer than v1
    pickup: bool = MISSING              # each phrase through a pickup's resonant low-pass (2-6 kHz)


@dataclass
class CaptureConfig:
    plugin: PluginConfig = field(default_factory=PluginConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    signal: SignalConfig = field(default_factory=SignalConfig)
    out: str = MISSING
    workers: int = MISSING
    overwrite: bool = MISSING
    progress: bool = MISSING
    timeout_s: Optional[float] = MISSING  # per-setting deadline for the plugin process (null: automatic)
    retries: int = MISSING              # a failed setting is retried this often on a fresh process


SCHEMAS = {"capture_schema": CaptureConfig}


def compose_capture(overrides: list[str], config_dir: str | None = None) -> DictConfig:
    """`conf/capture.yaml` with Hydra overrides, on capture's schema."""
    return compose("capture", overrides, config_dir, SCHEMAS)
