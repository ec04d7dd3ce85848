"""Sweep designs: which knob settings to capture for training, and which held-out settings (never in
the training set, off-grid where the design has a grid) to capture for validation and test."""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from ampcap.errors import ConfigError
from ampcap.knobs import Knob, KnobSet

DESIGNS = ("grid", "random", "sobol", "lhs", "oat", "line", "single")


def _round(v):
    return round(float(v), 4) if not isinstance(v, str) else v


def _setting(knobs: KnobSet, base: dict, coords: dict) -> dict:
    s = dict(base)
    for name, u in coords.items():
        s[name] = _round(knobs[name].from_unit(float(u)))
    return s


def _unit_points(kind: str, d: int, n: int, seed: int, skip: int = 0) -> np.ndarray:
    from scipy.stats import qmc

    if n <= 0:
        return np.zeros((0, d))
    if kind == "random":
        return np.random.default_rng([seed, skip]).random((n, d))
    if kind == "sobol":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # balance warning for n that is not a power of two
            eng = qmc.Sobol(d, scramble=True, seed=seed)
            if skip:
                eng.fast_forward(skip)
            return eng.random(n)
    if kind == "lhs":
        return qmc.LatinHypercube(d, seed=np.random.default_rng([seed, skip])).random(n)
    raise AssertionError(kind)


def plan(knobs: KnobSet, cfg: dict) -> list[dict]:
    """Return the design as [{"index", "split", "knobs"}]; train first, then held-out (val/test
    alternate within each discrete-knob group)."""
    design = cfg.get("design")
    if design not in DESIGNS:
        raise ConfigError(f"sweep.design: '{design}' is not one of {', '.join(DESIGNS)}")
    fixed = knobs.complete(dict(cfg.get("fixed") or {}), where="sweep.fixed: ")
    vary = varied_knobs(knobs, cfg)
    for n in vary:
        if n not in knobs.names:
            raise ConfigError(f"sweep.vary: unknown knob '{n}' (knobs: {', '.join(knobs.names)})")
    both = [n for n in (cfg.get("fixed") or {}) if n in vary or (design == "line" and n == cfg.get("knob"))]
    if both:
        raise ConfigError(f"sweep.fixed.{both[0]}: the design also varies {both[0]} (sweep.vary / sweep.knob), so the fixed "
                          f"value would be ignored; fix it or vary it, not both")
    if cfg.get("edges") and design not in ("random", "sobol", "lhs"):
        raise ConfigError(f"sweep.edges: applies to the random, sobol and lhs designs, not '{design}' (set it to 0)")
    if design == "single":  # one setting (knob defaults + fixed), no held-out: a snapshot capture
        train, held = [dict(fixed)], []
    elif design in ("random", "sobol", "lhs"):
        train, held = _space_filling(knobs, cfg, fixed, vary)
    else:
        train, held = {"grid": _grid, "oat": _oat, "line": _line}[design](knobs, cfg, fixed, vary)
    train = _dedupe(train)
    seen = {_key(s) for s in train}
    held = [s for s in _dedupe(held) if _key(s) not in seen]
    disc = [n for n in vary if knobs[n].discrete]
    if design != "single" and len(held) < 2:
        raise ConfigError(f"sweep.n_heldout: the {design} design gives {len(held)} held-out setting(s), but validation and "
                          "test need one each: held-out accuracy could not be measured; set sweep.n_heldout=2 or more "
                          "(sweep=single captures one setting with none)")
    out = [{"split": "train", "knobs": s} for s in train]
    out += [{"split": split, "knobs": s} for split, s in zip(heldout_splits(held, disc), held)]
    for i, s in enumerate(out):
        s["index"] = i
        s["id"] = f"{i:05d}"
    return out


def varied_knobs(knobs: KnobSet, cfg: dict) -> list[str]:
    """The knobs a design moves: `vary`, else every knob not in `fixed`."""
    return list(cfg.get("vary") or [n for n in knobs.names if n not in (cfg.get("fixed") or {})])


def _counts(cfg: dict) -> tuple[int, int, int, int]:
    return (int(cfg.get("seed") or 0), int(cfg.get("n_train") or 0), int(cfg.get("n_heldout") or 0),
            int(cfg.get("levels") or 0))


def _space_filling(knobs: KnobSet, cfg: dict, fixed: dict, vary: list) -> tuple[list, list]:
    """random / sobol / lhs: points of the unit cube over the varied knobs; Sobol's held-out settings
    are the sequence's next points, the others' come from a second stream."""
    design = cfg["design"]
    seed, n_train, n_held, _ = _counts(cfg)
    if n_train < 1:
        raise ConfigError(f"sweep.n_train: {n_train} must be at least 1")
    if not vary:
        raise ConfigError("sweep.vary: no knob left to vary")
    u = _unit_points(design, len(vary), n_train + n_held if design == "sobol" else n_train, seed)
    edges = float(cfg.get("edges") or 0.0)
    if not 0.0 <= edges <= 1.0:
        raise ConfigError(f"sweep.edges: {edges:g} must be between 0 (uniform) and 1 (arcsine)")
    cont = np.array([not knobs[n].discrete for n in vary])
    train_u = np.where(cont, edge_warp(u[:n_train], edges), u[:n_train])
    train = [_setting(knobs, fixed, dict(zip(vary, p))) for p in train_u]
    held_u = u[n_train:] if design == "sobol" else _unit_points(design, len(vary), n_held, seed, skip=1)
    return train, [_setting(knobs, fixed, dict(zip(vary, p))) for p in held_u]


