"""Pieces shared by the listening reports (capture/report.py for datasets, amptrain/report_html.py for
runs): one self-contained HTML page (its CSS and plain JavaScript, report_assets/, inlined; inline SVG charts), audio
excerpts as 16-bit FLAC files beside it, spectra for the charts, and an atomic swap of the files."""
from __future__ import annotations

import functools
import html
import io
import json
import math
import os
import shutil
from importlib import resources
from pathlib import Path

import numpy as np

from .files import atomic_write_bytes

REPORT_HTML = "report.html"
AUDIO_DIR = "report"            # the page's audio files live in <folder>/report/
SPLIT_STYLE = {"train": ("#2f6db5", "circle", "training"), "val": ("#e08a1e", "triangle", "validation"),
               "test": ("#c62f3a", "square", "test (held-out)")}
SPEC_FMIN, SPEC_FMAX, SPEC_BANDS, SPEC_NFFT = 40.0, 16000.0, 48, 4096


def esc(x) -> str:
    return html.escape(str(x), quote=True)


def knob_text(knobs: dict) -> str:
    """{gain: 4.375, channel: 'lead'} -> 'gain=4.375, channel=lead'."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{k}={v}"
                     for k, v in knobs.items()) or "fixed setting"


def db(x: float, floor: float = -200.0) -> float:
    return max(floor, 20 * math.log10(x)) if x > 0 else floor


def rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0


def headroom(signals) -> float:
    """One gain for a group of signals that brings their loudest peak to just under full scale when
    it is above (a hot plugin's float output would clip in a 16-bit file); 1.0 otherwise. The same
    gain for the whole group keeps their levels relative to each other."""
    peak = max((float(np.max(np.abs(y))) for y in signals if len(y)), default=0.0)
    return 0.98 / peak if peak > 0.98 else 1.0


def headroom_note(gain: float) -> str:
    return (f' <span class="hint">(played {-db(gain):.1f} dB down, all of them alike: the output peaks above '
            f'0 dBFS, which a 16-bit file cannot hold)</span>') if gain < 1.0 else ""


# --- audio ---------------------------------------------------------------------------------------

def flac_bytes(y: np.ndarray, sr: int) -> bytes:
    """Mono 16-bit FLAC of y (clipped to [-1, 1]): lossless at the precision a listener hears
    (the -96 dB floor is far below any model error), about half the size of a 16-bit WAV, and
    played by every current browser. Lossy codecs would add their own error to the A/B."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(y, np.float32), -1, 1), int(sr), format="FLAC", subtype="PCM_16")
    return buf.getvalue()


# --- spectra for the charts ----------------------------------------------------------------------

def band_centres(sr: int) -> np.ndarray:
    return np.geomspace(SPEC_FMIN, min(SPEC_FMAX, 0.45 * sr), SPEC_BANDS)


def spectrum_frames(y: np.ndarray, sr: int, hop_s: float) -> dict:
    """Short-time spectra of y every hop_s seconds (frames of 4096 samples, Hann window) and the
    average over the whole signal, in dB at log-spaced band centres (integers: they only draw a chart)."""
    y = np.asarray(y, np.float64)
    n = SPEC_NFFT
    w = np.hanning(n)
    f = np.fft.rfftfreq(n, 1 / sr)
    centres = band_centres(sr)
    edges = np.sqrt(centres[:-1] * centres[1:])
    lo = np.concatenate([[centres[0] / 1.1], edges])
    hi = np.concatenate([edges, [centres[-1] * 1.1]])
    groups = []
    for a, b, c in zip(lo, hi, centres):
        idx = np.nonzero((f >= a) & (f < b))[0]
        groups.append(idx if len(idx) else np.array([int(np.argmin(np.abs(f - c)))]))
    hop = max(1, int(round(hop_s * sr)))
    starts = list(range(0, max(1, len(y) - n // 2), hop)) or [0]
    frames, total = [], np.zeros(len(f))
    for s in starts:
        seg = y[s: s + n]
        if len(seg) < n:
            seg = np.pad(seg, (0, n - len(seg)))
        p = np.abs(np.fft.rfft(seg * w)) ** 2 / np.sum(w ** 2)
        total += p
        frames.append([int(round(10 * math.log10(float(np.mean(p[g])) + 1e-12))) for g in groups])
    avg = total / len(starts)
    return {"frames": frames, "avg": [int(round(10 * math.log10(float(np.mean(avg[g])) + 1e-12))) for g in groups]}


def spectrum_chart(series_labels: list[tuple[str, str]], spectra: list[dict], sr: int, hop_s: float,
                   always: list[int] = (), width: int = 620, height: int = 230) -> tuple[str, dict]:
    """An inline SVG whose lines the page's script moves with playback: one line per series
    (label, colour), plus the active series' average (dashed). Returns (svg, data for the script)."""
    freqs = band_centres(sr)
    vals = [v for s in spectra for fr in s["frames"] for v in fr] + [v for s in spectra for v in s["avg"]]
    top = 10 * math.ceil((max(vals) if vals else 0) / 10 + 0.01)
    bottom = max(top - 90, 10 * math.floor((min(vals) if vals else -100) / 10))
    x0, x1, y0, y1 = 44, width - 10, 10, height - 26
    lf0, lf1 = math.log10(freqs[0]), math.log10(freqs[-1])
    X = lambda fr: x0 + (math.log10(fr) - lf0) / (lf1 - lf0) * (x1 - x0)  # noqa: E731
    Y = lambda d: y0 + (top - d) / (top - bottom) * (y1 - y0)  # noqa: E731
    parts = [f'<svg class="spectrum" viewBox="0 0 {width} {height}" role="img" aria-label="spectrum">',
             f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" class="plotbg"/>']
    for fr in (50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if freqs[0] <= fr <= freqs[-1]:
            x = X(fr)
            parts.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}" class="grid"/>'
                         f'<text x="{x:.1f}" y="{height - 10}" class="tick" text-anchor="middle">'
                         f'{fr // 1000 if fr >= 1000 else fr}{"k" if fr >= 1000 else ""}</text>')
    for d in range(int(bottom), int(top) + 1, 10 if top - bottom <= 60 else 20):
        y = Y(d)
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{x0 - 4}" y="{y + 4:.1f}" class="tick" text-anchor="end">{d}</text>')
    parts.append(f'<text x="{x1}" y="{height - 10}" class="tick" text-anchor="end">Hz</text>'
                 f'<text x="{x0 + 4}" y="{y0 + 12}" class="tick">dB</text>')
    parts.append('<polyline class="avg" points=""/>')
    for i, (label, colour) in enumerate(series_labels):
        parts.append(f'<polyline class="line" data-series="{i}" stroke="{colour}" points=""/>')
    parts.append("</svg>")
    legend = "".join(f'<span class="key" data-series="{i}"><i style="background:{c}"></i>{esc(label)}</span>'
                     for i, (label, c) in enumerate(series_labels))
    data = {"xs": [round(X(fr), 1) for fr in freqs], "y0": y0, "y1": y1, "top": top, "bottom": bottom,
            "hop": hop_s, "always": list(always), "series": spectra}
    return "".join(parts) + f'<div class="legend">{legend} <span class="hint">dashed: average over the excerpt</span></div>', data


# --- the A/B transport ---------------------------------------------------------------------------

def player_group(gid: str, sources: list[dict], *, toggle: bool = True, match: bool = True,
                 slider: dict | None = None, chart: str = "", choose: bool = True) -> str:
    """One transport (play, seek, time) over several sources of equal length; buttons switch the
    source at the same playback position. sources: {label, file, gain (volume for level match), title}."""
    audio = "".join(f'<audio preload="auto" src="{esc(s["file"])}" data-gain="{s.get("gain", 1.0):.4f}" '
                    f'data-label="{esc(s["label"])}"></audio>' for s in sources)
    buttons = "".join(f'<button type="button" class="src src{i}" data-choose="{i}" title="{esc(s.get("title", ""))}">'
                      f'{esc(s["label"])}</button>' for i, s in enumerate(sources)) if choose else ""
    extra = ""
    if toggle and len(sources) > 1:
        extra += '<button type="button" class="toggle" title="switch A and B at the same position (key T)">A &#8644; B</button>'
    if match:
        extra += '<label class="matchl"><input type="checkbox" class="match" checked> level-matched</label>'
    knob = ""
    values = ""
    if slider:
        values = (f' data-values="{esc(json.dumps(slider["values"]))}" data-labels="{esc(json.dumps(slider["labels"]))}"'
                  + (' data-discrete="1"' if slider.get("discrete") else ""))
        span = (slider["max"] - slider["min"]) or 1
        ticks = "".join(f'<span style="left:calc(8px + {(v - slider["min"]) / span:.4f} * (100% - 16px))">{esc(lab)}</span>'
                        for v, lab in zip(slider["values"], slider["labels"]))
        knob = (f'<div class="knobrow"><span class="kname">{esc(slider["name"])}</span><div class="kslider">'
                f'<input type="range" class="knob" aria-label="{esc(slider["name"])}" min="{slider["min"]}" max="{slider["max"]}" '
                f'step="{slider["step"]}" value="{slider["value"]}"><div class="ticks">{ticks}</div></div>'
                f'<span class="readout"></span></div>')
    return (f'<div class="group" data-group="{esc(gid)}"{values}>'
            f'<div class="transport"><button type="button" class="play">&#9654; Play</button>'
            f'<input type="range" class="seek" min="0" max="1000" value="0" aria-label="position">'
            f'<span class="time">0:00.0</span></div>'
            f'{knob}<div class="choices">{buttons}{extra}</div>{audio}{chart}</div>')


# --- small SVG charts ----------------------------------------------------------------------------

def _marker(shape: str, x: float, y: float, r: float, colour: str, title: str, hollow: bool = False) -> str:
    fill = "none" if hollow else colour
    t = f"<title>{esc(title)}</title>"
    if shape == "square":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" fill="{fill}" stroke="{colour}">{t}</rect>'
    if shape == "triangle":
        pts = f"{x:.1f},{y - 1.2 * r:.1f} {x - 1.1 * r:.1f},{y + 0.8 * r:.1f} {x + 1.1 * r:.1f},{y + 0.8 * r:.1f}"
        return f'<polygon points="{pts}" fill="{fill}" stroke="{colour}">{t}</polygon>'
    if shape == "cross":
        return (f'<g stroke="{colour}" stroke-width="2">{t}<line x1="{x - r:.1f}" y1="{y - r:.1f}" x2="{x + r:.1f}" y2="{y + r:.1f}"/>'
                f'<line x1="{x - r:.1f}" y1="{y + r:.1f}" x2="{x + r:.1f}" y2="{y - r:.1f}"/></g>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}" stroke="{colour}">{t}</circle>'


class Axis:
    """A chart axis: continuous (lo..hi) or categorical (choices), mapped onto pixels a..b."""

    def __init__(self, name: str, a: float, b: float, lo=None, hi=None, choices=None, log: bool = False):
        self.name, self.a, self.b, self.choices, self.log = name, a, b, list(choices or []), log
        if not self.choices:
            lo, hi = float(lo), float(hi)
            if log:
                lo, hi = math.log10(lo), math.log10(hi)
            if hi <= lo:
                lo, hi = lo - 1, hi + 1
            pad = 0.04 * (hi - lo)
            self.lo, self.hi = lo - pad, hi + pad

    def __call__(self, v) -> float:
        if self.choices:
            i = self.choices.index(v) if v in self.choices else 0
            return self.a + (i + 0.5) / len(self.choices) * (self.b - self.a)
        v = math.log10(v) if self.log else float(v)
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self) -> list[tuple[float, str]]:
        if self.choices:
            return [(self(c), str(c)) for c in self.choices]
        lo, hi = self.lo, self.hi
        step = 10 ** math.floor(math.log10((hi - lo) / 3 or 1))
        for m in (1, 2, 5, 10):
            if (hi - lo) / (m * step) <= 5:
                step *= m
                break
        out, v = [], math.ceil(lo / step) * step
        while v <= hi + 1e-9:
            lab = f"{10 ** v:g}" if self.log else f"{v:g}"
            out.append((self.a + (v - lo) / (hi - lo) * (self.b - self.a), lab))
            v += step
        return out


def scatter_svg(points: list[dict], xa_spec: dict, ya_spec: dict, width: int = 260, height: int = 230,
                title: str = "") -> str:
    """Points {x, y, split, title, failed?, hollow?} on two axes (each {name, lo, hi} or {name, choices}),
    train/val/test by colour and shape, failed settings as black crosses."""
    x0, x1, y0, y1 = 46, width - 8, 22 if title else 8, height - 34
    xa = Axis(xa_spec["name"], x0, x1, xa_spec.get("lo"), xa_spec.get("hi"), xa_spec.get("choices"), xa_spec.get("log", False))
    ya = Axis(ya_spec["name"], y1, y0, ya_spec.get("lo"), ya_spec.get("hi"), ya_spec.get("choices"), ya_spec.get("log", False))
    p = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
         f'aria-label="{esc(title or xa.name + " against " + ya.name)}">']
    if title:
        p.append(f'<text x="{width / 2}" y="14" class="ctitle" text-anchor="middle">{esc(title)}</text>')
    p.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" class="plotbg"/>')
    for x, lab in xa.ticks():
        p.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}" class="grid"/>'
                 f'<text x="{x:.1f}" y="{y1 + 13}" class="tick" text-anchor="middle">{esc(lab)}</text>')
    for y, lab in ya.ticks():
        p.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" class="grid"/>'
                 f'<text x="{x0 - 4}" y="{y + 4:.1f}" class="tick" text-anchor="end">{esc(lab)}</text>')
    p.append(f'<text x="{(x0 + x1) / 2}" y="{height - 4}" class="axis" text-anchor="middle">{esc(xa.name)}</text>'
             f'<text x="11" y="{(y0 + y1) / 2}" class="axis" text-anchor="middle" '
             f'transform="rotate(-90 11 {(y0 + y1) / 2})">{esc(ya.name)}</text>')
    for i, pt in enumerate(points):
        jx = jy = 0.0
        if xa.choices:  # spread the points of one category so they do not hide each other
            jx = ((i * 0.618) % 1 - 0.5) * 0.5 * (x1 - x0) / len(xa.choices)
        if ya.choices:
            jy = ((i * 0.382) % 1 - 0.5) * 0.5 * (y1 - y0) / len(ya.choices)
        colour, shape, _ = SPLIT_STYLE.get(pt.get("split"), ("#555", "circle", ""))
        if pt.get("failed"):
            colour, shape = "#111", "cross"
        p.append(_marker(shape, xa(pt["x"]) + jx, ya(pt["y"]) + jy, 4.2, colour, pt.get("title", ""), pt.get("hollow", False)))
    p.append("</svg>")
    return "".join(p)


