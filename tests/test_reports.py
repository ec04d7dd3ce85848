"""The listening reports as a user meets them: report.html written at the end of a capture and of a
training run, rewritten by `capture report` / `amptrain report`, self-contained and small, and used
in a real headless Chromium (every audio loads, every image decodes, the A/B toggle keeps the
position, the knob slider switches the playing render); screenshots under outputs/report-tests/."""
import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tests.browser import Browser, chromium_path
from tests.conftest import ROOT, error_lines, run_cli

TINY = ["sweep=tiny", "sweep.vary=[gain,bass,channel]", "signal.duration_s=15", "progress=false"]  # 6 settings, 3 s test
QUICK = ["trainer=quick", "trainer.progress=false", "model=lstm8", "trainer.max_epochs=1"]
SHOTS = ROOT / "outputs" / "report-tests"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "tiny"
    p = run_cli("capture", "sweep", *TINY, f"out={out}")
    assert p.returncode == 0, p.stderr
    assert f"report: {out / 'report.html'}" in p.stderr
    return out


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    r = tmp_path_factory.mktemp("runs") / "tiny"
    p = run_cli("amptrain", *QUICK, "dataset=path", f"dataset.path={dataset}", f"run_dir={r}", timeout=600)
    assert p.returncode == 0, p.stderr
    assert f"report: {r / 'report.html'}" in p.stderr
    return r


def local_refs(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"#][^"]*)"', html)


def assert_self_contained(page: Path) -> list[str]:
    """No network reference; every referenced file is in the folder. Returns the references."""
    html = page.read_text()
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "the report fetches something from the network"
    assert "@import" not in html and "url(" not in html
    refs = local_refs(html)
    for ref in refs:
        assert (page.parent / ref).is_file(), ref
    return refs


def folder_bytes(page: Path) -> int:
    return page.stat().st_size + sum(f.stat().st_size for f in (page.parent / "report").rglob("*") if f.is_file())


# --- pure pieces ----------------------------------------------------------------------------------

def test_spectrum_frames_put_a_sine_in_its_band():
    from ampcap.reportkit import band_centres, spectrum_frames

    sr = 48000
    t = np.arange(sr) / sr
    s = spectrum_frames(0.5 * np.sin(2 * np.pi * 1000 * t), sr, 0.25)
    f = band_centres(sr)
    assert len(s["frames"]) == 4 and len(s["avg"]) == len(f)
    peak = f[int(np.argmax(s["avg"]))]
    assert 900 < peak < 1120, peak
    assert max(s["avg"]) - np.median(s["avg"]) > 40  # far above the window's leakage
    quiet = spectrum_frames(0.05 * np.sin(2 * np.pi * 1000 * t), sr, 0.25)
    assert max(s["avg"]) - max(quiet["avg"]) == pytest.approx(20, abs=1)  # 20 dB quieter


def test_flac_keeps_the_signal_to_16_bits():
    import io

    import soundfile as sf

    from ampcap.reportkit import flac_bytes

    y = (0.3 * np.sin(np.arange(48000) * 0.05)).astype(np.float32)
    b = flac_bytes(np.concatenate([y, [1.7, -2.0]]).astype(np.float32), 48000)
    back, sr = sf.read(io.BytesIO(b), dtype="float32")
    assert sr == 48000 and len(back) == 48002
    assert np.max(np.abs(back[:-2] - y)) < 2 / 32768
    assert back[-2] == pytest.approx(1.0, abs=1e-4) and back[-1] == -1.0  # clipped, not wrapped
    assert len(b) < 0.7 * 2 * len(y)  # smaller than a 16-bit WAV


def test_headroom_scales_a_hot_group_alike():
    from ampcap.reportkit import headroom

    assert headroom([np.array([0.5, -0.9]), np.array([0.2])]) == 1.0
    assert headroom([np.array([0.5, -4.9]), np.array([2.0])]) == pytest.approx(0.98 / 4.9)
    assert headroom([np.zeros(0)]) == 1.0


