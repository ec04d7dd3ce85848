"""The model file: a run directory or its model.keras, checked before Keras reads it (only our own model class,
safe mode: no code in the file runs), loaded and saved atomically, with one-line errors."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from ampcap.errors import ModelError
from ampcap.files import atomic_path

from ..tfenv import quiet_tensorflow

MODEL_FILE = "model.keras"
REGISTERED = "ampcap>AmpNet"


def model_path(path) -> Path:
    """A run directory (holding model.keras), an experiment's runs folder (its newest finished run),
    or a .keras file -> the .keras file."""
    p = Path(path)
    if p.is_dir():
        f = p / MODEL_FILE
        if f.exists():
            return f
        runs = sorted(d / MODEL_FILE for d in p.iterdir() if (d / MODEL_FILE).is_file())
        if runs:
            return runs[-1]
        raise ModelError(f"{p}: no {MODEL_FILE} here or in its run folders (is it a finished training run? "
                         f"runs are under outputs/runs/<name>/<time>/)")
    if not p.exists():
        raise ModelError(f"{p}: no such model file or run directory; give run= a run directory "
                         f"(outputs/runs/<name>/<time>) or its {MODEL_FILE}")
    return p


DAMAGED_FIX = "use the model.keras of a finished training run (or train again)"


def check_keras_file(f: Path) -> dict:
    """Refuse anything but a .keras archive holding one of our models, before Keras reads it; returns
    the archive's config.json."""
    try:
        with zipfile.ZipFile(f) as z:
            cfg = json.loads(z.read("config.json"))
            if "model.weights.h5" not in z.namelist():
                raise ModelError(f"{f}: the model file has no weights (model.weights.h5 missing); {DAMAGED_FIX}")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, OSError):
        raise ModelError(f"{f}: not a .keras model file (damaged or another format); {DAMAGED_FIX}") from None
    if not isinstance(cfg, dict) or cfg.get("registered_name") != REGISTERED:
        name = cfg.get("registered_name") or cfg.get("class_name") if isinstance(cfg, dict) else None
        raise ModelError(f"{f}: not an ampcap amp model (it holds {name or 'something else'}); "
                         "use a model.keras written by python -m amptrain")
    return cfg


def load_net(path):
    """Load our Keras network from a run directory or .keras file: validated first, safe mode (no
    code in the file is run), one-line errors."""
    f = model_path(path)
    check_keras_file(f)
    quiet_tensorflow()
    import keras  # (TensorFlow: imported when a model is loaded, not with this module)

    from .. import model as _  # noqa: F401 - registers our layers (and imports Keras)

    try:
        net = keras.saving.load_model(f, compile=False, safe_mode=True)
    except Exception as e:  # a truncated weights file, a config that does not build, ...
        raise ModelError(f"{f}: the model file could not be loaded ({type(e).__name__}: {' '.join(str(e).split())[:160]}); "
                         f"{DAMAGED_FIX}") from None
    return net


def save_net(net, path) -> None:
    """Save a Keras network as a .keras file, atomically (never a half-written model)."""
    with atomic_path(path, ".keras") as tmp:
        net.save(tmp)
