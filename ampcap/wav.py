"""WAV files as ampcap writes and reads them: IEEE-float mono, byte-for-byte reproducible (so a
checksum says whether the audio changed), written atomically; and a check for cut-short WAVs."""
from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from .files import atomic_write_bytes, sha256_bytes


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A standard IEEE-float mono WAV (fmt + fact + data chunks). Written by hand because libsndfile
    adds a PEAK chunk with a timestamp, so the same audio would get a different checksum each run."""
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


def wav_truncation(path) -> tuple[int, int] | None:
    """(bytes present, bytes declared) of a RIFF/WAVE file's data chunk when the file ends before the
    data its header declares (a cut-short copy or export), else None. Other formats: None (libsndfile
    reports their damage itself). Audio libraries read such a WAV silently up to where it ends."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            pos = 12
            while pos + 8 <= size:
                f.seek(pos)
                cid, clen = struct.unpack("<4sI", f.read(8))
                if cid == b"data":
                    present = size - (pos + 8)
                    if clen not in (0, 0xFFFFFFFF) and clen > present:  # 0 / -1: length left open by a streaming writer
                        return present, clen
                    return None
                pos += 8 + clen + (clen & 1)
    except OSError:
        return None
    return None
