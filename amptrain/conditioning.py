"""Knob values -> model conditioning features: continuous knobs normalised to [0, 1], discrete
knobs one-hot. Works for fixed values and per-sample knob tracks alike."""
from __future__ import annotations

import numpy as np

CONDITIONING = ("concat", "film", "none")   # how the knob features enter the model (amptrain/model.py)


def n_features(knobs: list[dict]) -> int:
    return sum(len(k["choices"]) if k["kind"] == "discrete" else 1 for k in knobs)


def feature_names(knobs: list[dict]) -> list[str]:
    names = []
    for k in knobs:
        names += [f"{k['name']}={c}" for c in k["choices"]] if k["kind"] == "discrete" else [k["name"]]
    return names


def encode(knobs: list[dict], values: dict, length: int | None = None) -> np.ndarray:
    """Features for one setting. A value may be a scalar or a per-sample array (then `length` is its
    length); returns (n_features,) for scalars only, else (length, n_features), float32."""
    cols = []
    for k in knobs:
        v = values[k["name"]]
        if k["kind"] == "discrete":
            v = np.asarray(v)
            for c in k["choices"]:
                cols.append((v == c).astype(np.float32))
        else:
            cols.append(((np.asarray(v, np.float64) - k["min"]) / (k["max"] - k["min"])).astype(np.float32))
    if not cols:
        return np.zeros((0,) if length is None else (length, 0), np.float32)
    if length is None and all(np.ndim(c) == 0 for c in cols):
        return np.array(cols, np.float32)
    n = length or max(len(c) for c in cols if np.ndim(c))
    return np.stack([np.broadcast_to(c, (n,)) for c in cols], axis=-1).astype(np.float32)
