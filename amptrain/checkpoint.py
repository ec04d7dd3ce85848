"""Training checkpoints: model weights, optimiser state and the trainer's own state in one `.npz`
(numeric arrays and a JSON string; loaded with allow_pickle=False), written atomically
(ampcap/files.py, which also removes the temp files of a killed run)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ampcap.errors import AmpcapError
from ampcap.files import atomic_write

FORMAT = "ampcap-checkpoint"
VERSION = 1


class CheckpointError(AmpcapError):
    """A checkpoint that cannot be used (corrupt, or from another model)."""


def save(path: Path, model, optimizer, state: dict, ema: list | None = None) -> None:
    """Write weights, optimiser variables, `state` (and the moving average of the weights, `ema`) to
    `path` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"model/{i}": np.asarray(v) for i, v in enumerate(model.weights)}
    arrays.update({f"opt/{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)})
    arrays.update({f"ema/{i}": np.asarray(a) for i, a in enumerate(ema or [])})
    meta = {"format": FORMAT, "format_version": VERSION, "n_model": len(model.weights),
            "n_opt": len(optimizer.variables), "n_ema": len(ema or []), "state": state}
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_write(path, lambda f: np.savez(f, **arrays))


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


def load_ema(path: Path) -> list[np.ndarray] | None:
    """The moving average of the weights saved with `save(..., ema=)`, or None (none was kept)."""
    n = _meta(path).get("n_ema", 0)
    if not n:
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            ema = [np.asarray(z[f"ema/{i}"]) for i in range(n)]
    except Exception as e:  # noqa: BLE001 - missing or damaged entries
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(e).__name__}); delete it or start a new run") from None
    if any(not np.issubdtype(a.dtype, np.number) for a in ema):
        raise CheckpointError(f"checkpoint {path} holds non-numeric arrays; delete it or start a new run")
    return ema
