"""Training checkpoints: model weights, optimiser state and the trainer's own state in one `.npz`
(numeric arrays and a JSON string; loaded with allow_pickle=False), written atomically."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from capture.errors import AmpcapError

FORMAT = "ampcap-checkpoint"
VERSION = 1


class CheckpointError(AmpcapError):
    """A checkpoint that cannot be used (corrupt, or from another model)."""


def save(path: Path, model, optimizer, state: dict) -> None:
    """Write weights, optimiser variables and `state` to `path` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"model/{i}": np.asarray(v) for i, v in enumerate(model.weights)}
    arrays.update({f"opt/{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)})
    meta = {"format": FORMAT, "format_version": VERSION, "n_model": len(model.weights),
            "n_opt": len(optimizer.variables), "state": state}
    arrays["meta"] = np.array(json.dumps(meta))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_state(path: Path) -> dict:
    return _meta(path)["state"]


def _meta(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same problem to the user
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(e).__name__}); delete it or start a new run") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an ampcap checkpoint")
    return meta


def load(path: Path, model, optimizer=None) -> dict:
    """Restore weights (and optimiser variables when given) from `path`; returns the saved state."""
    meta = _meta(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            weights = [z[f"model/{i}"] for i in range(meta["n_model"])]
            opt = [z[f"opt/{i}"] for i in range(meta["n_opt"])]
    except Exception as e:  # noqa: BLE001 - object (pickled) arrays, missing or damaged entries
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(e).__name__}); delete it or start a new run") from None
    if any(w.dtype == object or not np.issubdtype(w.dtype, np.number) for w in weights + opt):
        raise CheckpointError(f"checkpoint {path} holds non-numeric arrays; delete it or start a new run")
    if len(weights) != len(model.weights) or any(w.shape != tuple(v.shape) for w, v in zip(weights, model.weights)):
        raise CheckpointError(f"checkpoint {path} holds a different model (layer shapes differ)")
    for v, w in zip(model.weights, weights):
        v.assign(w)
    if optimizer is not None:
        if len(opt) != len(optimizer.variables):
            raise CheckpointError(f"checkpoint {path}: optimiser state does not match")
        for v, w in zip(optimizer.variables, opt):
            v.assign(w)
    return meta["state"]
