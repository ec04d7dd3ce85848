"""DI signals: generated guitar-like material (seeded, reproducible) or a user's DI file, split into
train / val / test regions. The test region is audio that training never sees."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from scipy.signal import lfilter

from ampcap.errors import SignalError
from ampcap.wav import wav_truncation

REGIONS = ("train", "val", "test")
CLIP_LEVEL = 0.999  # |x| at or above this counts as full scale (clipping check)


@dataclass
class Signal:
    audio: np.ndarray                      # float32 mono in [-1, 1]
    sample_rate: int
    regions: dict                          # name -> [start, end) sample indices
    sections: list = field(default_factory=list)  # [{"type", "start", "end", ...}] for generated material
    description: dict = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(np.ascontiguousarray(self.audio, dtype="<f4").tobytes()).hexdigest()


# --- plucked strings (Karplus-Strong with a pluck-position comb and velocity-dependent brightness) ---

def pluck(freq: float, dur_s: float, sr: int, velocity: float, rng: np.random.Generator,
          t60_s: float = 3.0, brightness: float = 0.5) -> np.ndarray:
    """One plucked string note, computed a period-block at a time (vectorised Karplus-Strong)."""
    n_total = int(dur_s * sr)
    period = max(2, int(round(sr / freq - 0.5)))
    rho = 10.0 ** (-3.0 / (t60_s * freq))
    exc = rng.uniform(-1, 1, period)
    a = 0.1 + 0.85 * (1 - brightness)  # one-pole low-pass: soft picking is darker
    exc = lfilter([1 - a], [1, -a], exc)
    pos = max(1, int(period * rng.uniform(0.1, 0.3)))  # pluck position comb
    exc = exc - np.concatenate([np.zeros(pos), exc[:-pos]])
    exc /= np.max(np.abs(exc)) + 1e-9
    y = np.zeros(n_total + period + 1)
    y[period + 1: 2 * period + 1] = exc[: max(0, min(period, n_total))]
    c = 0.5 * rho
    for s in range(period + 1, n_total + period + 1, period):
        e = min(s + period, n_total + period + 1)
        y[s:e] += c * (y[s - period: e - period] + y[s - period - 1: e - period - 1])
    out = y[period + 1:]
    fade = min(len(out), int(0.005 * sr))
    if fade:
        out[-fade:] *= np.linspace(1, 0, fade)
    return (velocity * out).astype(np.float32)


SCALE = np.array([0, 3, 5, 7, 10])  # minor pentatonic
CHORDS = [(0, 7, 12), (0, 7, 12, 16, 19), (0, 7, 12, 15, 19), (0, 4, 7, 12), (0, 5, 7, 12), (0, 7, 10, 15)]


@dataclass(frozen=True)
class Material:
    """What the generated DI is made of (signal.mix, signal.phrases, ...): section and phrase weights, how notes
    end, pick noise and the spread of phrase levels. The defaults are the generator before 2026-12-07 (v1)."""
    mix: tuple = (("phrase", 0.62), ("sweep", 0.1), ("noise", 0.1), ("levels", 0.1), ("silence", 0.08))
    phrases: tuple = (("notes", 0.35), ("chords", 0.3), ("palm_mute", 0.2), ("swell", 0.15))
    note_off_ms: float = 5.0        # how long a released note takes to die (v1: a 5 ms fade)
    pick_noise: float = 0.0         # a pick's scrape at each onset, relative to the note's level
    phrase_peak_db: Optional[tuple] = None  # each phrase normalised to a peak drawn in this range (dB below signal.peak)
    ring: float = 1.0               # notes held and strings sustaining this many times longer (let ring)
    pickup: bool = False            # each phrase through a magnetic pickup's resonant low-pass (2-6 kHz, Q 0.7-2.5)

    @classmethod
    def from_config(cls, sig: dict) -> "Material":
        """From a capture config's signal section (keys it does not set keep the v1 values)."""
        base = cls()
        mix = sig.get("mix") or dict(base.mix)
        phrases = sig.get("phrases") or dict(base.phrases)
        for key, given, names in (("mix", mix, SECTIONS), ("phrases", phrases, PHRASES)):
            bad = [k for k in given if k not in names]
            if bad:
                raise SignalError(f"signal.{key}.{bad[0]}: not a kind of {'section' if key == 'mix' else 'phrase'} "
                                  f"({', '.join(names)})")
            if any(not np.isfinite(float(w)) or float(w) < 0 for w in given.values()) or sum(map(float, given.values())) <= 0:
                raise SignalError(f"signal.{key}: weights must be 0 or more and not all 0")
        if float(mix.get("phrase", 0)) <= 0:
            raise SignalError("signal.mix.phrase: must be above 0 (the DI's guitar playing)")
        levels = sig.get("phrase_peak_db", base.phrase_peak_db)
        if levels is not None:
            if len(levels) != 2 or not -60 <= float(levels[0]) <= float(levels[1]) <= 0:
                raise SignalError(f"signal.phrase_peak_db: [{', '.join(f'{float(v):g}' for v in levels)}] must be [low, high] within [-60, 0] dB, or null")
            levels = (float(levels[0]), float(levels[1]))
        note_off, pick = float(sig.get("note_off_ms", base.note_off_ms)), float(sig.get("pick_noise", base.pick_noise))
        ring, pickup = float(sig.get("ring", base.ring)), bool(sig.get("pickup", base.pickup))
        if not 0.25 <= ring <= 8:
            raise SignalError(f"signal.ring: {ring:g} must be 0.25-8 (times the notes' v1 hold and sustain)")
        if not 1 <= note_off <= 500:
            raise SignalError(f"signal.note_off_ms: {note_off:g} must be 1-500 ms")
        if not 0 <= pick <= 1:
            raise SignalError(f"signal.pick_noise: {pick:g} must be 0-1")
        return cls(tuple((k, float(v)) for k, v in mix.items() if float(v) > 0),
                   tuple((k, float(v)) for k, v in phrases.items() if float(v) > 0),
                   note_off, pick, levels, ring, pickup)

    def describe(self) -> dict:
        return {"mix": dict(self.mix), "phrases": dict(self.phrases), "note_off_ms": self.note_off_ms,
                "pick_noise": self.pick_noise,
                "phrase_peak_db": list(self.phrase_peak_db) if self.phrase_peak_db else None, "ring": self.ring,
                "pickup": self.pickup}