def split_legend(failed: bool = False) -> str:
    items = []
    for split, (colour, shape, label) in SPLIT_STYLE.items():
        items.append(f'<span class="key"><svg width="12" height="12" viewBox="0 0 12 12">{_marker(shape, 6, 6, 4, colour, "")}</svg>{esc(label)}</span>')
    if failed:
        items.append(f'<span class="key"><svg width="12" height="12" viewBox="0 0 12 12">{_marker("cross", 6, 6, 4, "#111", "")}</svg>failed</span>')
    return f'<div class="legend">{"".join(items)}</div>'


def table(headers: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    head = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}">{head}<tbody>{body}</tbody></table>'


# --- the page and its files ----------------------------------------------------------------------

@functools.cache
def asset(name: str) -> str:
    """The report page's stylesheet or script (package data: ampcap/report_assets/), inlined into every page."""
    return (resources.files("ampcap") / "report_assets" / name).read_text(encoding="utf-8")


def page(title: str, subtitle: str, nav: list[tuple[str, str]], body: str, data: dict) -> str:
    links = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in nav)
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f'<style>{asset("report.css")}</style></head><body><header><h1>{esc(title)}</h1><p class="sub">{subtitle}</p>'
            f'<nav>{links}</nav></header><main>{body}</main>'
            f'<script type="application/json" id="report-data">{blob}</script><script>{asset("report.js")}</script></body></html>\n')


