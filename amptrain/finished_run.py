"""A finished training run, opened once: `Run.open(path)` reads run.json, metrics.json and its dataset's manifest
(one-line errors for anything missing, damaged or moved), and gives its splits, its network and its evaluation,
so reports, benchmarks, tone match and the adaptive loop's figures read a run one way."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ampcap import dataset as ds
from ampcap.errors import ConfigError, DatasetError

from .data import SplitData, load_split
from .rundir import RUN_FORMAT

METRICS_FORMAT = "ampcap-metrics"


@dataclass
class Run:
    """A finished run: its directory, run.json (`info`), metrics.json, and the dataset it was trained on."""

    path: Path
    info: dict
    metrics: dict
    root: Path
    manifest: dict

    @classmethod
    def open(cls, path, dataset=None) -> "Run":
        """Open the finished run at `path`; `dataset`: the dataset's folder where it has moved since training.
        A missing or damaged file, or a dataset holding another capture, is a one-line error."""
        path = Path(path)
        if not path.is_dir():
            raise ConfigError(f"run={path}: no such run directory (runs are under outputs/runs/<name>/<time>/)")
        try:
            metrics = json.loads((path / "metrics.json").read_text())
            info = json.loads((path / "run.json").read_text())
        except FileNotFoundError as e:
            raise ConfigError(f"run={path}: no {Path(e.filename).name}: not a finished training run (let it finish, "
                              "or continue it with trainer.resume=true)") from None
        except (ValueError, UnicodeDecodeError):
            raise ConfigError(f"run={path}: metrics.json or run.json is not valid JSON (damaged); train the run again") from None
        if not isinstance(metrics, dict) or not isinstance(info, dict) or \
                metrics.get("format") != METRICS_FORMAT or info.get("format") != RUN_FORMAT:
            raise ConfigError(f"run={path}: metrics.json/run.json are not an ampcap run's")
        root = dataset_root(path, info, dataset)
        try:
            manifest = ds.read_manifest(root)
        except DatasetError as e:
            raise DatasetError(f"the run's dataset: {e}; pass dataset=DIR if it moved") from None
        if manifest["config_sha256"] != info["dataset"]["config_sha256"]:
            raise DatasetError(f"dataset {root} holds another capture than the one run {path} was trained on; "
                               "pass dataset=DIR of that capture")
        return cls(path, info, metrics, root, manifest)

    @property
    def config(self) -> dict:
        """The composed training config the run was started with."""
        return self.info["config"]

    @property
    def knobs(self) -> list[dict]:
        """The model's knobs (specs), as run.json records them."""
        return self.info["knobs"]

    @property
    def sample_rate(self) -> int:
        return int(self.info["sample_rate"])

    @property
    def plugin(self) -> dict:
        """The plugin config the dataset was captured with (to render through the amp itself)."""
        return self.manifest["config"]["plugin"]

    def split(self, settings: str, region: str | None = None, dataset=None) -> SplitData:
        """The `settings` split's settings (train | val | test) over the DI's `region` (default: the same name) of
        the run's dataset, or of another `dataset` folder (a common evaluation set), encoded for this run's knobs."""
        root = self.root if dataset is None else Path(dataset)
        manifest = self.manifest if dataset is None else ds.read_manifest(root)
        return load_split(root, manifest, settings, region or settings, self.knobs)

    def net(self):
        """The run's trained network (model.keras; TensorFlow loads here)."""
        from .sampling.modelfile import load_net

        return load_net(self.path)

    def evaluate(self, net, data: SplitData) -> tuple[dict, list]:
        """(figures, predictions) of `net` on `data`, as the run's own evaluation makes them (its loss's pre-emphasis,
        its evaluation chunk and overlap)."""
        from .evaluate import evaluate

        t = self.config["trainer"]
        return evaluate(net, data, self.sample_rate, self.config["loss"]["pre_emphasis"], t["eval_chunk"], t["eval_overlap"])

    def real_playing(self, net, settings: list[dict], manifest: dict | None = None, seed: int = 0) -> dict:
        """Real-playing figures of `net` at `settings` (the evaluation set; `seed`: another, e.g. the development
        set), through the plugin of `manifest` (default: the run's dataset's)."""
        from .evaluate import evaluate_real_playing

        t = self.config["trainer"]
        return evaluate_real_playing(net, manifest or self.manifest, settings, self.knobs, self.config["loss"]["pre_emphasis"],
                                     t["eval_chunk"], t["eval_overlap"], seed=seed)


def dataset_root(path: Path, info: dict, dataset=None) -> Path:
    """The run's dataset folder: `dataset` where given; else run.json's, a relative one found above the run
    (it is relative to where training ran: usually the folder above outputs/runs/...)."""
    root = Path(dataset or info["dataset"]["path"]).expanduser()
    if not dataset and not root.is_absolute() and not root.is_dir():
        root = next((a / root for a in path.resolve().parents if (a / root / ds.MANIFEST).is_file()), root)
    return root