V1 = Material()


def midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69) / 12)


def velocity_db(rng, lo=-40.0, hi=-1.0) -> float:
    return 10 ** (rng.uniform(lo, hi) / 20)


# Each phrase kind: (rng, beat, root) -> events [(start_s, freq, dur_s, velocity, t60, brightness)], ringing tail (s)

def notes_events(rng, beat, root):
    events, t = [], 0.0
    for i in range(int(rng.integers(4, 13))):
        m = root + 12 * int(rng.integers(0, 3)) + int(rng.choice(SCALE))
        step = beat * rng.choice([0.25, 0.5, 1.0])
        events.append((t, midi_hz(m), step * 1.05, velocity_db(rng, -30, -2), rng.uniform(1.5, 4), rng.uniform(0.3, 0.9)))
        t += step
    return events, t, 0.02


def chords_events(rng, beat, root):
    events, t = [], 0.0
    for i in range(int(rng.integers(2, 7))):
        shape = CHORDS[int(rng.integers(len(CHORDS)))]
        r = root + int(rng.integers(-2, 8))
        vel = velocity_db(rng, -30, -2)
        hold = beat * rng.choice([1.0, 2.0])
        strum = rng.uniform(0.005, 0.03) * rng.choice([1, -1])
        for j, iv in enumerate(shape):
            off = (j if strum > 0 else len(shape) - 1 - j) * abs(strum)
            events.append((t + off, midi_hz(r + iv), hold, vel / np.sqrt(len(shape)), rng.uniform(2, 5), rng.uniform(0.4, 0.9)))
        t += hold
    return events, t, 0.3


def palm_mute_events(rng, beat, root):
    events, t = [], 0.0
    for i in range(int(rng.integers(8, 17))):
        step = beat * rng.choice([0.25, 0.5])
        vel = velocity_db(rng, -24, -3)
        events.append((t, midi_hz(root + rng.choice([0, 0, 0, 7])), step, vel, rng.uniform(0.08, 0.25), rng.uniform(0.1, 0.4)))
        t += step
    return events, t, 0.02


