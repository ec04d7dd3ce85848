"""Capture's structured config (`conf/capture.yaml` and its groups plugin/, sweep/, signal/): every key
is typed, so a wrong key or value is one line that names it. Composition itself: ampcap/config.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING, DictConfig

from ampcap.config import compose


@dataclass
class KnobConfig:
    param: Optional[str] = None
    min: Optional[float] = None
    max: Optional[float] = None
    default: Any = None
    unit: Optional[str] = None
    choices: Optional[List[str]] = None


@dataclass
class PluginConfig:
    name: str = MISSING
    kind: str = "builtin"               # builtin | external (VST3/AU via pedalboard) | python
    path: Optional[str] = None          # plugin file; else $path_env; else default_paths[sys.platform]
    path_env: Optional[str] = None
    default_paths: Dict[str, str] = field(default_factory=dict)
    plugin_name: Optional[str] = None   # for shell plugins holding several plugins
    target: Optional[str] = None        # kind=python: "module:Class"
    options: Dict[str, Any] = field(default_factory=dict)  # kind=python: passed to the class
    sample_rate: int = 48000
    knobs: Dict[str, KnobConfig] = field(default_factory=dict)
    fixed: Dict[str, Any] = field(default_factory=dict)
    reload_per_setting: str = "auto"    # auto (decided by the fresh-vs-reused check) | always | never
    init_timeout_s: float = 10.0
    preroll_s: float = 0.5
    max_latency: int = 4096


@dataclass
class SweepConfig:
    name: str = MISSING
    design: str = "sobol"               # grid | random | sobol | lhs | oat | line
    n_train: int = 16
    n_heldout: int = 8
    levels: int = 3
    knob: Optional[str] = None          # design=line: the knob that moves
    vary: Optional[List[str]] = None    # knobs the design moves (default: all not in `fixed`)
    fixed: Dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    edges: float = 0.0                  # random/sobol/lhs: training settings pushed towards the knobs' ends (0..1)
    shard: Optional[str] = None         # "i/n": capture a deterministic share of the settings


@dataclass
class SignalConfig:
    name: str = MISSING
    kind: str = "builtin"               # builtin (generated) | file
    path: Optional[str] = None
    seed: int = 1234
    duration_s: float = 30.0
    peak: float = 0.8
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    min_duration_s: float = 5.0
    # kind=builtin: what the generated DI is made of (capture/signals.py Material; conf/signal/builtin.yaml)
    mix: Dict[str, float] = field(default_factory=lambda: {"phrase": 0.62, "sweep": 0.1, "noise": 0.1, "levels": 0.1,
                                                           "silence": 0.08})          # section weights
    phrases: Dict[str, float] = field(default_factory=lambda: {"notes": 0.35, "chords": 0.3, "palm_mute": 0.2, "swell": 0.15,
                                                               "riff": 0.0, "strum": 0.0, "fingerpick": 0.0})  # phrase weights
    note_off_ms: float = 5.0                     # how long a released note takes to die
    pick_noise: float = 0.0                      # a pick's scrape at each onset, relative to the note
    phrase_peak_db: Optional[List[float]] = None  # each phrase normalised to a peak in [low, high] dB (null: by velocities)
    ring: float = 2.0                            # notes held and strings sustaining this many times longer than v1
    pickup: bool = True                          # each phrase through a pickup's resonant low-pass (2-6 kHz)


@dataclass
class CaptureConfig:
    plugin: PluginConfig = field(default_factory=PluginConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    signal: SignalConfig = field(default_factory=SignalConfig)
    out: str = MISSING
    workers: int = 1
    overwrite: bool = False
    progress: bool = True
    timeout_s: Optional[float] = None   # per-setting deadline for the plugin process (null: automatic)
    retries: int = 1                    # a failed setting is retried this often on a fresh process


SCHEMAS = {"capture_schema": CaptureConfig}


def compose_capture(overrides: list[str], config_dir: str | None = None) -> DictConfig:
    """`conf/capture.yaml` with Hydra overrides, on capture's schema."""
    return compose("capture", overrides, config_dir, SCHEMAS)