class ReportFiles:
    """Audio files of a report staged in <folder>/.report.new/, then swapped in for <folder>/report/
    and the page written, each step atomic: a kill leaves the old report or the new one."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.stage = self.folder / f".{AUDIO_DIR}.new"
        shutil.rmtree(self.stage, ignore_errors=True)
        self.stage.mkdir(parents=True)
        self.sizes: dict[str, int] = {}

    def add(self, rel: str, data: bytes) -> str:
        """Stage a file at report/<rel>; returns its path relative to the page."""
        atomic_write_bytes(self.stage / rel, data)
        self.sizes[rel] = len(data)
        return f"{AUDIO_DIR}/{rel}"

    def clear(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)
        self.stage.mkdir(parents=True)
        self.sizes.clear()

    @property
    def total(self) -> int:
        return sum(self.sizes.values())

    def commit(self, page_html: str) -> Path:
        final, old = self.folder / AUDIO_DIR, self.folder / f".{AUDIO_DIR}.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(self.stage, final)
        shutil.rmtree(old, ignore_errors=True)
        out = self.folder / REPORT_HTML
        atomic_write_bytes(out, page_html.encode())
        return out

    def abandon(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)

    def publish(self, make_html, log=None) -> Path:
        """Build the page with `make_html()` (which stages its files here), then commit it; on any
        failure the staged files go and the old report stays. Logs the page and its size."""
        try:
            out = self.commit(make_html())
        except BaseException:
            self.abandon()
            raise
        if log:
            log(f"report: {out} ({(out.stat().st_size + self.total) / 1e6:.1f} MB with its audio)")
        return out