def swell_events(rng, beat, root):  # from very soft to hard
    events, t = [], 0.0
    n = int(rng.integers(6, 12))
    for i, lvl in enumerate(np.linspace(-50, -2, n)):
        m = root + 12 * int(rng.integers(0, 2)) + int(rng.choice(SCALE))
        events.append((t, midi_hz(m), beat, 10 ** (lvl / 20), 2.5, 0.3 + 0.6 * i / n))
        t += beat
    return events, t, 0.02


def riff_events(rng, beat, root):
    """Sixteenth-note chugs on palm-muted power chords (three strings) with ringing open accents."""
    events, t, six = [], 0.0, beat / 4
    for bar in range(int(rng.integers(2, 5))):
        r = root + int(rng.choice([0, 0, 3, 5, -2]))
        for i in range(8):
            accent = (i == 0 and rng.random() < 0.6) or rng.random() < 0.1
            vel = velocity_db(rng, -12, -1) if accent else velocity_db(rng, -26, -4)
            dur, t60, bright = (six * 3.5, rng.uniform(1.5, 3), rng.uniform(0.6, 0.9)) if accent else \
                (six * 0.8, rng.uniform(0.06, 0.2), rng.uniform(0.1, 0.35))
            for j, iv in enumerate((0, 7, 12)):
                events.append((t + j * rng.uniform(0.002, 0.008), midi_hz(r + iv), dur, vel / np.sqrt(3), t60, bright))
            t += six
    return events, t, 0.02


def strum_events(rng, beat, root):
    """Down and up strums of full chords, strings 8-15 ms apart, up strums softer, some choked short."""
    events, t = [], 0.0
    for i in range(int(rng.integers(2, 5))):
        shape, r = CHORDS[int(rng.integers(len(CHORDS)))], root + int(rng.integers(-2, 8))
        down = True
        for _ in range(4):
            ivs = shape if down else shape[::-1][: max(3, len(shape) - 1)]
            vel = velocity_db(rng, -10, -1) if down else velocity_db(rng, -20, -6)
            dur = 0.08 if rng.random() < 0.2 else beat / 2 * rng.uniform(0.8, 1.0)
            gap = rng.uniform(0.008, 0.015)
            for j, iv in enumerate(ivs):
                events.append((t + j * gap, midi_hz(r + iv), dur, vel / np.sqrt(len(ivs)), rng.uniform(2, 4), rng.uniform(0.4, 0.9)))
            t, down = t + beat / 2, not down
    return events, t, 0.05


def fingerpick_events(rng, beat, root):
    """A light touch: alternating bass and treble notes left ringing, 20-45 dB below full scale."""
    events, t, step = [], 0.0, beat / 2
    for i in range(int(rng.integers(8, 17))):
        iv = 0 if i % 4 == 0 else int(rng.choice([12, 15, 19, 24]))
        events.append((t, midi_hz(root + iv), step * 3, velocity_db(rng, -45, -20), rng.uniform(2, 4), rng.uniform(0.3, 0.7)))
        t += step
    return events, t, 0.02


PHRASE_EVENTS = {"notes": notes_events, "chords": chords_events, "palm_mute": palm_mute_events, "swell": swell_events,
                 "riff": riff_events, "strum": strum_events, "fingerpick": fingerpick_events}
PHRASES = tuple(PHRASE_EVENTS)


def released(note: np.ndarray, held: int, sr: int, note_off_ms: float) -> np.ndarray:
    """A note released after `held` samples: it dies in `note_off_ms` (to -60 dB) as a damped string does."""
    tail = np.arange(len(note) - held) / sr
    note[held:] *= np.exp(-6.9 * tail / (note_off_ms / 1000))
    return note


def pick_scrape(sr: int, rng, level: float) -> np.ndarray:
    """A pick's attack noise: 2-6 ms of bright noise."""
    n = int(rng.uniform(0.002, 0.006) * sr)
    burst = np.diff(rng.standard_normal(n + 1)) * np.hanning(n)
    return (level * burst / (np.max(np.abs(burst)) + 1e-9)).astype(np.float32)


