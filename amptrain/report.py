"""The end of a run: save the kept model (trainer.select) as `.keras`, measure it on held-out settings x unseen test
audio (and, as a diagnostic, training settings x test audio), write metrics.json, plots and WAV
renders, and print the summary."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ampcap.files import write_json
from ampcap.wav import write_wav

from .data import load_split
from .evaluate import evaluate
from .finished_run import METRICS_FORMAT
from .plots import plot_all
from .report_html import write_run_report
from .sampling.modelfile import save_net
from .train_state import TrainState

METRICS_VERSION = 1


def _label(knobs: dict, names: list[str]) -> str:
    return ", ".join(f"{n}={knobs[n]}" for n in names) or "fixed setting"


def finish(run: Path, cfg: dict, model, root: Path, manifest: dict, knobs: list[dict], state: TrainState, log,
           extra: dict | None = None) -> dict:
    t = cfg["trainer"]
    pre = cfg["loss"]["pre_emphasis"]
    sr = int(manifest["sample_rate"])
    save_net(model, run / "model.keras")
    splits = {s["split"] for s in manifest["settings"] if s["status"] == "done"}
    sets = {"train_settings": ("train", "test"), "heldout": ("test", "test"), "validation": ("val", "val")}
    metrics, preds, data = {}, {}, {}
    for key, (setting_split, region) in sets.items():
        if setting_split not in splits:
            metrics[key] = None
            continue
        data[key] = load_split(root, manifest, setting_split, region, knobs)
        metrics[key], preds[key] = evaluate(model, data[key], sr, pre, t["eval_chunk"], t["eval_overlap"])
    metrics["real_playing"] = real_playing(model, manifest, data.get("heldout"), knobs, pre, t, log)
    seconds, samples = state.train_seconds, state.trained_samples
    out = {
        "format": METRICS_FORMAT, "format_version": METRICS_VERSION, "name": cfg["name"],
        "dataset": str(root), "knobs": [k["name"] for k in knobs],
        "headline": "heldout" if metrics["heldout"] else "train_settings",
        "definitions": {
            "esr": "sum((y - y_hat)^2) / sum(y^2) over the whole test audio of a setting; mean over settings",
            "esr_pre": f"the same after the training loss's pre-emphasis ({pre})",
            "heldout": "test settings (never trained on) x test audio (never trained on)",
            "train_settings": "training settings x test audio (diagnostic)",
            "validation": "val settings x val audio (watched: early stopping, plateau schedule, trainer.select=best)",
            "bands_db": "prediction level minus target level per band (<250 Hz, 250 Hz-2 kHz, >2 kHz)",
            "real_playing": "held-out test settings x real guitar playing our generator did not make (capture/realplay.py: "
                            "5 styles, 8 s each), rendered through the captured amp itself; never seen in training or model choice",
        },
        "training": {"epochs": state.epoch, "best_epoch": state.best_epoch,
                     "select": t["select"], "stop_reason": state.stop_reason,
                     "chosen_epoch": state.chosen_epoch if state.chosen_epoch is not None else state.best_epoch,
                     "train_seconds": round(seconds, 1), "samples_per_s": round(samples / seconds, 1) if seconds else None,
                     "parameters": int(model.count_params()),
                     "wall_minutes": round(state.elapsed_seconds / 60, 2),
                     "warnings": list(state.warnings)},
        **metrics, **(extra or {}),
    }
    write_json(run / "metrics.json", out)
    head_key = "heldout" if metrics["heldout"] else "train_settings"
    plot_all(run / "plots", state.history, out, preds, data, knobs, sr, head_key)
    # WAV renders: target vs prediction on the test audio at (some) held-out test settings
    rdir = run / "renders"
    rdir.mkdir(exist_ok=True)
    d = data[head_key]
    write_wav(rdir / "di_test.wav", d.x, sr)
    names = [k["name"] for k in knobs]
    for i in range(min(t["renders"], len(d.settings))):
        s = d.settings[i]
        tag = "_".join([s["id"]] + [f"{n}-{s['knobs'][n]}" for n in names])
        write_wav(rdir / f"{tag}_target.wav", d.y[i], sr)
        write_wav(rdir / f"{tag}_prediction.wav", np.clip(preds[head_key][i], -1, 1), sr)
    print_summary(out, head_key, names, log)
    write_run_report(run, net=model, log=log)
    log(f"run directory: {run}")
    return out


def real_playing(model, manifest: dict, heldout, knobs: list[dict], pre: str, t: dict, log) -> dict | None:
    """Metrics on real playing at the held-out test settings, or {"unavailable": why} (a plugin that cannot be
    loaded here, FluidSynth missing): the run is not failed for it."""
    if heldout is None:
        return None
    from ampcap.errors import AmpcapError

    from .evaluate import evaluate_real_playing

    try:
        return evaluate_real_playing(model, manifest, heldout.settings, knobs, pre, t["eval_chunk"], t["eval_overlap"], log)
    except (AmpcapError, OSError) as e:
        log(f"note: real playing not measured: {' '.join(str(e).split())[:200]}")
        return {"unavailable": " ".join(str(e).split())[:300]}


def print_summary(out: dict, head_key: str, names: list[str], log) -> None:
    tr = out["training"]
    log(f"\n{out['name']}: {tr['epochs']} epochs (model of epoch {tr['chosen_epoch']}, {tr['select']}; best validation "
        f"at {tr['best_epoch']}), {tr['train_seconds']:.0f} s training, "
        f"{(tr['samples_per_s'] or 0) / 1e3:.0f}k samples/s, {tr['parameters']} parameters")
    for w in tr.get("warnings", []):
        log(f"warning: {w}")
    log(f"{'set':<16}{'settings':>9}{'ESR':>9}{'ESR pre':>9}{'DC':>10}{'low dB':>8}{'mid dB':>8}{'high dB':>8}")
    for key in ("heldout", "train_settings", "validation"):
        m = out[key]
        if m is None:
            log(f"{key:<16}{'-':>9}  (no such settings in this dataset)")
            continue
        b = m["bands_db"]
        log(f"{key:<16}{m['n_settings']:>9}{m['esr']:>9.4f}{m['esr_pre']:>9.4f}{m['dc']:>10.2e}"
            f"{b['low']:>8.2f}{b['mid']:>8.2f}{b['high']:>8.2f}")
    rp = out.get("real_playing")
    if rp and "esr" in rp and out["heldout"]:
        b = rp["bands_db"]
        log(f"{'real playing':<16}{rp['n_settings']:>9}{rp['esr']:>9.4f}{rp['esr_pre']:>9.4f}{rp['dc']:>10.2e}"
            f"{b['low']:>8.2f}{b['mid']:>8.2f}{b['high']:>8.2f}   ({rp['esr'] / out['heldout']['esr']:.2f}x the test signal's, "
            "the held-out settings)")
        log("  by style: " + ", ".join(f"{k} {v:.4f}" for k, v in rp["per_style"].items()))
    if out["heldout"]:
        log("held-out test settings (ESR):")
        for r in out["heldout"]["per_setting"]:
            log(f"  {_label(r['knobs'], names):<40} {r['esr']:.4f}")
    else:
        log("no held-out settings in this dataset: the headline is training settings on unseen test audio")
