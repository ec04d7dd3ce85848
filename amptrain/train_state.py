"""The trainer's state: where a run is (epoch, batch, updates), what it has seen (history, best validation ESR),
the learning rate, time and samples spent, and why it stopped. It is saved in every checkpoint as JSON
(amptrain/checkpoint.py), so a killed or extended run continues exactly where it was."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class TrainState:
    lr: float                                   # the learning rate now (the schedule's, or the plateau's halving)
    epoch: int = 0                              # epochs finished
    batch: int = 0                              # batches done in the current epoch
    updates: int = 0                            # batches done in all (the weights' moving average warms up on it)
    best_val: float | None = None               # the best validation ESR so far, and where
    best_epoch: float | None = None
    chosen_epoch: float | None = None           # the validation whose weights the run keeps (trainer.select)
    bad_epochs: int = 0                         # validations without a better one (early stopping)
    lr_bad_epochs: int = 0                      # the same, for the plateau schedule's halving
    history: list[dict] = field(default_factory=list)   # one row per validation: epoch, losses, ESR, lr, time
    train_seconds: float = 0.0                  # seconds in training batches
    elapsed_seconds: float = 0.0                # training and validation: what the wall budget counts
    trained_samples: int = 0
    warnings: list[str] = field(default_factory=list)
    done: bool = False
    stop_reason: str | None = None
    focus_err: list[float] = field(default_factory=list)  # trainer.focus: each setting's decayed error energy
    focus_ref: list[float] = field(default_factory=list)  # and target energy (amptrain/focus.py)

    def update(self, **changes) -> None:
        """Set several fields at once (a name that is not a field is an error, not a new key)."""
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:
                raise AttributeError(f"TrainState has no field {name!r}")
            setattr(self, name, value)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict, lr: float) -> "TrainState":
        """The state a checkpoint saved (keys it lacks take their start values: older checkpoints load)."""
        known = {f.name for f in fields(cls)}
        return cls(**{"lr": lr, **{k: v for k, v in d.items() if k in known}})
