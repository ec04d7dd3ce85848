"""Held-out accuracy of training variants at equal wall time: each variant is one training run (its
own process, same seed and budget) of an experiment with some overrides; afterwards the weights it
validated at each epoch (kept with trainer.keep_epochs) are measured on the held-out test settings x
test audio, giving a curve of held-out ESR against minutes. Training never sees the test numbers:
each run chooses its model on validation alone.

    python -m benchmarks.accuracy                          # the defaults against what they replaced, gain_sweep, 5 min each
    python -m benchmarks.accuracy --minutes 10 --variants base plateau+noema cosine+noema
    python -m benchmarks.accuracy --experiment full_amp --minutes 30 --variants base
    python -m benchmarks.accuracy --list                   # the parts a variant is made of, and their overrides

Prints the table (held-out ESR, training-settings ESR and their gap, worst held-out setting, per-band
dB, epochs, samples/s), writes outputs/benchmarks/accuracy-<experiment>.json and a curve plot
accuracy-<experiment>.png.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

OUT = Path("outputs/benchmarks")

# parts of a variant, joined with '+' (e.g. cosine+ema+plain); "base" is the experiment as configured
PARTS = {
    "base": [],
    # the trainer before the fused kernel and the new defaults (the DC loss fix stays: it has no switch)
    "before": ["trainer.fused_lstm=false", "trainer.schedule=plateau", "trainer.ema=0", "trainer.learning_rate=0.005",
               "trainer.patience=10", "trainer.min_lr=1e-5", "trainer.select=best"],
    "plateau": ["trainer.schedule=plateau", "trainer.patience=10"],
    "cosine": ["trainer.schedule=cosine", "trainer.patience=null"],
    "ema": ["trainer.ema=0.98"],
    "best": ["trainer.select=best"],    # keep the checkpoint of the lowest validation ESR (the default until 2026-12-02)
    "noema": ["trainer.ema=0"],
    "plain": ["loss.plain_weight=0.5"],
    "noplain": ["loss.plain_weight=0"],
    "low": ["loss.low_weight=0.5"],
    "low1": ["loss.low_weight=1.0"],
    "nolow": ["loss.low_weight=0"],
    "dc1": ["loss.dc_weight=1.0"],
    "prenone": ["loss.pre_emphasis=none", "loss.esr_weight=0.75", "loss.plain_weight=0"],
    "warmup1000": ["trainer.warmup=1000"],
    "batch64": ["trainer.batch_size=64"],
    "batch48": ["trainer.batch_size=48"],
    "batch32": ["trainer.batch_size=32"],
    "batch16": ["trainer.batch_size=16"],
    "batch128": ["trainer.batch_size=128"],
    "seg12k": ["trainer.segment=12000"],
    "seg48k": ["trainer.segment=48000"],
    "win500": ["trainer.window=500"],
    "win2000": ["trainer.window=2000"],
    "lr1e-2": ["trainer.learning_rate=0.01"],
    "lr2e-3": ["trainer.learning_rate=0.002"],
    "lr3e-3": ["trainer.learning_rate=0.003"],
    "lr5e-3": ["trainer.learning_rate=0.005"],
    "lr2e-2": ["trainer.learning_rate=0.02"],
    "lr4e-2": ["trainer.learning_rate=0.04"],
    "lr8e-2": ["trainer.learning_rate=0.08"],
    "h48": ["model.hidden_size=48"],
    "h24": ["model.hidden_size=24"],
    "film": ["model.conditioning=film"],
    "keras": ["trainer.fused_lstm=false"],
    "h64": ["model.hidden_size=64"],
    "drive": ["model.drive=true"],      # input scaled by exp(v . knobs + a): a knob-set drive
    "nodrive": ["model.drive=false"],
    # many-knob designs (full_amp): more settings of the same DI (each costs ~0.15 s to capture)
    "n64": ["dataset.capture_overrides=['sweep.n_train=64','sweep.n_heldout=16','out=outputs/datasets/builtin-default-n64']"],
    "n128": ["dataset.capture_overrides=['sweep.n_train=128','sweep.n_heldout=16','out=outputs/datasets/builtin-default-n128']"],
    "ve50": ["trainer.val_every=50"],  # validate every 50 batches (an epoch of 128 settings is ~170 batches)
    "n256": ["dataset.capture_overrides=['sweep.n_train=256','sweep.n_heldout=16','out=outputs/datasets/builtin-default-n256']"],
    # the same audio in twice the settings: 512 settings of a 15 s DI against 256 of 30 s
    "n512s15": ["dataset.capture_overrides=['sweep.n_train=512','sweep.n_heldout=16','signal.duration_s=15',"
                "'out=outputs/datasets/builtin-default-n512s15']"],
    # twice the settings of the same 30 s DI (since 2026-12-06 the default design, in its own folder), and the same
    # 256 settings of twice the audio (a 60 s DI: 42 s of training audio). s60: measure with --eval-dataset on
    # the 256-setting dataset (same test settings and audio); n512 against it: on a separate design
    # (builtin-full-eval), as its Sobol points 256-287 are the 256-setting design's held-out ones
    "n512": ["dataset.capture_overrides=['sweep.n_train=512','sweep.n_heldout=32','out=outputs/datasets/builtin-default-n512']"],
    # the default design before 2026-12-06 (256 training settings, the same 32 held-out Sobol points 256-287,
    # which the 512-setting default trains on: measure the pair on a separate design, --eval-dataset)
    "was256": ["dataset.capture_overrides=['sweep.n_train=256','out=outputs/datasets/builtin-default-n256h32']"],
    "s60": ["dataset.capture_overrides=['signal.duration_s=60','out=outputs/datasets/builtin-default-s60']"],
    # training settings pushed towards the knobs' ends (sweep.edges; the held-out settings stay the default's): measure
    # with --eval-dataset on the default dataset, so both see the same test settings
    "edges50": ["dataset.capture_overrides=['sweep.edges=0.5','out=outputs/datasets/builtin-default-edges50']"],
    "edges100": ["dataset.capture_overrides=['sweep.edges=1.0','out=outputs/datasets/builtin-default-edges100']"],
    "refedges50": ["dataset.path=outputs/datasets/refamp-default-edges50"],
    # RefAmp with 512 training settings (since 2026-12-06 the default: the same as base) and with the 256 of
    # the default before; capture first: python -m capture sweep plugin=refamp sweep=default sweep.n_train=N
    # out=outputs/datasets/refamp-default-nN (measure on a separate design, as n512)
    "refn512": ["dataset.path=outputs/datasets/refamp-default-n512"],
    "refn256": ["dataset.path=outputs/datasets/refamp-default-n256"],
    "seed1": ["trainer.seed=1"],  # another initialisation and batch order: a second draw of any variant (n512+seed1)
    "seed2": ["trainer.seed=2"],
    "focus05": ["trainer.focus=0.5"],  # loss weights follow each training setting's running ESR (^0.5)
    "focus1": ["trainer.focus=1.0"],  # capture it first (RefAmp is never auto-captured)
    # 25 gain levels instead of 9: the 9-level design's held-out gains are not among them (33 levels would
    # hold them all), so both are measured on the same unseen gains (--eval-dataset)
    "n25": ["dataset.capture_overrides=['sweep.n_train=25','out=outputs/datasets/builtin-gain_sweep-n25']"],
    # the generated DI's material (issue 37), at the same 30 s: parts starting with @ are capture overrides, joined
    # into one dataset of the variant's own (outputs/datasets/<experiment>-<parts>); measure them with
    # --eval-dataset on the experiment's own dataset (same test settings, the same test audio for every variant)
    "v1": ["@signal.mix={phrase:0.62,sweep:0.1,noise:0.1,levels:0.1,silence:0.08}",
           "@signal.phrases={notes:0.35,chords:0.3,palm_mute:0.2,swell:0.15,riff:0,strum:0,fingerpick:0}",
           "@signal.note_off_ms=5", "@signal.pick_noise=0", "@signal.phrase_peak_db=null", "@signal.ring=1",
           "@signal.pickup=false"],
    "phr85": ["@signal.mix={phrase:0.85,sweep:0.04,noise:0.04,levels:0.04,silence:0.03}"],   # more playing, fewer test tones
    "kinds": ["@signal.phrases={notes:0.2,chords:0.15,palm_mute:0.1,swell:0.1,riff:0.2,strum:0.15,fingerpick:0.1}"],
    "levels": ["@signal.phrase_peak_db=[-24,0]"],   # each phrase at a peak 0-24 dB below full, not by its velocities
    "offs": ["@signal.note_off_ms=40", "@signal.pick_noise=0.3"],   # damped note endings and pick scrapes
    "ring": ["@signal.ring=2"],       # notes held twice as long, strings sustaining twice as long: denser playing
    "pickup": ["@signal.pickup=true"],   # phrases through a pickup's resonant low-pass: little above 2-6 kHz
    # RefAmp on the v1 DI and on today's (capture first: python -m capture sweep plugin=refamp sweep=default
    # [signal.ring=1 signal.pickup=false] out=outputs/datasets/refamp_full-{v1,dev}); measure on refamp_full-v1
    "refv1": ["dataset.path=outputs/datasets/refamp_full-v1"],
    "refdi": ["dataset.path=outputs/datasets/refamp_full-di"],
    "ring3": ["@signal.ring=3"],
    "ring4": ["@signal.ring=4"],
    "levels12": ["@signal.phrase_peak_db=[-12,0]"],
    "levels36": ["@signal.phrase_peak_db=[-36,0]"],
}


def overrides_of(variant: str, experiment: str = "gain_sweep") -> list[str]:
    parts = variant.split("+")
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise SystemExit(f"error: unknown variant part {unknown[0]!r}; parts: {', '.join(PARTS)} (join with +)")
    found = [o for p in parts for o in PARTS[p]]
    capture = [o[1:] for o in found if o.startswith("@")]
    if capture:  # one dataset of the variant's own, captured with all its @ overrides
        name = "+".join(p for p in parts if any(o.startswith("@") for o in PARTS[p]))
        items = ",".join(f"'{o}'" for o in capture + [f"out=outputs/datasets/{experiment}-{name}"])
        found = [o for o in found if not o.startswith("@")] + [f"dataset.capture_overrides=[{items}]"]
    return found


def run_variant(experiment: str, name: str, overrides: list[str], minutes: float, runs: Path, cpus: str | None,
                tag: str = "", keep_epochs: bool = True) -> Path:
    """Train one variant in its own process (pinned to `cpus` when given); returns its run directory, which
    carries the tag so that two benchmark processes running one variant side by side keep their own runs.
    keep_epochs: keep each validation's weights, for the curve of held-out ESR against minutes."""
    run_dir = runs / experiment / f"{name}{tag}"
    cmd = [sys.executable, "-m", "amptrain", f"+experiment={experiment}", *overrides, f"trainer.max_minutes={minutes}",
           "trainer.max_epochs=100000", f"trainer.keep_epochs={str(keep_epochs).lower()}", "trainer.progress=false", "trainer.renders=0",
           f"run_dir={run_dir}"]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode < 0:  # a signal: SIGKILL is most often the kernel's out-of-memory killer
        raise SystemExit(f"error: variant {name} was killed by signal {-p.returncode}"
                         + (" (out of memory?)" if p.returncode == -9 else "") + f"; its run directory: {run_dir}")
    if p.returncode != 0:
        raise SystemExit(f"error: variant {name} failed: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}")
    return run_dir


