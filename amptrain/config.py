"""Structured configs for training (`conf/train.yaml` and its groups dataset/, model/, loss/, trainer/, adapt/):
every key is typed, so a wrong key or value is one line that names it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from omegaconf import MISSING, DictConfig

from ampcap.config import compose
from ampcap.errors import ConfigError

from .losses import PRE_EMPHASIS


@dataclass
class DatasetConfig:
    plugin: str = MISSING               # capture's plugin= option the dataset was captured with
    sweep: str = MISSING                # capture's sweep= option
    signal: str = "builtin"             # capture's signal= option
    path: Optional[str] = None          # dataset directory; default outputs/datasets/<plugin>-<sweep>
    capture_overrides: List[str] = field(default_factory=list)  # extra capture overrides (auto-capture)
    auto_capture: bool = MISSING        # capture a missing dataset first (embedded amp only)
    allow_failed: bool = False          # train on a dataset whose plugin failed some settings (they are left out)


# One home for every default: a key that the group's default file sets (conf/model/lstm32.yaml,
# conf/loss/esr_dc.yaml, conf/trainer/default.yaml; the other options of a group start from it) is
# MISSING here, and only keys no file sets have their default here (tests/test_config_defaults.py).

@dataclass
class ModelConfig:
    _target_: str = MISSING             # the Keras model class (hydra.utils.instantiate), amptrain.model.AmpNet
    hidden_size: int = MISSING
    conditioning: str = MISSING         # concat | film | none
    film_units: int = MISSING
    skip: bool = MISSING
    level: bool = MISSING               # output scaled by exp(linear(knobs)) (fixed-knob exports only)
    drive: bool = MISSING               # input scaled by exp(linear(knobs)) (fixed-knob exports only)
    dc_block: str = "auto"              # output DC blocker in every render: auto (on when the training targets carry no DC) | on | off


@dataclass
class LossConfig:
    pre_emphasis: str = MISSING         # none | hp | aw
    esr_weight: float = MISSING
    dc_weight: float = MISSING
    plain_weight: float = 0.0           # ESR without pre-emphasis added to the pre-emphasised one
    low_weight: float = 0.0             # ESR of the low band (signals averaged over low_pool samples): the low end by its own energy
    low_pool: int = 96                  # samples averaged for the low-band ESR (96 at 48 kHz: a low-pass with its null at 500 Hz)
    stft_weight: float = MISSING
    balance_settings: bool = MISSING    # weight each setting by 1/its energy: quiet settings count too


@dataclass
class TrainerConfig:
    seed: int = MISSING
    segment: int = MISSING              # samples per training segment
    warmup: int = MISSING               # samples run without gradient at each segment's start
    window: int = MISSING               # samples per truncated-BPTT update
    batch_size: int = MISSING
    learning_rate: float = MISSING
    clipnorm: Optional[float] = MISSING
    max_epochs: int = MISSING
    max_minutes: Optional[float] = MISSING  # stop after this wall time (the run keeps its model: select)
    patience: Optional[int] = MISSING   # early stopping: validations without a better validation ESR (null: never)
    select: str = MISSING               # the model kept: last (the last validated weights) | best (the best validation ESR)
    schedule: str = MISSING             # cosine (warm-up, then cosine to the budget's end) | plateau (halving)
    lr_warmup: float = MISSING          # cosine: fraction of the budget spent ramping the learning rate up
    lr_patience: int = MISSING          # plateau: halve the learning rate after this many validations without progress
    lr_factor: float = MISSING
    min_lr: float = MISSING
    val_every: int = 0                  # validate every this many batches (0: after each epoch); long epochs of many settings
    keep_epochs: bool = False           # also keep each validation's weights (checkpoints/epoch-N.npz: accuracy curves)
    focus: float = 0.0                  # loss weights follow each training setting's running ESR to this power (0: off)
    ema: float = MISSING                # decay per batch of the weights' moving average (0: off) used to validate and save
    fused_lstm: bool = True             # train through the fused LSTM kernel (false: Keras' layer; the same maths)
    lstm_splits: int = 0                # fused LSTM: rows cut into this many blocks on separate cores (0: one per core)
    eval_chunk: int = 9600              # evaluation: chunk length and warm-up overlap (samples)
    eval_overlap: int = 4800
    renders: int = 4                    # held-out test settings written as WAV (target vs prediction)
    strategy: str = MISSING             # default | mirrored | multi_worker (reads TF_CONFIG)
    cluster_timeout: float = MISSING    # multi_worker: seconds to wait for every worker to join, then one error line
    resume: bool = False                # continue the latest unfinished run of this name (or run_dir)
    progress: bool = True


@dataclass
class AdaptConfig:
    rounds: int = MISSING               # adaptive capture rounds after the first capture (0: none; amptrain/adapt.py)
    initial: float = MISSING            # share of the capture budget captured first (the design's first points)
    budget: Optional[int] = MISSING     # capture budget in settings of the DI's length, probes included (null: n_train)
    candidates: int = MISSING           # probes per round
    probe_s: float = MISSING            # seconds of DI per probe
    pool: float = MISSING               # the picks are clustered from this worst share of the probes
    shares: str = MISSING               # the wall budget's split between rounds: equal, or settings (as the data grows)


@dataclass
class TrainConfig:
    name: str = MISSING                 # the run's name: runs go to <runs_dir>/<name>/<timestamp>
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    runs_dir: str = MISSING
    run_dir: Optional[str] = None       # explicit run directory (to resume it, or to choose the name)


SCHEMAS = {"train_schema": TrainConfig}


def compose_train(overrides: list[str], config_dir: str | None = None) -> DictConfig:
    """`conf/train.yaml` with Hydra overrides, on training's schema."""
    return compose("train", overrides, config_dir, SCHEMAS)


