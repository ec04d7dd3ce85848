"""Export a trained amp to the files real-time players load: Neural Amp Modeler `.nam` (a snapshot at
fixed knobs, folded into the LSTM biases, with the loudness and date metadata NAM's trainer writes),
GuitarML Proteus JSON and RTNeural/AIDA-X JSON (knobs stay live as extra inputs), and `.keras` itself.
A model a format cannot express, or that its player would not play as trained (Proteus: LSTM 40, input
skip, 44.1 kHz, one knob), is refused in one line that says why and what to do."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ampcap.errors import ConfigError
from ampcap.files import atomic_copy, atomic_write_bytes
from capture.signals import generate_region

from ..conditioning import feature_names
from .dc_block import model_cutoff
from .modelfile import save_net
from .render import render_chunked, settle

FORMATS = {"nam": ".nam", "proteus": ".json", "rtneural": ".json", "keras": ".keras", "vst3": ".vst3"}
NAM_VERSION = "0.5.4"      # .nam schema version written: NAM's core loads 0.5.x only (the LSTM layout of 0.5)
NAM_LOUDNESS_RMS = 0.1785  # level of the loudness reference input (-15 dBFS RMS, that of NAM's own reference)
# What the GuitarML Proteus plugin plays (its sources): a model list that takes only unit_type "LSTM" with
# hidden_size 40, the input always added to the output, models run at 44.1 kHz, and one knob (its Gain
# control is the model's one conditioning input; a model without knobs plays with Gain as input level).
PROTEUS_HIDDEN = 40
PROTEUS_RATE = 44100
PROTEUS_MAX_KNOB_INPUTS = 1
PROTEUS_FIX = ("train one it plays with python -m amptrain +experiment=proteus (LSTM 40 with the input skip, one "
               "knob, 44.1 kHz), or export rtneural or nam (fixed knobs)")


class ExportError(ConfigError):
    """The model cannot be written in the asked format."""


def lstm_weights(net) -> dict:
    """Keras layout: kernel (In, 4H), recurrent (H, 4H), bias (4H,), gates i, f, c, o (as PyTorch's
    i, f, g, o); head (H, 1) and (1,)."""
    kernel, recurrent, bias = (np.asarray(w, np.float64) for w in net.lstm.get_weights())
    head_w, head_b = (np.asarray(w, np.float64) for w in net.out.get_weights())
    return {"kernel": kernel, "recurrent": recurrent, "bias": bias, "head_w": head_w, "head_b": head_b}


def folded_weights(net, cond: np.ndarray) -> dict:
    """The same network for audio input only, with fixed conditioning features folded in: concat ->
    into the gate biases; FiLM -> into the output layer (it scales and shifts the LSTM output)."""
    w = lstm_weights(net)
    cond = np.asarray(cond, np.float64).reshape(-1)
    kernel, bias, head_w, head_b = w["kernel"][:1], w["bias"].copy(), w["head_w"].copy(), w["head_b"].copy()
    if net.conditioning == "concat":
        bias = bias + cond @ w["kernel"][1:]
    elif net.conditioning == "film":
        w1, b1 = (np.asarray(a, np.float64) for a in net.film.hidden.get_weights())
        w2, b2 = (np.asarray(a, np.float64) for a in net.film.proj.get_weights())
        gb = np.tanh(cond @ w1 + b1) @ w2 + b2
        gamma, beta = gb[: net.hidden_size], gb[net.hidden_size:]
        head_b = head_b + beta @ head_w
        head_w = head_w * (1.0 + gamma)[:, None]
    if getattr(net, "gain", None) is not None:
        g_w, g_b = (np.asarray(a, np.float64) for a in net.gain.get_weights())
        g = float(np.exp(cond @ g_w[:, 0] + g_b[0]))
        head_w, head_b = head_w * g, head_b * g
    if getattr(net, "drive_gain", None) is not None:  # the audio's input column scaled by the drive
        d_w, d_b = (np.asarray(a, np.float64) for a in net.drive_gain.get_weights())
        kernel = kernel * float(np.exp(cond @ d_w[:, 0] + d_b[0]))
    return {"kernel": kernel, "recurrent": w["recurrent"], "bias": bias, "head_w": head_w, "head_b": head_b}


def settled_state(net, cond: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h, c) the LSTM settles in on silence at these knob features: where a player should start
    (the same pre-warm every render of ours starts from)."""
    h, c = settle(net, np.asarray(cond, np.float32)[None])
    return np.asarray(h)[0].astype(np.float64), np.asarray(c)[0].astype(np.float64)


