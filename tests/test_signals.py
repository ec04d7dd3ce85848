"""Generated DI material is seeded and complete; a user's DI file is checked before use."""
import numpy as np
import pytest
import soundfile as sf

from ampcap.errors import SignalError
from capture.signals import PHRASES, V1, Material, builtin_signal, check_di, file_signal, phrase, pluck, wav_truncation

SR = 48000


def test_generated_signal_reproducible_and_split():
    a = builtin_signal(SR, 20, seed=5, val_fraction=0.1, test_fraction=0.2)
    b = builtin_signal(SR, 20, seed=5, val_fraction=0.1, test_fraction=0.2)
    c = builtin_signal(SR, 20, seed=6, val_fraction=0.1, test_fraction=0.2)
    assert a.sha256 == b.sha256 != c.sha256
    assert a.audio.dtype == np.float32 and len(a.audio) == 20 * SR
    assert np.max(np.abs(a.audio)) <= 0.8 and np.all(np.isfinite(a.audio))
    assert a.regions == {"train": [0, 14 * SR], "val": [14 * SR, 16 * SR], "test": [16 * SR, 20 * SR]}
    kinds = {s["type"].split("_")[0] for s in a.sections if s["region"] == "train"}
    assert {"phrase", "sine", "noise", "level", "silence"} <= kinds
    # test audio is new material, not a copy of training audio
    tr, te = a.audio[: 4 * SR], a.audio[16 * SR:]
    assert not np.allclose(tr, te)


