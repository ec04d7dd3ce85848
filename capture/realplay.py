"""Real playing: guitar DI clips that our signal generator did not make, for an evaluation that no training
or model choice sees. Five styles of playing are written here as MIDI (seeded), played by FluidSynth on the
FluidR3 GM soundfont's clean and muted electric guitars (Debian packages fluidsynth and fluid-soundfont-gm;
the soundfont is MIT-licensed), without reverb or chorus, mixed to mono at the amp's rate; built once and
cached (`python -m capture realplay`). Then rendered through the amp itself at a model's held-out settings,
they are the "real playing" figure beside the test signal's."""
from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ampcap.errors import AmpcapError
from ampcap.files import atomic_write_bytes
from ampcap.wav import read_wav, wav_bytes

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
PACKAGES = ("fluidsynth", "fluid-soundfont-gm")
CLIP_S = 8.0
CLEAN, MUTED = 27, 28                      # GM programs: Electric Guitar (clean), Electric Guitar (muted)
TICKS_PER_S = 960                          # 480 ticks a quarter at 120 bpm
# style -> (program of its notes, the clip's peak: DI levels from a quiet touch to hard strumming)
STYLES = {"clean_arpeggios": (CLEAN, 0.45), "strummed_chords": (CLEAN, 0.7), "palm_muted_riff": (MUTED, 0.6),
          "lead_bends": (CLEAN, 0.55), "quiet_fingerpicking": (CLEAN, 0.1)}
CHORDS = [[45, 52, 57, 60, 64], [48, 52, 55, 60, 64], [43, 47, 50, 55, 59, 67], [50, 57, 62, 66],
          [40, 47, 52, 55, 59, 64], [41, 48, 53, 57, 60, 65]]   # Am, C, G, D, Em, F voicings (MIDI notes)
PENTATONIC = [57, 60, 62, 64, 67, 69, 72, 74, 76, 79]           # A minor pentatonic, frets 5-17


# --- MIDI written here: a type-0 standard MIDI file ------------------------------------------------------

def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def midi_file(events: list[tuple[float, bytes]]) -> bytes:
    """(seconds, MIDI message) events -> a type-0 SMF at 120 bpm, 480 ticks a quarter."""
    track, last = bytearray(b"\x00\xff\x51\x03\x07\xa1\x20"), 0   # tempo: 500000 us a quarter
    for t, msg in sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80)):  # note-offs before note-ons
        tick = int(round(t * TICKS_PER_S))
        track += _vlq(tick - last) + msg
        last = tick
    track += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def note(events: list, t: float, dur: float, key: int, vel: int, ch: int = 0) -> None:
    events += [(t, bytes([0x90 | ch, key, max(1, min(127, vel))])), (t + max(0.01, dur), bytes([0x80 | ch, key, 0]))]


def bend(events: list, t: float, semitones: float, ch: int = 0) -> None:
    """Pitch bend (the GM default range, +-2 semitones)."""
    v = int(np.clip(8192 + semitones / 2.0 * 8191, 0, 16383))
    events.append((t, bytes([0xE0 | ch, v & 0x7F, v >> 7])))


