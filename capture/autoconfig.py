"""`capture params plugin.path=Amp.vst3 --write-config DIR/plugin/NAME.yaml`: a plugin config written
from the plugin's own parameters. Knobs are guessed from the parameter names (gain/drive, bass, mid,
treble, presence, master/volume, input, output, channel), continuous or switch from the parameter's
type; bypass, gate and effects are held off under `fixed:`; every guess is commented. Pure functions:
parameter specs in (see PluginAmp.param_specs), YAML text out."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from omegaconf import OmegaConf

from ampcap.errors import AmpcapError
from ampcap.files import atomic_write_bytes

from .worker import describe_in_worker

# (our knob name, pattern on the parameter's words, kinds it may have); first match wins, so input,
# output and master come before gain ("Input Gain" is the input, "Master Volume" the master)
ROLES = [  # (role, strong pattern, weak pattern, kinds); a strong match anywhere beats a weak one
    ("input", r"\b(input)\b", r"\b(in)\b", ("float",)),
    ("output", r"\b(output)\b", r"\b(out)\b", ("float",)),
    ("master", r"\b(master|volume)\b", r"\b(vol)\b", ("float",)),
    ("gain", r"\b(gain|drive|overdrive)\b", r"\b(pre ?amp|dist|distortion)\b", ("float",)),
    ("bass", r"\b(bass)\b", r"\b(low|lows)\b", ("float",)),
    ("mid", r"\b(mid|mids|middle)\b", None, ("float",)),
    ("treble", r"\b(treble)\b", r"\b(high|highs)\b", ("float",)),
    ("presence", r"\b(presence)\b", r"\b(pres)\b", ("float",)),
    ("channel", r"\b(channel|amp (type|model|mode))\b", None, ("choice", "bool")),
]
KNOB_ORDER = ["gain", "bass", "mid", "treble", "presence", "master", "input", "output", "channel"]  # as written
# parameters held off (pinned under fixed:) so the capture is the amp alone
HELD_OFF = r"\b(bypass|bypassed|gate|reverb|delay|echo|chorus|flanger|phaser|tremolo|vibrato|fx|effects?|tuner|boost|pedal|wah|octaver?|doubler|pitch|mute)\b"
OFF_CHOICES = ("off", "none", "bypass", "bypassed", "false", "0", "disabled")


def words(text: str) -> str:
    """'Master_VolumeDb' -> 'master volume db': what the patterns match against."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(text))
    return " ".join(re.sub(r"[^0-9a-zA-Z]+", " ", text).lower().split())


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(round(v, 6))
    return json.dumps(v)  # a JSON string is a YAML string


def _range(s: dict) -> str:
    if s["kind"] == "float":
        return f"{s['min']:g} .. {s['max']:g}{' ' + s['unit'] if s['unit'] else ''}"
    return "|".join(s["choices"]) if len(s["choices"]) <= 8 else "|".join(s["choices"][:8]) + f"|... ({len(s['choices'])})"


def _knob_line(name: str, s: dict, ref: str) -> str:
    if s["kind"] == "float":
        default = min(max(float(s["value"]), s["min"]), s["max"])
        return f"{name}: {{param: {_fmt(ref)}, default: {_fmt(default)}}}"
    return f"{name}: {{param: {_fmt(ref)}, choices: [{', '.join(_fmt(c) for c in s['choices'])}], default: {_fmt(s['value'])}}}"


def _held_off_value(s: dict):
    """The value that turns an effect or gate off: False, an 'Off'-like choice, or a float's minimum
    (a mix or level at its minimum; a gate threshold at its minimum never closes). None: no such value."""
    if s["kind"] == "bool":
        return False
    if s["kind"] == "float":
        return float(s["min"])
    for c in s["choices"]:
        if c.strip().lower() in OFF_CHOICES:
            return c
    return None


def _role(s: dict, text: str, strength: int) -> str | None:
    for role, strong, weak, kinds in ROLES:
        pat = (strong, weak)[strength]
        if pat and s["kind"] in kinds and re.search(pat, text):
            return role
    return None


def guess(specs: list[dict]) -> dict:
    """Sort the parameters into knobs (role -> spec), held off (spec, value), and the rest (spec, the
    role it looked like but that another parameter already has)."""
    names = [s["name"] for s in specs]
    knobs, held, left = {}, [], []
    for s in specs:
        s = {**s, "ref": s["name"] if names.count(s["name"]) == 1 and s["name"] else s["key"]}
        s["text"] = f"{words(s['name'])} | {words(s['key'])}"
        off = _held_off_value(s) if re.search(HELD_OFF, s["text"]) else None
        if off is not None:
            held.append((s, off))
        elif not (s["kind"] == "choice" and len(s["choices"]) < 2):
            left.append(s)
    rest = []
    for strength in (0, 1):  # strong names first: 'Bass' beats 'Low Cut' for the bass knob
        todo, left = left, []
        for s in todo:
            role = _role(s, s["text"], strength)
            if role and role not in knobs:
                knobs[role] = s
            elif role or strength == 1:
                rest.append((s, role))
            else:
                left.append(s)
    order = {r: i for i, r in enumerate(KNOB_ORDER)}
    return {"knobs": dict(sorted(knobs.items(), key=lambda kv: order[kv[0]])), "held": held,
            "rest": sorted(rest, key=lambda sr: specs.index(next(x for x in specs if x["key"] == sr[0]["key"])))}