def loudness_input(sample_rate: int) -> np.ndarray:
    """The loudness reference: 1 s of our generated guitar DI (seeded), at NAM's reference level."""
    x, _ = generate_region(1.0, int(sample_rate), seed=2024, region_index=0, peak=0.8)
    return (x * (NAM_LOUDNESS_RMS / np.sqrt(np.mean(np.square(x, dtype=np.float64))))).astype(np.float32)


def loudness_and_gain(net, cond: np.ndarray) -> tuple[float, float]:
    """NAM's two level measures of a snapshot, defined as its trainer defines them: `loudness`, the
    output RMS in dB for the reference input; `gain`, 0..1, how much the output RMS over the input
    scaled 0, 0.1, ..., 1 falls short of growing linearly (0: clean, 1: fully compressed)."""
    x = loudness_input(net.sample_rate)
    scales = np.linspace(0.0, 1.0, 11)
    y = render_chunked(net, scales[:, None].astype(np.float32) * x[None], np.broadcast_to(cond, (11, len(cond))),
                       chunk=None, overlap=2048)
    rms = np.sqrt(np.mean(np.square(y, dtype=np.float64), axis=1))
    loudness = float(20 * np.log10(max(rms[-1], 1e-12)))
    full = rms[-1] * len(scales)            # every scale as loud as the loudest: full compression
    linear = 0.5 * full                     # output RMS growing with the input: no compression
    gain = float(np.clip((rms.sum() - linear) / (full - linear), 0.0, 1.0)) if full > 0 else 0.0
    return loudness, gain


def to_nam(net, cond: np.ndarray, knob_values: dict, name: str | None = None) -> dict:
    """A Neural Amp Modeler LSTM (`architecture: LSTM`, one layer, input size 1) at fixed knobs, with
    the metadata NAM's trainer writes (date as an object, loudness, gain) and ours under `ampcap`."""
    if net.skip:
        raise ExportError("format nam: NAM's LSTM has no input-to-output skip and this model uses one "
                          "(model.skip=true); export proteus or rtneural instead, or retrain with model.skip=false")
    f = folded_weights(net, cond)
    h0, c0 = settled_state(net, cond)
    # NAM: per layer [W_ih | W_hh] (4H x (In + H)) row-major, bias (b_ih + b_hh), initial h, initial c;
    # then the head's weight (1 x H) and bias.
    w_xh = np.concatenate([f["kernel"].T, f["recurrent"].T], axis=1)
    flat = np.concatenate([w_xh.reshape(-1), f["bias"], h0, c0, f["head_w"].T.reshape(-1), f["head_b"]])
    loudness, gain = loudness_and_gain(net, cond)
    t = datetime.now()  # NAM's trainer writes local time, field by field
    setting = ", ".join(f"{k}={v}" for k, v in knob_values.items())
    return {
        "version": NAM_VERSION,
        "architecture": "LSTM",
        "config": {"input_size": 1, "hidden_size": int(net.hidden_size), "num_layers": 1},
        "weights": flat.astype(np.float32).astype(float).tolist(),
        "sample_rate": int(net.sample_rate),
        "metadata": {
            "date": {"year": t.year, "month": t.month, "day": t.day, "hour": t.hour, "minute": t.minute,
                     "second": t.second},
            "loudness": loudness,
            "gain": gain,
            "name": f"{name or 'ampcap model'}{' (' + setting + ')' if setting else ''}",
            "modeled_by": "ampcap",
            "gear_type": "amp",
            "ampcap": _metadata(net, knob_values),
        },
    }