def pickup_lowpass(x: np.ndarray, sr: int, f0: float, q: float) -> np.ndarray:
    """A magnetic pickup into a cable: a resonant second-order low-pass (RBJ biquad) at `f0` Hz with quality
    `q` (its gain at f0). A real DI holds little above it."""
    w = 2 * np.pi * min(f0, 0.45 * sr) / sr
    alpha, cw = np.sin(w) / (2 * q), np.cos(w)
    b = np.array([(1 - cw) / 2, 1 - cw, (1 - cw) / 2])
    a = np.array([1 + alpha, -2 * cw, 1 - alpha])
    return lfilter(b / a[0], a / a[0], x).astype(np.float32)


def phrase(sr: int, rng: np.random.Generator, peak: float, material: Material = V1) -> tuple[np.ndarray, str]:
    """A short guitar phrase: single-note line, strummed chords, palm-muted chugs, a swell, a riff, strums or a
    fingerpicked pattern, as `material.phrases` weights them."""
    names, weights = zip(*material.phrases)
    p = list(weights) if material.phrases == V1.phrases else np.array(weights) / sum(weights)  # v1: its draws exactly
    kind = str(rng.choice(list(names), p=p))
    tempo = rng.uniform(80, 180)
    beat = 60.0 / tempo
    root = 40 + int(rng.integers(0, 12))  # E2..D#3
    events, t, ring = PHRASE_EVENTS[kind](rng, beat, root)
    total = t + 1.0
    out = np.zeros(int(total * sr) + 1, np.float32)
    for start, f, dur, vel, t60, bright in events:
        dur, t60 = dur * material.ring, t60 * material.ring
        if material.note_off_ms == V1.note_off_ms:
            note = pluck(f, dur + ring, sr, vel, rng, t60, bright)
        else:
            note = released(pluck(f, dur + ring + material.note_off_ms / 1000, sr, vel, rng, t60, bright),
                            int((dur + ring) * sr), sr, material.note_off_ms)
        if material.pick_noise > 0:
            scrape = pick_scrape(sr, rng, vel * material.pick_noise)
            note[: len(scrape)] += scrape[: len(note)]
        i0 = int(start * sr)
        n = min(len(note), len(out) - i0)
        out[i0: i0 + n] += note[:n]
    if material.pickup:   # resonance from a humbucker's ~2 kHz to a single coil's ~6 kHz
        out = pickup_lowpass(out, sr, float(np.exp(rng.uniform(np.log(2000), np.log(6000)))), float(rng.uniform(0.7, 2.5)))
    if material.phrase_peak_db is not None:   # the phrase's peak set, not its velocities' sum: a player's gain staging
        out *= np.float32(10 ** (rng.uniform(*material.phrase_peak_db) / 20) / (np.max(np.abs(out)) + 1e-9))
    return (peak * out).astype(np.float32), f"phrase_{kind}"


def log_sweep(sr, rng, peak):
    dur = rng.uniform(1.5, 3.0)
    f0, f1 = 30.0, 12000.0
    t = np.arange(int(dur * sr)) / sr
    k = np.log(f1 / f0)
    x = np.sin(2 * np.pi * f0 * dur / k * (np.exp(t * k / dur) - 1))
    env = np.minimum(1, np.minimum(t, dur - t) / 0.01)
    return (peak * 10 ** (rng.uniform(-30, -2) / 20) * env * x).astype(np.float32), "sine_sweep"


def noise_bursts(sr, rng, peak):
    parts = []
    for _ in range(int(rng.integers(3, 7))):
        n = int(rng.uniform(0.05, 0.3) * sr)
        burst = rng.standard_normal(n) * 0.3
        if rng.random() < 0.5:  # pink-ish: integrate white noise lightly
            burst = np.convolve(burst, np.exp(-np.arange(64) / 16.0), mode="same") / 5
        env = np.minimum(1, np.minimum(np.arange(n), n - np.arange(n)) / (0.003 * sr))
        parts += [np.clip(burst * env * 10 ** (rng.uniform(-40, -6) / 20), -1, 1), np.zeros(int(rng.uniform(0.05, 0.2) * sr))]
    return (peak * np.concatenate(parts)).astype(np.float32), "noise_bursts"


def level_steps(sr, rng, peak):
    f = midi_hz(40 + int(rng.integers(0, 24)))
    levels = np.linspace(-48, -2, int(rng.integers(6, 12)))
    if rng.random() < 0.5:
        levels = levels[::-1]
    step = int(0.2 * sr)
    t = np.arange(step * len(levels)) / sr
    tone = np.sin(2 * np.pi * f * t) + 0.3 * np.sin(2 * np.pi * 2 * f * t + 0.5) + 0.1 * np.sin(2 * np.pi * 3 * f * t)
    env = np.repeat(10 ** (levels / 20), step)
    env = np.convolve(env, np.ones(96) / 96, mode="same")
    return (peak * 0.7 * tone * env).astype(np.float32), "level_steps"


