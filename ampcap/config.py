"""Hydra composition shared by the `capture` and `amptrain` CLIs: the config folder, a Hydra session
with the stages' schemas, compose, validation onto a dataclass schema, and config diffs.

Configs live in `conf/` (groups mirror the code); a user's own folder of configs is added with
`--config-dir DIR`. Every composed config is merged onto a dataclass schema (the stages' own:
capture/config.py, amptrain/config.py), so a wrong key or type is reported as one line naming the key.
"""
from __future__ import annotations

import difflib
import os
import re
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import ConfigError


def find_conf_dir() -> Path:
    """The configs: the copy installed inside the package (ampcap/conf, from a wheel or `pip install .`),
    else the checkout's top-level conf/ (editable install, or running from the repository)."""
    here = Path(__file__).resolve().parent
    for d in (here / "conf", here.parent / "conf"):
        if (d / "capture.yaml").is_file():
            return d
    raise ConfigError(f"config: ampcap's configs are missing (looked in {here / 'conf'} and {here.parent / 'conf'}); "
                      "reinstall ampcap (pip install ampcap, or pip install -e . in a checkout)")


def one_line(e: Exception) -> str:
    """An exception's message on one line (Hydra's and OmegaConf's span several)."""
    return " ".join(str(e).split())


# Free-form maps of the schemas: a new key there needs Hydra's `+` (`+sweep.fixed.gain=3`)
FREE_MAPS = ("sweep.fixed", "plugin.fixed", "plugin.knobs", "plugin.options", "plugin.default_paths")


def user_overrides(overrides: list[str]) -> list[str]:
    """Overrides as users type them, made ones Hydra's grammar takes: a value starting with `~` is
    the home folder (bash does not expand it after `key=`), and a value the grammar refuses (a path
    with spaces or parentheses, which the shell's quotes no longer protect) is quoted for it. An
    argument that still does not parse is one line naming it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser, out = OverridesParser.create(), []
    for o in overrides:
        key, eq, value = o.partition("=")
        if eq and value.startswith("~") and not key.startswith(("hydra.", "~")):
            value = os.path.expanduser(value)
            o = f"{key}={value}"
        for candidate in [o] + ([f"{key}={quoted(value)}"] if eq and value[:1] not in ("'", '"') else []):
            try:
                parser.parse_overrides([candidate])
            except HydraException:
                continue
            out.append(candidate)
            break
        else:
            raise ConfigError(f"argument '{o}': not a key=value override Hydra can read; quote the value for Hydra "
                              f"inside the shell's quotes, e.g. \"{key}='...'\"" if eq else
                              f"argument '{o}': not a key=value override (e.g. sweep=tiny, out=DIR)")
    return out


def quoted(value: str) -> str:
    """`value` as one Hydra quoted string."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return "'" + value.replace("'", "\\'") + "'"


@contextmanager
def hydra_session(overrides: list[str], config_dir: str | None = None, schemas: dict[str, type] | None = None):
    """Hydra initialised on `conf/` (plus the user's --config-dir) with `schemas` registered: each
    {name: dataclass} is usable as `- <name>` in a primary config's defaults list, so every schema key
    can be overridden from the command line and is type-checked. Yields the overrides to use (the
    search path added). Used by compose and by capture's multirun."""
    overrides = user_overrides(overrides)
    if config_dir:
        d = Path(config_dir).expanduser().resolve()
        if not d.is_dir():
            raise ConfigError(f"--config-dir: {config_dir} is not a directory")
        overrides.append(f"hydra.searchpath=[file://{d}]")
    cs = ConfigStore.instance()
    for name, schema in (schemas or {}).items():
        cs.store(name=name, node=schema)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(find_conf_dir()), version_base="1.3"):
            yield overrides
    finally:
        GlobalHydra.instance().clear()


def compose(config_name: str, overrides: list[str], config_dir: str | None = None,
            schemas: dict[str, type] | None = None) -> DictConfig:
    """Compose `conf/<config_name>.yaml` with Hydra overrides (`schemas` as for hydra_session); errors
    become one-line ConfigErrors."""
    try:
        with hydra_session(overrides, config_dir, schemas) as ov:
            return hydra_compose(config_name=config_name, overrides=ov)
    except (HydraException, OmegaConfBaseException, ValueError) as e:
        msg = compose_message(e, overrides, schemas)
        raise ConfigError(msg if msg.startswith("config key ") else f"config: {msg}") from None


def compose_message(e: Exception, overrides: list[str], schemas: dict[str, type] | None) -> str:
    """Hydra's or OmegaConf's error as one line: the key named, a hint for a map key given without
    `+`, and for a wrong key in a config file the file and the keys that were meant."""
    msg = one_line(e).split(" Config search path:")[0].replace(" Available options", "; available options")
    typo = re.search(r"In '([^']+)': ConfigKeyError raised while composing config: Key '([^']+)' not in '(\w+)' full_key: (\S+)", msg)
    if typo:
        where, key, schema, full = typo.groups()
        names = schema_fields(schemas, schema)
        close = difflib.get_close_matches(key, names, n=2)
        return (f"{where}.yaml: unknown key '{key}' ({full})" + (f"; did you mean {' or '.join(close)}?" if close else "")
                + (f" (keys there: {', '.join(names)})" if names else ""))
    cause = e.__cause__
    if isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", None)
        msg = f"config key '{key}': " + one_line(cause).split(" full_key:")[0] if key else f"{msg}: {one_line(cause)}"
        parent = str(key or "").rpartition(".")[0]
        given = next((o for o in overrides if o.split("=", 1)[0] == key), None)
        if given and parent in FREE_MAPS and "not in struct" in msg:
            msg += f"; {parent} is a map: add a key to it with a +, as +{given}"
    return msg


def schema_fields(schemas: dict[str, type] | None, name: str) -> list[str]:
    """The field names of the dataclass called `name` among the schemas and the dataclasses they hold."""
    import dataclasses
    import typing

    seen, todo = set(), list((schemas or {}).values())
    while todo:
        cls = todo.pop()
        if not dataclasses.is_dataclass(cls) or cls in seen:
            continue
        seen.add(cls)
        if cls.__name__ == name:
            return [f.name for f in dataclasses.fields(cls)]
        for f in dataclasses.fields(cls):
            t = f.type if not isinstance(f.type, str) else typing.get_type_hints(cls).get(f.name)
            todo += [t, *typing.get_args(t)]
    return []


def validate(cfg: DictConfig, schema: type) -> DictConfig:
    """Merge onto the dataclass schema (unknown keys and wrong types -> one line naming the key)."""
    try:
        plain = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))  # drop typing Hydra relaxed for "+key"
        merged = OmegaConf.merge(OmegaConf.structured(schema), plain)
        OmegaConf.resolve(merged)
        missing = sorted(OmegaConf.missing_keys(merged))
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None)
        msg = one_line(e).split(" full_key:")[0]
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
    """A config as plain Python (a choice's enum as its string)."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


def choices(name: str, values, module: str) -> type[StrEnum]:
    """The enum of a config key's choices (a StrEnum: each member equals its string, so code compares and prints
    it as one); OmegaConf names the key and lists the choices when a value is not one of them. `module`: the
    module that binds it to `name` (its __name__), so a config holding one pickles into a worker process."""
    return StrEnum(name, [(v, v) for v in values], module=module)
