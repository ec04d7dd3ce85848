"""Structured configs for training (`conf/train.yaml` and its groups dataset/, model/, loss/, trainer/, adapt/):
every key is typed, so a wrong key or value is one line that names it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from omegaconf import MISSING, DictConfig

from ampcap.config import choices, compose
from ampcap.errors import ConfigError

from .conditioning import CONDITIONING
from .losses import PRE_EMPHASIS

# Pure schema: types and valid keys only. Every default lives in the YAML: conf/train.yaml and each group's default
# file (conf/dataset/builtin.yaml, conf/model/lstm32.yaml, conf/loss/esr_dc.yaml, conf/optimizer/adam.yaml,
# conf/trainer/default.yaml, conf/adapt/none.yaml), which the group's other options start from
# (tests/test_config_defaults.py). A choice is an enum, so a typo is one line that lists the choices.
Conditioning = choices("Conditioning", CONDITIONING, __name__)
DcBlock = choices("DcBlock", ("auto", "on", "off"), __name__)
PreEmphasis = choices("PreEmphasis", PRE_EMPHASIS, __name__)
Schedule = choices("Schedule", ("cosine", "plateau"), __name__)
Select = choices("Select", ("last", "best"), __name__)
Strategy = choices("Strategy", ("default", "mirrored", "multi_worker"), __name__)
Shares = choices("Shares", ("equal", "settings"), __name__)
Pick = choices("Pick", ("probes", "disagree", "design"), __name__)


@dataclass
class DatasetConfig:
    plugin: str = MISSING               # capture's plugin= option the dataset was captured with
    sweep: str = MISSING                # capture's sweep= option
    signal: str = MISSING               # capture's signal= option
    path: Optional[str] = MISSING       # dataset directory; null: outputs/datasets/<plugin>-<sweep>
    capture_overrides: List[str] = MISSING  # extra capture overrides (auto-capture)
    auto_capture: bool = MISSING        # capture a missing dataset first (embedded amp only)
    allow_failed: bool = MISSING        # train on a dataset whose plugin failed some settings (they are left out)


@dataclass
class ModelConfig:                      # the keyword arguments of `_target_` (the data adds knobs, n_cond, ...)
    _target_: str = MISSING             # the Keras model class (hydra.utils.instantiate), amptrain.model.AmpNet
    hidden_size: int = MISSING
    conditioning: Conditioning = MISSING  # concat | film | none
    film_units: int = MISSING
    skip: bool = MISSING
    level: bool = MISSING               # output scaled by exp(linear(knobs)) (fixed-knob exports only)
    drive: bool = MISSING               # input scaled by exp(linear(knobs)) (fixed-knob exports only)
    dc_block: DcBlock = MISSING         # output DC blocker in every render: auto (on when the training targets carry no DC) | on | off


@dataclass
class LossConfig:                       # the keyword arguments of `_target_`
    _target_: str = MISSING             # the loss (hydra.utils.instantiate), amptrain.losses.Loss
    pre_emphasis: PreEmphasis = MISSING  # none | hp | aw
    esr_weight: float = MISSING
    dc_weight: float = MISSING
    plain_weight: float = MISSING       # ESR without pre-emphasis added to the pre-emphasised one
    low_weight: float = MISSING         # ESR of the low band (signals averaged over low_pool samples)
    low_pool: int = MISSING             # samples averaged for the low-band ESR
    stft_weight: float = MISSING
    balance_settings: bool = MISSING    # weight each setting by 1/its energy: quiet settings count too


@dataclass
class OptimizerConfig:                  # the keyword arguments of `_target_` (the trainer adds learning_rate)
    _target_: str = MISSING             # the Keras optimizer class, keras.optimizers.Adam
    beta_1: float = MISSING
    beta_2: float = MISSING
    epsilon: float = MISSING


@dataclass
class TrainerConfig:
    seed: int = MISSING
    segment: int = MISSING              # samples per training segment
    warmup: int = MISSING               # samples run without gradient at each segment's start
    window: int = MISSING               # samples per truncated-BPTT update
    batch_size: int = MISSING
    learning_rate: float = MISSING
    clipnorm: Optional[float] = MISSING  # each gradient tensor clipped to this norm (the truncated-BPTT step's)
    max_epochs: int = MISSING
    max_minutes: Optional[float] = MISSING  # stop after this wall time (the run keeps its model: select)
    patience: Optional[int] = MISSING   # early stopping: validations without a better validation ESR (null: never)
    select: Select = MISSING            # the model kept: last (the last validated weights) | best (the best validation ESR)
    schedule: Schedule = MISSING        # cosine (warm-up, then cosine to the budget's end) | plateau (halving)
    lr_warmup: float = MISSING          # cosine: fraction of the budget spent ramping the learning rate up
    lr_patience: int = MISSING          # plateau: halve the learning rate after this many validations without progress
    lr_factor: float = MISSING
    min_lr: float = MISSING
    val_every: int = MISSING            # validate every this many batches (0: after each epoch); long epochs of many settings
    keep_epochs: bool = MISSING         # also keep each validation's weights (checkpoints/epoch-N.npz: accuracy curves)
    focus: float = MISSING              # loss weights follow each training setting's running ESR to this power (0: off)
    ema: float = MISSING                # decay per batch of the weights' moving average (0: off) used to validate and save
    fused_lstm: bool = MISSING          # train through the fused LSTM kernel (false: Keras' layer; the same maths)
    lstm_splits: int = MISSING          # fused LSTM: rows cut into this many blocks on separate cores (0: one per core)
    eval_chunk: int = MISSING           # evaluation: chunk length and warm-up overlap (samples)
    eval_overlap: int = MISSING
    renders: int = MISSING              # held-out test settings written as WAV (target vs prediction)
    strategy: Strategy = MISSING        # default | mirrored | multi_worker (reads TF_CONFIG)
    cluster_timeout: float = MISSING    # multi_worker: seconds to wait for every worker to join, then one error line
    resume: bool = MISSING              # continue the latest unfinished run of this name (or run_dir)
    progress: bool = MISSING


@dataclass
class AdaptConfig:
    rounds: int = MISSING               # adaptive capture rounds after the first capture (0: none; amptrain/adapt.py)
    initial: float = MISSING            # share of the capture budget captured first (the design's first points)
    budget: Optional[int] = MISSING     # capture budget in settings of the DI's length, probes included (null: n_train)
    candidates: int = MISSING           # probes per round
    probe_s: float = MISSING            # seconds of DI per probe
    pool: float = MISSING               # the picks are clustered from this worst share of the probes
    shares: Shares = MISSING            # the wall budget's split between rounds: equal, or settings (as the data grows)
    select: Pick = MISSING              # probes (the plugin's renders) | disagree (the model against its previous round's)
                                        # | design (the control: the space-filling design's next points)


@dataclass
class TrainConfig:
    name: str = MISSING                 # the run's name: runs go to <runs_dir>/<name>/<timestamp>
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    runs_dir: str = MISSING
    run_dir: Optional[str] = MISSING    # explicit run directory (to resume it, or to choose the name)


SCHEMAS = {"train_schema": TrainConfig}


def compose_train(overrides: list[str], config_dir: str | None = None) -> DictConfig:
    """`conf/train.yaml` with Hydra overrides, on training's schema."""
    return compose("train", overrides, config_dir, SCHEMAS)