def silence(sr, rng, peak):
    return np.zeros(int(rng.uniform(0.2, 0.8) * sr), np.float32), "silence"


SECTION_FNS = {"phrase": phrase, "sweep": log_sweep, "noise": noise_bursts, "levels": level_steps, "silence": silence}
SECTIONS = tuple(SECTION_FNS)


def generate_region(duration_s: float, sr: int, seed: int, region_index: int, peak: float,
                    material: Material = V1) -> tuple[np.ndarray, list]:
    """Fill `duration_s` seconds with a seeded mix of guitar phrases and test sections."""
    rng = np.random.default_rng([int(seed), int(region_index)])
    n = int(round(duration_s * sr))
    out = np.zeros(n, np.float32)
    sections, pos = [], 0
    kinds = [k for k, w in material.mix if w > 0]
    probs = np.array([w for k, w in material.mix if w > 0])
    # Each region starts with a phrase and contains every kind of section when long enough.
    order = list(range(len(kinds))) if duration_s >= 8 else [kinds.index("phrase")]
    while pos < n:
        kind = kinds[order.pop(0) if order else int(rng.choice(len(kinds), p=probs / sum(probs)))]
        if kind == "phrase":
            seg, label = phrase(sr, rng, peak, material)
        else:
            seg, label = SECTION_FNS[kind](sr, rng, peak)
        m = min(len(seg), n - pos)
        out[pos: pos + m] = seg[:m]
        sections.append({"type": label, "start": pos, "end": pos + m})
        pos += m
    np.clip(out, -peak, peak, out=out)
    return out, sections


def region_bounds(n: int, val_fraction: float, test_fraction: float) -> dict:
    t0 = int(round(n * (1 - val_fraction - test_fraction)))
    t1 = int(round(n * (1 - test_fraction)))
    return {"train": [0, t0], "val": [t0, t1], "test": [t1, n]}


def builtin_signal(sr: int, duration_s: float, seed: int, val_fraction: float, test_fraction: float,
                   peak: float = 0.8, min_duration_s: float = 0.0, material: Material = V1) -> Signal:
    """Generated DI: each region is generated with its own seed, so test audio is new material."""
    check_fractions(val_fraction, test_fraction)
    if not duration_s >= min_duration_s or not np.isfinite(duration_s) or duration_s <= 0:
        raise SignalError(f"signal.duration_s: {duration_s:g} s is too short (need at least {max(min_duration_s, 0):g} s: the DI "
                          "is split into training, validation and test audio)")
    bounds = region_bounds(int(round(duration_s * sr)), val_fraction, test_fraction)
    parts, sections = [], []
    for i, name in enumerate(REGIONS):
        a, b = bounds[name]
        audio, secs = generate_region((b - a) / sr, sr, seed, i, peak, material)
        audio = audio[: b - a]
        parts.append(audio)
        sections += [{**s, "start": s["start"] + a, "end": s["end"] + a, "region": name} for s in secs]
    return Signal(np.concatenate(parts), sr, bounds, sections,
                  {"kind": "builtin", "seed": int(seed), "duration_s": float(duration_s), "peak": float(peak),
                   "val_fraction": float(val_fraction), "test_fraction": float(test_fraction),
                   "material": material.describe()})


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 < test_fraction < 0.9):
        raise SignalError(f"signal.test_fraction: {test_fraction} must be in (0, 0.9)")
    if not (0 <= val_fraction < 0.9) or val_fraction + test_fraction >= 0.9:
        raise SignalError(f"signal.val_fraction: {val_fraction} (+ test {test_fraction}) leaves too little training audio")


SILENT_PEAK = 1e-4   # a DI (or a region of it) peaking below this (-80 dBFS) holds no playing
REGION_WORDS = {"train": "training", "val": "validation", "test": "test"}