def edge_warp(u: np.ndarray, edges: float) -> np.ndarray:
    """Move design points towards the ends of [0, 1]: (1 - edges) u + edges (1 - cos(pi u)) / 2, monotone,
    0.5 and the ends fixed; point density at the ends is 1 / (1 - edges) times the middle's (held-out
    settings near a knob's end are otherwise extrapolated from few training settings)."""
    return (1.0 - edges) * u + edges * 0.5 * (1.0 - np.cos(np.pi * u))


def _grid(knobs: KnobSet, cfg: dict, fixed: dict, vary: list) -> tuple[list, list]:
    """Every combination of `levels` values per continuous knob (and every choice); held-out settings
    at grid-cell centres, so they are off the grid on every continuous knob."""
    seed, _, n_held, levels = _counts(cfg)
    if levels < 2:
        raise ConfigError(f"sweep.levels: {levels} must be at least 2 for a grid")
    cont = [n for n in vary if not knobs[n].discrete]
    axes = [np.linspace(0, 1, levels) if n in cont else [(i + 0.5) / len(knobs[n].choices) for i in range(len(knobs[n].choices))]
            for n in vary]
    train = [_setting(knobs, fixed, dict(zip(vary, p))) for p in itertools.product(*axes)]
    mids = (np.arange(levels - 1) + 0.5) / (levels - 1)  # cell centres: off-grid on every continuous knob
    rng = np.random.default_rng([seed, 7])
    held = []
    for _ in range(n_held):
        coords = {n: (rng.choice(mids) if n in cont else rng.random()) for n in vary}
        held.append(_setting(knobs, fixed, coords))
    return train, held


def _oat(knobs: KnobSet, cfg: dict, fixed: dict, vary: list) -> tuple[list, list]:
    """One knob at a time from the defaults: `levels` values each (every choice of a switch); held-out
    settings halfway between a continuous knob's levels."""
    _, _, _, levels = _counts(cfg)
    if levels < 2:
        raise ConfigError(f"sweep.levels: {levels} must be at least 2 for one-at-a-time")
    train, held = [dict(fixed)], []
    for n in vary:
        k = knobs[n]
        pts = [(i + 0.5) / len(k.choices) for i in range(len(k.choices))] if k.discrete else np.linspace(0, 1, levels)
        train += [_setting(knobs, fixed, {n: u}) for u in pts]
        if not k.discrete:
            held += [_setting(knobs, fixed, {n: u}) for u in (np.arange(levels - 1) + 0.5) / (levels - 1)]
    return train, held


def _line(knobs: KnobSet, cfg: dict, fixed: dict, vary: list) -> tuple[list, list]:
    """One knob over its range, the others fixed; held-out settings at the gaps' midpoints when they
    suffice, else an even spread (a point that lands on a training level moves a quarter step off it)."""
    _, n_train, n_held, _ = _counts(cfg)
    name = cfg.get("knob")
    if not name or name not in knobs.names or knobs[name].discrete:
        raise ConfigError(f"sweep.knob: '{name}' must name a continuous knob ({', '.join(k.name for k in knobs if not k.discrete)})")
    if n_train < 2:
        raise ConfigError(f"sweep.n_train: {n_train} must be at least 2 for a line sweep")
    grid = np.linspace(0, 1, n_train)
    gaps = (np.arange(n_train - 1) + 0.5) / (n_train - 1)
    if n_held <= len(gaps):
        held_u = gaps[np.round(np.linspace(0, len(gaps) - 1, n_held)).astype(int)] if n_held else []
    else:
        held_u = (np.arange(n_held) + 0.5) / n_held
        on_grid = np.min(np.abs(held_u[:, None] - grid[None, :]), axis=1) < 1e-3
        held_u = np.where(on_grid, held_u + 0.25 / (n_train - 1), held_u)
    return [_setting(knobs, fixed, {name: u}) for u in grid], [_setting(knobs, fixed, {name: u}) for u in held_u]


def heldout_splits(held: list[dict], discrete: list[str]) -> list[str]:
    """val/test for each held-out setting: alternating along the settings grouped by their discrete
    knobs' values (the order within a group kept), so both halves hold every channel (a Sobol design
    alternates the channel: a plain alternation put every lead setting in val, every clean one in
    test), and neither half is empty when there are two or more."""
    order = sorted(range(len(held)), key=lambda i: tuple(str(held[i][n]) for n in discrete))
    out = [""] * len(held)
    for rank, i in enumerate(order):
        out[i] = "val" if rank % 2 == 0 else "test"
    return out


def _key(s: dict) -> tuple:
    return tuple(sorted(s.items()))


