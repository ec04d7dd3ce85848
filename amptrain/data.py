"""Training data from a captured dataset: per split, the DI, the amp output of each setting and its
knob features, cut into fixed-length segments for truncated back-propagation through time."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ampcap import dataset as ds
from ampcap.errors import DatasetError

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


ENERGY_FLOOR = 0.01  # of the median setting's energy: a near-silent setting weighs at most 100x the median one


def setting_weights(data: SplitData) -> np.ndarray:
    """Per-setting loss weights 1/energy (mean 1): every setting counts alike, however loud; energies
    are floored at ENERGY_FLOOR x the median, so a near-silent setting (master at 0) cannot take over."""
    e = np.mean(np.square(data.y, dtype=np.float64), axis=1) + 1e-12
    w = 1.0 / np.maximum(e, ENERGY_FLOOR * np.median(e))
    return (w / w.mean()).astype(np.float32)


def segment_plan(data: SplitData, length: int, rng: np.random.Generator | None = None, offset: int = 0):
    """Every setting cut into back-to-back segments of `length` samples from `offset`, as (setting
    index, start sample) pairs, shuffled when an rng is given. Nothing is copied: `gather` cuts a batch."""
    T = len(data.x)
    if T < length:
        raise DatasetError(f"audio region of {T} samples is shorter than one segment ({length}); lower trainer.segment")
    starts = np.arange(offset, T - length + 1, length)
    which = np.repeat(np.arange(len(data.y)), len(starts))
    starts = np.tile(starts, len(data.y))
    if rng is not None:
        order = rng.permutation(len(which))
        which, starts = which[order], starts[order]
    return which, starts


def gather(data: SplitData, which: np.ndarray, starts: np.ndarray, length: int):
    """Segments of DI and target (B, length, 1) and their knob features (B, C)."""
    idx = starts[:, None] + np.arange(length)
    return data.x[idx][..., None], data.cond[which], data.y[which[:, None], idx][..., None]
