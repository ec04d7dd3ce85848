"""Where `sample` and `export` may write. The rule: an output is never the input (the same file by any
path spelling or link); an output that already exists is replaced only with `overwrite=true` or when
ampcap wrote it (a render's WAV carries the software tag "ampcap", an export its `ampcap` metadata, a
.keras file is an ampcap model, a plot its PNG tag), so a user's own recording is never replaced."""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from ampcap.cli import cannot_write
from ampcap.errors import ConfigError, StorageError
from ampcap.wav import SOFTWARE, wav_software

PNG_TAG = {"Software": SOFTWARE}   # metadata of the PNG plots sample writes (amptrain/plots.py)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through links, `..`, another spelling)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(os.path.realpath(a)) == Path(os.path.realpath(b))


def written_by_ampcap(path: Path) -> bool:
    """Whether an existing file is one ampcap wrote (a render, an export, a model, a plot)."""
    suffix = path.suffix.lower()
    if suffix == ".vst3":  # a plugin bundle ampcap built holds its marker file
        return (path / "Contents" / "Resources" / "ampcap-model.json").is_file()
    try:
        if suffix == ".wav":
            return wav_software(path) == SOFTWARE
        if suffix in (".nam", ".json"):
            obj = json.loads(path.read_text())
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            return isinstance(obj, dict) and ("ampcap" in obj or (isinstance(meta, dict) and "ampcap" in meta))
        if suffix == ".keras":
            with zipfile.ZipFile(path) as z:
                return b"ampcap" in z.read("config.json")
        if suffix == ".png":
            from PIL import Image

            with Image.open(path) as im:
                return im.info.get("Software") == SOFTWARE
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
        return False
    except Exception:  # PIL's own errors for a file that is not a PNG
        return False
    return False


def probe_dir(folder: Path) -> None:
    """Refuse, before any work, a folder the output cannot be written into (the probe, a temp file
    made and removed there, leaves nothing behind)."""
    probe = folder / f".ampcap-probe-{os.getpid()}.tmp"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as e:
        raise StorageError(f"output: cannot write into {folder}: {cannot_write(e)}") from None


def check_output(path: Path, suffixes: tuple[str, ...], overwrite: bool = False, inputs: tuple = ()) -> Path:
    """The output path, checked before any work: its suffix, its folder (there, writable), not one of
    `inputs`, and an existing file replaced only by the rule above."""
    if path.suffix.lower() not in suffixes:
        raise ConfigError(f"output: {path} should end in {' or '.join(suffixes)}")
    if not path.parent.is_dir():
        raise ConfigError(f"output: the directory {path.parent} does not exist (create it first)")
    if path.is_dir() and path.suffix.lower() != ".vst3":  # (a VST3 plugin is a folder)
        raise ConfigError(f"output: {path} is a directory; give a file name")
    for src in inputs:
        if src is not None and Path(src).exists() and same_file(path, Path(src)):
            raise ConfigError(f"output: {path} is the input file {src}; writing there would destroy it: give another output=...")
    check_existing(path, overwrite)
    probe_dir(path.parent)
    return path


def check_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite and not written_by_ampcap(path):
        raise ConfigError(f"output: {path} already exists and was not written by ampcap; nothing was written: "
                          "give another output=..., or pass overwrite=true to replace it")


def parse_bool(text: str, key: str) -> bool:
    t = str(text).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key}: '{text}' is not true or false")