def _dedupe(settings: list[dict]) -> list[dict]:
    seen, out = set(), []
    for s in settings:
        if _key(s) not in seen:
            seen.add(_key(s))
            out.append(s)
    return out


def design_identity(sweep: dict) -> dict:
    """The sweep config as a dataset's identity holds it: no shard (shards are one capture), and no
    `edges` while it is 0 (datasets captured before the key existed keep their identity)."""
    out = {**sweep, "shard": None}
    if not out.get("edges"):
        out.pop("edges", None)
    return out


def parse_shard(shard) -> tuple[int, int] | None:
    """'i/n' -> (i, n) with 0 <= i < n; None for no sharding."""
    if shard in (None, "", "null"):
        return None
    try:
        i, n = (int(p) for p in str(shard).split("/"))
    except ValueError:
        raise ConfigError(f"sweep.shard: '{shard}' should look like i/n, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"sweep.shard: '{shard}' needs 0 <= i < n")
    return i, n


def design_errors(m: dict) -> list[str]:
    """Where a dataset's settings leave its recorded design (manifest `sweep`, `knobs`): a knob the
    design does not vary away from its fixed value or default, a held-out setting among the training
    ones, val/test labels that differ from the design's alternation, a count that differs from the
    design's size; settings an adaptive round added (`round` >= 1) must be training settings after the design's.
    (The knob values themselves are not replanned: scipy's quasi-random streams may change between versions;
    format 3's labels checksum covers them.)"""
    sweep = m["sweep"]
    knobs = KnobSet([Knob.from_json(k) for k in m["knobs"]])
    try:
        fixed = knobs.complete(dict(sweep.get("fixed") or {}), where="sweep.fixed: ")
    except ConfigError as e:
        return [f"manifest.sweep: {e}"]
    design = sweep.get("design")
    moving = {"single": [], "line": [sweep.get("knob")]}
    vary = moving[design] if design in moving else varied_knobs(knobs, sweep)
    every = sorted(m["settings"], key=lambda s: s["index"])
    settings = [s for s in every if not s.get("round")]   # the design's; an adaptive round's come after them
    errs = added_errors(every, settings)
    for s in every:
        off = [n for n in knobs.names if n not in vary and n in s["knobs"] and s["knobs"][n] != fixed[n]]
        if off:
            errs.append(f"setting {s['id']}: knobs.{off[0]}={s['knobs'][off[0]]!r} is outside the design (sweep "
                        f"'{sweep.get('name')}' keeps {off[0]} at {fixed[off[0]]!r})")
    train = [s["index"] for s in settings if s["split"] == "train"]
    held = [s for s in settings if s["split"] != "train"]
    misplaced = [s for s in held if train and s["index"] < max(train)]
    if misplaced:
        last = next(s for s in settings if s["index"] == max(train))
        errs.append(f"setting {last['id']}: marked train, but the design lists its training settings first and "
                    f"{misplaced[0]['id']} before it is {misplaced[0]['split']}: a split was changed after capture")
    elif held and not parse_shard(sweep.get("shard")):
        disc = [n for n in vary if n in knobs.names and knobs[n].discrete]
        want = heldout_splits([s["knobs"] for s in held], disc)
        wrong = [(s, w) for s, w in zip(held, want) if s["split"] != w]
        if wrong:
            errs.append(f"setting {wrong[0][0]['id']}: split '{wrong[0][0]['split']}' differs from the design's "
                        f"'{wrong[0][1]}': its split was changed after capture")
    size = sweep.get("design_size")
    if isinstance(size, int) and not parse_shard(sweep.get("shard")) and len(settings) != size:
        errs.append(f"manifest: {len(settings)} settings, but the design has {size}: settings were added or removed")
    return errs


def added_errors(every: list[dict], design: list[dict]) -> list[str]:
    """Settings an adaptive round added (`round` >= 1): training settings only, listed after the design's."""
    added = [s for s in every if s.get("round")]
    if not added:
        return []
    held = [s for s in added if s["split"] != "train"]
    if held:
        return [f"setting {held[0]['id']}: added by adaptive round {held[0]['round']} but marked {held[0]['split']}: "
                "the loop adds training settings only (validation and test are fixed by the design)"]
    last = max((s["index"] for s in design), default=-1)
    early = [s for s in added if s["index"] < last]
    if early:
        return [f"setting {early[0]['id']}: added by adaptive round {early[0]['round']} but listed among the design's settings"]
    return []


def candidate_points(knobs: KnobSet, cfg: dict, n: int, round_: int) -> tuple[np.ndarray, list[dict]]:
    """`n` candidate settings for an adaptive round: scrambled Sobol points over the design's varied knobs from a
    stream of the round's own (never the design's points), as unit coordinates (n, d) and settings."""
    from scipy.stats import qmc

    fixed = knobs.complete(dict(cfg.get("fixed") or {}), where="sweep.fixed: ")
    vary = varied_knobs(knobs, cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = qmc.Sobol(len(vary), scramble=True, seed=np.random.default_rng([int(cfg.get("seed") or 0), 1000 + round_])).random(n)
    return u, [_setting(knobs, fixed, dict(zip(vary, p))) for p in u]
