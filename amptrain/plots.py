"""Plots of a run: loss curves, test ESR against each knob, target vs prediction spectra and a
waveform overlay (PNG, matplotlib's non-interactive backend)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.signal import welch

from ampcap.files import atomic_path
from ampcap.wav import SOFTWARE


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path) -> None:
    """A figure as a PNG, written atomically (a killed run leaves no half-written plot), tagged as
    ampcap's (Software: ampcap), so a later render may replace it (amptrain/sampling/outputs.py)."""
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=110, metadata={"Software": SOFTWARE})
    _plt().close(fig)


def plot_loss(path: Path, history: list[dict], chosen: int | None = None, select: str = "best") -> None:
    """Losses per epoch; a line at the epoch whose weights the run kept (trainer.select) and, where it
    differs, one at the lowest validation ESR."""
    plt = _plt()
    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(ep, [h["train_loss"] for h in history], label="training loss")
    ax.semilogy(ep, [h["val_esr"] for h in history], label="validation ESR")
    ax.semilogy(ep, [h["val_esr_pre"] for h in history], label="validation ESR (pre-emphasised)", alpha=0.6)
    best = ep[int(np.argmin([h["val_esr"] for h in history]))]
    chosen = best if chosen is None else chosen
    ax.axvline(chosen, color="black", ls="--", alpha=0.6, label=f"kept model (epoch {chosen}, select={select})")
    if best != chosen:
        ax.axvline(best, color="grey", ls=":", label=f"lowest validation ESR (epoch {best})")
    ax2 = ax.twinx()
    ax2.step(ep, [h["lr"] for h in history], where="post", color="black", alpha=0.3)
    ax2.set_ylabel("learning rate")
    ax2.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save(fig, path)


def plot_esr_vs_knobs(path: Path, metrics: dict, knobs: list[dict]) -> None:
    plt = _plt()
    shown = knobs or [{"name": "setting", "kind": "none"}]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown) + 1, 3.4), squeeze=False)
    for ax, k in zip(axes[0], shown):
        for key, style in (("train_settings", dict(marker="o", color="C0", label="training settings")),
                           ("heldout", dict(marker="s", color="C3", label="held-out settings"))):
            m = metrics.get(key)
            if not m:
                continue
            xs = [r["knobs"].get(k["name"], 0) if k["kind"] != "none" else i for i, r in enumerate(m["per_setting"])]
            ax.scatter(xs, [r["esr"] for r in m["per_setting"]], s=24, **style)
        ax.set_xlabel(k["name"])
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test ESR")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("test-audio ESR against each knob")
    fig.tight_layout()
    save(fig, path)


