"""Losses and metrics (Wright et al. 2020): ESR on pre-emphasised signals, DC loss, per-band level
error. Each has a numpy form (metrics on whole files) and a TensorFlow form (training) that agree."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# FIR pre-emphasis filters, coefficients of x[n], x[n-1], x[n-2].
PRE_EMPHASIS = {
    "none": (1.0,),
    "hp": (1.0, -0.85),                    # H(z) = 1 - 0.85 z^-1 (Wright et al.'s public code)
    # high-pass followed by the low-pass 1 + 0.85 z^-1: a band-pass like A-weighting, which stops
    # the plain high-pass from weighting the top octave most (Wright & Valimaki 2019)
    "aw": tuple(np.convolve([1.0, -0.85], [1.0, 0.85])),
}
EPS = 1e-10
BANDS = {"low": (0.0, 250.0), "mid": (250.0, 2000.0), "high": (2000.0, None)}


def pre_emphasis_coeffs(name: str) -> tuple:
    if name not in PRE_EMPHASIS:
        from ampcap.errors import ConfigError

        raise ConfigError(f"loss.pre_emphasis: '{name}' is not one of {', '.join(PRE_EMPHASIS)}")
    return PRE_EMPHASIS[name]


def emphasise(x: np.ndarray, name: str) -> np.ndarray:
    """Apply a pre-emphasis FIR along the last axis (numpy)."""
    b = np.asarray(pre_emphasis_coeffs(name), dtype=np.float64)
    y = np.zeros_like(x, dtype=np.float64)
    for i, c in enumerate(b):
        y[..., i:] += c * x[..., : x.shape[-1] - i]
    return y


def esr(y: np.ndarray, y_hat: np.ndarray, pre_emphasis: str = "none") -> float:
    """sum((y - y_hat)^2) / sum(y^2) over the whole signal (after optional pre-emphasis)."""
    y, y_hat = emphasise(np.asarray(y, np.float64), pre_emphasis), emphasise(np.asarray(y_hat, np.float64), pre_emphasis)
    return float(np.sum((y - y_hat) ** 2) / (np.sum(y ** 2) + EPS))


def dc_error(y: np.ndarray, y_hat: np.ndarray) -> float:
    """|mean(y - y_hat)|^2 / mean(y^2): the DC loss of Wright et al."""
    y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
    return float(np.mean(y - y_hat) ** 2 / (np.mean(y ** 2) + EPS))


def band_level_error_db(y: np.ndarray, y_hat: np.ndarray, sr: int) -> dict:
    """Level of the prediction minus the target in each band, in dB (0 is right, -3 lost 3 dB)."""
    Y = np.abs(np.fft.rfft(np.asarray(y, np.float64))) ** 2
    P = np.abs(np.fft.rfft(np.asarray(y_hat, np.float64))) ** 2
    f = np.fft.rfftfreq(len(y), 1 / sr)
    out = {}
    for name, (lo, hi) in BANDS.items():
        m = (f >= lo) & (f < (hi if hi else np.inf)) & (f > 0)
        out[name] = float(10 * np.log10((P[m].sum() + EPS) / (Y[m].sum() + EPS)))
    return out


# --- TensorFlow forms (batch, time) ---------------------------------------------------------------

def tf_emphasise(x, name: str):
    import tensorflow as tf

    b = pre_emphasis_coeffs(name)
    y = b[0] * x
    for i, c in enumerate(b[1:], start=1):
        y = y + c * tf.pad(x[:, :-i], [[0, 0], [i, 0]])
    return y


def tf_esr(y, y_hat, pre_emphasis: str = "hp", w=None):
    """ESR over a batch (batch, time); with row weights w (batch,), each row's energies are scaled
    by its weight first (so quiet settings count as much as loud ones)."""
    import tensorflow as tf

    y, y_hat = tf_emphasise(y, pre_emphasis), tf_emphasise(y_hat, pre_emphasis)
    err, ref = tf.reduce_sum(tf.square(y - y_hat), axis=-1), tf.reduce_sum(tf.square(y), axis=-1)
    if w is not None:
        err, ref = err * w, ref * w
    return tf.reduce_sum(err) / (tf.reduce_sum(ref) + EPS)


def tf_dc(y, y_hat, w=None):
    """DC loss over a batch (batch, time): each row's offset squared (rows are different settings, so
    opposite offsets must not cancel), over the batch's energy (never a row's own: near-silent windows
    would blow up): sum_r w_r mean_t(y - y_hat)^2 / sum_r w_r mean_t(y^2)."""
    import tensorflow as tf

    err = tf.square(tf.reduce_mean(y - y_hat, axis=-1))
    ref = tf.reduce_mean(tf.square(y), axis=-1)
    if w is not None:
        err, ref = err * w, ref * w
    return tf.reduce_sum(err) / (tf.reduce_sum(ref) + EPS)


def tf_stft_loss(y, y_hat, fft_sizes=(256, 1024, 2048)):
    """Multi-resolution STFT loss: spectral convergence + log-magnitude L1, averaged over sizes."""
    import tensorflow as tf

    total = 0.0
    for n in fft_sizes:
        Y = tf.abs(tf.signal.stft(y, n, n // 4, fft_length=n))
        P = tf.abs(tf.signal.stft(y_hat, n, n // 4, fft_length=n))
        sc = tf.norm(Y - P) / (tf.norm(Y) + EPS)
        mag = tf.reduce_mean(tf.abs(tf.math.log(Y + 1e-5) - tf.math.log(P + 1e-5)))
        total += sc + mag
    return total / len(fft_sizes)


def tf_low_esr(y, y_hat, pool: int = 96, w=None):
    """ESR of the low band: both signals averaged over `pool` samples (a boxcar low-pass, first null at
    sr/pool: 500 Hz for 96 at 48 kHz), so the low end counts by its own energy, not by its small share
    of the whole signal's."""
    import tensorflow as tf

    def low(v):
        return tf.nn.avg_pool1d(v[..., None], pool, pool, "VALID")[..., 0]

    return tf_esr(low(y), low(y_hat), "none", w)


@dataclass(frozen=True)
class Loss:
    """The training loss on (batch, time) tensors, `loss(y, y_hat, w=None)` (w: optional row weights (batch,)):
    esr_weight*ESR_pre + plain_weight*ESR (no pre-emphasis) + low_weight*ESR of the low band (`tf_low_esr`)
    + dc_weight*DC (+ stft_weight*STFT). `balance_settings`: the trainer weights each setting's rows by 1/its
    energy, so quiet settings count as much as loud ones (conf/loss: its arguments)."""

    pre_emphasis: str = "hp"
    esr_weight: float = 0.75
    dc_weight: float = 0.25
    stft_weight: float = 0.0
    plain_weight: float = 0.0
    low_weight: float = 0.0
    low_pool: int = 96
    balance_settings: bool = False

    def __post_init__(self):
        pre_emphasis_coeffs(self.pre_emphasis)   # an unknown name is a one-line error here, not at the first batch

    def __call__(self, y, y_hat, w=None):
        total = self.esr_weight * tf_esr(y, y_hat, self.pre_emphasis, w) + self.dc_weight * tf_dc(y, y_hat, w)
        if self.plain_weight:
            total = total + self.plain_weight * tf_esr(y, y_hat, "none", w)
        if self.low_weight:
            total = total + self.low_weight * tf_low_esr(y, y_hat, self.low_pool, w)
        if self.stft_weight:
            total = total + self.stft_weight * tf_stft_loss(y, y_hat)
        return total
