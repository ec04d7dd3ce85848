"""Dataset I/O: the public on-disk format (manifest.json + float WAVs), atomic writes, verify, merge.

Layout of a dataset directory (format version 1, documented in README.md):
    manifest.json          everything about the capture (see `new_manifest`)
    input.wav              the DI signal, float32 mono
    settings/<id>.wav      the amp's output for one knob setting, float32 mono, aligned with input.wav
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DatasetError

FORMAT = "ampcap-dataset"
FORMAT_VERSION = 2          # 2: adds `output_level`; settings no longer warn about peaks above full scale
READ_VERSIONS = (1, 2)      # version 1 datasets load as they are
# Float WAVs hold any level: a peak at or above full scale (1.0, 0 dBFS) loses nothing, so it is not a
# problem of the dataset (only a fixed-point output would clip it). A peak this far above full scale
# (+24 dBFS) usually means a gain stage set wrong (plugin output or master), so that one is a warning.
FULL_SCALE = 1.0
HOT_PEAK = 10 ** (24 / 20)
MANIFEST = "manifest.json"
INPUT = "input.wav"
SPLITS = ("train", "val", "test")


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same directory, fsync, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # as open() would: mkstemp's 0600 would hide shared datasets from others
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and not e.filename:  # a failed write names no file: name ours
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


# --- one writer per directory -----------------------------------------------------------------------

LOCK = ".ampcap.lock"
_HELD: dict[str, tuple[int, Path]] = {}


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError, UnicodeDecodeError):
        info = {}
    if not info.get("pid"):
        return "another process"
    host = f" on {info['host']}" if info.get("host") and info["host"] != os.uname().nodename else ""
    return f"pid {info['pid']}{host}, since {info.get('since', '?')}"


def lock_dir(path: Path, busy: str) -> Path:
    """Take the exclusive lock of a directory for this process (flock on DIR/.ampcap.lock, which names
    the holder's pid); `busy` (with {holder}) is the one-line error when another process holds it. The
    kernel drops the lock of a process that dies, so a killed run never blocks the next one."""
    import atexit
    import fcntl
    import socket

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    f = path / LOCK
    key = str(f.resolve())
    if key in _HELD:
        return f
    while True:
        try:
            fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        except OSError as e:
            raise OSError(e.errno, e.strerror, str(f)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise DatasetError(busy.format(holder=holder)) from None
        except OSError as e:  # a file system without locks (some cluster mounts): run unlocked, as before
            import errno

            os.close(fd)
            if e.errno in (errno.ENOLCK, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                return f
            raise OSError(e.errno, e.strerror, str(f)) from None
        try:  # its last holder may have removed the file between our open and flock: lock the new one
            if os.stat(f).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    if not _HELD:
        atexit.register(lambda: [unlock_dir(Path(k).parent) for k in list(_HELD)])
    _HELD[key] = (fd, f)
    return f


def unlock_dir(path: Path) -> None:
    """Release a lock taken by lock_dir (the lock file goes; a waiting process then locks afresh)."""
    key = str((Path(path) / LOCK).resolve())
    if key in _HELD:
        fd, f = _HELD.pop(key)
        try:
            f.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(fd)


@contextmanager
def dir_lock(path: Path, busy: str):
    """lock_dir for a block of code."""
    lock_dir(path, busy)
    try:
        yield
    finally:
        unlock_dir(path)


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A standard IEEE-float mono WAV (fmt + fact + data chunks). Written by hand because libsndfile
    adds a PEAK chunk with a timestamp, so the same audio would get a different checksum each run."""
    import struct

    data = np.ascontiguousarray(audio, dtype="<f4").tobytes()
    n = len(data) // 4
    fmt = struct.pack("<HHIIHHH", 3, 1, int(sample_rate), int(sample_rate) * 4, 4, 32, 0)
    fact = struct.pack("<I", n)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<I", 4) + fact
            + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> str:
    """Atomically write float32 mono WAV; returns its sha256."""
    data = wav_bytes(audio, sample_rate)
    atomic_write_bytes(path, data)
    return sha256_bytes(data)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    audio, sr = sf.read(str(path), dtype="float32", always_2d=False)
    return audio, sr


def write_manifest(root: Path, manifest: dict) -> None:
    atomic_write_bytes(Path(root) / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=False) + "\n").encode())


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


