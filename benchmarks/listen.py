"""A listening check on new material: a DI the project never used (the generated DI with another
seed: new phrases, chords, palm mutes, sweeps) through the embedded amp and through a trained model at
knob settings it never saw; writes the pairs and their difference as WAV under
outputs/benchmarks/listen/, prints ESR and band errors per setting and plots both spectrograms.

    python -m benchmarks.listen RUN [--gains 1.875 4.375 6.875 9.375] [--seed 777] [--seconds 20]
    python -m benchmarks.listen RUN --dataset DIR [--count 4]   # every knob: DIR's held-out test settings
    python -m benchmarks.listen RUN --dataset DIR --plugin refamp  # a hosted plugin instead of the embedded amp
    python -m benchmarks.listen RUN --real       # the DI: real playing of the development set (capture/realplay.py)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUT = Path("outputs/benchmarks/listen")
MAX_PLOTTED = 6  # spectrogram columns


def plugin_process(name: str, sr: int):
    """amp_process for a hosted plugin (conf/plugin/NAME.yaml): (audio, sr, knobs) -> its output, rendered
    as capture renders a setting (pre-roll, latency compensation)."""
    from ampcap.config import to_dict
    from capture.config import compose_capture
    from capture.host import make_amp
    from capture.reamp import render_setting

    pcfg = to_dict(compose_capture([f"plugin={name}", f"plugin.sample_rate={sr}"]).plugin)
    host = make_amp(pcfg)
    return lambda x, _sr, knobs: render_setting(host, knobs, x, pcfg["preroll_s"], pcfg["max_latency"]).audio


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--gains", type=float, nargs="+", default=[1.875, 4.375, 6.875, 9.375])
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--dataset", type=Path, default=None, help="take the settings from this dataset's test split")
    ap.add_argument("--count", type=int, default=4, help="with --dataset: how many of its test settings")
    ap.add_argument("--plugin", default="builtin", help="the amp: a conf/plugin name (hosted plugins need --dataset)")
    ap.add_argument("--real", action="store_true",
                    help="play the development set's real playing (five styles, FluidSynth) instead of a generated DI")
    ap.add_argument("--dc-block", type=float, default=None,
                    help="render with the output DC blocker at this cutoff in Hz instead of the model's own (0: none)")
    a = ap.parse_args(argv)
    from ampcap.cli import print_table
    from ampcap.wav import write_wav
    from amptrain import AmpModel
    from amptrain.losses import band_level_error_db, esr
    from amptrain.sampling.dc_block import model_cutoff
    from capture.builtin_amp import KNOB_SPECS, amp_process
    from capture.signals import builtin_signal

    if a.plugin != "builtin" and a.dataset is None:
        raise SystemExit("error: --plugin needs --dataset (the settings to play, in the plugin's own knob values)")
    amp = AmpModel.load(a.run)
    if a.dc_block is not None:
        amp.net.dc_block_hz = a.dc_block
    sr = amp.sample_rate
    target_of = amp_process if a.plugin == "builtin" else plugin_process(a.plugin, sr)
    if a.real:
        from capture.realplay import DEV_SEED, clips

        di = np.concatenate(list(clips(sr, seed=DEV_SEED).values())).astype(np.float32)
    else:
        di = builtin_signal(sr, a.seconds, a.seed, 0.1, 0.2).audio.astype(np.float32)
    OUT.mkdir(parents=True, exist_ok=True)
    write_wav(OUT / "di.wav", di, sr)
    rows, pairs = [], []
    defaults = {k: v["default"] for k, v in KNOB_SPECS.items()} if a.plugin == "builtin" else {}
    if a.dataset is not None:
        from ampcap.dataset import read_manifest

        settings = [s["knobs"] for s in read_manifest(a.dataset)["settings"] if s["split"] == "test"][: a.count]
    else:
        settings = [{**defaults, "gain": g} for g in a.gains]
    for i, knobs in enumerate(settings):
        knobs = {**defaults, **knobs}
        tag = f"gain-{knobs['gain']:g}" if a.dataset is None else f"setting-{i}"
        target = target_of(di, sr, knobs)
        pred = amp(di, sr, {k: knobs[k] for k in amp.knob_names})
        for name, y in (("target", target), ("model", pred), ("difference", target - pred)):
            write_wav(OUT / f"{tag}_{name}.wav", np.clip(y, -1, 1), sr)
        b = band_level_error_db(target, pred, sr)
        g = tag if a.dataset is not None else knobs["gain"]
        rows.append({"setting": g, "esr": round(esr(target, pred), 4), "low_db": round(b["low"], 2),
                     "mid_db": round(b["mid"], 2), "high_db": round(b["high"], 2),
                     "difference_db": round(10 * np.log10(np.mean((target - pred) ** 2) / np.mean(target ** 2)), 1)})
        pairs.append((g, target, pred))
    what = "real playing (development set, 5 styles)" if a.real else f"new DI (seed {a.seed}, {a.seconds:g} s)"
    print(f"{what} through the amp and {a.run} at unseen settings "
          f"(output DC blocker: {f'{model_cutoff(amp.net):g} Hz' if model_cutoff(amp.net) else 'none'})")
    if a.dataset is not None:
        for r, knobs in zip(rows, settings):
            r["knobs"] = " ".join(f"{k}={v}" for k, v in knobs.items())
    print_table(rows, ["setting", "esr", "difference_db", "low_db", "mid_db", "high_db"] + (["knobs"] if a.dataset else []))
    print(f"mean over {len(rows)} settings: ESR {np.mean([r['esr'] for r in rows]):.4f}, bands "
          + " / ".join(f"{np.mean([r[k] for r in rows]):+.2f}" for k in ("low_db", "mid_db", "high_db")) + " dB")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    silence = plt.get_cmap("magma").copy()
    silence.set_bad(silence(0.0))  # digital silence is -inf dB, which imshow masks: draw it as the floor, not white
    shown = pairs[:MAX_PLOTTED]  # a readable figure: the first settings; every pair is in the WAVs and the table
    fig, axes = plt.subplots(2, len(shown), figsize=(4 * len(shown), 5.5), squeeze=False, sharey=True)
    for j, (g, t, p) in enumerate(shown):
        for i, (name, y) in enumerate((("amp", t), ("model", p))):
            with np.errstate(divide="ignore"):
                axes[i][j].specgram(y[: 8 * sr], NFFT=2048, Fs=sr, noverlap=1536, cmap=silence, vmin=-140, vmax=-30)
            axes[i][j].set_ylim(0, 6000)
            axes[i][j].set_title(f"{name}, {g if isinstance(g, str) else f'gain {g:g}'}", fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT / "spectrograms.png", dpi=90)
    print(f"written to {OUT}/ (WAV pairs, differences, spectrograms.png)")
    return rows


if __name__ == "__main__":
    main()