def test_dynamics_span_soft_to_hard():
    s = builtin_signal(SR, 30, seed=1, val_fraction=0.1, test_fraction=0.2)
    frame = 2400
    rms = np.sqrt(np.mean(s.audio[: len(s.audio) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    loud = rms[rms > 1e-5]
    assert 20 * np.log10(loud.max() / np.percentile(loud, 5)) > 30  # > 30 dB dynamic range


def test_pluck_pitch():
    note = pluck(110.0, 1.0, SR, 0.5, np.random.default_rng(0))
    lo, hi = SR // 500, SR // 60
    ac = np.array([np.dot(note[:20000], note[lag: lag + 20000]) for lag in range(hi)])
    period = lo + int(np.argmax(ac[lo:hi]))
    assert abs(SR / period - 110) < 2


def write(tmp_path, audio, sr=SR, name="di.wav"):
    p = tmp_path / name
    sf.write(p, audio, sr, subtype="FLOAT")
    return str(p)


def good_audio(seconds=6):
    return builtin_signal(SR, seconds, 0, 0.1, 0.2).audio


def test_file_signal_ok(tmp_path):
    s = file_signal(write(tmp_path, good_audio()), SR, 0.1, 0.2)
    assert len(s.audio) == 6 * SR and s.regions["test"] == [int(4.8 * SR), 6 * SR]


@pytest.mark.parametrize("make,msg", [
    (lambda t: write(t, good_audio(), sr=44100), "sample rate 44100"),
    (lambda t: write(t, np.stack([good_audio()] * 2, 1)), "2 channels"),
    (lambda t: write(t, np.where(np.arange(6 * SR) == 100, np.nan, good_audio()).astype(np.float32)), "NaN"),
    (lambda t: write(t, np.clip(good_audio() * 10, -1, 1)), "clipped"),
    (lambda t: write(t, good_audio(2)), "too short"),
    (lambda t: write(t, np.zeros(6 * SR, np.float32)), "silent"),
    (lambda t: str(t / "missing.wav"), "cannot read"),
])
def test_file_signal_rejects(tmp_path, make, msg):
    with pytest.raises(SignalError, match=msg):
        file_signal(make(tmp_path), SR, 0.1, 0.2)


def test_truncated_wav_rejected(tmp_path):
    """A cut-short WAV reads without error (libsndfile stops where the file ends): refused by name,
    even when what is left is long enough."""
    p = write(tmp_path, good_audio(12))
    data = open(p, "rb").read()
    open(p, "wb").write(data[: len(data) * 7 // 10])
    with pytest.raises(SignalError, match="truncated .*copy or export it again"):
        file_signal(p, SR, 0.1, 0.2)


def test_wav_truncation_compares_the_data_chunk_with_the_file(tmp_path):
    p = write(tmp_path, good_audio())
    assert wav_truncation(p) is None
    data = open(p, "rb").read()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) * 3 // 4])
    present, declared = wav_truncation(tmp_path / "cut.wav")
    assert declared == 6 * SR * 4 and 0 < present < declared
    (tmp_path / "text.wav").write_text("not audio")
    assert wav_truncation(tmp_path / "text.wav") is None


def test_check_di_refuses_clipped_and_silent_audio():
    """The DI policy as a pure function: flat tops at full scale (clipping) and silence are refused,
    a loud but unclipped DI (even one sample at full scale) is accepted."""
    t = np.arange(6 * SR) / SR
    tone = (0.5 * np.sin(2 * np.pi * 110 * t)).astype(np.float32)
    check_di(tone, SR, "di")
    lone = tone.copy()
    lone[1000] = 0.9995
    check_di(lone, SR, "di")
    with pytest.raises(SignalError, match="di: looks clipped .*re-record with lower input gain"):
        check_di(np.clip(tone * 4, -1, 1), SR, "di")
    with pytest.raises(SignalError, match="di: the audio is silent .*check the recording"):
        check_di(np.zeros_like(tone), SR, "di")
    with pytest.raises(SignalError, match="silent"):
        check_di(tone * 1e-5, SR, "di")
    with pytest.raises(SignalError, match="exceeds full scale"):
        check_di(tone * 3, SR, "di")


def test_v1_material_is_the_generator_datasets_were_captured_with():
    """The default material before 2026-12-07 reproduces the DI older datasets hold, sample for sample (their
    identity, signal_sha256, depends on it): the hash of a known 6 s signal."""
    s = builtin_signal(SR, 6, seed=1234, val_fraction=0.1, test_fraction=0.2, material=V1)
    assert s.sha256 == V1_SHA256
    assert Material.from_config({}) == V1


V1_SHA256 = "2a751337329ca5fbc842669da9cf697518392a3b4893a98161874a5342f82669"


@pytest.mark.parametrize("kind", PHRASES)
def test_every_phrase_kind_plays(kind):
    m = Material.from_config({"phrases": {kind: 1.0}, "note_off_ms": 30, "pick_noise": 0.2})
    x, label = phrase(SR, np.random.default_rng(3), 0.8, m)
    assert label == f"phrase_{kind}" and np.all(np.isfinite(x)) and np.max(np.abs(x)) > 1e-3


def test_material_weights_and_levels():
    m = Material.from_config({"mix": {"phrase": 1.0, "silence": 0.0}, "phrases": {"riff": 1.0, "strum": 1.0},
                              "phrase_peak_db": [-12, -6]})
    s = builtin_signal(SR, 20, seed=2, val_fraction=0.1, test_fraction=0.2, material=m)
    assert {x["type"] for x in s.sections} <= {"phrase_riff", "phrase_strum"}
    for sec in s.sections:  # each phrase normalised to a peak 6-12 dB below signal.peak (a cut-off last one: at most)
        peak_db = 20 * np.log10(np.max(np.abs(s.audio[sec["start"]:sec["end"]])) / 0.8)
        assert peak_db <= -6 + 1e-3 and (peak_db >= -12 - 1e-3 or sec is s.sections[-1] or sec["end"] in (14 * SR, 16 * SR))
    assert s.description["material"]["phrases"] == {"riff": 1.0, "strum": 1.0}


def test_note_offs_damp_the_string():
    rng = np.random.default_rng(0)
    from capture.signals import released
    note = pluck(110.0, 0.5, SR, 0.5, rng, t60_s=3.0)
    out = released(note.copy(), SR // 4, SR, 40.0)
    assert np.array_equal(out[: SR // 4], note[: SR // 4])
    tail = out[SR // 4 + int(0.04 * SR):]
    assert np.max(np.abs(tail)) < 1e-3 * np.max(np.abs(note))   # -60 dB 40 ms after the release


def test_datasets_captured_before_the_material_keys_keep_their_identity():
    from ampcap.config import to_dict
    from capture.config import compose_capture
    from capture.runner import signal_identity

    now = to_dict(compose_capture(["sweep=tiny", "signal.ring=1", "signal.pickup=false"]))["signal"]  # the v1 material
    before = {k: v for k, v in now.items() if k not in ("mix", "phrases", "note_off_ms", "pick_noise", "phrase_peak_db", "ring", "pickup")}
    assert signal_identity(now) == before                     # the v1 values: the same dataset as before
    default = signal_identity(to_dict(compose_capture(["sweep=tiny"]))["signal"])
    assert default == {**before, "ring": 2.0, "pickup": True}  # today's default is another DI
    assert signal_identity({**now, "pick_noise": 0.3})["pick_noise"] == 0.3
    changed = signal_identity({**now, "phrases": {**now["phrases"], "riff": 0.2}})["phrases"]
    assert changed == {"notes": 0.35, "chords": 0.3, "palm_mute": 0.2, "swell": 0.15, "riff": 0.2}
    assert "mix" not in signal_identity({**now, "kind": "file", "mix": {"phrase": 1.0}})  # a DI file has no material


def test_pickup_lowpass_response():
    """The pickup's biquad against its known answer: unity in the pass band, gain Q at the resonance, and
    above it the analog prototype 1 / (s^2 + s/Q + 1) at the bilinear transform's warped frequency."""
    from scipy.signal import freqz

    from capture.signals import pickup_lowpass

    impulse = np.zeros(1 << 15)
    impulse[0] = 1
    h = pickup_lowpass(impulse, SR, 3000.0, 2.0).astype(np.float64)
    w, H = freqz(h, worN=[100.0, 3000.0, 12000.0, 24000.0 - 1], fs=SR)
    db = 20 * np.log10(np.abs(H))
    assert abs(db[0]) < 0.05 and abs(db[1] - 20 * np.log10(2.0)) < 0.1
    omega = np.tan(np.pi * 12000 / SR) / np.tan(np.pi * 3000 / SR)
    assert abs(db[2] - 20 * np.log10(1 / abs(1 - omega ** 2 + 1j * omega / 2.0))) < 0.05   # -27.7 dB
    assert db[3] < -60                # the biquad's zero at Nyquist
