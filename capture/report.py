"""`python -m capture report DATASET` (also written at the end of every capture): DATASET/report.html,
a page that shows which settings were captured (the design in knob space, a scatter per pair of knobs
with train/val/test marked), the output level of each setting, the warnings and failed settings, and
players that switch between the DI and a few settings at the same playback position."""
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
    scatter_svg,
    spectrum_chart,
    spectrum_frames,
    split_legend,
    table,
)

PLAYERS = 5          # settings with a player (plus the DI)
EXCERPT_S = 10.0     # seconds of each, from the start of the DI
COLOURS = ["#444", "#2f6db5", "#e0731e", "#2a9d5b", "#b43fa8", "#c62f3a", "#7a6a00"]


def varying(manifest: dict) -> list[dict]:
    """The knobs whose value differs between the settings (the design's dimensions)."""
    out = []
    for k in manifest["knobs"]:
        if len({str(s["knobs"][k["name"]]) for s in manifest["settings"]}) > 1:
            out.append(k)
    return out


def axis_spec(k: dict) -> dict:
    if k["kind"] == "discrete":
        return {"name": k["name"], "choices": list(k["choices"])}
    return {"name": k["name"] + (f" ({k['unit']})" if k.get("unit") else ""), "lo": k["min"], "hi": k["max"]}


def pick_players(settings: list[dict], n: int = PLAYERS) -> list[dict]:
    """A few captured settings worth hearing: the quietest, the loudest, then one of each split, then
    spread over the design's order."""
    done = [s for s in settings if s["status"] == "done"]
    if not done:
        return []
    chosen = [min(done, key=lambda s: s["rms"]), max(done, key=lambda s: s["rms"])]
    for split in ds.SPLITS:
        chosen += [s for s in done if s["split"] == split][:1]
    chosen += [done[int(i)] for i in np.linspace(0, len(done) - 1, n)]
    out, seen = [], set()
    for s in chosen:
        if s["id"] not in seen:
            seen.add(s["id"])
            out.append(s)
    return sorted(out[:n], key=lambda s: s["index"])


def design_section(m: dict) -> str:
    vk = varying(m)
    pts = lambda a, b: [{"x": s["knobs"][a["name"]], "y": s["knobs"][b["name"]] if b else s["split"],  # noqa: E731
                         "split": s["split"], "failed": s["status"] == "failed",
                         "title": f"{s['id']} ({s['split']}{', failed' if s['status'] == 'failed' else ''}): {knob_text(s['knobs'])}"}
                        for s in m["settings"]]
    failed = any(s["status"] == "failed" for s in m["settings"])
    fixed = [k for k in m["knobs"] if k not in vk]
    fixed_txt = ", ".join(f"{k['name']}={m['settings'][0]['knobs'][k['name']]}" for k in fixed) if m["settings"] else ""
    head = (f"<p>{len(m['settings'])} settings of the <b>{esc(m['sweep'].get('design', '?'))}</b> design "
            f"(sweep <code>{esc(m['sweep'].get('name', '?'))}</code>, seed {esc(m['sweep'].get('seed'))}). "
            f"Held-out settings (validation and test) are never in the training set: the trained model is judged on them."
            + (f" Fixed at every setting: {esc(fixed_txt)}." if fixed_txt else "") + "</p>")
    if not vk:
        charts = "<p>One setting: a snapshot of the amp (no knob varies).</p>"
    elif len(vk) == 1:
        k = vk[0]
        charts = scatter_svg(pts(k, None), axis_spec(k), {"name": "split", "choices": list(ds.SPLITS)}, 560, 200,
                             f"settings along {k['name']}")
    else:
        charts = "".join(scatter_svg(pts(a, b), axis_spec(a), axis_spec(b), 250, 230, f"{a['name']} \u00d7 {b['name']}")
                         for i, a in enumerate(vk) for b in vk[i + 1:])
    return (f'<section id="design"><h2>Design: which settings were captured</h2>{head}{split_legend(failed)}'
            f'<div class="charts">{charts}</div></section>')


