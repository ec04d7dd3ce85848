"""RUN/report.html, the listening report of a finished run (written at the end of training and by
`python -m amptrain report run=RUN`): summary, what ESR and the band errors mean, an A/B player per
held-out setting (plugin vs model vs their difference on one transport, level-matched), a knob
explorer (renders of the unseen test DI across each knob's range, a slider that switches between
them while playing, a spectrum that follows) and the training plots. Self-contained in the run folder.

Audio: 16-bit FLAC excerpts of the test audio (lossless, so the difference signal is the model's and
not a codec's; about half a WAV), their length chosen so that the report stays under ~16 MB."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ampcap import dataset as ds
from ampcap.reportkit import (
    ReportFiles,
    db,
    esc,
    flac_bytes,
    headroom,
    headroom_note,
    knob_text,
    page,
    player_group,
    rms,
    spectrum_chart,
    spectrum_frames,
    table,
)

from .finished_run import Run
from .sampling.amp import AmpModel

MAX_AB = 8                # A/B players: at most this many held-out settings, spread over their ESR
GRID = 7                  # knob explorer: renders per continuous knob
MAX_EXCERPT_S = 20.0
MIN_EXCERPT_S = 2.0
BUDGET_BYTES = 16e6       # audio of one report (the page itself adds well under 1 MB)
FLAC_BYTES_PER_SAMPLE = 0.9  # 16-bit FLAC: 0.3-0.65 bytes/sample measured on the embedded amp; louder amps more (the total is checked)
PLOTS = [("loss.png", "Training curves: loss, validation ESR and learning rate per epoch"),
         ("esr_vs_knob.png", "Test-audio ESR against each knob (training and held-out settings)"),
         ("spectrum.png", "Long-term spectrum, plugin (target) against model (prediction)"),
         ("waveform.png", "25 ms of waveform: target, prediction and their difference"),
         ("adapt.png", "Adaptive capture: held-out ESR after each round, and where each round added settings")]
SPREAD = ["#23307a", "#2f6db5", "#1f9e9a", "#4caa4f", "#b59a00", "#e0731e", "#c62f3a"]  # low -> high knob value


def verdict(esr: float) -> tuple[str, str]:
    """A rough reading of an ESR for a listener (class, words)."""
    if esr < 0.01:
        return "good", "very close: hard to tell apart even in a direct A/B"
    if esr < 0.05:
        return "fair", "close: the same amp, small differences audible when you switch"
    if esr < 0.2:
        return "fair", "recognisable, but clearly different when you switch"
    return "poor", "not there yet: the model has not learnt this amp"


def excerpt_seconds(n_files: int, region_s: float, sr: int, budget: float = BUDGET_BYTES) -> float:
    """Length of each audio excerpt: the whole test region when the budget allows, else as long as the
    budget allows (at least MIN_EXCERPT_S), never more than MAX_EXCERPT_S."""
    fit = budget / max(1, n_files) / (FLAC_BYTES_PER_SAMPLE * sr)
    return float(min(region_s, MAX_EXCERPT_S, max(MIN_EXCERPT_S, fit)))


def pick_settings(rows: list[dict], n: int = MAX_AB) -> list[dict]:
    """Up to n rows spread over their ESR (best and worst included), in the design's order."""
    if len(rows) <= n:
        return list(rows)
    by = sorted(rows, key=lambda r: r["esr"])
    return sorted((by[int(round(i))] for i in np.linspace(0, len(by) - 1, n)), key=lambda r: r["index"])


def knob_grid(k, n: int = GRID) -> tuple[list, list[str]]:
    """Values to render for one knob, and their labels: every choice of a switch, n steps of a range."""
    if k.discrete:
        return list(k.choices), [str(c) for c in k.choices]
    vals = [float(min(k.max, max(k.min, v))) for v in np.round(np.linspace(k.min, k.max, n), 2)]
    return vals, [f"{v:g}" for v in vals]


def _fmt(v, nd=4) -> str:
    return f"{v:.{nd}f}" if isinstance(v, (int, float)) else "-"


def _bands(b: dict) -> str:
    return " / ".join(f"{b[k]:+.1f} dB" for k in ("low", "mid", "high"))


