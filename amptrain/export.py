"""Export a trained amp to the files real-time players load: Neural Amp Modeler `.nam` (a snapshot at
fixed knobs, folded into the LSTM biases), GuitarML Proteus JSON and RTNeural/AIDA-X JSON (knobs stay
live as extra inputs), and `.keras` itself. Models a format cannot express are refused by name."""
from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from capture.dataset import atomic_write_bytes
from capture.errors import ConfigError

from .conditioning import feature_names

FORMATS = {"nam": ".nam", "proteus": ".json", "rtneural": ".json", "keras": ".keras"}
NAM_VERSION = "0.5.4"      # .nam schema version written (the LSTM layout is unchanged since 0.5)
PROTEUS_MAX_INPUTS = 3     # Proteus plays audio plus up to two knob inputs
SETTLE_SAMPLES = 48000     # the .nam initial state: the LSTM settled on one second of silence


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
    return {"kernel": kernel, "recurrent": w["recurrent"], "bias": bias, "head_w": head_w, "head_b": head_b}


def settled_state(net, cond: np.ndarray, n: int = SETTLE_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """(h, c) after n samples of silence at these knob features: where a player should start."""
    from .render import Stream

    s = Stream(net)
    s.process(np.zeros(n, np.float32), cond)
    return np.asarray(s.h)[0].astype(np.float64), np.asarray(s.c)[0].astype(np.float64)


def to_nam(net, cond: np.ndarray, knob_values: dict) -> dict:
    """A Neural Amp Modeler LSTM (`architecture: LSTM`, one layer, input size 1) at fixed knobs."""
    if net.skip:
        raise ExportError("format nam: NAM's LSTM has no input-to-output skip and this model uses one "
                          "(model.skip=true); export proteus or rtneural instead, or retrain with model.skip=false")
    f = folded_weights(net, cond)
    h0, c0 = settled_state(net, cond)
    # NAM: per layer [W_ih | W_hh] (4H x (In + H)) row-major, bias (b_ih + b_hh), initial h, initial c;
    # then the head's weight (1 x H) and bias.
    w_xh = np.concatenate([f["kernel"].T, f["recurrent"].T], axis=1)
    flat = np.concatenate([w_xh.reshape(-1), f["bias"], h0, c0, f["head_w"].T.reshape(-1), f["head_b"]])
    return {
        "version": NAM_VERSION,
        "architecture": "LSTM",
        "config": {"input_size": 1, "hidden_size": int(net.hidden_size), "num_layers": 1},
        "weights": flat.astype(np.float32).astype(float).tolist(),
        "sample_rate": int(net.sample_rate),
        "metadata": _metadata(net, knob_values),
    }


def _live_inputs(net, fmt: str) -> list[str]:
    if net.conditioning == "film":
        raise ExportError(f"format {fmt}: a FiLM-conditioned model cannot be expressed as one LSTM with knob "
                          "inputs; export nam (fixed knobs) or retrain with model.conditioning=concat")
    return feature_names(net.knobs) if net.conditioning == "concat" else []


def to_proteus(net) -> dict:
    """GuitarML Proteus / Automated-GuitarAmpModelling `SimpleRNN` JSON: PyTorch-layout state_dict,
    inputs = audio then the knob features in [0, 1]."""
    inputs = _live_inputs(net, "proteus")
    if 1 + len(inputs) > PROTEUS_MAX_INPUTS:
        raise ExportError(f"format proteus: Proteus takes at most {PROTEUS_MAX_INPUTS - 1} knob inputs; this model "
                          f"has {len(inputs)} ({', '.join(inputs)}); export rtneural or nam (fixed knobs)")
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


def export(amp, fmt: str, out: Path, knobs: dict | None = None, make_dir: bool = False) -> Path:
    """Write `amp` (an AmpModel) as `fmt` to `out`, atomically. `knobs` fix the setting for `nam`;
    make_dir creates out's folder once everything has been checked."""
    if fmt not in FORMATS:
        raise ConfigError(f"format '{fmt}' is not one of {', '.join(FORMATS)}")
    knobs = dict(knobs or {})
    out = Path(out)
    if not make_dir and not out.parent.is_dir():
        raise ConfigError(f"output: the directory {out.parent} does not exist (create it first)")
    check_knobs_for(fmt, knobs)
    net = amp.net
    if fmt == "keras":
        out.parent.mkdir(parents=True, exist_ok=True)
        if amp.source_file is None:
            from .report import save_model

            save_model(net, out)
            return out
        tmp = out.with_name(f".{out.name}.tmp")
        shutil.copyfile(amp.source_file, tmp)
        tmp.replace(out)
        return out
    if fmt == "nam":
        amp.check_knobs(knobs)
        values = {k.name: k.check(knobs.get(k.name, k.default), f"knob '{k.name}'") for k in amp.knobs}
        obj = to_nam(net, amp.features(1, values), values)
    else:
        obj = {"proteus": to_proteus, "rtneural": to_rtneural}[fmt](net)
    atomic_write_bytes(out, json.dumps(obj).encode())  # creates the folder if needed
    return out
