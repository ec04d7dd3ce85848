"""The dataset format, the contract between capture (which writes it) and training (which reads it):
manifest.json + float WAVs, the manifest's schema, `verify`, and reading settings back.

Layout of a dataset directory (format version 2, documented with the project's docs):
    manifest.json          everything about the capture (capture/runner.py `new_manifest`)
    input.wav              the DI signal, float32 mono
    settings/<id>.wav      the amp's output for one knob setting, float32 mono, aligned with input.wav
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .errors import ConfigError, DatasetError
from .files import atomic_write_bytes, sha256_json, sha256_of
from .knobs import Knob
from .wav import read_wav

FORMAT = "ampcap-dataset"
FORMAT_VERSION = 3          # 3: adds `labels_sha256`; 2: adds `output_level`, no warnings about peaks above full scale
READ_VERSIONS = (1, 2, 3)   # older datasets load as they are (verify checks their labels without the checksum)
# Float WAVs hold any level: a peak at or above full scale (1.0, 0 dBFS) loses nothing, so it is not a
# problem of the dataset (only a fixed-point output would clip it). A peak this far above full scale
# (+24 dBFS) usually means a gain stage set wrong (plugin output or master), so that one is a warning.
FULL_SCALE = 1.0
HOT_PEAK = 10 ** (24 / 20)
MANIFEST = "manifest.json"
INPUT = "input.wav"
SPLITS = ("train", "val", "test")


def write_manifest(root: Path, manifest: dict) -> None:
    atomic_write_bytes(Path(root) / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=False) + "\n").encode())


LABEL_KEYS = ("index", "id", "split", "knobs", "knobs_normalized")


def labels_sha256(m: dict) -> str:
    """The checksum of what a dataset says its audio is (manifest `labels_sha256`, format 3): the knob
    specs, the design, each setting's index, id, split and knob values, and the adaptive round that added it where
    one did. A hand-edited label (a knob value, a split) no longer matches it, so verify and training refuse the dataset."""
    sweep = {k: v for k, v in m.get("sweep", {}).items() if k != "shard"}
    return sha256_json({"knobs": m.get("knobs"), "sweep": sweep,
                        "settings": [{**{k: s.get(k) for k in LABEL_KEYS}, **({"round": s["round"]} if "round" in s else {})}
                                     for s in m.get("settings", [])]})


def read_manifest(root: Path) -> dict:
    p = Path(root) / MANIFEST
    if not Path(root).is_dir():
        raise DatasetError(f"{root}: no such dataset directory")
    if not p.exists():
        raise DatasetError(f"{root}: no {MANIFEST} (not a dataset, or its capture never started)")
    try:
        m = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetError(f"{p}: not valid JSON ({e})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise DatasetError(f"{p}: not an {FORMAT} manifest")
    if m.get("format_version") not in READ_VERSIONS:
        raise DatasetError(f"{p}: format_version {m.get('format_version')} is not supported (this ampcap reads "
                           f"{', '.join(map(str, READ_VERSIONS))})")
    return m


def db(x: float) -> float | None:
    return round(20 * float(np.log10(x)), 2) if x > 0 else None


def output_level(settings: list[dict]) -> dict:
    """The dataset's output level (manifest `output_level`, format 2): the loudest peak over the captured
    settings, in dBFS too, and how many settings peak at or above full scale (kept exactly in float)."""
    done = [s for s in settings if s.get("status") == "done"]
    peak = max((float(s["peak"]) for s in done), default=0.0)
    return {"peak": peak, "peak_dbfs": db(peak), "settings_above_full_scale": sum(s["peak"] >= FULL_SCALE for s in done),
            "settings": len(done), "stored_as": "32-bit float, unscaled (the plugin's own level)"}


def level_note(level: dict) -> str | None:
    """One line for the end of a capture when settings peak above full scale (None when none do)."""
    n = level["settings_above_full_scale"]
    if not n:
        return None
    return (f"note: {n} of {level['settings']} settings peak above 0 dBFS (up to {level['peak_dbfs']:+.1f} dBFS): kept "
            "exactly in the 32-bit float WAVs, nothing is clipped, and the model learns this level; only a fixed-point "
            "output (a DAW's master, an interface) would clip it, so lower the plugin's master or the player's output "
            "level there (README: Dataset format, output level)")


def signal_stats(audio: np.ndarray) -> dict:
    return {"peak": float(np.max(np.abs(audio))) if audio.size else 0.0,
            "rms": float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0}


# --- schema check: plain code, so the format needs no extra library to read ---------------------

_TOP = {"format": str, "format_version": int, "sample_rate": int, "plugin": dict, "knobs": list,
        "fixed_parameters": dict, "signal": dict, "sweep": dict, "settings": list, "config": dict,
        "config_sha256": str, "complete": bool, "checks": dict}
_SETTING = {"index": int, "id": str, "split": str, "knobs": dict, "knobs_normalized": dict, "status": str}
_DONE = {"file": str, "sha256": str, "peak": float, "rms": float, "latency": int, "warnings": list}


def _typed(d: dict, spec: dict, where: str) -> list[str]:
    errs = []
    for k, t in spec.items():
        if k not in d:
            errs.append(f"{where}: missing key '{k}'")
        elif not isinstance(d[k], t) or (t is int and isinstance(d[k], bool)):
            if t is float and isinstance(d[k], int):
                continue
            errs.append(f"{where}.{k}: expected {t.__name__}, got {type(d[k]).__name__}")
    return errs


def schema_errors(m: dict) -> list[str]:
    errs = _typed(m, _TOP, "manifest")
    if errs:
        return errs
    sig = m["signal"]
    errs += _typed(sig, {"file": str, "sha256": str, "num_samples": int, "regions": dict}, "manifest.signal")
    knob_names = []
    for i, k in enumerate(m["knobs"]):
        if not isinstance(k, dict) or "name" not in k or k.get("kind") not in ("continuous", "discrete"):
            errs.append(f"manifest.knobs[{i}]: needs name and kind continuous|discrete")
            continue
        knob_names.append(k["name"])
    for s in m["settings"]:
        where = f"setting {s.get('id', '?')}" if isinstance(s, dict) else "manifest.settings"
        if not isinstance(s, dict):
            errs.append(f"{where}: not an object")
            continue
        e = _typed(s, _SETTING, where)
        if not e and s["split"] not in SPLITS:
            e.append(f"{where}.split: '{s['split']}' is not one of {SPLITS}")
        if not e and sorted(s["knobs"]) != sorted(knob_names):
            e.append(f"{where}.knobs: names {sorted(s['knobs'])} differ from the manifest's knobs {sorted(knob_names)}")
        if not e and s["status"] == "done":
            e += _typed(s, _DONE, where)
        errs += e
    return errs


def verify(root: Path, check_audio: bool = True, allow_failed: bool = False, design_check=None) -> list[str]:
    """Every problem with a dataset directory, one line each (empty list: the dataset is sound).
    allow_failed: settings the plugin failed on are left out instead of counted as problems.
    design_check: manifest -> problems of its settings against its recorded design (capture/sweep.py)."""
    root = Path(root)
    try:
        m = read_manifest(root)
    except DatasetError as e:
        return [str(e)]
    errs = schema_errors(m)
    if errs:
        return errs
    n = m["signal"]["num_samples"]
    pending = [s for s in m["settings"] if s["status"] == "pending"]
    skip_failed = allow_failed and not pending
    if pending:
        errs.append(f"manifest: capture is not complete: {len(pending)} of {len(m['settings'])} settings not captured yet; "
                    f"resume it with {resume_command(root, m)}")
    elif not m["complete"] and not skip_failed:
        errs.append("manifest: capture is not complete (rerun the same capture command to resume)")
    errs += file_errors(root, m["signal"]["file"], m["signal"]["sha256"], "input", m, check_audio)
    regions = m["signal"]["regions"]
    for r in SPLITS:
        a, b = regions.get(r, [0, 0])
        if not (0 <= a <= b <= n):
            errs.append(f"signal.regions.{r}: [{a}, {b}) is outside 0..{n}")
    errs += label_errors(m) + (design_check(m) if design_check else [])
    errs += setting_errors(root, m, skip_failed, check_audio)
    if not any(s["split"] == "train" for s in m["settings"]):
        errs.append("manifest: no training settings")
    elif skip_failed and not any(s["split"] == "train" and s["status"] == "done" for s in m["settings"]):
        errs.append("manifest: every training setting failed, none is left to train on; rerun the capture command "
                    "to retry them (or fix the plugin)")
    if "labels_sha256" in m and m["labels_sha256"] != labels_sha256(m):
        errs.append("manifest: the settings' labels (knob values, splits, design) were changed after capture "
                    "(labels_sha256 mismatch); recapture, or restore the manifest")
    return errs


def resume_command(root: Path, m: dict) -> str:
    """The command that resumes a dataset's capture (as recorded by it, else the generic one)."""
    return m.get("command") or f"the capture command that made it (python -m capture sweep ... out={root})"


