"""Training data from a captured dataset: per split, the DI, the amp output of each setting and its
knob features, cut into fixed-length segments for truncated back-propagation through time."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from capture import dataset as ds
from capture.errors import DatasetError

from .conditioning import encode


@dataclass
class SplitData:
    """One split: the DI region `x` (T,), targets `y` (S, T) and knob features `cond` (S, C)."""

    x: np.ndarray
    y: np.ndarray
    cond: np.ndarray
    settings: list


def varying_knobs(manifest: dict) -> tuple[list[dict], dict]:
    """The knobs the training settings move (the model's inputs) and the fixed values of the rest."""
    train = [s["knobs"] for s in manifest["settings"] if s["split"] == "train"]
    vary, fixed = [], {}
    for k in manifest["knobs"]:
        values = {str(t[k["name"]]) for t in train}
        if len(values) > 1:
            vary.append(k)
        elif train:
            fixed[k["name"]] = train[0][k["name"]]
    return vary, fixed


def load_split(root: Path, manifest: dict, setting_split: str, audio_region: str,
               knobs: list[dict] | None = None) -> SplitData:
    """Settings of `setting_split` over the `audio_region` of the DI (e.g. test settings x test audio);
    features of `knobs` (default: all of the dataset's knobs)."""
    a, b = manifest["signal"]["regions"][audio_region]
    di, _ = ds.read_wav(Path(root) / manifest["signal"]["file"])
    settings = [s for s in manifest["settings"] if s["split"] == setting_split and s["status"] == "done"]
    if not settings:
        raise DatasetError(f"{root}: no '{setting_split}' settings captured")
    ys = np.stack([ds.load_setting(root, s)[a:b] for s in settings]).astype(np.float32)
    cond = np.stack([encode(manifest["knobs"] if knobs is None else knobs, s["knobs"]) for s in settings]).astype(np.float32)
    return SplitData(di[a:b].astype(np.float32), ys, cond, settings)


def setting_weights(data: SplitData) -> np.ndarray:
    """Per-setting loss weights 1/energy (mean 1): every setting counts alike, however loud."""
    e = np.mean(np.square(data.y, dtype=np.float64), axis=1) + 1e-12
    w = 1.0 / e
    return (w / w.mean()).astype(np.float32)


def segments(data: SplitData, length: int, rng: np.random.Generator | None = None, hop: int | None = None,
             with_setting: bool = False):
    """Cut every setting into segments of `length` samples (hop = length unless given); shuffled when
    an rng is given. Returns x (N, L, 1), cond (N, C), y (N, L, 1) (and each segment's setting
    index (N,) with `with_setting`)."""
    hop = hop or length
    T = len(data.x)
    if T < length:
        raise DatasetError(f"audio region of {T} samples is shorter than one segment ({length}); lower trainer.segment")
    starts = np.arange(0, T - length + 1, hop)
    idx = [(s, t) for s in range(len(data.y)) for t in starts]
    if rng is not None:
        rng.shuffle(idx)
    x = np.stack([data.x[t: t + length] for _, t in idx])[..., None]
    y = np.stack([data.y[s, t: t + length] for s, t in idx])[..., None]
    which = np.array([s for s, _ in idx], dtype=np.int64)
    cond = data.cond[which]
    return (x, cond, y, which) if with_setting else (x, cond, y)
