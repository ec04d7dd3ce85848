"""Structured configs for training (`conf/train.yaml` and its groups dataset/, model/, loss/, trainer/):
every key is typed, so a wrong key or value is one line that names it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from omegaconf import MISSING

from capture.config import register_schema
from capture.errors import ConfigError


@dataclass
class DatasetConfig:
    plugin: str = "builtin"             # capture's plugin= option the dataset was captured with
    sweep: str = "default"              # capture's sweep= option
    signal: str = "builtin"             # capture's signal= option
    path: Optional[str] = None          # dataset directory; default outputs/datasets/<plugin>-<sweep>
    capture_overrides: List[str] = field(default_factory=list)  # extra capture overrides (auto-capture)
    auto_capture: bool = True           # capture a missing dataset first (embedded amp only)
    allow_failed: bool = False          # train on a dataset whose plugin failed some settings (they are left out)


@dataclass
class ModelConfig:
    name: str = MISSING
    hidden_size: int = 32
    conditioning: str = "concat"        # concat | film | none
    film_units: int = 16
    skip: bool = False


@dataclass
class LossConfig:
    name: str = MISSING
    pre_emphasis: str = "aw"            # none | hp | aw
    esr_weight: float = 0.75
    dc_weight: float = 0.25
    plain_weight: float = 0.0           # ESR without pre-emphasis added to the pre-emphasised one
    low_weight: float = 0.0             # ESR of the low band (signals averaged over low_pool samples): the low end by its own energy
    low_pool: int = 96                  # samples averaged for the low-band ESR (96 at 48 kHz: a low-pass with its null at 500 Hz)
    stft_weight: float = 0.0
    balance_settings: bool = True       # weight each setting by 1/its energy: quiet settings count too


@dataclass
class TrainerConfig:
    name: str = MISSING
    seed: int = 0
    segment: int = 24000                # samples per training segment
    warmup: int = 200                   # samples run without gradient at each segment's start
    window: int = 1000                  # samples per truncated-BPTT update
    batch_size: int = 32
    learning_rate: float = 5e-3
    clipnorm: Optional[float] = 1.0
    max_epochs: int = 40
    max_minutes: Optional[float] = None  # stop after this wall time (best checkpoint is kept)
    patience: Optional[int] = 8         # early stopping: epochs without a better validation ESR (null: never)
    schedule: str = "plateau"           # cosine (warm-up, then cosine to the budget's end) | plateau (halving)
    lr_warmup: float = 0.05             # cosine: fraction of the budget spent ramping the learning rate up
    lr_patience: int = 3                # plateau: halve the learning rate after this many epochs without progress
    lr_factor: float = 0.5
    min_lr: float = 1e-5
    val_every: int = 0                  # validate every this many batches (0: after each epoch); long epochs of many settings
    keep_epochs: bool = False           # also keep each validation's weights (checkpoints/epoch-N.npz: accuracy curves)
    ema: float = 0.0                    # decay per batch of the weights' moving average (0: off) used to validate and save
    fused_lstm: bool = True             # train through the fused LSTM kernel (false: Keras' layer; the same maths)
    lstm_splits: int = 0                # fused LSTM: rows cut into this many blocks on separate cores (0: one per core)
    eval_chunk: int = 9600              # evaluation: chunk length and warm-up overlap (samples)
    eval_overlap: int = 4800
    renders: int = 4                    # held-out test settings written as WAV (target vs prediction)
    strategy: str = "default"           # default | mirrored | multi_worker (reads TF_CONFIG)
    cluster_timeout: float = 300.0      # multi_worker: seconds to wait for every worker to join, then one error line
    resume: bool = False                # continue the latest unfinished run of this name (or run_dir)
    progress: bool = True


@dataclass
class TrainConfig:
    name: str = "train"
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    runs_dir: str = "outputs/runs"
    run_dir: Optional[str] = None       # explicit run directory (to resume it, or to choose the name)


register_schema("train_schema", TrainConfig)

STRATEGIES = ("default", "mirrored", "multi_worker")
SCHEDULES = ("cosine", "plateau")


def check(cfg: dict) -> None:
    """Value checks that types alone cannot express; one line naming the key."""
    from .losses import PRE_EMPHASIS
    from .model import CONDITIONING

    t, m, l = cfg["trainer"], cfg["model"], cfg["loss"]
    rules = [
        ("model.hidden_size", m["hidden_size"] >= 1, "must be at least 1"),
        ("model.conditioning", m["conditioning"] in CONDITIONING, f"must be one of {', '.join(CONDITIONING)}"),
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
        ("trainer.lr_warmup", 0 <= t["lr_warmup"] < 1, "must be in [0, 1)"),
        ("trainer.ema", 0 <= t["ema"] < 1, "must be in [0, 1)"),
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