def test_hot_plugin_output_is_played_scaled_not_clipped(dataset, tmp_path):
    """A plugin peaking far above 0 dBFS (kept exactly in the float WAVs): the report's 16-bit files
    are turned down together (levels relative to each other kept) instead of clipping."""
    import soundfile as sf

    from ampcap.dataset import load_setting, read_manifest, write_manifest
    from ampcap.wav import write_wav

    d = tmp_path / "hot"
    shutil.copytree(dataset, d)
    m = read_manifest(d)
    s = next(s for s in m["settings"] if s["id"] == "00001")  # among the players (the quietest)
    y = load_setting(d, s)
    y *= 4.0 / np.max(np.abs(y))   # 12 dB above full scale, whatever the DI's level
    s.update(sha256=write_wav(d / s["file"], y, m["sample_rate"]), peak=float(np.max(np.abs(y))))
    write_manifest(d, m)
    assert run_cli("capture", "report", d).returncode == 0
    html = (d / "report.html").read_text()
    assert "dB down, all of them alike" in html and "kept exactly in the float WAVs" in html
    hot, _ = sf.read(d / "report" / "00001.flac")
    di, _ = sf.read(d / "report" / "di.flac")
    n = len(hot)
    g = 0.98 / float(np.max(np.abs(y[:n])))
    assert np.max(np.abs(hot)) < 0.99 and np.max(np.abs(hot - g * y[:n])) < 2e-4  # scaled, not clipped
    x, _ = sf.read(dataset / "input.wav")
    assert np.max(np.abs(di - g * x[:n])) < 2e-4  # the DI by the same gain


def test_excerpts_fit_the_budget():
    from amptrain.report_html import BUDGET_BYTES, FLAC_BYTES_PER_SAMPLE, MAX_EXCERPT_S, MIN_EXCERPT_S, excerpt_seconds

    assert excerpt_seconds(10, 3.0, 48000) == 3.0                    # short test region: all of it
    assert excerpt_seconds(10, 120.0, 48000) == MAX_EXCERPT_S        # long region, few files: capped
    s = excerpt_seconds(60, 120.0, 48000)                            # many files: shortened to the budget
    assert MIN_EXCERPT_S < s < MAX_EXCERPT_S
    assert 60 * s * 48000 * FLAC_BYTES_PER_SAMPLE == pytest.approx(BUDGET_BYTES, rel=1e-6)
    assert excerpt_seconds(10_000, 120.0, 48000) == MIN_EXCERPT_S


def test_ab_settings_spread_over_esr():
    from amptrain.report_html import pick_settings

    rows = [{"id": f"{i:05d}", "index": i, "esr": e} for i, e in enumerate(np.random.default_rng(0).uniform(0, 1, 30))]
    got = pick_settings(rows, 8)
    assert len(got) == 8 and [r["index"] for r in got] == sorted(r["index"] for r in got)
    esrs = [r["esr"] for r in got]
    assert min(esrs) == min(r["esr"] for r in rows) and max(esrs) == max(r["esr"] for r in rows)
    assert pick_settings(rows[:3], 8) == rows[:3]


@pytest.mark.parametrize("esr, words", [(0.01, "1.0% of the signal's energy: it sits 20 dB below"),
                                        (4.0, "400.0% of the signal's energy: it sits 6 dB above")])
def test_the_explanation_reads_the_runs_numbers(esr, words):
    from amptrain.report_html import explain_section

    m = {"heldout": {"esr": esr, "bands_db": {"low": -3.0, "mid": 0.2, "high": 1.0}}}
    text = " ".join(explain_section(m, "heldout").split())
    assert words in text
    assert "lows -3.0 dB, mids +0.2 dB, highs +1.0 dB" in text and "the largest is in the lows" in text
    assert "the model is quieter there" in text


def test_knob_grid_covers_the_range_and_every_choice():
    from ampcap.knobs import Knob
    from amptrain.report_html import knob_grid

    vals, labels = knob_grid(Knob("gain", 0.0, 10.0, 5.0), 7)
    assert vals[0] == 0.0 and vals[-1] == 10.0 and len(vals) == 7 and labels[1] == "1.67"
    assert knob_grid(Knob("channel", default="lead", choices=("clean", "lead")))[0] == ["clean", "lead"]


