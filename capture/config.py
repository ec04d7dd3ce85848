"""Structured configs and Hydra composition shared by the `capture` and `amptrain` CLIs.

Configs live in `conf/` (groups mirror the code); a user's own folder of configs is added with
`--config-dir DIR`. Every composed config is merged onto a dataclass schema, so a wrong key or type
is reported as one line naming the key.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import MISSING, DictConfig, OmegaConf

from .errors import ConfigError



def find_conf_dir() -> Path:
    """The configs: the copy installed inside the package (capture/conf, from a wheel or `pip install .`),
    else the checkout's top-level conf/ (editable install, or running from the repository)."""
    here = Path(__file__).resolve().parent
    for d in (here / "conf", here.parent / "conf"):
        if (d / "capture.yaml").is_file():
            return d
    raise ConfigError(f"config: ampcap's configs are missing (looked in {here / 'conf'} and {here.parent / 'conf'}); "
                      "reinstall ampcap (pip install ampcap, or pip install -e . in a checkout)")



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


SCHEMAS: dict[str, type] = {"capture_schema": CaptureConfig}


def register_schema(name: str, schema: type) -> None:
    """Make a dataclass usable as `- <name>` in a primary config's defaults list, so every schema key
    can be overridden from the command line (e.g. plugin.target=...) and is type-checked."""
    SCHEMAS[name] = schema


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


@contextmanager
def hydra_session(overrides: list[str], config_dir: str | None = None):
    """Hydra initialised on `conf/` (plus the user's --config-dir) with our schemas registered; yields
    the overrides to use (the search path added). Used by compose and by multirun."""
    from hydra import initialize_config_dir
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra

    overrides = list(overrides)
    if config_dir:
        d = Path(config_dir).expanduser().resolve()
        if not d.is_dir():
            raise ConfigError(f"--config-dir: {config_dir} is not a directory")
        overrides.append(f"hydra.searchpath=[file://{d}]")
    cs = ConfigStore.instance()
    for name, schema in SCHEMAS.items():
        cs.store(name=name, node=schema)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(find_conf_dir()), version_base="1.3"):
            yield overrides
    finally:
        GlobalHydra.instance().clear()


def compose(config_name: str, overrides: list[str], config_dir: str | None = None) -> DictConfig:
    """Compose `conf/<config_name>.yaml` with Hydra overrides; errors become one-line ConfigErrors."""
    from hydra import compose as hydra_compose
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with hydra_session(overrides, config_dir) as ov:
            return hydra_compose(config_name=config_name, overrides=ov)
    except (HydraException, OmegaConfBaseException, ValueError) as e:
        msg = _one_line(e).split(" Config search path:")[0].replace(" Available options", "; available options")
        cause = e.__cause__
        if isinstance(cause, OmegaConfBaseException):
            key = getattr(cause, "full_key", None)
            msg = f"config key '{key}': " + _one_line(cause).split(" full_key:")[0] if key else f"{msg}: {_one_line(cause)}"
        raise ConfigError(f"config: {msg}") from None


def validate(cfg: DictConfig, schema: type) -> DictConfig:
    """Merge onto the dataclass schema (unknown keys and wrong types -> one line naming the key)."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        plain = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))  # drop typing Hydra relaxed for "+key"
        merged = OmegaConf.merge(OmegaConf.structured(schema), plain)
        OmegaConf.resolve(merged)
        missing = sorted(OmegaConf.missing_keys(merged))
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None)
        msg = _one_line(e).split(" full_key:")[0]
        raise ConfigError(f"config key '{key}': {msg}" if key else f"config: {msg}") from None
    if missing:
        raise ConfigError(f"config key '{missing[0]}': no value given (set {missing[0]}=...)")
    return merged


def flatten(d: dict | None, prefix: str = "") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}: config keys as a user types them."""
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def changed_keys(old: dict | None, new: dict | None, ignore: set = frozenset()) -> list[str]:
    """Dotted keys whose values differ between two configs (for 'changed: ...' messages)."""
    a, b = flatten(old), flatten(new)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in ignore)


def to_dict(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)