def style_events(style: str, seed: int = 0) -> list:
    """The MIDI of one style: CLIP_S seconds of playing, seeded."""
    rng = np.random.default_rng([seed, list(STYLES).index(style)])
    program = STYLES[style][0]
    ev: list = [(0.0, bytes([0xC0, program])), (0.0, bytes([0xC1, CLEAN]))]
    end = CLIP_S - 0.6
    if style == "clean_arpeggios":          # eighth notes across a chord, left ringing until the next chord
        t, step = 0.1, 60 / rng.uniform(90, 110) / 2
        while t < end:
            chord = CHORDS[rng.integers(len(CHORDS))]
            order = list(range(len(chord))) + list(range(len(chord) - 2, 0, -1))
            for i in order[:8]:
                note(ev, t, 8 * step, chord[i], int(rng.integers(55, 95)))
                t += step
    elif style == "strummed_chords":        # down and up strums, strings 8-15 ms apart, some choked
        t, beat = 0.1, 60 / rng.uniform(80, 120)
        while t < end:
            chord, down = CHORDS[rng.integers(len(CHORDS))], True
            for _ in range(4):
                keys = chord if down else chord[::-1][: max(3, len(chord) - 2)]
                dur = (0.08 if rng.random() < 0.2 else beat / 2 * rng.uniform(0.8, 1.0))
                vel = int(rng.integers(90, 120) if down else rng.integers(60, 90))
                for k, key in enumerate(keys):
                    note(ev, t + k * rng.uniform(0.008, 0.015), dur, key, vel - 3 * k)
                t, down = t + beat / 2, not down
    elif style == "palm_muted_riff":        # sixteenth-note chugs on power chords, open accents
        t, six = 0.1, 60 / rng.uniform(110, 140) / 4
        while t < end:
            root = int(rng.choice([40, 43, 45, 38]))
            for i in range(8):
                accent = i % 8 == 0 and rng.random() < 0.6
                for key in (root, root + 7, root + 12):
                    note(ev, t, six * (3.5 if accent else 0.8), key, int(rng.integers(95, 120) if accent else rng.integers(60, 95)),
                         ch=1 if accent else 0)
                t += six
    elif style == "lead_bends":             # single notes, bends up and back, vibrato on the long ones
        t = 0.1
        while t < end:
            key, dur = int(rng.choice(PENTATONIC)), float(rng.choice([0.15, 0.25, 0.4, 0.8]))
            note(ev, t, dur, key, int(rng.integers(70, 115)))
            if dur >= 0.4 and rng.random() < 0.6:                 # a bend of a tone or a semitone
                amount = float(rng.choice([1.0, 2.0]))
                for k in range(8):
                    bend(ev, t + 0.05 + k * 0.02, amount * (k + 1) / 8)
                for k in range(int((dur - 0.3) / 0.03)):           # vibrato at ~5.5 Hz
                    bend(ev, t + 0.25 + k * 0.03, amount + 0.25 * np.sin(2 * np.pi * 5.5 * k * 0.03))
            bend(ev, t + dur, 0.0)
            t += dur + float(rng.choice([0.0, 0.05, 0.2]))
    elif style == "quiet_fingerpicking":    # alternating bass with treble notes, a light touch
        t, step = 0.1, 60 / rng.uniform(70, 90) / 2
        while t < end:
            chord = CHORDS[rng.integers(len(CHORDS))]
            for i in range(8):
                key = chord[0] if i % 4 == 0 else (chord[1] if i % 4 == 2 else chord[-1 - int(rng.integers(0, 2))])
                note(ev, t, step * 3, key, int(rng.integers(25, 55)))
                t += step
    return within_clip(ev)


def within_clip(events: list) -> list:
    """Drop what starts in the clip's last 0.3 s; end every note and bend inside the clip."""
    last = CLIP_S - 0.3
    keep = [(t, m) for t, m in events if not (m[0] & 0xF0 in (0x90, 0xE0) and t >= last)]
    return [(min(t, CLIP_S - 0.05), m) for t, m in keep]


# --- the clips: rendered once, cached ---------------------------------------------------------------------

def ensure_tools(log=None) -> str:
    """The fluidsynth command (installing the two Debian packages as root when missing), or one-line error."""
    exe = shutil.which("fluidsynth")
    if exe and SOUNDFONT.is_file():
        return exe
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise AmpcapError(f"real playing: needs {' and '.join(PACKAGES)} (sudo apt-get install {' '.join(PACKAGES)})")
    import fcntl

    lock = cache_root() / ".realplay-install.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:  # parallel test workers or runs: one installs, the others wait
        fcntl.flock(held, fcntl.LOCK_EX)
        if not (shutil.which("fluidsynth") and SOUNDFONT.is_file()):
            if log:
                log(f"real playing: installing {' '.join(PACKAGES)} (Debian packages)")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]
            if subprocess.run(install, capture_output=True, env=env).returncode != 0:  # an old package list: update it
                subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
                subprocess.run(install, capture_output=True, env=env)
    exe = shutil.which("fluidsynth")
    if not exe or not SOUNDFONT.is_file():
        raise AmpcapError(f"real playing: could not install {' '.join(PACKAGES)} (apt-get failed)")
    return exe


