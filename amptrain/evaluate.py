"""Metrics of a model on a split (settings x audio region): ESR plain and pre-emphasised, DC error
and per-band level error, per setting and as the mean over settings (the shared definitions)."""
from __future__ import annotations

import numpy as np

from .conditioning import encode
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


REAL_GAP_S = 0.25   # silence between the real-playing clips (each starts from a quiet amp)


def evaluate_real_playing(model, manifest: dict, settings: list[dict], knobs: list[dict], pre_emphasis: str,
                          chunk: int = 9600, overlap: int = 4800, log=None, seed: int = 0) -> dict:
    """The model against the amp itself on real playing (capture/realplay.py: clips our generator did not
    make) at `settings` (the held-out test settings): ESR and bands as `evaluate`, and ESR per style. `seed`:
    the evaluation set (0), or the development set (realplay.DEV_SEED) a benchmark chooses on."""
    from capture.realplay import clips, through_amp

    sr = int(manifest["sample_rate"])
    parts = clips(sr, log, seed)
    gap = np.zeros(int(REAL_GAP_S * sr), np.float32)
    x = np.concatenate([np.concatenate([gap, c]) for c in parts.values()])
    y = through_amp(manifest["config"]["plugin"], settings, x)
    cond = np.stack([encode(knobs, s["knobs"]) for s in settings]).astype(np.float32)
    metrics, pred = evaluate(model, SplitData(x, y, cond, settings), sr, pre_emphasis, chunk, overlap)
    styles, start = {}, 0
    for name, c in parts.items():
        a, b = start + len(gap), start + len(gap) + len(c)
        styles[name] = float(np.mean([esr(y[i, a:b], pred[i, a:b]) for i in range(len(settings))]))
        start = b
    metrics["per_style"] = styles
    metrics["seconds"] = round(len(x) / sr, 2)
    return metrics
