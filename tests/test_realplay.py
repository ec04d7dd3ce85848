"""Real playing (capture/realplay.py): five styles of guitar playing written as MIDI, played by FluidSynth on
the FluidR3 GM guitars, cached; rendered through the captured amp exactly as a capture renders; a training run's
metrics.json holds their ESR at the held-out settings beside the test signal's."""
import json
import shutil
import struct

import numpy as np
import pytest

from ampcap.dataset import read_manifest
from tests.conftest import run_cli

SR = 48000


def test_the_midi_written_is_a_standard_midi_file():
    from capture.realplay import midi_file, note

    ev = []
    note(ev, 0.0, 0.5, 60, 100)
    note(ev, 0.25, 0.5, 64, 80)
    data = midi_file(ev)
    assert data[:4] == b"MThd" and struct.unpack(">IHHH", data[4:14]) == (6, 0, 1, 480)
    assert data[14:18] == b"MTrk" and struct.unpack(">I", data[18:22])[0] == len(data) - 22
    track = data[22:]
    assert track.endswith(b"\x00\xff\x2f\x00")
    # note on 60 at 0, note on 64 at 240 ticks (0.25 s at 960 ticks a second), offs at 480 and 720: each 240 after
    # the one before, a variable-length quantity of two bytes (0x81 0x70)
    assert track[7:] == (b"\x00\x90\x3c\x64" + b"\x81\x70\x90\x40\x50" + b"\x81\x70\x80\x3c\x00"
                         + b"\x81\x70\x80\x40\x00" + b"\x00\xff\x2f\x00")


def test_every_style_has_notes_in_guitar_range_and_bends_where_it_should():
    from capture.realplay import STYLES, style_events

    for style in STYLES:
        ev = style_events(style)
        ons = [m for _, m in ev if m[0] & 0xF0 == 0x90]
        assert len(ons) >= 12, style
        assert all(38 <= m[1] <= 88 for m in ons), style
        assert max(t for t, _ in ev) < 8.0
        bends = [m for _, m in ev if m[0] & 0xF0 == 0xE0]
        assert bool(bends) == (style == "lead_bends"), style
    assert style_events("strummed_chords") == style_events("strummed_chords")  # seeded


@pytest.fixture(scope="module")
def clips():
    from capture.realplay import PACKAGES, clips

    if not shutil.which("fluidsynth") and not shutil.which("apt-get"):
        pytest.skip(f"needs {' '.join(PACKAGES)}")
    return clips(SR)


def test_clips_are_di_like_mono_at_their_levels_and_differ_from_our_generator(clips):
    from capture.realplay import CLIP_S, STYLES

    assert list(clips) == list(STYLES)
    for style, x in clips.items():
        assert x.dtype == np.float32 and x.shape == (int(CLIP_S * SR),)
        assert np.max(np.abs(x)) == pytest.approx(STYLES[style][1], rel=1e-5)
        assert abs(float(np.mean(x))) < 1e-4
        active = np.mean(np.abs(x) > 0.01 * np.max(np.abs(x)))
        assert active > 0.5, style  # playing most of the clip, not silence
    # the quiet style is >= 15 dB below the strummed one
    rms = {k: np.sqrt(np.mean(v.astype(np.float64) ** 2)) for k, v in clips.items()}
    assert 20 * np.log10(rms["strummed_chords"] / rms["quiet_fingerpicking"]) > 12


def test_clips_are_cached(clips):
    from capture.realplay import cache_dir
    from capture.realplay import clips as build

    exe = shutil.which("fluidsynth")
    d = cache_dir(SR, exe)
    stamps = {f.name: f.stat().st_mtime_ns for f in d.glob("*.wav")}
    again = build(SR)
    assert {f.name: f.stat().st_mtime_ns for f in d.glob("*.wav")} == stamps
    assert all(np.array_equal(again[k], clips[k]) for k in clips)


def test_the_development_set_is_other_playing_of_the_same_styles(clips):
    """Benchmarks choose between variants on DEV_SEED's clips, never on the evaluation set's."""
    from capture.realplay import DEV_SEED, STYLES, style_events
    from capture.realplay import clips as build

    for style in STYLES:
        assert style_events(style, DEV_SEED) != style_events(style)
    dev = build(SR, seed=DEV_SEED)
    assert list(dev) == list(STYLES)
    assert all(not np.allclose(dev[k], clips[k]) and np.max(np.abs(dev[k])) == pytest.approx(STYLES[k][1], rel=1e-5)
               for k in STYLES)


def test_through_the_amp_is_what_the_capture_recorded(small_dataset):
    """The real-playing targets come from the amp the way the capture made the dataset: the dataset's own DI
    through through_amp at a setting equals that setting's recorded audio."""
    from ampcap.wav import read_wav
    from capture.realplay import through_amp

    m = read_manifest(small_dataset)
    x = read_wav(small_dataset / m["signal"]["file"])[0]
    s = m["settings"][2]
    y = through_amp(m["config"]["plugin"], [s], x)[0]
    ref = read_wav(small_dataset / s["file"])[0]
    assert np.max(np.abs(y - ref)) < 1e-6


@pytest.mark.slow
def test_a_training_run_reports_real_playing_beside_the_test_signal(small_dataset, clips, tmp_path):
    p = run_cli("amptrain", "trainer=quick", "trainer.progress=false", "model=lstm8", "trainer.max_epochs=1",
                "trainer.renders=0", "dataset=path", f"dataset.path={small_dataset}", f"run_dir={tmp_path / 'run'}",
                cwd=tmp_path, timeout=600)
    assert p.returncode == 0, p.stderr
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    rp = m["real_playing"]
    assert rp["n_settings"] == m["heldout"]["n_settings"] and set(rp["per_style"]) == set(clips)
    assert [r["id"] for r in rp["per_setting"]] == [r["id"] for r in m["heldout"]["per_setting"]]
    assert 0 < rp["esr"] < 10 and set(rp["bands_db"]) == {"low", "mid", "high"}
    assert "real playing" in p.stderr and "by style" in p.stderr
