"""Tone match: the knob settings of a trained amp whose output comes closest to a target recording of the same DI
(`AmpModel.match`, `python -m amptrain match`). The model is differentiable in its knobs, so the search is a coarse
pass over a Sobol set of settings (every choice of the switches), then gradient descent from the best few with the
knobs kept in their ranges. The loss matches tone, not only samples: pre-emphasised ESR plus a multi-resolution
log-spectral distance. The target's delay (a latency of up to `max_delay_ms`, a polarity flip) and level are found
and reported, not assumed."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from itertools import product

import numpy as np

from ampcap.errors import KnobError, ModelInputError

from ..conditioning import encode
from ..losses import band_level_error_db, emphasise, esr

PRE_EMPHASIS = "aw"         # the training loss's (conf/loss/esr_dc.yaml)
SPECTRAL_WEIGHT = 0.1       # of the log-spectral distance beside the pre-emphasised ESR
FFT_SIZES = (256, 1024)     # its resolutions (5 ms and 21 ms at 48 kHz)
SPECTRAL_FLOOR = 1e-3       # magnitudes below the target's loudest bin times this (-60 dB) count as this
WARM = 2048                 # warm-up samples before each piece (the state settles: -126 dB at 2048, render.py)
PIECES = 6                  # pieces of the clip the search listens to, spread over it (the loudest window of each sixth)
PIECE_S = 0.25              # each piece's length
COARSE_POINTS = 512         # Sobol settings of the coarse pass, shared out over the switches' choices (a power of 2 each)
STARTS = 6                  # gradient descents from the best coarse settings (one per switch choice in the running first,
                            # and at least 2 more than those choices)
CHOICE_KEEP = 3.0           # a switch choice is in the running when its best coarse loss is within 3x the best
STEPS = 40                  # Adam steps of each (all starts in one batch); stops early when the loss stops falling
LEARNING_RATE = 0.04        # in units of a knob's range
MAX_DELAY_MS = 10.0         # the latency searched between DI and target, either way
LAG_WINDOW_MS = 1.0         # the delay is refined with the knobs within this of the first estimate
ALIKE = 1.10                # another setting whose loss is within 10 % of the best sounds alike ...
ALIKE_DISTANCE = 0.15       # ... when it differs by this much of a knob's range (or in a switch)
FLAT_STEP = 0.1             # a knob moved by this much of its range around the match ...
FLAT_RISE = 0.05            # ... raising the loss by less than 5 % is not identifiable from this clip
MIN_SECONDS = 1.0
SILENT_PEAK = 1e-4          # -80 dBFS
CLIP_LEVEL, CLIP_SHARE = 0.999, 1e-3


@dataclass
class MatchResult:
    """The found knobs (in their own units) and how close the model comes to the target there: ESR (plain and
    pre-emphasised) and band levels (render minus target, dB) after the found delay and level."""

    knobs: dict
    esr: float
    esr_pre: float
    bands_db: dict
    delay_samples: int          # the target lags the DI by this (negative: leads), at the model's rate
    delay_ms: float
    polarity: int               # -1: the target is inverted
    level_db: float             # the target's level against the model's output
    loss: float
    flat_knobs: list = field(default_factory=list)    # knobs that barely change the sound around the match
    alike: list = field(default_factory=list)         # other settings that sound alike: {"knobs", "loss_x"}
    seconds: float = 0.0
    sample_rate: int = 48000
    plugin: dict | None = None  # `verify`: the real amp at the found knobs against the target (esr, esr_pre, bands_db)
    render: np.ndarray | None = field(default=None, repr=False)   # the model's output, delayed and scaled like the target

    def to_json(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "render"}
        return {"ampcap": "match", "format_version": 1, **d}


def check_pair(x: np.ndarray, y: np.ndarray, sample_rate: int, max_delay_ms: float = MAX_DELAY_MS) -> np.ndarray:
    """The target cut or padded to the DI's length (they may differ by up to the delay searched), or a one-line
    error: lengths that are not one recording's, a DI or target that is silent or too short, a clipped target."""
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    slack = int(max_delay_ms * sample_rate / 1000)
    if abs(len(x) - len(y)) > slack:
        raise ModelInputError(f"target is {len(y) / sample_rate:.2f} s and the DI {len(x) / sample_rate:.2f} s: give the DI "
                              "and the target of one recording (the same length)")
    if len(x) < MIN_SECONDS * sample_rate:
        raise ModelInputError(f"the clip is {len(x) / sample_rate:.2f} s: give at least {MIN_SECONDS:g} s of playing")
    for name, a in (("DI", x), ("target", y)):
        peak = float(np.max(np.abs(a)))
        if peak < SILENT_PEAK:
            raise ModelInputError(f"{name} is silent (peak {20 * np.log10(peak + 1e-12):.0f} dBFS): give the recording itself")
    clipped = int(np.sum(np.abs(y) >= CLIP_LEVEL))
    if clipped > max(8, CLIP_SHARE * len(y)):
        raise ModelInputError(f"target clips ({clipped} samples at full scale): a clipped recording is not the amp's tone; "
                              "record or export it again with headroom (e.g. 6 dB lower)")
    return np.pad(y[: len(x)], (0, max(0, len(x) - len(y))))


