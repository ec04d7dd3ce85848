"""Adaptive capture (`adapt=probes`): capture a share of the capture budget as a space-filling design, train,
then probe the plugin at many candidate settings (a few seconds of DI each, far cheaper than a setting), capture
full settings where the model errs most (clustered, so the picks spread over the regions where it errs), and go
on training from the current weights on the grown dataset; repeat until the capture budget (in settings, probes
included) and the wall budget (trainer.max_minutes: training, probes, captures and evaluations all counted) are
spent. The run owns its dataset (RUN/dataset: its picks depend on its model); validation and test settings are
the design's, fixed from the start. A killed run resumes (trainer.resume=true) at the step it was in."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ampcap import dataset as ds
from ampcap.errors import ConfigError
from ampcap.files import atomic_copy, write_json

from . import checkpoint
from .conditioning import encode
from .data import SplitData, load_split
from .train_state import TrainState

STATE = "adapt.json"
HALF = "round-0-half.npz"   # round 0's model at half its training (adapt.select=disagree)
FORMAT = "ampcap-adapt"
VERSION = 1
SPACE_FILLING = ("sobol", "random", "lhs")


@dataclass
class RoundPlan:
    """How the capture budget (in settings of the DI's length) is spent: `initial` design settings, then each
    round `candidates` probes (worth `probe_settings` settings of plugin time) and `picks` captured settings."""

    budget: int
    initial: int
    picks: int
    candidates: int
    probe_settings: float
    rounds: int
    setting_plugin_s: float


def plan_rounds(a: dict, n_train: int, setting_plugin_s: float, probe_plugin_s: float) -> RoundPlan:
    """The round plan for `adapt` config `a`, a design of `n_train` training settings, a setting and a probe costing
    these plugin-seconds (only select=probes renders probes through the plugin); one line naming the key when the
    budget cannot hold the rounds."""
    budget = int(a["budget"] or n_train)
    initial = max(2, int(round(a["initial"] * budget)))
    probe_settings = a["candidates"] * probe_plugin_s / setting_plugin_s if a["select"] == "probes" else 0.0
    picks = int((budget - initial - a["rounds"] * probe_settings) // a["rounds"])
    if picks < 1:
        raise ConfigError(f"config key 'adapt.budget': {budget} settings cannot hold {initial} initial settings and "
                          f"{a['rounds']} rounds of {a['candidates']} probes (each round's probes cost {probe_settings:.1f} "
                          "settings of plugin time); raise adapt.budget or lower adapt.candidates, adapt.rounds or adapt.initial")
    return RoundPlan(budget, initial, picks, int(a["candidates"]), probe_settings, int(a["rounds"]), setting_plugin_s)


def unit_coords(knobs, settings: list[dict]) -> np.ndarray:
    """Settings as points of the unit cube over `knobs` (KnobSet): continuous knobs normalised, a switch's
    choices spread over [0, 1] (so a channel change is as far as a knob's full turn)."""
    cols = []
    for k in knobs:
        v = np.array([k.normalise(s[k.name]) for s in settings], float)
        cols.append(v / max(1, len(k.choices) - 1) if k.discrete else v)
    return np.stack(cols, axis=1) if cols else np.zeros((len(settings), 0))


def pick(points: np.ndarray, errors: np.ndarray, n: int, pool: float, seed: int) -> list[int]:
    """Indices of `n` candidates to capture: the worst `pool` share by probe error (at least n), grouped into n
    clusters over their knob coordinates (k-means), the worst of each cluster (an empty cluster's place goes to
    the next worst): where the model errs most, spread over the regions where it errs."""
    from scipy.cluster.vq import kmeans2

    ok = np.flatnonzero(np.isfinite(errors))
    k = min(n, len(ok))
    worst = ok[np.argsort(-errors[ok], kind="stable")]
    top = worst[: max(k, int(math.ceil(pool * len(ok))))]
    if k == len(top) or k == 0:
        return [int(i) for i in top[:k]]
    _, labels = kmeans2(points[top], k, minit="++", seed=np.random.default_rng(seed))
    chosen = [int(top[labels == c][0]) for c in range(k) if np.any(labels == c)]   # top is worst first
    chosen += [int(i) for i in top if int(i) not in chosen][: k - len(chosen)]
    return sorted(chosen, key=lambda i: -errors[i])


def round_deadline(r: int, plan: RoundPlan, total_s: float, shares: str = "equal") -> float:
    """Wall seconds (everything counted) by which training round `r` of 0..plan.rounds ends: equal shares, or
    shares in proportion to the settings each round trains on (`settings`: as many epochs in every round)."""
    sizes = [1.0 if shares == "equal" else plan.initial + i * plan.picks for i in range(plan.rounds + 1)]
    return total_s * sum(sizes[: r + 1]) / sum(sizes)


def probe_errors(model, probe_x: np.ndarray, targets: list, knobs: list[dict], settings: list[dict], sr: int,
                 pre: str, t: dict) -> np.ndarray:
    """The model's plain ESR against each probe's plugin output (NaN where the probe failed)."""
    from .evaluate import evaluate

    ok = [i for i, y in enumerate(targets) if y is not None]
    errs = np.full(len(settings), np.nan)
    if ok:
        data = SplitData(probe_x, np.stack([targets[i] for i in ok]).astype(np.float32),
                         np.stack([encode(knobs, settings[i]) for i in ok]).astype(np.float32),
                         [{"id": f"probe-{i}", "index": i, "knobs": settings[i]} for i in ok])
        m, _ = evaluate(model, data, sr, pre, t["eval_chunk"], t["eval_overlap"])
        errs[ok] = [r["esr"] for r in m["per_setting"]]
    return errs


class AdaptiveRun:
    """The loop's state on disk (RUN/adapt.json, written after every step): the plan, the rounds done with their
    held-out figures and probes, the step it is in, the wall seconds spent outside training."""

    def __init__(self, run: Path, plan: RoundPlan):
        self.path = Path(run) / STATE
        if self.path.exists():
            self.doc = json.loads(self.path.read_text())
        else:
            self.doc = {"format": FORMAT, "format_version": VERSION, "plan": plan.__dict__, "round": 0, "step": "train",
                        "overhead_seconds": 0.0, "rounds": []}

    def save(self) -> None:
        write_json(self.path, self.doc)

    def record(self, r: int, **fields) -> dict:
        """Fields of round r's record (created on first use)."""
        while len(self.doc["rounds"]) <= r:
            self.doc["rounds"].append({"round": len(self.doc["rounds"])})
        self.doc["rounds"][r].update(fields)
        return self.doc["rounds"][r]


def run_adaptive(cfg: dict, log, config_dir: str | None = None) -> Path:
    """The adaptive run end to end (see the module's docstring); returns its directory."""
    from .build import Plan, build, dc_block_line, restore
    from .cluster import make_strategy
    from .plots import plot_adapt
    from .report import finish
    from .rundir import check_resume, choose_run_dir, load_dataset, lock_run, model_knobs, write_run_files
    from .sampling.dc_block import choose_cutoff, dc_share

    t = cfg["trainer"]
    check_adapt(cfg)
    t0 = time.monotonic()
    run, resuming = choose_run_dir(cfg)
    root = run / "dataset"
    ccfg, amp_knobs, n_train, setting_s, probe_s = capture_plan(cfg, root, config_dir)
    plan = plan_rounds(cfg["adapt"], n_train, setting_s, probe_s)
    ccfg.sweep.n_train = plan.initial   # the design captured first: its first `initial` points, its held-out ones
    run.mkdir(parents=True, exist_ok=True)
    lock_run(run, log)
    write_config(run, cfg)
    loop = AdaptiveRun(run, plan)
    if loop.doc["step"] == "capture":   # killed while capturing a round's picks: finish them first
        capture_step(ccfg, loop, plan, cfg, log)
    elif loop.doc["round"] == 0 and not ((root / ds.MANIFEST).exists() and ds.read_manifest(root).get("complete")):
        from capture.runner import run_sweep

        log(f"adaptive capture: {plan.initial} of {plan.budget} settings first ({ccfg.sweep.design} design), then "
            f"{plan.rounds} rounds of {plan.candidates} probes ({cfg['adapt']['probe_s']:g} s each) and {plan.picks} settings each")
        run_sweep(ccfg, log=log)
    manifest = load_dataset(root)
    knobs, fixed = model_knobs(cfg, manifest)
    if resuming:
        check_resume(run, cfg, manifest, knobs)
    else:
        write_run_files(run, cfg, root, manifest, knobs, fixed)
    train_data = load_split(root, manifest, "train", "train", knobs)
    strategy = make_strategy(t["strategy"])
    p = Plan(run, resuming, root, manifest, knobs, fixed)
    share = dc_share(train_data.y)   # round 0's targets decide the output DC blocker, as a plain run's do
    model, optimizer, tbptt = build(cfg, p, train_data, strategy, choose_cutoff(cfg["model"]["dc_block"], share))
    log(dc_block_line(cfg["model"]["dc_block"], model.dc_block_hz, share))
    state = restore(cfg, p, model, optimizer, tbptt, True, False, log) if resuming else None
    ctx = Context(cfg, ccfg, loop, plan, model, optimizer, tbptt, knobs, amp_knobs, root, int(manifest["sample_rate"]),
                  load_split(root, manifest, "val", "val", knobs), load_split(root, manifest, "test", "test", knobs), log)
    loop.doc["overhead_seconds"] += time.monotonic() - t0   # the first capture and the loading count as wall time
    state = rounds(ctx, state)
    checkpoint.load(run / "checkpoints" / "best.npz", model)
    manifest = ds.read_manifest(root)
    (run / "plots").mkdir(exist_ok=True)
    plot_adapt(run / "plots" / "adapt.png", loop.doc, manifest, knobs)
    finish(run, cfg, model, root, manifest, knobs, state, log, extra={"adapt": summary(loop.doc, manifest)})
    return run


@dataclass
class Context:
    """What the loop's steps work with, fixed for the run."""

    cfg: dict
    ccfg: object
    loop: AdaptiveRun
    plan: RoundPlan
    model: object
    optimizer: object
    tbptt: object
    knobs: list
    amp_knobs: object
    root: Path
    sr: int
    val: SplitData
    test: SplitData
    log: object


def rounds(c: Context, state: TrainState | None) -> TrainState:
    """Train, probe and capture, round after round, from the step the loop's state file names; returns the
    trainer's final state."""
    from .evaluate import evaluate

    t, loop = c.cfg["trainer"], c.loop
    ckpt = loop.path.parent / "checkpoints"
    state = state or TrainState(lr=t["learning_rate"])
    total_s = 60.0 * t["max_minutes"]
    pre = c.cfg["loss"]["pre_emphasis"]
    while loop.doc["step"] != "done":
        r, step, t1 = loop.doc["round"], loop.doc["step"], time.monotonic()
        if step == "train":
            train_data = load_split(c.root, ds.read_manifest(c.root), "train", "train", c.knobs)
            if r == 0 and c.cfg["adapt"]["select"] == "disagree" and not (ckpt / HALF).exists():
                state = train_round(c, r, train_data, state, total_s, part=0.5)
                atomic_copy(ckpt / "best.npz", ckpt / HALF)   # what round 0's model is compared with
            state = train_round(c, r, train_data, state, total_s)
            t1 = time.monotonic()
            atomic_copy(ckpt / "best.npz", ckpt / f"round-{r}.npz")   # the round's kept model: what the probes measure
            checkpoint.load(ckpt / "best.npz", c.model)
            h, _ = evaluate(c.model, c.test, c.sr, pre, t["eval_chunk"], t["eval_overlap"])
            rec = loop.record(r, train_settings=len(train_data.settings), val_esr=state.history[-1]["val_esr"],
                              heldout_esr=round(h["esr"], 5), heldout_worst=round(max(x["esr"] for x in h["per_setting"]), 5),
                              train_minutes=round(state.elapsed_seconds / 60, 2))
            checkpoint.load(ckpt / "last.npz", c.model, c.optimizer)   # the trained weights (not the average) go on
            loop.doc["step"] = "done" if r >= c.plan.rounds else "probe"
        elif step == "probe":
            SELECT[c.cfg["adapt"]["select"]](c, r, ds.read_manifest(c.root))
            checkpoint.load(ckpt / "last.npz", c.model, c.optimizer)
            loop.doc["step"] = "capture"
        else:
            capture_step(c.ccfg, loop, c.plan, c.cfg, c.log)
        loop.doc["overhead_seconds"] += time.monotonic() - t1
        if step == "train":
            rec["wall_minutes"] = round((state.elapsed_seconds + loop.doc["overhead_seconds"]) / 60, 2)
            c.log(f"adaptive round {r}: {rec['train_settings']} training settings, held-out ESR {rec['heldout_esr']:.4f} "
                  f"(worst {rec['heldout_worst']:.4f}) after {rec['wall_minutes']:.1f} min")
        loop.save()
    return state


def capture_step(ccfg, loop: AdaptiveRun, plan: RoundPlan, cfg: dict, log) -> None:
    """Capture the settings round r picked (appended to the dataset as round r + 1), then train round r + 1."""
    from capture.runner import add_settings

    r = loop.doc["round"]
    rec = loop.doc["rounds"][r]
    picked = rec["picked"]
    add_settings(ccfg, [p["knobs"] for p in picked], r + 1, [p["probe_esr"] for p in picked],
                 {"candidates": plan.candidates, "probe_s": cfg["adapt"]["probe_s"], "select": str(cfg["adapt"]["select"]),
                  "probe_plugin_seconds": rec["probe_plugin_seconds"]}, log=log)
    loop.doc.update(round=r + 1, step="train")


def write_config(run: Path, cfg: dict) -> None:
    """config.yaml first (run.json follows once the dataset is captured): a run killed while capturing is a run."""
    from omegaconf import OmegaConf

    from ampcap.files import atomic_write_bytes

    if not (run / "config.yaml").exists():
        atomic_write_bytes(run / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(cfg)).encode())


def train_round(c: Context, r: int, train_data: SplitData, state: TrainState, total_s: float, part: float = 1.0) -> TrainState:
    """Train round r until its share of the wall budget (what the loop spent outside training counted), or `part`
    of the way there; the learning-rate schedule runs over the training time the whole budget leaves, re-estimated
    each round."""
    from .train import fit

    t, doc = c.cfg["trainer"], c.loop.doc
    over = doc["overhead_seconds"]
    per_round = over / (r + 1)   # the overhead so far, per round, expected again for each round left
    horizon = max(total_s - over - per_round * (c.plan.rounds - r), 60.0)
    shares = c.cfg["adapt"]["shares"]
    start = round_deadline(r - 1, c.plan, total_s, shares) if r else 0.0
    stop = start + part * (round_deadline(r, c.plan, total_s, shares) - start) - over
    if state.batch:    # the epoch stopped mid-way on other data: the next starts on this round's
        state.update(epoch=state.epoch + 1, batch=0)
    state.update(done=False, stop_reason=None)
    c.log(f"adaptive round {r}: training on {len(train_data.settings)} settings until {stop / 60:.1f} min of training")
    return fit(c.model, c.optimizer, c.tbptt, train_data, c.val, {**t, "max_minutes": horizon / 60}, c.sr,
               c.cfg["loss"]["pre_emphasis"], c.loop.path.parent / "checkpoints", state, None, log=c.log,
               stop_minutes=stop / 60)


def probe_round(c: Context, r: int, manifest: dict) -> None:
    """Probe the plugin at the round's candidates, measure the model there, and record the picks (with their
    probe errors) and the probes (for the report) in round r's record."""
    from capture.probe import plugin_seconds, render_probes

    a, t = c.cfg["adapt"], c.cfg["trainer"]
    checkpoint.load(c.loop.path.parent / "checkpoints" / f"round-{r}.npz", c.model)
    cands, x = candidates(c, r, manifest)
    pcfg = {**manifest["config"]["plugin"], "sample_rate": c.sr}
    c.log(f"adaptive round {r}: probing {len(cands)} candidate settings ({a['probe_s']:g} s each)")
    ys = render_probes(pcfg, x, c.sr, cands, int(c.ccfg.workers), bool(manifest["checks"]["reload_per_setting"]),
                       progress=t["progress"], log=c.log)
    errs = probe_errors(c.model, x, ys, c.knobs, cands, c.sr, c.cfg["loss"]["pre_emphasis"], t)
    record_picks(c, r, cands, errs, round(sum(y is not None for y in ys) * plugin_seconds(len(x), c.sr, pcfg), 1))


def candidates(c: Context, r: int, manifest: dict) -> tuple[list[dict], np.ndarray]:
    """Round r's candidate settings and the probe DI (a few seconds of the training audio) they are scored on."""
    from omegaconf import OmegaConf

    from capture.probe import probe_signal
    from capture.sweep import candidate_points

    _, cands = candidate_points(c.amp_knobs, OmegaConf.to_container(c.ccfg.sweep, resolve=True), c.plan.candidates, r + 1)
    di, _ = ds.read_wav(c.root / manifest["signal"]["file"])
    return cands, probe_signal(di, manifest["signal"]["regions"]["train"], c.cfg["adapt"]["probe_s"], c.sr)


def disagree_round(c: Context, r: int, manifest: dict) -> None:
    """Score round r's candidates by checkpoint disagreement, at no plugin time: the ESR between the round's model
    and the previous round's (round 0: its own at half its training) on the probe DI; record the picks as
    probe_round does (their `probe_esr` is this score)."""
    ckpt = c.loop.path.parent / "checkpoints"
    cands, x = candidates(c, r, manifest)
    cond = np.stack([encode(c.knobs, k) for k in cands]).astype(np.float32)
    c.log(f"adaptive round {r}: scoring {len(cands)} candidate settings by the change since "
          f"{'half-way through round 0' if r == 0 else f'round {r - 1}'} ({c.cfg['adapt']['probe_s']:g} s each)")
    now = model_renders(c.model, ckpt / f"round-{r}.npz", x, cond, c.cfg["trainer"])
    before = model_renders(c.model, ckpt / (HALF if r == 0 else f"round-{r - 1}.npz"), x, cond, c.cfg["trainer"])
    record_picks(c, r, cands, disagreement(now, before), 0.0)


def disagreement(now: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Each row's plain ESR between two models' renders (S, T): the later model's as the reference."""
    from .losses import esr

    return np.array([esr(a, b) for a, b in zip(now, before)])


def design_round(c: Context, r: int, manifest: dict) -> None:
    """The control of the loop's selection (select=design): round r's picks are the space-filling design's next
    points (after the first capture's training and held-out ones), so the data grows in rounds as the loop's does
    but lands where the design would have put it. Their `probe_esr` is 0 (no score chose them)."""
    from omegaconf import OmegaConf

    from capture.sweep import plan as design

    sweep = OmegaConf.to_container(c.ccfg.sweep, resolve=True)
    start = c.plan.initial + int(sweep["n_heldout"]) + r * c.plan.picks
    points = [p["knobs"] for p in design(c.amp_knobs, {**sweep, "n_train": start + c.plan.picks, "n_heldout": 2})
              if p["split"] == "train"][start:]
    c.log(f"adaptive round {r}: capturing the design's next {len(points)} settings (select=design)")
    c.loop.record(r, select="design", probe_plugin_seconds=0.0, probe_esr_mean=0.0, probes=[],
                  picked=[{"knobs": k, "probe_esr": 0.0} for k in points])


def model_renders(model, weights: Path, x: np.ndarray, cond: np.ndarray, t: dict) -> np.ndarray:
    """(S, T) renders of the probe DI `x` at each row of `cond` by `model` with the checkpoint `weights`."""
    from .evaluate import SETTINGS_PER_RENDER
    from .sampling.render import render_chunked

    checkpoint.load(weights, model)
    out = np.empty((len(cond), len(x)), np.float32)
    for g in range(0, len(cond), SETTINGS_PER_RENDER):
        group = slice(g, g + SETTINGS_PER_RENDER)
        out[group] = render_chunked(model, np.broadcast_to(x, out[group].shape), cond[group], t["eval_chunk"], t["eval_overlap"])
    return out


def record_picks(c: Context, r: int, cands: list[dict], errs: np.ndarray, plugin_s: float) -> None:
    """Pick round r's settings from the candidates' scores and record them (and every candidate's, for the report)."""
    a, t = c.cfg["adapt"], c.cfg["trainer"]
    names = {k["name"] for k in c.knobs}
    chosen = pick(unit_coords([k for k in c.amp_knobs if k.name in names], cands), errs, c.plan.picks, a["pool"],
                  int(t["seed"]) * 1000 + r)
    finite = errs[np.isfinite(errs)]
    c.loop.record(r, select=str(a["select"]), probe_plugin_seconds=plugin_s, probe_esr_mean=round(float(finite.mean()), 5),
                  probes=[{"knobs": k, "probe_esr": None if not np.isfinite(e) else round(float(e), 6)} for k, e in zip(cands, errs)],
                  picked=[{"knobs": cands[i], "probe_esr": round(float(errs[i]), 6)} for i in chosen])
    what = "probe ESR" if a["select"] == "probes" else "disagreement"
    c.log(f"adaptive round {r}: {what} mean {finite.mean():.4f}, worst {finite.max():.4f}; capturing the {len(chosen)} "
          f"settings picked ({what} {errs[chosen].min():.4f}..{errs[chosen].max():.4f})")


SELECT = {"probes": probe_round, "disagree": disagree_round, "design": design_round}   # adapt.select: how a round picks


def summary(doc: dict, manifest: dict) -> dict:
    """The loop's figures for metrics.json: the plan, each round's held-out ESR and settings, and the plugin-seconds
    spent on training settings and probes against the budget's (held-out settings, the same in any design, apart)."""
    per = doc["plan"]["setting_plugin_s"]
    n = len([s for s in manifest["settings"] if s["status"] == "done" and s["split"] == "train"])
    probes = sum(r.get("probe_plugin_seconds", 0.0) for r in doc["rounds"])
    return {"plan": doc["plan"], "overhead_minutes": round(doc["overhead_seconds"] / 60, 2),
            "plugin_seconds": {"budget": round(doc["plan"]["budget"] * per, 1), "train_settings": round(n * per, 1),
                               "probes": round(probes, 1)},
            "rounds": [{k: v for k, v in r.items() if k not in ("probes", "picked")} for r in doc["rounds"]]}


def check_adapt(cfg: dict) -> None:
    """What the loop needs that a plain run does not; one line naming the key."""
    t, a, d = cfg["trainer"], cfg["adapt"], cfg["dataset"]
    if not t["max_minutes"]:
        raise ConfigError("config key 'trainer.max_minutes': the adaptive loop shares a wall budget between its rounds; "
                          "set one (e.g. trainer.max_minutes=30)")
    if t["strategy"] == "multi_worker":
        raise ConfigError("config key 'trainer.strategy': the adaptive loop runs on one machine (default or mirrored)")
    if d["path"]:
        raise ConfigError("config key 'dataset.path': the adaptive loop captures its own dataset (RUN/dataset) from the "
                          "plugin and sweep; give dataset.plugin and dataset.sweep instead of a captured dataset")
    rules = [("adapt.rounds", a["rounds"] >= 1, "must be at least 1 (adapt=none: no adaptive rounds)"),
             ("adapt.initial", 0 < a["initial"] < 1, "must be in (0, 1): the budget's share captured first"),
             ("adapt.candidates", a["candidates"] >= 1, "must be at least 1"),
             ("adapt.probe_s", a["probe_s"] > 0, "must be > 0 (seconds of DI per probe)"),
             ("adapt.pool", 0 < a["pool"] <= 1, "must be in (0, 1]: the worst share of the probes the picks come from"),
             ("adapt.budget", a["budget"] is None or a["budget"] >= 2, "must be at least 2 settings (or null: the design's)")]
    for key, ok, why in rules:
        if not ok:
            raise ConfigError(f"config key '{key}': {a[key.split('.')[1]]!r} {why}")


def capture_plan(cfg: dict, root: Path, config_dir: str | None):
    """The capture config of the run's dataset (out=RUN/dataset), the plugin's knobs, the design's training
    settings and the plugin-seconds of a setting and of a probe."""
    from omegaconf import OmegaConf

    from capture.config import compose_capture
    from capture.probe import plugin_seconds
    from capture.runner import load_amp

    d, a = cfg["dataset"], cfg["adapt"]
    ccfg = compose_capture([f"plugin={d['plugin']}", f"sweep={d['sweep']}", f"signal={d['signal']}",
                            *d["capture_overrides"], f"out={root}"], config_dir)
    ccfg.progress = cfg["trainer"]["progress"]
    if ccfg.sweep.design not in SPACE_FILLING:
        raise ConfigError(f"config key 'dataset.sweep': '{d['sweep']}' is a {ccfg.sweep.design} design; the adaptive loop "
                          f"starts from a space-filling one ({', '.join(SPACE_FILLING)}), e.g. dataset.sweep=default")
    pcfg = OmegaConf.to_container(ccfg.plugin, resolve=True)
    amp = load_amp(pcfg)
    sr = amp.sample_rate
    pcfg["sample_rate"] = sr
    n = int(float(ccfg.signal.duration_s) * sr) if ccfg.signal.kind == "builtin" else None
    if n is None:
        from capture.runner import make_signal

        n = len(make_signal(OmegaConf.to_container(ccfg.signal, resolve=True), sr).audio)
    return (ccfg, amp.knobs, int(ccfg.sweep.n_train), plugin_seconds(n, sr, pcfg),
            plugin_seconds(int(a["probe_s"] * sr), sr, pcfg))