# --- the dataset report -------------------------------------------------------------------------

def test_capture_writes_a_self_contained_report(dataset):
    from ampcap.dataset import read_manifest

    page = dataset / "report.html"
    refs = assert_self_contained(page)
    html = page.read_text()
    m = read_manifest(dataset)
    for s in m["settings"]:
        assert f"<td>{s['id']}</td>" in html  # every setting in the level table
    # a scatter per pair of the 3 varying knobs: gain x bass, gain x channel, bass x channel
    for pair in ("gain \u00d7 bass", "gain \u00d7 channel", "bass \u00d7 channel"):
        assert pair in html
    assert "test (held-out)" in html and "Fixed at every setting: mid=5.0, treble=5.0" in html
    audio = [r for r in refs if r.endswith(".flac")]
    assert len(audio) == 6 and "report/di.flac" in audio  # the DI and 5 settings
    assert "No warnings, no failed settings." in html
    assert folder_bytes(page) < 5e6


def test_capture_report_lists_failed_settings_warnings_and_damage(dataset, tmp_path):
    from ampcap.dataset import read_manifest, write_manifest

    d = tmp_path / "ds"
    shutil.copytree(dataset, d)
    m = read_manifest(d)
    m["settings"][2].update(status="failed", error="plugin process crashed (SIGSEGV)",
                            attempts=["crashed (SIGSEGV)", "crashed (SIGSEGV)"])
    m["settings"][1]["warnings"] = ["clipping: output peak 1.020 >= 1.0"]
    m["complete"] = False
    write_manifest(d, m)
    f = d / "settings" / "00003.wav"
    b = bytearray(f.read_bytes())
    b[-9] ^= 0x55
    f.write_bytes(bytes(b))
    (d / "report" / "stale.flac").write_bytes(b"old")
    p = run_cli("capture", "report", d)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"ok: {d / 'report.html'}"
    html = (d / "report.html").read_text()
    assert "setting 00002" in html and "plugin process crashed (SIGSEGV)" in html and "<b>failed</b>" in html
    assert "clipping: output peak 1.020" in html
    assert "verify: setting 00003: settings/00003.wav checksum mismatch" in html
    assert "incomplete" in html and "Rerun the same capture command" in html
    assert not (d / "report" / "stale.flac").exists()  # the report folder is replaced, not added to
    assert not list(d.glob(".report*"))
    assert_self_contained(d / "report.html")