def label_errors(m: dict) -> list[str]:
    """Labels that disagree with each other: knobs_normalized against the knob values and the knobs'
    ranges, and a design (other than `single`) without validation or test settings."""
    errs = []
    specs = {k["name"]: Knob.from_json(k) for k in m["knobs"]}
    for s in m["settings"]:
        for name, v in s["knobs"].items():
            try:
                want = specs[name].normalise(specs[name].check(v))
            except (TypeError, ValueError, ZeroDivisionError, ConfigError):
                continue  # a value outside the knob's range or choices: setting_errors names it
            got = s["knobs_normalized"].get(name)
            if not isinstance(got, (int, float)) or abs(float(got) - want) > 1e-6:
                shown = f"{got:.6g}" if isinstance(got, (int, float)) else repr(got)
                errs.append(f"setting {s['id']}: knobs.{name}={v!r} disagrees with knobs_normalized.{name}={shown} "
                            f"(expected {want:.6g} for the knob's range); the labels were changed after capture")
                break
    if m["sweep"].get("design") != "single" and not m["sweep"].get("shard"):
        for split in ("val", "test"):
            if not any(s["split"] == split for s in m["settings"]):
                errs.append(f"manifest: no {split} settings: held-out accuracy could not be measured (recapture with "
                            "sweep.n_heldout=2 or more)")
    return errs