def _live_inputs(net, fmt: str) -> list[str]:
    if net.conditioning == "film":
        raise ExportError(f"format {fmt}: a FiLM-conditioned model cannot be expressed as one LSTM with knob "
                          "inputs; export nam (fixed knobs) or retrain with model.conditioning=concat")
    for layer, what, key in (("gain", "output level", "level"), ("drive_gain", "input drive", "drive")):
        if getattr(net, layer, None) is not None:
            raise ExportError(f"format {fmt}: a model with a knob-conditioned {what} (model.{key}) cannot be expressed "
                              f"as one LSTM with knob inputs; export nam (fixed knobs) or retrain with model.{key}=false")
    return feature_names(net.knobs) if net.conditioning == "concat" else []


def proteus_problems(net) -> list[str]:
    """Why the Proteus plugin would not play this model as it was trained (empty: it would)."""
    inputs = feature_names(net.knobs) if net.conditioning == "concat" else []
    problems = []
    if len(inputs) > PROTEUS_MAX_KNOB_INPUTS:
        problems.append(f"it drives one knob input and this model has {len(inputs)} ({', '.join(inputs)})")
    if net.hidden_size != PROTEUS_HIDDEN:
        problems.append(f"its model list takes only LSTMs of {PROTEUS_HIDDEN} units and this one has {net.hidden_size}")
    if not net.skip:
        problems.append("it always adds the input to the output and this model was trained without that skip "
                        "(model.skip=false)")
    if net.sample_rate != PROTEUS_RATE:
        problems.append(f"it runs models at {PROTEUS_RATE} Hz and this one is at {net.sample_rate} Hz")
    return problems


def to_proteus(net) -> dict:
    """GuitarML Proteus / Automated-GuitarAmpModelling `SimpleRNN` JSON: PyTorch-layout state_dict,
    inputs = audio then the knob's feature in [0, 1]; refused unless Proteus plays it as trained."""
    inputs = _live_inputs(net, "proteus")
    problems = proteus_problems(net)
    if problems:
        raise ExportError(f"format proteus: the Proteus plugin would not play this model as trained: "
                          f"{'; '.join(problems)}; {PROTEUS_FIX}")
    w = lstm_weights(net)
    H = int(net.hidden_size)
    return {
        "model_data": {"model": "SimpleRNN", "input_size": 1 + len(inputs), "skip": int(net.skip), "output_size": 1,
                       "unit_type": "LSTM", "num_layers": 1, "hidden_size": H, "bias_fl": True},
        "state_dict": {
            "rec.weight_ih_l0": _f32(w["kernel"].T), "rec.weight_hh_l0": _f32(w["recurrent"].T),
            "rec.bias_ih_l0": _f32(w["bias"]), "rec.bias_hh_l0": _f32(np.zeros(4 * H)),
            "lin.weight": _f32(w["head_w"].T), "lin.bias": _f32(w["head_b"]),
        },
        "ampcap": _metadata(net, None, inputs),
    }


def to_rtneural(net) -> dict:
    """RTNeural / AIDA-X layer JSON (Keras layout): lstm then dense; `in_skip` adds the audio input."""
    inputs = _live_inputs(net, "rtneural")
    w = lstm_weights(net)
    H, n_in = int(net.hidden_size), 1 + len(inputs)
    return {
        "in_shape": [None, None, n_in],
        "in_skip": int(net.skip),
        "layers": [
            {"type": "lstm", "activation": "", "shape": [None, None, H],
             "weights": [_f32(w["kernel"]), _f32(w["recurrent"]), _f32(w["bias"])]},
            {"type": "dense", "activation": "", "shape": [None, None, 1],
             "weights": [_f32(w["head_w"]), _f32(w["head_b"])]},
        ],
        "ampcap": _metadata(net, None, inputs),
    }


AIDA_X_SIZES = (8, 12, 16, 20, 32, 40, 64)  # the LSTM/GRU sizes AIDA-X's model list builds, each with 1-3 inputs
AIDA_X_MAX_INPUTS = 3