def summary_section(metrics: dict, info: dict, amp, manifest: dict, head: str) -> str:
    m = metrics[head] or {}
    tr = metrics["training"]
    cfg = info["config"]
    t = cfg["trainer"]
    cls, words = verdict(m.get("esr", 1.0))
    err_db = 10 * np.log10(max(m.get("esr", 1.0), 1e-12))
    what = "held-out settings x unseen test audio" if head == "heldout" else "training settings x unseen test audio (no held-out settings in this dataset)"
    cards = (f'<div class="card"><div class="lab">ESR, {esc(what)}</div><div class="big {cls}">{_fmt(m.get("esr"))}</div>'
             f'<div class="{cls}">{esc(words)}</div></div>'
             f'<div class="card"><div class="lab">error level (10&middot;log<sub>10</sub> ESR)</div>'
             f'<div class="big">{abs(err_db):.1f} dB</div><div class="lab">{"below" if err_db < 0 else "above"} the plugin\'s output</div></div>'
             f'<div class="card"><div class="lab">band level error: &lt;250 Hz / 250 Hz-2 kHz / &gt;2 kHz</div>'
             f'<div class="big" style="font-size:20px">{_bands(m["bands_db"]) if m else "-"}</div><div class="lab">model minus plugin; 0 is exact</div></div>')
    knob_rows = "<br>".join(esc(f"{k.name}: " + (" | ".join(map(str, k.choices)) if k.discrete else f"{k.min:g}..{k.max:g} {k.unit}".rstrip())
                                + f" (default {k.default})") for k in amp.knobs) or "none (a snapshot of one setting)"
    fixed = ", ".join(f"{n}={v}" for n, v in amp.fixed_knobs.items()) or "none"
    budget = (f"{t['max_minutes']:g} min" if t.get("max_minutes") else "no time limit") + f", at most {t['max_epochs']} epochs"
    sets = []
    for key, label in (("heldout", "held-out settings"), ("train_settings", "training settings"), ("validation", "validation")):
        if metrics.get(key):
            r = metrics[key]
            sets.append([label, str(r["n_settings"]), _fmt(r["esr"]), _fmt(r["esr_pre"]), _bands(r["bands_db"])])
    real = metrics.get("real_playing") or {}
    if "esr" in real:  # the held-out settings on real guitar playing (capture/realplay.py), not our test signal
        styles = ", ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in real["per_style"].items())
        sets.append([f"real playing, held-out settings ({esc(styles)})", str(real["n_settings"]), _fmt(real["esr"]),
                     _fmt(real["esr_pre"]), _bands(real["bands_db"])])
    counts = {sp: sum(1 for s in manifest["settings"] if s["split"] == sp) for sp in ds.SPLITS}
    rows = [
        ["model takes", knob_rows],
        ["fixed knobs", esc(fixed) + " (held in the training data; the model cannot change them)"],
        ["model", f"LSTM {cfg['model']['hidden_size']} units, {esc(cfg['model']['conditioning'])} conditioning, {tr['parameters']} parameters"],
        ["budget", esc(budget)],
        ["training", f"{tr['epochs']} epochs (model of epoch {tr.get('chosen_epoch', tr['best_epoch'])}, {esc(tr.get('select', 'best'))}; "
                     f"best validation at {tr['best_epoch']}; {esc(tr['stop_reason'])}), {tr['train_seconds']:.0f} s, "
                     f"{(tr['samples_per_s'] or 0) / 1e3:.0f}k samples/s"],
        ["loss", f"ESR + DC, pre-emphasis <code>{esc(cfg['loss']['pre_emphasis'])}</code>"],
        ["dataset", f"<code>{esc(info['dataset']['path'])}</code>: {esc(info['dataset']['plugin'].get('name'))}, "
                    f"{counts['train']} training / {counts['val']} validation / {counts['test']} test settings, {manifest['sample_rate']} Hz"],
        ["date", f"trained {esc(info.get('created', '?'))}; report written {time.strftime('%Y-%m-%dT%H:%M:%S')}"],
    ]
    return (f'<section id="summary"><h2>Summary</h2><div class="cards">{cards}</div>'
            f'{table(["set", "settings", "ESR", "ESR (pre-emph.)", "bands low / mid / high"], sets)}'
            f'{table(["", ""], rows, "kv")}</section>')