def cross_correlation(pred: np.ndarray, target: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """sum_t target[t + lag] pred[t] at each lag (by FFT): how well target fits pred delayed by lag."""
    n = len(pred)
    xc = np.fft.irfft(np.fft.rfft(target, 2 * n) * np.conj(np.fft.rfft(pred, 2 * n)), 2 * n)
    return xc[np.asarray(lags) % (2 * n)]


def find_delay(pred: np.ndarray, target: np.ndarray, max_lag: int) -> tuple[int, int]:
    """(lag, sign) maximising |cross-correlation| over |lag| <= max_lag: how late the target is, and whether it is
    inverted."""
    lags = np.arange(-max_lag, max_lag + 1)
    vals = cross_correlation(pred, target, lags)
    i = int(np.argmax(np.abs(vals)))
    return int(lags[i]), (1 if vals[i] >= 0 else -1)


def shift(a: np.ndarray, lag: int) -> np.ndarray:
    """a delayed by lag samples (negative: advanced), zero-filled, same length."""
    out = np.zeros_like(a)
    if lag >= 0:
        out[lag:] = a[: len(a) - lag]
    else:
        out[: len(a) + lag] = a[-lag:]
    return out


def best_gain(pred: np.ndarray, target: np.ndarray) -> float:
    """The least-squares gain g of target ~ g * pred (its sign is the polarity)."""
    p = np.asarray(pred, np.float64)
    return float(np.dot(p, target) / (np.dot(p, p) + 1e-20))


def piece_starts(target: np.ndarray, n_pieces: int, length: int, margin: int) -> np.ndarray:
    """Where the search's pieces start: the clip (less `margin` at both ends) cut into n_pieces spans and the
    loudest window of the target in each (the search listens to playing, not to the gaps)."""
    lo, hi = margin, len(target) - length - margin
    edges = np.linspace(lo, hi, n_pieces + 1).astype(int)
    energy = np.concatenate([[0.0], np.cumsum(np.asarray(target, np.float64) ** 2)])
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        cand = np.arange(a, max(a, b - 1) + 1, max(1, length // 4))
        out.append(int(cand[np.argmax(energy[np.minimum(cand + length, len(target))] - energy[cand])]))
    return np.array(out)


class Search:
    """The model's loss against the target at many settings at once: every row of a batch is one setting (its
    free continuous knobs as units in [0, 1], its switches and fixed knobs as given), heard on the same pieces."""

    def __init__(self, net, x: np.ndarray, y: np.ndarray, delay: int, level_free: bool, polarity: int, free: list[str],
                 length: int, lag_window: int, n_pieces: int = PIECES):
        import tensorflow as tf

        from ..losses import tf_emphasise

        self.net, self.level_free, self.polarity = net, level_free, float(polarity)
        self.specs = list(net.knobs)
        self.free = free
        self.length, self.delay, self.window = length, int(delay), int(lag_window)
        K = self.window
        self.starts = piece_starts(shift(y, -delay), n_pieces, length, abs(delay) + K)
        xp = np.pad(np.asarray(x, np.float32), (WARM, 0))
        self.xb = tf.constant(np.stack([xp[a: a + WARM + length] for a in self.starts]))          # (P, W+L)
        ext = np.stack([y[a + delay - K: a + delay + length + K] for a in self.starts])           # (P, L+2K)
        self.yb = tf.constant(ext[:, K: K + length])                                              # (P, L) at `delay`
        # the target's pre-emphasised pieces at every lag delay-K..delay+K: (2K+1, P, L)
        ext_e = tf_emphasise(tf.constant(ext), PRE_EMPHASIS)
        self.te = tf.stack([ext_e[:, k: k + length] for k in range(2 * K + 1)])
        self.te_energy = tf.reduce_sum(tf.square(self.te), axis=(1, 2))                          # (2K+1,)
        cols, j = {}, 0
        for k in self.specs:
            if k["kind"] == "discrete":
                j += len(k["choices"])
            else:
                cols[k["name"]] = j
                j += 1
        place = np.zeros((len(free), net.n_cond), np.float32)
        for f, name in enumerate(free):
            place[f, cols[name]] = 1.0
        self.place = tf.constant(place)
        self.keep = tf.constant(1.0 - place.sum(axis=0))

    def base(self, settings: list[dict]) -> np.ndarray:
        """(S, C) features of whole settings (knob units); the free columns are overwritten by `features`."""
        return np.stack([encode(self.specs, s) for s in settings]).astype(np.float32)

    def features(self, base, u):
        import tensorflow as tf

        return base * self.keep + tf.matmul(u, self.place)

    def predict(self, feats, training: bool = False):
        """(S, P, L) the model's output on the pieces at each row's features (S, C)."""
        import tensorflow as tf

        S, P = int(feats.shape[0]), int(self.xb.shape[0])
        n = WARM + self.length
        x = tf.tile(self.xb, [S, 1])[..., None]
        cond = tf.broadcast_to(tf.repeat(feats, P, axis=0)[:, None, :], (S * P, n, self.net.n_cond))
        h, c = self.net.zero_state(S * P)
        if training:
            y = self.net((x, cond, h, c), training=True)[0]
        else:
            from .render import forward

            y = forward(self.net, x, cond, h, c)[0]
        return tf.reshape(y[:, WARM:, 0], (S, P, self.length))

    def lag_errors(self, p):
        """(S, 2K+1) pre-emphasised ESR of each row against the target at each lag around `delay`, each at its
        least-squares gain (level free) or at the polarity (level fixed); and (S, 2K+1) those gains."""
        import tensorflow as tf

        from ..losses import tf_emphasise

        S, P, L = (int(d) for d in p.shape)
        pe = tf.reshape(tf_emphasise(tf.reshape(p, (S * P, L)), PRE_EMPHASIS), (S, P, L))
        cross = tf.einsum("spl,kpl->sk", pe, self.te)                  # <pe, te_k>
        energy = tf.reduce_sum(tf.square(pe), axis=(1, 2))[:, None]    # <pe, pe>
        if self.level_free:
            g = cross / (energy + 1e-12)
        else:
            g = tf.fill(tf.shape(cross), self.polarity)
        err = self.te_energy[None] - 2 * g * cross + g * g * energy
        return err / (self.te_energy[None] + 1e-12), g

    def loss(self, p):
        """(S,) the pre-emphasised ESR at the best lag (the delay is searched with the knobs, within +-K samples)
        plus SPECTRAL_WEIGHT times the log-spectral distance at that lag's gain."""
        import tensorflow as tf

        errs, g = self.lag_errors(p)
        best = tf.argmin(errs, axis=1)
        err = tf.reduce_min(errs, axis=1)
        gain = tf.abs(tf.gather(g, best, axis=1, batch_dims=1))[:, None, None]
        q = gain * p
        spec = 0.0
        for n in FFT_SIZES:
            Y = tf.abs(tf.signal.stft(self.yb, n, n // 4, fft_length=n))[None]
            Q = tf.abs(tf.signal.stft(q, n, n // 4, fft_length=n))
            floor = SPECTRAL_FLOOR * tf.reduce_max(Y)
            spec += tf.reduce_mean(tf.abs(tf.math.log(Y + floor) - tf.math.log(Q + floor)), axis=(1, 2, 3))
        return err + SPECTRAL_WEIGHT * spec / len(FFT_SIZES)

    def best_lag(self, base: np.ndarray, u: np.ndarray) -> int:
        """The delay (samples) at which the first row's setting fits the pieces best."""
        import tensorflow as tf

        feats = self.features(tf.constant(base[:1]), tf.constant(u[:1], tf.float32))
        errs, _ = self.lag_errors(self.predict(feats))
        return self.delay - self.window + int(np.argmin(errs.numpy()[0]))

    def losses(self, base: np.ndarray, u: np.ndarray, batch: int = 32) -> np.ndarray:
        """(S,) the loss of each row, forward only, in batches."""
        import tensorflow as tf

        out = []
        for i in range(0, len(base), batch):
            feats = self.features(tf.constant(base[i: i + batch]), tf.constant(u[i: i + batch], tf.float32))
            out.append(self.loss(self.predict(feats)).numpy())
        return np.concatenate(out)

    def descend(self, base: np.ndarray, u0: np.ndarray, steps: int, lr: float = LEARNING_RATE, progress: bool = False):
        """Adam on the free units of every row at once, each step projected back into [0, 1]; stops early when
        no row's loss fell by 0.1 % over 10 steps. Returns (u, loss per row)."""
        import tensorflow as tf

        u = tf.Variable(np.asarray(u0, np.float32))
        if u.shape[1] == 0:
            return np.asarray(u0, np.float32), self.losses(base, u0)
        base_t = tf.constant(base)
        m, v, t = tf.Variable(tf.zeros_like(u)), tf.Variable(tf.zeros_like(u)), tf.Variable(0.0)
        b1, b2 = 0.9, 0.999

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                per_row = self.loss(self.predict(self.features(base_t, u), training=True))
                total = tf.reduce_sum(per_row)
            g = tape.gradient(total, u)
            t.assign_add(1.0)
            m.assign(b1 * m + (1 - b1) * g)
            v.assign(b2 * v + (1 - b2) * g * g)
            mh, vh = m / (1 - b1 ** t), v / (1 - b2 ** t)
            u.assign(tf.clip_by_value(u - lr * mh / (tf.sqrt(vh) + 1e-8), 0.0, 1.0))
            return per_row

        history = []
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc="match", unit="step", leave=False)
        for _ in range(steps):
            history.append(step().numpy())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{history[-1].min():.4f}")
            if len(history) > 10 and np.all(history[-1] > 0.999 * history[-11]):
                break
        if bar is not None:
            bar.close()
        u_end = u.numpy()
        return u_end, self.losses(base, u_end)


def sobol_units(d: int, n: int, seed: int) -> np.ndarray:
    """n points of a scrambled Sobol sequence in [0, 1]^d (d may be 0)."""
    if d == 0:
        return np.zeros((n, 0))
    from scipy.stats import qmc

    return qmc.Sobol(d, scramble=True, seed=seed).random_base2(int(np.ceil(np.log2(n))))[:n]


def choose_starts(losses: np.ndarray, combos: np.ndarray, units: np.ndarray, n: int) -> list[int]:
    """Indices of the settings to descend from: the best of each switch choice that is in the running (its best
    within CHOICE_KEEP of the best overall; the best choices first), then the best others at least ALIKE_DISTANCE
    from every pick (the starts spread)."""
    order = np.argsort(losses)
    picks, seen = [], set()
    for i in order:
        if combos[i] not in seen and losses[i] <= CHOICE_KEEP * losses[order[0]]:
            seen.add(combos[i])
            picks.append(int(i))
    n = max(n, len(picks) + 2)
    for i in order:
        if len(picks) >= n:
            break
        if i in picks:
            continue
        if all(combos[i] != combos[j] or np.max(np.abs(units[i] - units[j]), initial=0) > ALIKE_DISTANCE for j in picks):
            picks.append(int(i))
    return picks


def match(amp, x: np.ndarray, y: np.ndarray, fixed: dict | None = None, *, starts: int = STARTS, steps: int = STEPS,
          level: str = "free", max_delay_ms: float = MAX_DELAY_MS, seed: int = 0, progress: bool = False,
          log=None) -> MatchResult:
    """The settings of `amp` (an AmpModel) whose output from DI x comes closest to target y (both at the model's
    rate, checked by `check_pair`). `fixed`: knobs held at given values; level "free" (the target's recording
    level is found) or "fixed" (the target is the amp's own output level)."""
    t0 = time.monotonic()
    say = log or (lambda m: None)
    sr = amp.sample_rate
    if level not in ("free", "fixed"):
        raise ModelInputError(f"level '{level}' is not free or fixed")
    fixed = check_fixed(amp, dict(fixed or {}))
    knobs = {k.name: k for k in amp.knobs}
    x = np.asarray(x, np.float32)
    y = check_pair(x, y, sr, max_delay_ms)
    max_lag = int(max_delay_ms * sr / 1000)
    free = [k.name for k in amp.knobs if not k.discrete and k.name not in fixed]
    switches = [k for k in amp.knobs if k.discrete and k.name not in fixed]
    combos = list(product(*[k.choices for k in switches])) or [()]
    length = int(min(PIECE_S * sr, (len(x) - 2 * max_lag) // PIECES))
    setting = setting_maker(amp, fixed, switches, free)

    # a first delay and the polarity from the model's output at its default knobs; the search refines the delay
    # within +-LAG_WINDOW_MS with the knobs (the tone stack moves the cross-correlation's peak by a few samples)
    defaults = np.array([(knobs[n].default - knobs[n].min) / (knobs[n].max - knobs[n].min) for n in free])
    first = amp.render(x, None, setting(defaults, combos[0]))
    delay, sign = find_delay(first, y, max_lag)
    window = max(1, int(LAG_WINDOW_MS * sr / 1000))
    say(f"match: delay {1000 * delay / sr:+.2f} ms (+-{LAG_WINDOW_MS:g} ms searched with the knobs), polarity "
        f"{'inverted' if sign < 0 else 'as is'}")
    search = Search(amp.net, x, y, delay, level == "free", sign, free, length, window)

    base, cand_u, cand_c, picks = coarse_pass(search, setting, combos, len(free), starts, seed)
    say(f"match: {len(cand_u)} settings tried ({len(combos)} switch choice(s)); descending from {len(picks)}")
    u, final = search.descend(base[picks], cand_u[picks], steps, progress=progress)
    best = int(np.argmin(final))
    found = setting(u[best], combos[cand_c[picks[best]]])
    lag = search.best_lag(search.base([found]), u[best: best + 1])
    if abs(lag - delay) >= window:   # the best lag is at the window's edge: search again around it
        say(f"match: the delay is nearer {1000 * lag / sr:+.2f} ms; searching again there")
        search = Search(amp.net, x, y, lag, level == "free", sign, free, length, window)
        u2, f2 = search.descend(search.base([found]), u[best: best + 1], max(10, steps // 3), progress=progress)
        found = setting(u2[0], combos[cand_c[picks[best]]])
        lag = search.best_lag(search.base([found]), u2)
        u, final, picks = np.concatenate([u2, u]), np.concatenate([f2, final]), [picks[best]] + picks
        best = 0
    render = amp.render(x, None, found)
    delay = clip_delay(render, y, lag, window, level == "free", sign)
    aligned = shift(render, delay)
    g = best_gain(aligned, y) if level == "free" else float(sign)
    out = (g * aligned).astype(np.float32)
    flat = flat_knobs(search, found, u[best], free)
    alike = alike_settings(final, u, [combos[cand_c[i]] for i in picks], best, setting)
    return MatchResult(knobs=_plain(found, amp), esr=round(esr(y, out), 6), esr_pre=round(esr(y, out, PRE_EMPHASIS), 6),
                       bands_db={k: round(v, 2) for k, v in band_level_error_db(y, out, sr).items()},
                       delay_samples=int(delay), delay_ms=round(1000 * delay / sr, 3), polarity=1 if g >= 0 else -1,
                       level_db=round(float(20 * np.log10(abs(g) + 1e-12)), 2), loss=round(float(final[best]), 6),
                       flat_knobs=flat, alike=alike, seconds=round(time.monotonic() - t0, 1), sample_rate=sr, render=out)


def setting_maker(amp, fixed: dict, switches: list, free: list[str]):
    """setting(u, combo): a whole setting (knob units) from the free knobs' units u and the switches' choices."""
    knobs = {k.name: k for k in amp.knobs}

    def setting(u: np.ndarray, combo: tuple) -> dict:
        s = {k.name: k.default for k in amp.knobs}
        s.update(fixed)
        s.update({k.name: c for k, c in zip(switches, combo)})
        s.update({n: float(knobs[n].min + v * (knobs[n].max - knobs[n].min)) for n, v in zip(free, u)})
        return s

    return setting


def coarse_pass(search: Search, setting, combos: list[tuple], n_free: int, starts: int, seed: int):
    """Score the Sobol settings of the free knobs at every switch choice; (features, units, choice index, starts)."""
    per = 2 ** int(np.log2(max(8, COARSE_POINTS // len(combos)))) if n_free else 1   # a power of 2: Sobol's balance
    units = sobol_units(n_free, per, seed)
    cand_u = np.concatenate([units] * len(combos))
    cand_c = np.repeat(np.arange(len(combos)), per)
    base = search.base([setting(u, combos[c]) for u, c in zip(cand_u, cand_c)])
    return base, cand_u, cand_c, choose_starts(search.losses(base, cand_u), cand_c, cand_u, starts)


def clip_delay(render: np.ndarray, y: np.ndarray, lag: int, around: int, level_free: bool, sign: int) -> int:
    """The lag within `around` samples of `lag` at which the whole clip's render fits the target best: the peak of
    the pre-emphasised cross-correlation (its magnitude with the level free, signed by the polarity with it fixed).
    The whole clip has the onsets a few short pieces of a sustained note may lack (a periodic tone fits at a lag a
    period off as well as at the right one)."""
    pe, ye = emphasise(np.asarray(render, np.float64), PRE_EMPHASIS), emphasise(np.asarray(y, np.float64), PRE_EMPHASIS)
    lags = np.arange(lag - around, lag + around + 1)
    v = cross_correlation(pe, ye, lags)
    return int(lags[np.argmax(np.abs(v) if level_free else sign * v)])


def flat_knobs(search: Search, found: dict, u: np.ndarray, free: list[str]) -> list[str]:
    """The free knobs that, moved by FLAT_STEP of their range either way (within it), raise the loss by less than
    FLAT_RISE: this clip does not tell their value (e.g. a master whose level the free level absorbs)."""
    if not free:
        return []
    rows = [np.asarray(u, np.float32)]
    for f in range(len(free)):
        for d in (-FLAT_STEP, FLAT_STEP):
            v = np.array(u, np.float32)
            v[f] = np.clip(v[f] + d, 0.0, 1.0)
            rows.append(v)
    units = np.stack(rows)
    base = np.repeat(search.base([found]), len(units), axis=0)
    losses = search.losses(base, units)
    out = []
    for f, name in enumerate(free):
        moved = [losses[1 + 2 * f + i] for i in (0, 1) if abs(units[1 + 2 * f + i][f] - u[f]) > 1e-6]
        if moved and min(moved) < (1 + FLAT_RISE) * losses[0]:
            out.append(name)
    return out


def alike_settings(final: np.ndarray, u: np.ndarray, combos: list[tuple], best: int, setting) -> list[dict]:
    """Other descents that ended within ALIKE of the best loss at a setting that differs (by ALIKE_DISTANCE of a
    knob's range, or a switch): settings this clip cannot tell apart."""
    out = []
    for i in np.argsort(final):
        if i == best or final[i] > ALIKE * final[best]:
            continue
        if combos[i] != combos[best] or np.max(np.abs(u[i] - u[best]), initial=0) > ALIKE_DISTANCE:
            out.append({"knobs": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in setting(u[i], combos[i]).items()},
                        "loss_x": round(float(final[i] / final[best]), 3)})
    return out


def _plain(values: dict, amp) -> dict:
    """Knob values for JSON and printing: numbers rounded to 3 places, choices as they are."""
    return {k.name: (round(float(values[k.name]), 3) if not k.discrete else values[k.name]) for k in amp.knobs}


def check_fixed(amp, fixed: dict) -> dict:
    """Fixed knobs: the model's, each value in its range (one-line errors otherwise)."""
    names = [k.name for k in amp.knobs]
    for n in fixed:
        if n not in names:
            raise KnobError(f"fixed.{n}: the model has no knob '{n}' (knobs: {', '.join(names) or 'none'})")
    return {n: next(k for k in amp.knobs if k.name == n).check(v, f"fixed.{n}") for n, v in fixed.items()}


def verify(result: MatchResult, x: np.ndarray, y: np.ndarray, sample_rate: int, plugin_cfg: dict, model_rate: int,
           held: dict | None = None) -> dict:
    """The real amp (the plugin config of the model's capture) at the found knobs (and `held`: the knobs fixed in
    the model's training data), delayed and scaled as the match found, against the target: does the match hold in
    the amp itself, not only in the model? Sets result.plugin."""
    from capture.realplay import through_amp

    from .resampling import fit_length, resample

    xm = resample(np.asarray(x, np.float32), sample_rate, model_rate)
    out = through_amp(plugin_cfg, [{"knobs": {**(held or {}), **result.knobs}}], xm)[0]
    out = fit_length(resample(out, model_rate, sample_rate), len(x))
    g = result.polarity * 10 ** (result.level_db / 20)
    z = (g * shift(out, result.delay_samples)).astype(np.float32)
    y = np.asarray(y, np.float32)
    result.plugin = {"esr": round(esr(y, z), 6), "esr_pre": round(esr(y, z, PRE_EMPHASIS), 6),
                     "bands_db": {k: round(v, 2) for k, v in band_level_error_db(y, z, sample_rate).items()}}
    return result.plugin
