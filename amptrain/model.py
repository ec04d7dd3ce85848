"""The knob-conditioned LSTM amp model (Wright et al. 2020; Juvela et al. 2024): one LSTM layer, a
linear output and an optional residual connection from the input; knobs enter by concatenation with
the audio (`concat`) or by scaling and shifting the LSTM output from a small MLP (`film`), and
optionally set the output level (`level`: y * exp(w . knobs + b), for amps whose knobs move the level
by tens of dB: measured on full_amp, docs/results.md) and the input drive (`drive`: the audio scaled by
exp(v . knobs + a) before the LSTM, for gain knobs that move the drive into the first stage by tens of dB).
`dc_block_hz` (> 0) is the cutoff of the output DC blocker every render applies after the model
(amptrain/sampling/dc_block.py); training sees the raw output.

The model takes and returns the LSTM state explicitly, so truncated back-propagation through time,
chunked rendering and streaming all use the same weights and code path. Training (`training=True`)
runs the LSTM's weights through TensorFlow's fused kernel (amptrain/fused_lstm.py, ~3x faster);
inference runs the Keras layer itself (XLA compiles it), on the same variables.
"""
from __future__ import annotations

import keras
from keras import layers, ops

from . import fused_lstm
from .conditioning import CONDITIONING


@keras.saving.register_keras_serializable(package="ampcap")
class FiLM(layers.Layer):
    """Feature-wise linear modulation: h * (1 + gamma(knobs)) + beta(knobs)."""

    def __init__(self, units: int, mlp_units: int = 16, **kw):
        super().__init__(**kw)
        self.units, self.mlp_units = units, mlp_units
        self.hidden = layers.Dense(mlp_units, activation="tanh", name="film_hidden")
        self.proj = layers.Dense(2 * units, kernel_initializer="zeros", name="film_proj")

    def call(self, h, cond):
        gb = self.proj(self.hidden(cond))
        gamma, beta = gb[..., : self.units], gb[..., self.units:]
        return h * (1.0 + gamma) + beta

    def get_config(self):
        return {**super().get_config(), "units": self.units, "mlp_units": self.mlp_units}


@keras.saving.register_keras_serializable(package="ampcap")
class AmpNet(keras.Model):
    """inputs: (audio (B,T,1), cond (B,T,C), h (B,H), c (B,H)) -> (y (B,T,1), h, c)."""

    def __init__(self, hidden_size: int = 32, n_cond: int = 0, conditioning: str = "concat",
                 film_units: int = 16, skip: bool = False, level: bool = False, drive: bool = False, knobs: list | None = None,
                 sample_rate: int = 48000, fixed_knobs: dict | None = None, dc_block_hz: float = 0.0, dc_block: str = "auto",
                 fused_splits: int = 1, **kw):
        super().__init__(**kw)
        if conditioning not in CONDITIONING:
            raise ValueError(f"model.conditioning: '{conditioning}' is not one of {CONDITIONING}")
        if n_cond == 0:
            conditioning = "none"
        self.hidden_size, self.n_cond, self.conditioning = int(hidden_size), int(n_cond), conditioning
        self.film_units, self.skip, self.sample_rate = int(film_units), bool(skip), int(sample_rate)
        self.knobs = list(knobs or [])  # metadata: specs of the knobs the model takes (names, ranges, choices)
        self.fixed_knobs = dict(fixed_knobs or {})  # knobs held fixed in the training data, and their values
        self.dc_block_hz = float(dc_block_hz)  # renders high-pass the output here (0: not): not a layer, no weights
        self.dc_block = str(dc_block)  # how dc_block_hz was chosen (model.dc_block: auto | on | off), for the record
        self.lstm = layers.LSTM(self.hidden_size, return_sequences=True, return_state=True, name="rec")
        self.film = FiLM(self.hidden_size, self.film_units, name="film") if conditioning == "film" else None
        # output level exp(w . knobs + b) (zero-initialised: 1): master/channel level changes of tens of dB
        # without the LSTM having to shrink its output (and its offsets) for quiet settings
        self.level = bool(level) and self.n_cond > 0
        self.gain = layers.Dense(1, kernel_initializer="zeros", name="level") if self.level else None
        # input drive exp(v . knobs + a) (zero-initialised: 1): the gain knob's tens of dB of drive into the first
        # stage, so the LSTM sees audio at a knob-normalised level
        self.drive = bool(drive) and self.n_cond > 0
        self.drive_gain = layers.Dense(1, kernel_initializer="zeros", name="drive") if self.drive else None
        self.out = layers.Dense(1, name="lin")
        # training only, not saved: run the LSTM through the fused kernel, its rows cut into this many
        # blocks that run on separate cores (the trainer's trainer.lstm_splits; 0 turns the fused kernel off)
        self.fused_splits = int(fused_splits)

    def call(self, inputs, training=False):
        audio, cond, h, c = inputs
        x = audio * ops.exp(self.drive_gain(cond)) if self.drive_gain is not None else audio
        x = ops.concatenate([x, cond], axis=-1) if self.conditioning == "concat" else x
        if training and self.fused_splits and fused_lstm.available():
            seq, h, c = fused_lstm.fused_lstm(self.lstm.cell, x, h, c, self.fused_splits)
        else:
            seq, h, c = self.lstm(x, initial_state=[h, c], training=training)
        if self.film is not None:
            seq = self.film(seq, cond)
        y = self.out(seq)
        if self.gain is not None:
            y = y * ops.exp(self.gain(cond))
        if self.skip:
            y = y + audio
        return y, h, c

    def zero_state(self, batch: int):
        z = ops.zeros((batch, self.hidden_size))
        return z, z

    def build_weights(self) -> "AmpNet":
        """Create the weights by one call on a tiny input (needed before loading or counting)."""
        z = ops.zeros((1, 2, 1))
        self((z, ops.zeros((1, 2, self.n_cond)), *self.zero_state(1)))
        return self

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "n_cond": self.n_cond,
                "conditioning": self.conditioning, "film_units": self.film_units, "skip": self.skip, "level": self.level,
                "drive": self.drive, "knobs": self.knobs, "sample_rate": self.sample_rate, "fixed_knobs": self.fixed_knobs,
                "dc_block_hz": self.dc_block_hz, "dc_block": self.dc_block}