def file_errors(root: Path, rel: str, sha: str, where: str, m: dict, check_audio: bool = True) -> list[str]:
    """A dataset file's problems: missing, changed (checksum), or (check_audio) not mono audio of the
    manifest's rate and length."""
    p = root / rel
    if not p.exists():
        return [f"{where}: file {rel} is missing"]
    if sha256_of(p) != sha:
        return [f"{where}: {rel} checksum mismatch (file changed or corrupted)"]
    if not check_audio:
        return []
    try:
        info = sf.info(str(p))
    except Exception as e:
        return [f"{where}: {rel} is not readable audio ({' '.join(str(e).split())[:80]})"]
    sr, n = m["sample_rate"], m["signal"]["num_samples"]
    errs = []
    if info.samplerate != sr:
        errs.append(f"{where}: {rel} has sample rate {info.samplerate}, manifest says {sr}")
    if info.channels != 1:
        errs.append(f"{where}: {rel} has {info.channels} channels, expected mono")
    if info.frames != n:
        errs.append(f"{where}: {rel} has {info.frames} samples, expected {n}")
    return errs


def setting_errors(root: Path, m: dict, skip_failed: bool, check_audio: bool = True) -> list[str]:
    """The settings' problems: repeated ids, knob values outside their specs, settings not captured
    (failed ones skipped when skip_failed), their files, held-out settings that are also trained on."""
    errs, seen_ids, train_keys = [], set(), set()
    knob_specs = {k["name"]: k for k in m["knobs"]}
    for s in m["settings"]:
        where = f"setting {s['id']}"
        if s["id"] in seen_ids:
            errs.append(f"{where}: duplicated id")
        seen_ids.add(s["id"])
        for name, v in s["knobs"].items():
            k = knob_specs[name]
            if k["kind"] == "discrete":
                if v not in k["choices"]:
                    errs.append(f"{where}: knob {name}={v!r} is not one of {k['choices']}")
            elif not (isinstance(v, (int, float)) and k["min"] <= v <= k["max"]):
                errs.append(f"{where}: knob {name}={v!r} is outside {k['min']}..{k['max']}")
        if s["split"] == "train":
            train_keys.add(_setting_key(s))
        if s["status"] == "failed" and skip_failed:
            continue
        if s["status"] == "pending":
            continue  # counted in one line by verify
        if s["status"] != "done":
            errs.append(f"{where}: not captured (status {s['status']}" + (f": {s['error']}" if s.get("error") else "") + ")")
            continue
        errs += file_errors(root, s["file"], s["sha256"], where, m, check_audio)
    for s in m["settings"]:
        if s["split"] != "train" and _setting_key(s) in train_keys:
            errs.append(f"setting {s['id']}: held-out ({s['split']}) setting is also a training setting")
    return errs


def _setting_key(s: dict) -> tuple:
    return tuple(sorted(s["knobs"].items(), key=lambda kv: kv[0]))


def load_setting(root: Path, setting: dict) -> np.ndarray:
    audio, _ = read_wav(Path(root) / setting["file"])
    return audio


def dataset_summary(m: dict) -> dict[str, Any]:
    counts = {sp: sum(1 for s in m["settings"] if s["split"] == sp) for sp in SPLITS}
    return {"settings": len(m["settings"]), **counts, "seconds_per_setting": m["signal"]["num_samples"] / m["sample_rate"]}
