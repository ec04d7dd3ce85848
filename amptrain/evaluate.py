"""Metrics of a model on a split (settings x audio region): ESR plain and pre-emphasised, DC error
and per-band level error, per setting and as the mean over settings (the shared definitions)."""
from __future__ import annotations

import numpy as np

from .data import SplitData
from .losses import band_level_error_db, dc_error, esr
from .sampling.render import render_chunked

# settings rendered together: 256 settings x 12 s at once peaked at 14 GiB at the end of training, 32 bound it
SETTINGS_PER_RENDER = 32


def evaluate(model, data: SplitData, sample_rate: int, pre_emphasis: str, chunk: int = 9600,
             overlap: int = 4800) -> tuple[dict, np.ndarray]:
    """Returns (metrics, predictions (S, T)). metrics: esr, esr_pre, dc, bands_db (means over
    settings) and per_setting [{id, index, knobs, esr, esr_pre, dc, bands_db}]."""
    pred = np.empty(data.y.shape, np.float32)
    for g in range(0, len(pred), SETTINGS_PER_RENDER):  # bounded memory: the overlapped chunks of a group at a time
        group = slice(g, g + SETTINGS_PER_RENDER)
        pred[group] = render_chunked(model, np.broadcast_to(data.x, pred[group].shape), data.cond[group], chunk, overlap)
    rows = []
    for i, s in enumerate(data.settings):
        y, p = data.y[i], pred[i]
        rows.append({"id": s["id"], "index": s["index"], "knobs": s["knobs"], "esr": esr(y, p),
                     "esr_pre": esr(y, p, pre_emphasis), "dc": dc_error(y, p),
                     "bands_db": band_level_error_db(y, p, sample_rate)})
    return summarise(rows, pre_emphasis), pred


def summarise(rows: list[dict], pre_emphasis: str) -> dict:
    bands = {b: float(np.mean([r["bands_db"][b] for r in rows])) for b in rows[0]["bands_db"]}
    return {"n_settings": len(rows), "esr": float(np.mean([r["esr"] for r in rows])),
            "esr_pre": float(np.mean([r["esr_pre"] for r in rows])), "pre_emphasis": pre_emphasis,
            "dc": float(np.mean([r["dc"] for r in rows])), "bands_db": bands, "per_setting": rows}