def measure(run: Path, eval_root: Path | None = None, real: bool = True) -> dict:
    """Held-out ESR of the final model and of every kept epoch's weights (the curve), and the final
    model's figures from metrics.json; with `eval_root`, held-out figures are on that dataset's test
    settings x test audio instead (variants trained on different designs or DIs, measured on the same set),
    and `ref_val_esr` on its validation settings x validation audio. `real_dev_esr`: real playing of the
    development set (realplay.DEV_SEED) at the same settings, what a choice between variants may look at;
    `real_playing_esr` is the evaluation set's, for the report."""
    from ampcap import dataset as ds
    from amptrain import checkpoint
    from amptrain.data import load_split
    from amptrain.evaluate import evaluate, evaluate_real_playing
    from amptrain.sampling.amp import load_net
    from capture.realplay import DEV_SEED

    m = json.loads((run / "metrics.json").read_text())
    cfg = json.loads((run / "run.json").read_text())
    root = Path(cfg["dataset"]["path"])
    manifest = ds.read_manifest(root)
    net = load_net(run)
    t = cfg["config"]["trainer"]
    pre = cfg["config"]["loss"]["pre_emphasis"]
    ref_val = None
    if eval_root is not None:
        root, manifest = Path(eval_root), ds.read_manifest(eval_root)
    test = load_split(root, manifest, "test", "test", cfg["knobs"])
    if eval_root is not None:
        v, _ = evaluate(net, test, cfg["sample_rate"], pre, t["eval_chunk"], t["eval_overlap"])
        m["heldout"] = v
        val = load_split(root, manifest, "val", "val", cfg["knobs"])
        ref_val = round(evaluate(net, val, cfg["sample_rate"], pre, t["eval_chunk"], t["eval_overlap"])[0]["esr"], 4)
    rp, dev = m.get("real_playing") or {}, {}
    if real:
        if eval_root is not None:   # the eval dataset's test settings (the run's own may differ)
            rp = evaluate_real_playing(net, manifest, test.settings, cfg["knobs"], pre, t["eval_chunk"], t["eval_overlap"])
        dev = evaluate_real_playing(net, manifest, test.settings, cfg["knobs"], pre, t["eval_chunk"], t["eval_overlap"],
                                    seed=DEV_SEED)
    curve = []
    for f in sorted((run / "checkpoints").glob("epoch-*.npz")):
        state = checkpoint.load(f, net)
        v, _ = evaluate(net, test, cfg["sample_rate"], pre, t["eval_chunk"], t["eval_overlap"])
        curve.append({"minutes": round(state["elapsed_seconds"] / 60, 2), "val_esr": state["history"][-1]["val_esr"],
                      "heldout_esr": v["esr"]})
    h, tr = m["heldout"], m["train_settings"]
    worst = max(r["esr"] for r in h["per_setting"])
    real_esr = round(rp["esr"], 4) if "esr" in rp else None
    return {"epochs": m["training"]["epochs"], "samples_per_s": round(m["training"]["samples_per_s"] or 0),
            "val_esr": round(m["validation"]["esr"], 4) if m.get("validation") else None, "ref_val_esr": ref_val,
            "heldout_esr": round(h["esr"], 4), "train_settings_esr": round(tr["esr"], 4),
            "real_dev_esr": round(dev["esr"], 4) if "esr" in dev else None, "real_playing_esr": real_esr,
            "real_x_test": round(real_esr / max(h["esr"], 1e-12), 2) if real_esr is not None else None,
            "real_per_style": {k: round(v, 4) for k, v in (rp.get("per_style") or {}).items()},
            "real_bands_db": {k: round(v, 2) for k, v in (rp.get("bands_db") or {}).items()},
            "gap": round(h["esr"] / max(tr["esr"], 1e-12), 2), "worst_x_mean": round(worst / max(h["esr"], 1e-12), 2),
            "dc": h["dc"], "low_db": round(h["bands_db"]["low"], 2), "mid_db": round(h["bands_db"]["mid"], 2),
            "high_db": round(h["bands_db"]["high"], 2), "stop": m["training"]["stop_reason"],
            "curve": curve, "per_setting": [{"knobs": r["knobs"], "esr": r["esr"]} for r in h["per_setting"]],
            "run": str(run)}


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in rows:
        if r["curve"]:
            ax.plot([c["minutes"] for c in r["curve"]], [c["heldout_esr"] for c in r["curve"]], "o-", ms=2.5, label=r["variant"])
    ax.set_yscale("log")
    ax.set_xlabel("minutes of training (wall time, incl. validation)")
    ax.set_ylabel("held-out ESR")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="gain_sweep")
    ap.add_argument("--minutes", type=float, default=5.0, help="wall budget per variant")
    ap.add_argument("--variants", nargs="+", default=["base", "plateau", "noema", "noplain"],
                    help="variants, each parts joined with + (see --list)")
    ap.add_argument("--cpus", default=None, help="pin every run to these cores (taskset -c), e.g. 0")
    ap.add_argument("--tag", default="", help="suffix of the output files and run directories")
    ap.add_argument("--eval-dataset", type=Path, default=None,
                    help="measure held-out ESR on this dataset's test settings x test audio (e.g. the experiment's own "
                         "dataset, when variants capture other designs)")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args(argv)
    if a.list:
        for k, v in PARTS.items():
            print(f"{k:<12} {' '.join(v) or '(the experiment as configured)'}")
        return {}
    for v in a.variants:
        overrides_of(v)
    from ampcap.cli import print_table
    from amptrain.tfenv import own_stderr, quiet_tensorflow

    own_stderr()  # a command line: TensorFlow's start-up chatter is not for the reader

    quiet_tensorflow()
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"accuracy-{a.experiment}{a.tag}.json"
    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    rows = [r for r in rows if r["variant"] not in a.variants or r["minutes"] != a.minutes]
    for name in a.variants:
        t0 = time.perf_counter()
        print(f"{a.experiment}: training variant {name} for {a.minutes:g} min ...", flush=True)
        run = run_variant(a.experiment, name, overrides_of(name, a.experiment), a.minutes, OUT / "accuracy_runs", a.cpus, a.tag)
        row = {"experiment": a.experiment, "variant": name, "overrides": " ".join(overrides_of(name, a.experiment)), "minutes": a.minutes,
               **measure(run, a.eval_dataset), "wall_seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        out.write_text(json.dumps({"rows": rows}, indent=1))
        print(f"  held-out ESR {row['heldout_esr']}  (val {row['val_esr']}, low {row['low_db']} dB)", flush=True)
    cols = ["variant", "minutes", "epochs", "samples_per_s", "val_esr", "ref_val_esr", "heldout_esr", "real_dev_esr",
            "real_playing_esr", "real_x_test",
            "train_settings_esr", "gap", "worst_x_mean", "low_db", "mid_db", "high_db"]
    print(f"\n{a.experiment}: held-out ESR at equal wall time (test settings x test audio; the model each run kept: trainer.select)")
    print_table(rows, cols)
    plot(rows, OUT / f"accuracy-{a.experiment}{a.tag}.png", f"{a.experiment}: held-out ESR vs minutes")
    print(f"\nwritten to {out} and {out.with_suffix('.png')}")
    return {"rows": rows}


if __name__ == "__main__":
    main()