def aida_x_note(net) -> str | None:
    """A line for the user when AIDA-X would not list this RTNeural file (RTNeural's own parser loads any)."""
    n_in = 1 + (len(feature_names(net.knobs)) if net.conditioning == "concat" else 0)
    if net.hidden_size in AIDA_X_SIZES and n_in <= AIDA_X_MAX_INPUTS:
        return None
    return (f"note: AIDA-X plays LSTMs of {', '.join(map(str, AIDA_X_SIZES[:-1]))} or {AIDA_X_SIZES[-1]} units with up "
            f"to {AIDA_X_MAX_INPUTS} inputs; this one has {net.hidden_size} units and {n_in} inputs (RTNeural's own "
            "JSON parser loads it; for AIDA-X train model.hidden_size=32 or 40 with at most 2 knob inputs)")


DC_BLOCK_IN_PLAYER = {  # what each format's player does after the model (their sources: docs/sampling-and-export.md)
    "nam": "NAM's plugin ends its signal chain with a high-pass",
    "proteus": "Proteus adds its own 35 Hz DC blocker after the model",
    "rtneural": "put a DC blocker or high-pass after the model in the player",
}


def dc_block_note(net, fmt: str) -> str | None:
    """A line for the user when the file leaves out the model's output DC blocker (every player format does)."""
    hz = model_cutoff(net)
    if fmt not in DC_BLOCK_IN_PLAYER or not hz:
        return None
    return (f"note: the model's output DC blocker ({hz:g} Hz high-pass) is not part of the {fmt} file; without one the "
            f"model may play a small offset at settings between the captured ones ({DC_BLOCK_IN_PLAYER[fmt]})")


def _f32(a: np.ndarray) -> list:
    return np.asarray(a, np.float32).astype(float).tolist()


def _metadata(net, knob_values: dict | None, inputs: list[str] | None = None) -> dict:
    m = {"exported_by": "ampcap", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
         "sample_rate": int(net.sample_rate), "knobs": net.knobs, "fixed_knobs": net.fixed_knobs}
    if knob_values is not None:
        m["knob_values"] = knob_values
    if inputs is not None:
        m["inputs"] = ["audio"] + inputs
        m["input_scaling"] = "continuous knob -> (value - min) / (max - min); switch -> one input per choice (1 = on)"
    return m


def check_knobs_for(fmt: str, knobs: dict) -> None:
    """knobs.* set a snapshot, which only `nam` holds; the live formats keep every knob an input."""
    if fmt != "nam" and knobs:
        raise ConfigError(f"format {fmt}: knobs stay live in this format, so knobs.* cannot be set "
                          f"(they are for format=nam)")


def export(amp, fmt: str, out: Path, knobs: dict | None = None, make_dir: bool = False,
           name: str | None = None, log=None) -> Path:
    """Write `amp` (an AmpModel) as `fmt` to `out`, atomically. `knobs` fix the setting for `nam`;
    make_dir creates out's folder once everything has been checked; `name` names the .nam model."""
    if fmt not in FORMATS:
        raise ConfigError(f"format '{fmt}' is not one of {', '.join(FORMATS)}")
    knobs = dict(knobs or {})
    out = Path(out)
    if not make_dir and not out.parent.is_dir():
        raise ConfigError(f"output: the directory {out.parent} does not exist (create it first)")
    check_knobs_for(fmt, knobs)
    net = amp.net
    if fmt == "vst3":
        from .player_project import export_vst3, plugin_name

        return export_vst3(amp, out, plugin_name(name or out.stem), log=log)
    if fmt == "keras":
        out.parent.mkdir(parents=True, exist_ok=True)
        if amp.source_file is None:
            save_net(net, out)
        else:
            atomic_copy(amp.source_file, out)
        return out
    if fmt == "nam":
        amp.check_knobs(knobs)
        values = {k.name: k.check(knobs.get(k.name, k.default), f"knob '{k.name}'") for k in amp.knobs}
        obj = to_nam(net, amp.features(1, values), values, name)
    else:
        obj = {"proteus": to_proteus, "rtneural": to_rtneural}[fmt](net)
    atomic_write_bytes(out, json.dumps(obj).encode())  # creates the folder if needed
    return out