@pytest.mark.parametrize("make, expect", [
    (lambda t: t / "missing", "no such dataset directory"),
    (lambda t: (t / "empty").mkdir() or t / "empty", "no manifest.json"),
])
def test_capture_report_bad_input_is_one_line(tmp_path, make, expect):
    target = make(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    p = run_cli("capture", "report", target)
    lines = error_lines(p)
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and expect in lines[0], p.stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_capture_report_needs_one_directory(dataset):
    p = run_cli("capture", "report")
    assert p.returncode == 2 and error_lines(p) == ["error: report: give exactly one dataset directory"]


# --- the run report -------------------------------------------------------------------------------

@pytest.mark.slow
def test_training_writes_the_run_report(run):
    page = run / "report.html"
    refs = assert_self_contained(page)
    html = page.read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    knobs = metrics["knobs"]
    assert knobs == ["gain", "bass", "channel"]
    heldout = metrics["heldout"]["per_setting"]
    audio = [r for r in refs if r.endswith(".flac")]
    ab = [r for r in audio if r.startswith("report/ab/")]
    assert len(ab) == 3 * len(heldout)             # plugin, model, difference per held-out setting
    assert len([r for r in audio if r.startswith("report/knobs/")]) == 2 * 7 + 2   # 2 ranges x 7, both channels
    assert f"{metrics['heldout']['esr']:.4f}" in html and f"{heldout[0]['esr']:.4f}" in html
    for img in ("loss.png", "esr_vs_knob.png", "spectrum.png", "waveform.png"):
        assert f'src="plots/{img}"' in html
    assert "What the numbers mean" in html and "fixed knobs" in html
    assert folder_bytes(page) < 20e6
    # the difference file is plugin minus model: the target and the model's render are in the report
    import soundfile as sf

    tgt, _ = sf.read(run / ab[0])
    pred, _ = sf.read(run / ab[1])
    diff, _ = sf.read(run / ab[2])
    assert np.max(np.abs((tgt - pred) - diff)) < 4 / 32768
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    assert set(data["spectra"]) >= {f"knob_{k}" for k in knobs}


@pytest.mark.slow
def test_report_command_rewrites_it_and_refuses_bad_input(run, tmp_path):
    r = tmp_path / "run"
    shutil.copytree(run, r)
    (r / "report.html").unlink()
    shutil.rmtree(r / "report")
    p = run_cli("amptrain", "report", f"run={r}", "grid=3", timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"ok: {r / 'report.html'}"
    assert len(list((r / "report" / "knobs").glob("*.flac"))) == 2 * 3 + 2
    assert_self_contained(r / "report.html")
    # bad input: one line, exit 2, nothing written
    (r / "metrics.json").rename(r / "metrics.moved")
    cases = [([f"run={r}"], "no metrics.json: not a finished training run"),
             ([f"run={tmp_path / 'nope'}"], "no such model file or run directory"),
             ([f"run={run}", "grid=1"], "grid=1: give 2..21"),
             ([f"run={run}", "knobs.gain=3"], "knobs.NAME is not an option here"),
             ([f"run={run}", f"dataset={tmp_path / 'nods'}"], "no such dataset directory"),
             (["grid=3"], "run=... is required")]
    for args, expect in cases:
        stamp = {f: f.stat().st_mtime_ns for f in list(r.rglob("*")) + list(run.rglob("*"))}
        p = run_cli("amptrain", "report", *args)
        lines = error_lines(p)
        assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and expect in lines[0], (args, p.stderr)
        assert {f: f.stat().st_mtime_ns for f in list(r.rglob("*")) + list(run.rglob("*"))} == stamp, args


@pytest.mark.slow
def test_excerpts_shrink_when_the_encoded_audio_is_over_budget(run, tmp_path, monkeypatch):
    """The size estimate is only an estimate: when the FLAC files come out bigger than the budget,
    the excerpts are cut shorter and encoded again."""
    import amptrain.report_html as rh

    r = tmp_path / "run"
    shutil.copytree(run, r)
    full = json.loads(re.search(r'id="report-data">(.*?)</script>', (r / "report.html").read_text(), re.S).group(1))
    assert full["excerpt_s"] == pytest.approx(3.0, abs=0.01)  # the whole test region fits the real budget
    budget = 0.6 * (folder_bytes(r / "report.html") - (r / "report.html").stat().st_size)
    monkeypatch.setattr(rh, "BUDGET_BYTES", budget)
    monkeypatch.setattr(rh, "FLAC_BYTES_PER_SAMPLE", 0.01)  # a far too optimistic estimate
    page = rh.write_run_report(r)
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', page.read_text(), re.S).group(1))
    audio = folder_bytes(page) - page.stat().st_size
    assert data["excerpt_s"] < 2.5 and (audio <= 1.2 * budget or data["excerpt_s"] == rh.MIN_EXCERPT_S), (data["excerpt_s"], audio)
    assert_self_contained(page)


# --- in a real browser -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    if exe is None:
        why = "chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    with Browser(exe) as b:
        yield b


ALL_AUDIO_LOADED = """(() => { const a = [...document.querySelectorAll('audio')];
  return a.length > 0 && a.every(e => e.readyState >= 1 && e.duration > 0) && a.length; })()"""
AUDIO_STATE = """(sel => [...document.querySelectorAll(sel + ' audio')].map(a =>
  ({src: a.getAttribute('src'), t: a.currentTime, paused: a.paused})))"""


def images_decode(b: Browser) -> list:
    return b.evaluate("""Promise.all([...document.images].map(i => i.decode().then(() => [i.getAttribute('src'),
        i.naturalWidth, i.naturalHeight], () => [i.getAttribute('src'), 0, 0])))""", await_promise=True)


def playing(b: Browser, sel: str) -> list[dict]:
    return [a for a in b.evaluate(f"{AUDIO_STATE}({json.dumps(sel)})") if not a["paused"]]


def wait_playing_past(b: Browser, sel: str, t: float) -> dict:
    b.wait_for(f"{AUDIO_STATE}({json.dumps(sel)}).some(a => !a.paused && a.t > {t})", 20, f"{sel} playing past {t} s")
    (a,) = playing(b, sel)
    return a


def test_dataset_report_in_chromium(browser, dataset):
    b = browser
    b.open(dataset / "report.html")
    assert b.wait_for(ALL_AUDIO_LOADED, 30, "every audio element loaded") == 6
    assert b.evaluate("document.images.length") == 0  # charts are inline SVG
    assert b.evaluate("document.querySelectorAll('svg.chart').length") == 3 + 3  # design pairs, level per knob
    g = '.group[data-group="settings"]'
    b.click(f"{g} button.play")
    a = wait_playing_past(b, g, 0.4)
    b.click(f'{g} button[data-choose="3"]')
    now = playing(b, g)
    assert len(now) == 1 and now[0]["src"] != a["src"] and now[0]["t"] >= a["t"] - 0.01, (a, now)
    assert b.evaluate(f"document.querySelector('{g} svg.spectrum polyline.line[data-series=\"3\"]').getAttribute('points')")
    b.click(f"{g} button.play")
    assert playing(b, g) == []
    b.screenshot(SHOTS / "dataset_report.png")
    assert not b.errors, b.errors


@pytest.mark.slow
def test_run_report_in_chromium(browser, run):
    b = browser
    b.open(run / "report.html")
    n = b.wait_for(ALL_AUDIO_LOADED, 60, "every audio element loaded")
    assert n == len(list((run / "report").rglob("*.flac")))
    imgs = images_decode(b)
    assert len(imgs) == 4 and all(w > 100 and h > 100 for _, w, h in imgs), imgs
    # A/B: one transport; the toggle switches plugin -> model at the same position, still playing
    g = "#ab .group"
    b.click(f"{g} button.play")
    a = wait_playing_past(b, g, 0.5)
    assert a["src"].endswith("_plugin.flac")
    b.click(f"{g} button.toggle")
    (m,) = playing(b, g)
    assert m["src"].endswith("_model.flac") and a["t"] - 0.01 <= m["t"] < a["t"] + 0.3, (a, m)
    b.click(f'{g} button[data-choose="2"]')
    (d,) = playing(b, g)
    assert d["src"].endswith("_difference.flac") and d["t"] >= m["t"] - 0.01, (m, d)
    vols = b.evaluate(f"[...document.querySelectorAll('{g} audio')].map(a => a.volume)")
    assert max(vols[:2]) == 1.0 and all(0 < v <= 1 for v in vols)  # level-matched: the louder one turned down
    # knob explorer: the slider moves while playing, the render at the nearest grid value takes over
    k = '.group[data-group="knob_gain"]'
    b.click(f"{k} button.play")
    assert playing(b, g) == []  # one report plays one thing at a time
    before = wait_playing_past(b, k, 0.3)
    assert before["src"] == "report/knobs/gain_3.flac"  # the default, 5
    b.key(f"{k} input.knob", "ArrowRight", "ArrowRight", 39, times=30)  # 5 -> 8: the render at 8.33
    time.sleep(0.2)
    (after,) = playing(b, k)
    assert after["src"] == "report/knobs/gain_5.flac" and after["t"] >= before["t"], (before, after)
    assert "8.33" in b.evaluate(f"document.querySelector('{k} .readout').textContent")
    shape0 = b.evaluate(f"document.querySelector('{k} polyline.line[data-series=\"5\"]').getAttribute('points')")
    time.sleep(0.6)
    shape1 = b.evaluate(f"document.querySelector('{k} polyline.line[data-series=\"5\"]').getAttribute('points')")
    assert shape0 and shape1 and shape0 != shape1  # the spectrum follows the playback
    b.click(f"{k} button.play")
    b.evaluate("window.scrollTo(0, 0)")
    b.screenshot(SHOTS / "run_report.png")
    assert not b.errors, b.errors