def cache_dir(sample_rate: int, exe: str) -> Path:
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    stamp = hashlib.sha256(Path(__file__).read_bytes() + f"{sample_rate}/{version}/{SOUNDFONT.stat().st_size}".encode())
    return cache_root() / "realplay" / stamp.hexdigest()[:16]


def cache_root() -> Path:
    """$AMPCAP_CACHE, else ~/.cache/ampcap (as the VST3 builder's)."""
    return Path(os.environ.get("AMPCAP_CACHE") or Path.home() / ".cache" / "ampcap")


def render_style(exe: str, style: str, sample_rate: int, seed: int = 0) -> np.ndarray:
    """One style played by FluidSynth: mono float32, CLIP_S seconds, DC removed, at the style's peak."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "clip.mid", Path(tmp) / "clip.wav"
        mid.write_bytes(midi_file(style_events(style, seed)))
        p = subprocess.run([exe, "-ni", "-q", "-R", "0", "-C", "0", "-g", "1.0", "-r", str(sample_rate), "-O", "float",
                            "-T", "wav", "-F", str(wav), str(SOUNDFONT), str(mid)], capture_output=True, text=True, timeout=300)
        if p.returncode != 0 or not wav.exists():
            raise AmpcapError(f"real playing: fluidsynth failed on {style} ({' '.join((p.stderr or p.stdout).split())[:160]})")
        audio, _ = sf.read(str(wav), dtype="float64", always_2d=True)
    x = audio.mean(axis=1)
    n = int(CLIP_S * sample_rate)
    x = np.pad(x[:n], (0, max(0, n - len(x))))
    x -= x.mean()
    return (x * STYLES[style][1] / max(np.max(np.abs(x)), 1e-9)).astype(np.float32)


EVAL_SEED, DEV_SEED = 0, 1  # the evaluation set every run reports; the development set benchmarks choose on


def clips(sample_rate: int, log=None, seed: int = EVAL_SEED) -> dict[str, np.ndarray]:
    """{style: mono float32 clip} at `sample_rate`, built with FluidSynth the first time, then from the cache.
    `seed` picks the performance: EVAL_SEED is the evaluation set; DEV_SEED other playing of the same styles,
    for choosing between variants without looking at the evaluation set."""
    exe = ensure_tools(log)
    d = cache_dir(sample_rate, exe)
    out = {}
    for style in STYLES:
        f = d / (f"{style}.wav" if seed == EVAL_SEED else f"{style}-seed{seed}.wav")
        if not f.exists():
            atomic_write_bytes(f, wav_bytes(render_style(exe, style, sample_rate, seed), sample_rate))
        out[style] = read_wav(f)[0].astype(np.float32)
    return out


def through_amp(plugin_cfg: dict, settings: list[dict], audio: np.ndarray, timeout_s: float = 1800) -> np.ndarray:
    """(S, T): `audio` through the amp a capture hosted (its plugin config, from the dataset's manifest) at
    each setting's knobs, latency-compensated as a capture is. In a process of its own, as capture hosts a
    plugin: one that crashes or hangs is one line, not the end of the training that asked."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import TimeoutError as Timeout
    from concurrent.futures.process import BrokenProcessPool

    name = plugin_cfg.get("name") or plugin_cfg.get("kind")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        job = pool.submit(render_settings, dict(plugin_cfg), [s["knobs"] for s in settings], np.asarray(audio, np.float32))
        try:
            return job.result(timeout=timeout_s)
        except BrokenProcessPool:
            raise AmpcapError(f"real playing: the amp ({name}) crashed while rendering") from None
        except Timeout:
            for p in list(getattr(pool, "_processes", {}).values()):  # a hung plugin: end its process
                p.kill()
            raise AmpcapError(f"real playing: the amp ({name}) did not finish in {timeout_s:g} s") from None
        except AmpcapError as e:
            raise AmpcapError(f"real playing: {e}") from None


def render_settings(plugin_cfg: dict, knob_sets: list[dict], audio: np.ndarray) -> np.ndarray:
    """In the worker: load the amp and render `audio` at each knob set."""
    from .host import make_amp
    from .reamp import render_setting

    amp = make_amp(plugin_cfg)
    return np.stack([render_setting(amp, knobs, audio, float(plugin_cfg.get("preroll_s", 0.5)),
                                    int(plugin_cfg.get("max_latency", 4096))).audio for knobs in knob_sets])