def verify(root: Path, check_audio: bool = True, allow_failed: bool = False) -> list[str]:
    """Every problem with a dataset directory, one line each (empty list: the dataset is sound).
    allow_failed: settings the plugin failed on are left out instead of counted as problems."""
    root = Path(root)
    try:
        m = read_manifest(root)
    except DatasetError as e:
        return [str(e)]
    errs = schema_errors(m)
    if errs:
        return errs
    sr, n = m["sample_rate"], m["signal"]["num_samples"]
    skip_failed = allow_failed and not any(s["status"] == "pending" for s in m["settings"])
    if not m["complete"] and not skip_failed:
        errs.append("manifest: capture is not complete (rerun the same capture command to resume)")
    knob_specs = {k["name"]: k for k in m["knobs"]}

    def check_file(rel: str, sha: str, where: str) -> None:
        p = root / rel
        if not p.exists():
            errs.append(f"{where}: file {rel} is missing")
            return
        actual = sha256_of(p)
        if actual != sha:
            errs.append(f"{where}: {rel} checksum mismatch (file changed or corrupted)")
            return
        if check_audio:
            try:
                import soundfile as sf

                info = sf.info(str(p))
            except Exception as e:
                errs.append(f"{where}: {rel} is not readable audio ({' '.join(str(e).split())[:80]})")
                return
            if info.samplerate != sr:
                errs.append(f"{where}: {rel} has sample rate {info.samplerate}, manifest says {sr}")
            if info.channels != 1:
                errs.append(f"{where}: {rel} has {info.channels} channels, expected mono")
            if info.frames != n:
                errs.append(f"{where}: {rel} has {info.frames} samples, expected {n}")

    check_file(m["signal"]["file"], m["signal"]["sha256"], "input")
    regions = m["signal"]["regions"]
    for r in SPLITS:
        a, b = regions.get(r, [0, 0])
        if not (0 <= a <= b <= n):
            errs.append(f"signal.regions.{r}: [{a}, {b}) is outside 0..{n}")
    seen_ids, train_keys = set(), set()
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
        key = tuple(sorted(s["knobs"].items(), key=lambda kv: kv[0]))
        if s["split"] == "train":
            train_keys.add(key)
        if s["status"] == "failed" and skip_failed:
            continue
        if s["status"] != "done":
            errs.append(f"{where}: not captured (status {s['status']}" + (f": {s['error']}" if s.get("error") else "") + ")")
            continue
        check_file(s["file"], s["sha256"], where)
    for s in m["settings"]:
        if s["split"] != "train" and tuple(sorted(s["knobs"].items(), key=lambda kv: kv[0])) in train_keys:
            errs.append(f"setting {s['id']}: held-out ({s['split']}) setting is also a training setting")
    if not any(s["split"] == "train" for s in m["settings"]):
        errs.append("manifest: no training settings")
    elif skip_failed and not any(s["split"] == "train" and s["status"] == "done" for s in m["settings"]):
        errs.append("manifest: every training setting failed, none is left to train on; rerun the capture command "
                    "to retry them (or fix the plugin)")
    return errs


def merge(shard_dirs: list[Path], out: Path) -> dict:
    """Join shard datasets (from `sweep.shard=i/n`) into one dataset identical to a one-machine capture."""
    manifests = []
    for d in shard_dirs:
        problems = verify(d)
        if problems:
            raise DatasetError(f"shard {d}: {problems[0]}; check it with python -m capture verify {d} and recapture "
                               "that shard (sweep.shard=i/n, same out=)")
        manifests.append((Path(d), read_manifest(d)))
    if not manifests:
        raise DatasetError("merge: no shard directories given or found")
    first = manifests[0][1]
    sizes = {m["sweep"].get("design_size") for _, m in manifests}
    for d, m in manifests[1:]:
        for key in ("config_sha256", "sample_rate"):
            if m[key] != first[key]:
                raise DatasetError(f"shard {d}: {key} differs from {manifests[0][0]} (shards of different captures)")
        if m["signal"]["sha256"] != first["signal"]["sha256"]:
            raise DatasetError(f"shard {d}: input signal differs from {manifests[0][0]}")
    by_index: dict[int, tuple[Path, dict]] = {}
    for d, m in manifests:
        for s in m["settings"]:
            if s["index"] in by_index:
                raise DatasetError(f"shard {d}: setting {s['id']} also in {by_index[s['index']][0]}")
            by_index[s["index"]] = (d, s)
    total = sizes.pop() if len(sizes) == 1 else None
    if total is None or sorted(by_index) != list(range(total)):
        missing = sorted(set(range(total or 0)) - set(by_index))
        raise DatasetError(f"merge: shards do not cover the design (missing settings {missing[:8]})")
    out = Path(out)
    with dir_lock(out, f"{out}: another capture or merge is writing to this directory ({{holder}}); wait for it to finish"):
        return _write_merged(manifests, first, total, by_index, out)


def _write_merged(manifests: list, first: dict, total: int, by_index: dict, out: Path) -> dict:
    (out / "settings").mkdir(parents=True, exist_ok=True)
    src0 = manifests[0][0]
    _link_or_copy(src0 / first["signal"]["file"], out / first["signal"]["file"])
    settings = []
    for i in range(total):
        d, s = by_index[i]
        _link_or_copy(d / s["file"], out / s["file"])
        settings.append(s)
    merged = {**first, "settings": settings, "complete": True}
    if "output_level" in first:  # format 2: the whole dataset's level, not the first shard's
        merged["output_level"] = output_level(settings)
    merged["sweep"] = {**first["sweep"], "shard": None}
    merged["checks"] = {**first["checks"], "shards": [str(d) for d, _ in manifests]}
    write_manifest(out, merged)
    return merged


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists() and sha256_of(dst) == sha256_of(src):
        return
    tmp = dst.with_name(f".{dst.name}.merge.tmp")
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def load_setting(root: Path, setting: dict) -> np.ndarray:
    audio, _ = read_wav(Path(root) / setting["file"])
    return audio


def dataset_summary(m: dict) -> dict[str, Any]:
    counts = {sp: sum(1 for s in m["settings"] if s["split"] == sp) for sp in SPLITS}
    return {"settings": len(m["settings"]), **counts, "seconds_per_setting": m["signal"]["num_samples"] / m["sample_rate"]}