def config_yaml(specs: list[dict], name: str, path: str, plugin_label: str, plugin_name: str | None = None,
                sample_rate: int = 48000, config_dir: str | None = None) -> str:
    """The plugin config's text: header, plugin, knobs (each with why it was guessed), fixed, and the
    parameters left alone as commented-out knob lines to copy."""
    g = guess(specs)
    use = f"--config-dir {config_dir} " if config_dir else "--config-dir DIR "
    lines = [
        f"# Plugin config for {plugin_label}, written by `python -m capture params ... --write-config` on",
        f"# {time.strftime('%Y-%m-%d')} from the parameters the plugin reports. Every knob below is a guess from",
        "# the parameter's name: check them (`python -m capture params " + use + f"plugin={name}` shows the map),",
        "# move a line between knobs:, fixed: and the commented list at the end as you like, then capture:",
        f"#   python -m capture sweep {use}plugin={name}",
        f"name: {name}",
        "kind: external",
        f"path: {_fmt(path)}",
        f"plugin_name: {_fmt(plugin_name) if plugin_name else 'null'}",
        f"sample_rate: {int(sample_rate)}",
        "reload_per_setting: auto",
        "",
        "# our knob name: {param: the plugin's parameter, range (min/max: the plugin's unless given), default}",
        "knobs:",
    ]
    if not g["knobs"]:
        lines.append("  # no parameter looked like an amp knob: make some of those listed at the end knobs")
    for role, s in g["knobs"].items():
        lines.append(f"  {_knob_line(role, s, s['ref'])}   # guessed: '{s['name']}' ({_range(s)}) looks like {role}")
    lines += ["", "# held off while capturing (pedals, gate, effects, bypass): the dataset is the amp alone"]
    if g["held"]:
        lines.append("fixed:")
        for s, off in g["held"]:
            lines.append(f"  {_fmt(s['ref'])}: {_fmt(off)}   # held off: '{s['name']}' ({_range(s)}), was {s['value']}")
    else:
        lines.append("fixed: {}")
    if g["rest"]:
        lines += ["", "# not mapped: left at the plugin's own default. To sweep one, copy its line into knobs:;",
                  "# to pin it, add '\"<param>\": value' under fixed:"]
        for s, role in g["rest"]:
            why = f"   # also looks like {role}, which is taken" if role else ""
            lines.append(f"#   {_knob_line(re.sub(r'[^0-9a-z]+', '_', words(s['key'])) or 'param', s, s['ref'])}{why}")
    return "\n".join(lines) + "\n"


def summary(specs: list[dict]) -> str:
    """One paragraph for the terminal: what became a knob, what is held off, how many are left."""
    g = guess(specs)
    knobs = ", ".join(f"{r} ({s['name']})" for r, s in g["knobs"].items()) or "none"
    held = ", ".join(f"{s['name']}={_fmt(v)}" for s, v in g["held"]) or "none"
    return f"knobs: {knobs}; held off: {held}; {len(g['rest'])} other parameter(s) left at their defaults"


# --- the command's edges: where the file goes, and writing it --------------------------------------

def check_target(path: str):
    """The file --write-config will write: a .yaml path that does not exist yet (nothing is replaced)."""
    p = Path(path).expanduser()
    if p.suffix not in (".yaml", ".yml"):
        raise AmpcapError(f"--write-config: {path}: give a .yaml file, e.g. myplugins/plugin/myamp.yaml")
    if p.exists():
        raise AmpcapError(f"--write-config: {path} already exists; nothing was written (remove it, or give another file)")
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]*", p.stem):
        raise AmpcapError(f"--write-config: {path}: the file name is the config's name (plugin={p.stem}); use letters, "
                          "digits, _ and -")
    return p


def write_config(d: dict, target, log=print) -> int:
    """Write the guessed config (atomically, parent folders made), after loading the plugin with it in
    a worker: a config that would not map is a bug here, not the user's to find."""
    pcfg = d["plugin"]
    if pcfg.get("kind") != "external" or not d["specs"]:
        raise AmpcapError("--write-config: needs a VST3/AU plugin: give plugin.path=/path/to/Amp.vst3 (or plugin=NAME of an "
                          "external plugin config)")
    target = Path(target)
    config_dir = target.parent.parent if target.parent.name == "plugin" else None
    ident = d.get("identity") or {}
    label = ident.get("descriptive_name") or Path(pcfg["path"]).stem
    text = config_yaml(d["specs"], target.stem, str(Path(pcfg["path"]).expanduser().resolve()), label,
                       pcfg.get("plugin_name"), pcfg.get("sample_rate") or 48000,
                       str(config_dir) if config_dir is not None else None)
    new = {**pcfg, **OmegaConf.to_container(OmegaConf.create(text))}
    if guess(d["specs"])["knobs"]:
        describe_in_worker(new)  # maps every knob and fixed parameter on a fresh instance
    atomic_write_bytes(target, text.encode())
    print(f"wrote {target}: {summary(d['specs'])}")
    if config_dir is not None:
        print(f"check it:  python -m capture params --config-dir {config_dir} plugin={target.stem}")
        print(f"capture:   python -m capture sweep --config-dir {config_dir} plugin={target.stem}")
    else:
        log(f"note: to use it, put it in a folder named plugin/ (DIR/plugin/{target.name}) and pass --config-dir DIR")
    return 0