def level_section(m: dict) -> str:
    vk = varying(m) or [None]
    done = [s for s in m["settings"] if s["status"] == "done"]
    levels = [db(s["rms"]) for s in done] + [db(s["peak"]) for s in done]
    lo, hi = (min(levels), max(levels)) if levels else (-60, 0)
    charts = []
    for k in vk:
        xs = (lambda s: s["knobs"][k["name"]]) if k else (lambda s: s["index"])
        xspec = axis_spec(k) if k else {"name": "setting", "lo": 0, "hi": max(1, len(m["settings"]) - 1)}
        pts = [{"x": xs(s), "y": db(s["rms"]), "split": s["split"], "title": f"{s['id']}: RMS {db(s['rms']):.1f} dBFS, {knob_text(s['knobs'])}"}
               for s in done]
        pts += [{"x": xs(s), "y": db(s["peak"]), "split": s["split"], "hollow": True,
                 "title": f"{s['id']}: peak {db(s['peak']):.1f} dBFS"} for s in done]
        charts.append(scatter_svg(pts, xspec, {"name": "dBFS", "lo": lo, "hi": max(hi, lo + 1)}, 300, 230,
                                  f"output level against {k['name'] if k else 'setting'}"))
    names = [k["name"] for k in varying(m)] or [k["name"] for k in m["knobs"]]
    rows = []
    for s in m["settings"]:
        status = "" if s["status"] == "done" else f'<span class="fail">{esc(s["status"])}</span>'
        level = (f'{db(s["rms"]):.1f}', f'{db(s["peak"]):.1f}') if s["status"] == "done" else ("", "")
        warns = "; ".join(s.get("warnings") or [])
        rows.append([esc(s["id"]), esc(s["split"]), *[esc(s["knobs"][n]) for n in names],
                     f'<span class="num">{level[0]}</span>', f'<span class="num">{level[1]}</span>',
                     esc(s.get("latency", "")), status + (f'<span class="warn">{esc(warns)}</span>' if warns else "")])
    tab = table(["id", "split", *names, "RMS dBFS", "peak dBFS", "latency", "status / warnings"], rows)
    if len(rows) > 24:
        tab = f"<details><summary>all {len(rows)} settings</summary>{tab}</details>"
    else:
        tab = f"<h3>Every setting</h3>{tab}"
    return (f'<section id="levels"><h2>Output level per setting</h2><p>RMS level (filled) and peak (hollow) of the amp\'s '
            f'output over the whole DI, in dB relative to full scale (the WAVs are float: a peak above 0 dBFS is kept '
            f'exactly, and would only clip in a fixed-point stage after the plugin).</p>{split_legend()}'
            f'<div class="charts">{"".join(charts)}</div>{tab}</section>')


def problems_section(m: dict, problems: list[str]) -> str:
    items = [f"<li class=\"warn\">plugin check: {esc(w)}</li>" for w in m.get("checks", {}).get("warnings", [])]
    for s in m["settings"]:
        for w in s.get("warnings") or []:
            items.append(f'<li class="warn">setting {esc(s["id"])} ({esc(knob_text(s["knobs"]))}): {esc(w)}</li>')
    failed = [s for s in m["settings"] if s["status"] == "failed"]
    for s in failed:
        tries = "; ".join(s.get("attempts") or [])
        items.append(f'<li class="fail">setting {esc(s["id"])} ({esc(knob_text(s["knobs"]))}) <b>failed</b>: {esc(s.get("error"))}'
                     + (f" (attempts: {esc(tries)})" if tries else "") + "</li>")
    for p in problems:
        items.append(f'<li class="fail">verify: {esc(p)}</li>')
    if failed:
        items.append("<li>Rerun the same capture command to retry the failed settings (the captured ones are kept).</li>")
    body = f"<ul>{''.join(items)}</ul>" if items else "<p class=\"good\">No warnings, no failed settings.</p>"
    return f'<section id="problems"><h2>Warnings and failed settings</h2>{body}</section>'


def summary_section(m: dict, problems: list[str]) -> str:
    sr, n = m["sample_rate"], m["signal"]["num_samples"]
    counts = {sp: sum(1 for s in m["settings"] if s["split"] == sp) for sp in ds.SPLITS}
    done = sum(s["status"] == "done" for s in m["settings"])
    failed = sum(s["status"] == "failed" for s in m["settings"])
    regions = ", ".join(f"{r} {a / sr:.1f}-{b / sr:.1f} s" for r, (a, b) in m["signal"]["regions"].items())
    plug = m["plugin"]
    run = m.get("run") or {}
    checks = m.get("checks") or {}
    rows = [
        ["plugin", esc(plug.get("name")) + f" ({esc(plug.get('kind'))})" + (f"<br><code>{esc(plug['path'])}</code>" if plug.get("path") else "")],
        ["sample rate", f"{sr} Hz"],
        ["DI", f"{esc(m['signal'].get('kind'))}, {n / sr:.1f} s ({esc(regions)})"],
        ["settings", f"{len(m['settings'])}: {counts['train']} training, {counts['val']} validation, {counts['test']} test"],
        ["status", (f"complete, {done} captured" if m.get("complete") else f"<span class=\"fail\">incomplete</span>: {done} captured")
         + (f", <span class=\"fail\">{failed} failed</span>" if failed else "")
         + (f", <span class=\"fail\">{len(problems)} problem(s) found by verify</span>" if problems else "")],
        ["knobs", "<br>".join(esc(f"{k['name']}: " + (" | ".join(map(str, k["choices"])) if k["kind"] == "discrete"
                                                      else f"{k['min']:g}..{k['max']:g} {k.get('unit') or ''}")
                                  + f" (default {k.get('default')})") for k in m["knobs"])],
    ]
    done_peaks = [s["peak"] for s in m["settings"] if s["status"] == "done"]
    if done_peaks:
        hot = sum(p >= 1.0 for p in done_peaks)
        rows.append(["output level", f"loudest peak {db(max(done_peaks)):+.1f} dBFS"
                     + (f"; {hot} setting(s) peak at or above 0 dBFS (kept exactly in the float WAVs)" if hot else "")])
    if checks:
        rows.append(["plugin checks", f"deterministic: {'yes' if checks.get('deterministic') else 'no'}; "
                                      f"fresh = reused instance: {'yes' if checks.get('fresh_equals_reused') else 'no'}; "
                                      f"latency found by the impulse: {checks.get('latency_probe')} samples"])
    if run.get("seconds") is not None:
        rows.append(["last capture run", f"{run.get('captured_this_run')} settings in {run['seconds']:.1f} s"
                     + (f" ({run['x_realtime']:.0f}x real time)" if run.get("x_realtime") else "")
                     + f", {run.get('workers')} worker(s)"])
    return f'<section id="summary"><h2>Summary</h2>{table(["", ""], rows, "kv")}</section>'