def explain_section(metrics: dict, head: str) -> str:
    m = metrics[head] or {"esr": float("nan"), "bands_db": {"low": 0, "mid": 0, "high": 0}}
    e = m["esr"]
    pct = 100 * e
    err_db = 10 * np.log10(max(e, 1e-12)) if e == e else 0.0
    b = m["bands_db"]
    worst = max(b, key=lambda k: abs(b[k]))
    names = {"low": "lows, below 250 Hz (the thump of palm mutes, the cabinet's low end)",
             "mid": "mids, 250 Hz to 2 kHz (the body of the tone)",
             "high": "highs, above 2 kHz (pick attack, fizz and sparkle)"}
    return f"""<section id="explain" class="explain"><h2>What the numbers mean</h2>
<p><b>ESR</b> (error-to-signal ratio) compares the model's output with the plugin's, sample by sample, over
audio the model never heard: the energy of the difference divided by the energy of the plugin's output.
0 would be identical; 1 is as wrong as playing silence. This model's {e:.4f} means the difference carries
{pct:.1f}% of the signal's energy: it sits {abs(err_db):.0f} dB {'below' if err_db < 0 else 'above'} the sound itself. Press
<i>difference</i> in a player below to hear exactly that error, at its real level.</p>
<p>A rough guide for the ear: below 0.01 most people cannot pick the model in a blind A/B; 0.01 to 0.05 is
the same amp with small differences you hear when switching; above 0.1 it is clearly another sound.
ESR punishes timing and phase too, so two sounds that feel alike can still score 0.05.</p>
<p><b>Band errors</b> say where the difference lies: the model's level minus the plugin's in three bands.
0 dB is exact; about 1 dB is the smallest change most listeners notice, 3 dB is clearly audible, like a
tone knob turned a notch. Here: lows {b['low']:+.1f} dB, mids {b['mid']:+.1f} dB, highs {b['high']:+.1f} dB; the largest
is in the {names[worst]}: the model is {'quieter' if b[worst] < 0 else 'louder'} there.</p>
<p><b>Held-out</b> settings are knob positions that were captured but never used for training, played
with test audio that training never saw: they show how the model does between the settings it learnt.
The players level-match plugin and model (same loudness), so you judge the tone and not the volume.</p></section>"""


def build(r: Run, amp, files: ReportFiles, grid: int = GRID, log=None) -> tuple[str, dict]:
    """Render everything the page plays (staged in `files`); returns (html, report data)."""
    run, metrics, info, manifest = r.path, r.metrics, r.info, r.manifest
    sr = int(manifest["sample_rate"])
    head = metrics["headline"]
    rows = (metrics[head] or {}).get("per_setting", [])
    split = "test" if head == "heldout" else "train"
    d = r.split(split, "test")
    by_id = {s["id"]: i for i, s in enumerate(d.settings)}
    chosen = [r for r in pick_settings(rows) if r["id"] in by_id]
    grids = [(k, *knob_grid(k, grid)) for k in amp.knobs]
    n_files = 3 * len(chosen) + sum(len(v) for _, v, _ in grids) + 1
    region_s = len(d.x) / sr
    secs = excerpt_seconds(n_files, region_s, sr)
    n = int(secs * sr)
    x = d.x[:n]
    names = amp.knob_names
    t0 = time.perf_counter()
    preds = [amp.render(x, None, {k: d.settings[by_id[r["id"]]]["knobs"][k] for k in names}) for r in chosen]
    renders = [[amp.render(x, None, {k.name: v}) for v in vals] for k, vals, _ in grids]
    if log:
        log(f"report: rendered {len(preds) + sum(map(len, renders))} excerpts of {secs:.1f} s in {time.perf_counter() - t0:.1f} s")
    for _ in range(4):  # the size estimate is checked: shorter excerpts if the files came out bigger
        data: dict = {"kind": "ampcap-run-report", "excerpt_s": n / sr, "spectra": {}}
        html = _page(run, amp, metrics, info, manifest, head, d, chosen, by_id, preds, grids, renders, n, sr, files, data)
        if files.total <= BUDGET_BYTES * 1.2 or n <= MIN_EXCERPT_S * sr:
            return html, data
        n = max(int(MIN_EXCERPT_S * sr), int(n * BUDGET_BYTES / files.total * 0.95))
        files.clear()
    return html, data