def plot_spectra(path: Path, data, pred: np.ndarray, names: list[str], sr: int, n: int = 4) -> None:
    plt = _plt()
    n = min(n, len(data.settings))
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n + 0.5, 3.4), squeeze=False, sharey=True)
    for i, ax in enumerate(axes[0]):
        f, py = welch(data.y[i], sr, nperseg=4096)
        _, pp = welch(pred[i], sr, nperseg=4096)
        ax.semilogx(f[1:], 10 * np.log10(py[1:] + 1e-20), label="target")
        ax.semilogx(f[1:], 10 * np.log10(pp[1:] + 1e-20), label="prediction", alpha=0.8)
        ax.set_title(", ".join(f"{k}={data.settings[i]['knobs'][k]}" for k in names) or "fixed setting", fontsize=8)
        ax.set_xlabel("Hz")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("power (dB)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    save(fig, path)


def plot_waveform(path: Path, data, pred: np.ndarray, sr: int, ms: float = 25.0) -> None:
    plt = _plt()
    y, p = data.y[0], pred[0]
    n = int(sr * ms / 1000)
    energy = np.convolve(y ** 2, np.ones(n), mode="valid")
    a = int(np.argmax(energy))
    t = np.arange(n) / sr * 1000
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.plot(t, y[a: a + n], label="target")
    ax.plot(t, p[a: a + n], label="prediction", alpha=0.8)
    ax.plot(t, y[a: a + n] - p[a: a + n], label="difference", alpha=0.6, color="grey")
    ax.set_xlabel(f"ms (from {a / sr:.2f} s into the test audio)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save(fig, path)


def plot_all(out: Path, history, metrics, preds, data, knobs, sr, head_key) -> None:
    out.mkdir(parents=True, exist_ok=True)
    names = [k["name"] for k in knobs]
    tr = metrics.get("training") or {}
    plot_loss(out / "loss.png", history, tr.get("chosen_epoch"), tr.get("select", "best"))
    plot_esr_vs_knobs(out / "esr_vs_knob.png", metrics, knobs)
    plot_spectra(out / "spectrum.png", data[head_key], preds[head_key], names, sr)
    plot_waveform(out / "waveform.png", data[head_key], preds[head_key], sr)


def plot_knob_grid(path: Path, name: str, values: list, renders: list[np.ndarray], sr: int) -> None:
    """A knob grid render: loudness (RMS, dBFS) against the knob's value, and each value's spectrum,
    so a user can see how smoothly the model interpolates. Written atomically."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    rms = [10 * np.log10(np.mean(np.square(y, dtype=np.float64)) + 1e-12) for y in renders]
    numeric = all(isinstance(v, (int, float)) for v in values)
    pos = values if numeric else list(range(len(values)))
    a1.plot(pos, rms, "o-")
    if not numeric:
        a1.set_xticks(pos, [str(v) for v in values])
    a1.set_xlabel(name)
    a1.set_ylabel("RMS level (dBFS)")
    a1.set_title(f"loudness against {name}")
    cmap = plt.get_cmap("viridis")
    for i, (v, y) in enumerate(zip(values, renders)):
        f, p = welch(y, sr, nperseg=min(4096, len(y)))
        a2.semilogx(f[1:], 10 * np.log10(p[1:] + 1e-20), color=cmap(i / max(1, len(values) - 1)), label=f"{name}={v}")
    a2.set_xlabel("frequency (Hz)")
    a2.set_ylabel("power (dB/Hz)")
    a2.set_title("spectrum per value")
    a2.legend(fontsize=7)
    fig.tight_layout()
    save(fig, path)


def plot_adapt(path: Path, doc: dict, manifest: dict, knobs: list[dict]) -> None:
    """Adaptive capture (RUN/adapt.json): held-out ESR (mean and worst setting) after each round against wall
    minutes, and each knob's training settings coloured by the round that added them (the candidates scored faint): where
    the loop spent its captures."""
    plt = _plt()
    names = [k["name"] for k in knobs] or ["(none)"]
    fig = plt.figure(figsize=(11, 3.2 + 0.45 * len(names)))
    grid = fig.add_gridspec(1, 2, width_ratios=[1, 1.6])
    ax = fig.add_subplot(grid[0])
    done = [r for r in doc["rounds"] if "heldout_esr" in r]
    mins = [r.get("wall_minutes", r.get("train_minutes", 0)) for r in done]
    ax.semilogy(mins, [r["heldout_esr"] for r in done], "o-", label="held-out mean")
    ax.semilogy(mins, [r["heldout_worst"] for r in done], "s--", label="held-out worst setting")
    for m, r in zip(mins, done):
        ax.annotate(f"r{r['round']}: {r['train_settings']}", (m, r["heldout_esr"]), fontsize=7,
                    textcoords="offset points", xytext=(3, -10))
    ax.set_xlabel("wall minutes (training, probes, captures)")
    ax.set_ylabel("ESR")
    ax.set_title("held-out ESR after each round (r: settings)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    bx = fig.add_subplot(grid[1])
    cmap = plt.get_cmap("viridis")
    rounds = max((s.get("round", 0) for s in manifest["settings"]), default=0)
    rng = np.random.default_rng(0)
    for r in doc["rounds"]:
        for p in r.get("probes") or []:
            y = [i + rng.uniform(-0.3, 0.3) for i, n in enumerate(names) if n in p["knobs"]]
            x = [_unit(knobs, n, p["knobs"][n]) for n in names if n in p["knobs"]]
            bx.scatter(x, y, s=3, color="0.8", zorder=1)
    for rd in range(rounds + 1):
        pts = [s for s in manifest["settings"] if s["split"] == "train" and s.get("round", 0) == rd]
        xs = [s["knobs_normalized"].get(n, 0.0) / _span(knobs, n) for s in pts for n in names]
        ys = [i + rng.uniform(-0.3, 0.3) for _ in pts for i in range(len(names))]
        bx.scatter(xs, ys, s=6, color=cmap(rd / max(1, rounds)), label=f"round {rd} ({len(pts)})", zorder=2)
    bx.set_yticks(range(len(names)), names)
    bx.set_xlabel("knob position (0 = min, 1 = max; switches spread over 0..1)")
    bx.set_title("training settings by the round that added them (grey: the candidates scored)")
    bx.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(6, rounds + 1))
    fig.tight_layout()
    save(fig, path)


def _span(knobs: list[dict], name: str) -> float:
    k = next((k for k in knobs if k["name"] == name), {})
    return float(max(1, len(k.get("choices") or []) - 1)) if k.get("choices") else 1.0


def _unit(knobs: list[dict], name: str, value) -> float:
    k = next(k for k in knobs if k["name"] == name)
    if k.get("choices"):
        return k["choices"].index(value) / max(1, len(k["choices"]) - 1)
    return (float(value) - k["min"]) / (k["max"] - k["min"])