STRATEGIES = ("default", "mirrored", "multi_worker")
SCHEDULES = ("cosine", "plateau")
SELECTS = ("last", "best")
DC_BLOCK_MODES = ("auto", "on", "off")


def check(cfg: dict) -> None:
    """Value checks that types alone cannot express; one line naming the key."""
    from .model import CONDITIONING  # (the model module imports Keras: only once a config is checked)

    t, m, l = cfg["trainer"], cfg["model"], cfg["loss"]
    rules = [
        ("model.hidden_size", m["hidden_size"] >= 1, "must be at least 1"),
        ("model.conditioning", m["conditioning"] in CONDITIONING, f"must be one of {', '.join(CONDITIONING)}"),
        ("model.dc_block", m["dc_block"] in DC_BLOCK_MODES, f"must be one of {', '.join(DC_BLOCK_MODES)}"),
        ("loss.pre_emphasis", l["pre_emphasis"] in PRE_EMPHASIS, f"must be one of {', '.join(PRE_EMPHASIS)}"),
        ("loss.esr_weight", l["esr_weight"] >= 0, "must be >= 0"),
        ("loss.dc_weight", l["dc_weight"] >= 0, "must be >= 0"),
        ("loss.plain_weight", l["plain_weight"] >= 0, "must be >= 0"),
        ("loss.low_weight", l["low_weight"] >= 0, "must be >= 0"),
        ("loss.low_pool", l["low_pool"] >= 1, "must be at least 1"),
        ("loss.stft_weight", l["stft_weight"] >= 0, "must be >= 0"),
        ("trainer.window", t["window"] >= 1, "must be at least 1"),
        ("trainer.warmup", 0 <= t["warmup"] < t["segment"], "must be >= 0 and shorter than trainer.segment"),
        ("trainer.segment", t["segment"] > t["warmup"], "must be longer than trainer.warmup"),
        ("trainer.batch_size", t["batch_size"] >= 1, "must be at least 1"),
        ("trainer.learning_rate", t["learning_rate"] > 0, "must be > 0"),
        ("trainer.max_epochs", t["max_epochs"] >= 1, "must be at least 1"),
        ("trainer.patience", t["patience"] is None or t["patience"] >= 1, "must be at least 1 (or null: no early stopping)"),
        ("trainer.schedule", t["schedule"] in SCHEDULES, f"must be one of {', '.join(SCHEDULES)}"),
        ("trainer.select", t["select"] in SELECTS, f"must be one of {', '.join(SELECTS)}"),
        ("trainer.lr_warmup", 0 <= t["lr_warmup"] < 1, "must be in [0, 1)"),
        ("trainer.ema", 0 <= t["ema"] < 1, "must be in [0, 1)"),
        ("trainer.focus", 0 <= t["focus"] <= 4, "must be in [0, 4] (0: off)"),
        ("trainer.val_every", t["val_every"] >= 0, "must be >= 0 (0: after each epoch)"),
        ("trainer.lstm_splits", t["lstm_splits"] >= 0, "must be >= 0 (0: one block per core)"),
        ("trainer.lr_patience", t["lr_patience"] >= 1, "must be at least 1"),
        ("trainer.lr_factor", 0 < t["lr_factor"] <= 1, "must be in (0, 1]"),
        ("trainer.eval_chunk", t["eval_chunk"] >= 1, "must be at least 1"),
        ("trainer.eval_overlap", t["eval_overlap"] >= 0, "must be >= 0"),
        ("trainer.strategy", t["strategy"] in STRATEGIES, f"must be one of {', '.join(STRATEGIES)}"),
    ]
    for key, ok, why in rules:
        if not ok:
            value = cfg[key.split(".")[0]][key.split(".")[1]]
            raise ConfigError(f"config key '{key}': {value!r} {why}")
    if t["cluster_timeout"] <= 0:
        raise ConfigError(f"config key 'trainer.cluster_timeout': {t['cluster_timeout']!r} must be > 0")
    if t["max_minutes"] is not None and t["max_minutes"] <= 0:
        raise ConfigError(f"config key 'trainer.max_minutes': {t['max_minutes']!r} must be > 0")
