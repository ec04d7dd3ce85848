"""WAV files as ampcap writes and reads them: IEEE-float mono, byte-for-byte reproducible (so a
checksum says whether the audio changed), written atomically; and a check for cut-short WAVs."""
from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from .files import atomic_write_bytes, sha256_bytes

SOFTWARE = "ampcap"   # the LIST/INFO software tag (ISFT) of the renders `amptrain sample` writes


def wav_bytes(audio: np.ndarray, sample_rate: int, software: str | None = None) -> bytes:
    """A standard IEEE-float mono WAV (fmt + fact + data chunks, and a LIST/INFO chunk naming the
    `software` when given). Written by hand because libsndfile adds a PEAK chunk with a timestamp, so
    the same audio would get a different checksum each run."""
    data = np.ascontiguousarray(audio, dtype="<f4").tobytes()
    n = len(data) // 4
    fmt = struct.pack("<HHIIHHH", 3, 1, int(sample_rate), int(sample_rate) * 4, 4, 32, 0)
    fact = struct.pack("<I", n)
    info = b""
    if software:
        text = software.encode() + b"\0"
        text += b"\0" * (len(text) & 1)
        sub = b"INFO" + b"ISFT" + struct.pack("<I", len(text)) + text
        info = b"LIST" + struct.pack("<I", len(sub)) + sub
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<I", 4) + fact + info
            + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav(path: Path, audio: np.ndarray, sample_rate: int, software: str | None = None) -> str:
    """Atomically write float32 mono WAV; returns its sha256."""
    data = wav_bytes(audio, sample_rate, software)
    atomic_write_bytes(path, data)
    return sha256_bytes(data)


def riff_chunks(path):
    """(id, offset of its data, declared length, file size) of each chunk of a RIFF/WAVE file, in order;
    nothing for another format or an unreadable file."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return
            pos = 12
            while pos + 8 <= size:
                f.seek(pos)
                cid, clen = struct.unpack("<4sI", f.read(8))
                yield cid, pos + 8, clen, size
                pos += 8 + clen + (clen & 1)
    except OSError:
        return


def wav_software(path) -> str | None:
    """The LIST/INFO software tag (ISFT) of a WAV file, None when it has none or is no WAV."""
    for cid, offset, clen, _ in riff_chunks(path):
        if cid == b"data":
            return None
        if cid == b"LIST":
            with open(path, "rb") as f:
                f.seek(offset)
                body = f.read(min(clen, 65536))
            pos = 4 if body[:4] == b"INFO" else len(body)
            while pos + 8 <= len(body):
                sid, slen = struct.unpack("<4sI", body[pos:pos + 8])
                if sid == b"ISFT":
                    return body[pos + 8:pos + 8 + slen].split(b"\0")[0].decode(errors="replace")
                pos += 8 + slen + (slen & 1)
    return None


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    audio, sr = sf.read(str(path), dtype="float32", always_2d=False)
    return audio, sr


def wav_truncation(path) -> tuple[int, int] | None:
    """(bytes present, bytes declared) of a RIFF/WAVE file's data chunk when the file ends before the
    data its header declares (a cut-short copy or export), else None. Other formats: None (libsndfile
    reports their damage itself). Audio libraries read such a WAV silently up to where it ends."""
    for cid, offset, clen, size in riff_chunks(path):
        if cid == b"data":
            present = size - offset
            if clen not in (0, 0xFFFFFFFF) and clen > present:  # 0 / -1: length left open by a streaming writer
                return present, clen
            return None
    return None