def _page(run, amp, metrics, info, manifest, head, d, chosen, by_id, preds, grids, renders, n, sr, files, data) -> str:
    hop = max(0.2, n / sr / 40)
    x = d.x[:n]
    ab_html = _ab_section(amp, metrics, head, d, chosen, by_id, preds, n, sr, hop, files, data)
    ex_html = _explorer_section(amp, grids, renders, n, sr, hop, files, data)
    di = files.add("di_test.flac", flac_bytes(x, sr))
    di_html = (f'<p>The dry test DI: <audio controls preload="auto" src="{esc(di)}"></audio></p>')
    imgs = "".join(f'<figure><img class="plot" src="plots/{f}" alt="{esc(cap)}"><figcaption class="hint">{esc(cap)}</figcaption></figure>'
                   for f, cap in PLOTS if (run / "plots" / f).exists())
    plots_html = f'<section id="plots"><h2>Training curves and plots</h2>{imgs or "<p>No plots in this run.</p>"}</section>'
    body = (summary_section(metrics, info, amp, manifest, head) + explain_section(metrics, head) + ab_html
            + ex_html.replace("</section>", di_html + "</section>", 1) + plots_html)
    sub = (f"{esc(run)} &middot; {esc(info['dataset']['plugin'].get('name'))} &middot; "
           f"knobs: {esc(', '.join(amp.knob_names) or 'none')}")
    return page(f"Run report: {metrics['name']}", sub,
                [("summary", "Summary"), ("explain", "What the numbers mean"), ("ab", "A/B"),
                 ("explorer", "Knob explorer"), ("plots", "Plots")], body, data)


def _ab_section(amp, metrics, head, d, chosen, by_id, preds, n, sr, hop, files, data) -> str:
    """The A/B players: plugin, model and their difference on one transport per chosen setting."""
    ab = []
    for j, r in enumerate(chosen):
        i = by_id[r["id"]]
        y, p = d.y[i][:n], preds[j][:n]
        diff = y - p
        ry, rp = rms(y), rms(p)
        ref = min(ry, rp) or 1.0
        gy, gp = (ref / ry if ry else 1.0), (ref / rp if rp else 1.0)
        tag = f"ab{j}_{r['id']}"
        h = headroom([y, p, diff])
        src = [{"label": "A: plugin", "file": files.add(f"ab/{tag}_plugin.flac", flac_bytes(h * y, sr)), "gain": gy,
                "title": "the captured plugin (target)"},
               {"label": "B: model", "file": files.add(f"ab/{tag}_model.flac", flac_bytes(h * p, sr)), "gain": gp,
                "title": "the trained model (prediction)"},
               {"label": "difference", "file": files.add(f"ab/{tag}_difference.flac", flac_bytes(h * diff, sr)), "gain": gy,
                "title": "plugin minus model, at its real level relative to the plugin"}]
        chart, spec = spectrum_chart([("A: plugin", "#2f6db5"), ("B: model", "#e0731e"), ("difference", "#7a7f8a")],
                                     [spectrum_frames(v, sr, hop) for v in (y, p, diff)], sr, hop, always=[0, 1])
        data["spectra"][tag] = spec
        cls, words = verdict(r["esr"])
        facts = table(["", ""], [
            ["ESR", f'<b class="{cls}">{r["esr"]:.4f}</b> ({esc(words)})'],
            ["ESR, pre-emphasised", f'{r["esr_pre"]:.4f}'],
            ["lows &lt;250 Hz", f'{r["bands_db"]["low"]:+.1f} dB'], ["mids", f'{r["bands_db"]["mid"]:+.1f} dB'],
            ["highs &gt;2 kHz", f'{r["bands_db"]["high"]:+.1f} dB'],
            ["level", f"model {db(rp) - db(ry):+.1f} dB against the plugin in this excerpt; difference at {db(rms(diff)) - db(ry):.1f} dB"],
        ], "kv")
        ab.append(f'<div class="ab"><div><h3>{esc(knob_text({k: r["knobs"][k] for k in amp.knob_names}))} '
                  f'<span class="hint">(setting {esc(r["id"])})</span>{headroom_note(h)}</h3>'
                  f'{player_group(tag, src, chart=chart)}</div><div class="facts">{facts}</div></div>')
    total = len((metrics[head] or {}).get("per_setting", []))
    which = "held-out test settings" if head == "heldout" else "training settings (this dataset has no held-out ones)"
    return (f'<section id="ab"><h2>A/B: plugin against model</h2><p>{len(chosen)} of the {total} {which}, on '
               f'{n / sr:.1f} s of the test audio the model never heard. One transport per setting: <b>A &#8644; B</b> '
               f'(or the key T while it plays) switches at the same position; <i>difference</i> plays plugin minus model. '
               f'Plugin and model are level-matched (untick to hear their real levels). ESR and band errors are over the '
               f'whole test audio ({len(d.x) / sr:.1f} s).</p>{"".join(ab) or "<p>No settings to play.</p>"}</section>')