def check(cfg: dict) -> None:
    """Value checks that types alone cannot express; one line naming the key."""
    t, m, l = cfg["trainer"], cfg["model"], cfg["loss"]
    rules = [
        ("model.hidden_size", m["hidden_size"] >= 1, "must be at least 1"),
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
        ("trainer.lr_warmup", 0 <= t["lr_warmup"] < 1, "must be in [0, 1)"),
        ("trainer.ema", 0 <= t["ema"] < 1, "must be in [0, 1)"),
        ("trainer.focus", 0 <= t["focus"] <= 4, "must be in [0, 4] (0: off)"),
        ("trainer.val_every", t["val_every"] >= 0, "must be >= 0 (0: after each epoch)"),
        ("trainer.lstm_splits", t["lstm_splits"] >= 0, "must be >= 0 (0: one block per core)"),
        ("trainer.lr_patience", t["lr_patience"] >= 1, "must be at least 1"),
        ("trainer.lr_factor", 0 < t["lr_factor"] <= 1, "must be in (0, 1]"),
        ("trainer.eval_chunk", t["eval_chunk"] >= 1, "must be at least 1"),
        ("trainer.eval_overlap", t["eval_overlap"] >= 0, "must be >= 0"),
    ]
    for key, ok, why in rules:
        if not ok:
            value = cfg[key.split(".")[0]][key.split(".")[1]]
            raise ConfigError(f"config key '{key}': {value!r} {why}")
    if t["cluster_timeout"] <= 0:
        raise ConfigError(f"config key 'trainer.cluster_timeout': {t['cluster_timeout']!r} must be > 0")
    if t["max_minutes"] is not None and t["max_minutes"] <= 0:
        raise ConfigError(f"config key 'trainer.max_minutes': {t['max_minutes']!r} must be > 0")