def listen_section(root: Path, m: dict, files: ReportFiles, data: dict) -> str:
    sr = int(m["sample_rate"])
    chosen = pick_players(m["settings"])
    if not chosen:
        return '<section id="listen"><h2>Listen</h2><p>No captured setting to play.</p></section>'
    n = min(m["signal"]["num_samples"], int(EXCERPT_S * sr))
    di, _ = ds.read_wav(root / m["signal"]["file"])
    sources, spectra, labels = [], [], []
    hop = max(0.25, n / sr / 40)
    clips = [("di", "DI (dry input)", di[:n], "the guitar signal every setting was fed")]
    for s in chosen:
        try:
            y = ds.load_setting(root, s)[:n]
        except Exception as e:  # a missing or unreadable file: said on the page, the rest still plays
            data.setdefault("skipped", []).append(f"{s['id']}: {e}")
            continue
        clips.append((s["id"], f"{s['id']} ({s['split']})", y, knob_text(s["knobs"])))
    gain = headroom([c[2] for c in clips])
    for i, (tag, label, y, title) in enumerate(clips):
        f = files.add(f"{tag}.flac", flac_bytes(gain * y, sr))
        sources.append({"label": label, "file": f, "title": title})
        spectra.append(spectrum_frames(y, sr, hop))
        labels.append((label, COLOURS[i % len(COLOURS)]))
    chart, spec = spectrum_chart(labels, spectra, sr, hop, always=[])
    data.setdefault("spectra", {})["settings"] = spec
    rows = [[esc(lab), esc(t)] for (_, lab, _, t) in clips]
    return (f'<section id="listen"><h2>Listen</h2><p>The first {n / sr:.1f} s of the DI and of a few settings (the quietest, '
            f'the loudest, one of each split), at their real levels. One transport: pick a source while it plays and it '
            f'carries on from the same position. The spectrum follows the playback.{headroom_note(gain)}</p>'
            f'{player_group("settings", sources, toggle=False, match=False, chart=chart)}'
            f'{table(["source", "setting"], rows)}</section>')


def write_dataset_report(root: Path, log=None, check: bool = True) -> Path:
    """Write ROOT/report.html (and ROOT/report/*.flac) for a dataset, complete or not; `check` runs
    capture's verify and lists its problems on the page. Returns the page's path."""
    root = Path(root)
    m = ds.read_manifest(root)
    problems = ds.verify(root) if check else []
    problems = [p for p in problems if not p.startswith("manifest: capture is not complete") and "not captured (status" not in p]
    files = ReportFiles(root)

    def make_html() -> str:
        data: dict = {"kind": "ampcap-dataset-report", "settings": len(m["settings"])}
        body = (summary_section(m, problems) + problems_section(m, problems) + design_section(m)
                + level_section(m) + listen_section(root, m, files, data))
        sub = (f"{esc(root)} &middot; {esc(m['plugin'].get('name'))} &middot; {len(m['settings'])} settings &middot; "
               f"report written {time.strftime('%Y-%m-%d %H:%M')}")
        return page(f"Capture report: {m['plugin'].get('name')} / {m['sweep'].get('name')}", sub,
                    [("summary", "Summary"), ("problems", "Warnings"), ("design", "Design"), ("levels", "Levels"),
                     ("listen", "Listen")], body, data)

    return files.publish(make_html, log)