def _explorer_section(amp, grids, renders, n, sr, hop, files, data) -> str:
    """The knob explorer: renders across each knob's range behind a slider, with their spectra."""
    ex = []
    defaults = ", ".join(f"{k.name}={k.default}" for k in amp.knobs)
    for (k, vals, labels), outs in zip(grids, renders):
        h = headroom([o[:n] for o in outs])
        src = [{"label": f"{k.name}={lab}", "file": files.add(f"knobs/{k.name}_{j}.flac", flac_bytes(h * o[:n], sr)), "gain": 1.0}
               for j, (lab, o) in enumerate(zip(labels, outs))]
        start = (vals.index(k.default) if k.default in vals else 0) if k.discrete else \
            int(np.argmin([abs(v - float(k.default)) for v in vals]))
        if k.discrete:
            slider = {"name": k.name, "min": 0, "max": len(vals) - 1, "step": 1, "value": start,
                      "values": list(range(len(vals))), "labels": labels, "discrete": True}
        else:
            slider = {"name": k.name + (f" ({k.unit})" if k.unit else ""), "min": k.min, "max": k.max,
                      "step": round((k.max - k.min) / 100, 6), "value": vals[start], "values": vals, "labels": labels}
        colours = [SPREAD[int(round(j * (len(SPREAD) - 1) / max(1, len(vals) - 1)))] for j in range(len(vals))]
        chart, spec = spectrum_chart(list(zip([s["label"] for s in src], colours)),
                                     [spectrum_frames(o[:n], sr, hop) for o in outs], sr, hop)
        gid = f"knob_{k.name}"
        data["spectra"][gid] = spec
        levels = " &middot; ".join(f"{lab}: {db(rms(o[:n])):.1f} dBFS" for lab, o in zip(labels, outs))
        others = ("others at " + ", ".join(f"{o.name}={o.default}" for o in amp.knobs if o is not k)) if len(amp.knobs) > 1 else "no other knobs"
        group = player_group(gid, src, toggle=False, match=False, choose=False, chart=chart, slider=slider)
        ex.append(f'<h3>{esc(k.name)} <span class="hint">({esc(others)})</span>{headroom_note(h)}</h3>{group}'
                  f'<p class="hint">output level: {levels}</p>')
    if not ex:
        ex.append("<p>This model has no knobs (a snapshot of one setting): nothing to explore.</p>")
    return (f'<section id="explorer"><h2>Knob explorer</h2><p>The model playing the unseen test DI with one knob moved '
               f'across its range and the others at their defaults ({esc(defaults) or "none"}): {sum(map(len, renders))} renders of '
               f'{n / sr:.1f} s, at their real levels. Move a slider while it plays: it switches to the nearest render at the '
               f'same position. The spectrum follows the knob and the playback.</p>{"".join(ex)}</section>')

def write_run_report(run: Path, net=None, log=None, dataset: str | None = None, grid: int = GRID) -> Path:
    """Write RUN/report.html and RUN/report/ (audio) for a finished run. `net` is the trained Keras
    model when the caller has it (the end of training), else RUN/model.keras is loaded."""
    run = Path(run)
    r = Run.open(run, dataset)
    amp = AmpModel(net, run / "model.keras") if net is not None else AmpModel.load(run)
    files = ReportFiles(run)
    return files.publish(lambda: build(r, amp, files, grid, log)[0], log)
