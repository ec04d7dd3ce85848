"""Joining shards: datasets captured with `sweep.shard=i/n` (on several machines or Hydra jobs) merged
into one dataset identical to a one-machine capture (`python -m capture merge`)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ampcap.dataset import labels_sha256, output_level, read_manifest, verify, write_manifest
from ampcap.dirlock import dir_lock
from ampcap.errors import DatasetError
from ampcap.files import sha256_of

from .sweep import design_errors


def merge(shard_dirs: list[Path], out: Path) -> dict:
    """Join shard datasets (from `sweep.shard=i/n`) into one dataset identical to a one-machine capture."""
    manifests = []
    for d in shard_dirs:
        problems = verify(d, design_check=design_errors)
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
    if "labels_sha256" in first:  # format 3: the whole design's labels, not the first shard's
        merged["labels_sha256"] = labels_sha256(merged)
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