def check_di(audio: np.ndarray, sr: int, where: str, min_duration_s: float = 5.0) -> None:
    """Reject DI audio that would produce a bad dataset: empty, NaN/Inf, too short, silent, above full
    scale or clipped (flat tops: more than 3 pairs of neighbouring samples at |x| >= 0.999). One line
    naming the problem and the fix."""
    if audio.size == 0:
        raise SignalError(f"{where}: the file holds no audio; give a DI recording of at least {min_duration_s:g} s")
    if not np.all(np.isfinite(audio)):
        raise SignalError(f"{where}: contains NaN or Inf samples; re-export the DI from your recorder or DAW (e.g. as 24-bit PCM WAV)")
    if len(audio) < min_duration_s * sr:
        raise SignalError(f"{where}: {len(audio) / sr:.2f} s is too short (need at least {min_duration_s:g} s); record a longer DI")
    peak = float(np.max(np.abs(audio)))
    if peak < SILENT_PEAK:
        raise SignalError(f"{where}: the audio is silent (peak {peak:.2g}); check the recording (guitar plugged in, input level up)")
    if peak > 1.0:
        raise SignalError(f"{where}: peak {peak:.3f} exceeds full scale; normalise it below 1.0")
    full = np.abs(audio) >= CLIP_LEVEL
    runs = np.count_nonzero(full[1:] & full[:-1])
    if runs > 3:
        raise SignalError(f"{where}: looks clipped ({int(full.sum())} samples at full scale); re-record with lower input gain")


def check_regions(audio: np.ndarray, sr: int, bounds: dict, where: str) -> None:
    """Refuse a DI whose training, validation or test region is silent: a model would be measured (or
    trained) on nothing there."""
    for name, (a, b) in bounds.items():
        peak = float(np.max(np.abs(audio[a:b]))) if b > a else 0.0
        if peak < SILENT_PEAK:
            frac = {"train": "", "val": " (signal.val_fraction)", "test": " (signal.test_fraction)"}[name]
            raise SignalError(f"{where}: the {REGION_WORDS[name]} region{frac}, {a / sr:.1f}-{b / sr:.1f} s, is silent "
                              f"(peak {peak:.2g}); play through the whole recording, or trim the silence off its end")


def file_signal(path: str, sr: int, val_fraction: float, test_fraction: float, min_duration_s: float = 5.0) -> Signal:
    """A user's DI file: must be mono, at the plugin's sample rate, finite, complete, unclipped and long enough."""
    import soundfile as sf

    where = f"signal.path={path}"
    check_fractions(val_fraction, test_fraction)
    fpath = os.path.expanduser(str(path))
    if not os.path.isfile(fpath):
        what = "a directory, not a file" if os.path.isdir(fpath) else "file not found"
        raise SignalError(f"{where}: cannot read audio ({what}); check the path (relative paths start from the current directory)")
    try:
        info = sf.info(fpath)
    except Exception as e:
        raise SignalError(f"{where}: cannot read audio ({' '.join(str(e).split())[:120]}); give a WAV, FLAC or AIFF file") from None
    if info.samplerate != sr:
        raise SignalError(f"{where}: sample rate {info.samplerate} Hz, but the plugin runs at {sr} Hz; resample the DI "
                          f"or set plugin.sample_rate={info.samplerate}")
    if info.channels != 1:
        raise SignalError(f"{where}: {info.channels} channels; a DI must be mono (e.g. `sox in.wav out.wav remix 1`)")
    cut = wav_truncation(fpath)
    if cut:
        raise SignalError(f"{where}: the file is truncated (only {100 * cut[0] / cut[1]:.0f}% of the audio its header "
                          "declares is there); copy or export it again")
    try:
        audio, _ = sf.read(fpath, dtype="float32", always_2d=False)
    except Exception as e:
        raise SignalError(f"{where}: cannot read audio ({' '.join(str(e).split())[:120]}); the file is damaged, export it again") from None
    if len(audio) < info.frames:
        raise SignalError(f"{where}: the file is truncated ({len(audio)} of {info.frames} frames readable); copy or export it again")
    check_di(audio, sr, where, min_duration_s)
    bounds = region_bounds(len(audio), val_fraction, test_fraction)
    check_regions(audio, sr, bounds, where)
    return Signal(audio.astype(np.float32), sr, bounds, [],
                  {"kind": "file", "path": str(path), "val_fraction": float(val_fraction), "test_fraction": float(test_fraction)})
