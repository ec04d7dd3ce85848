"""One home for every default, and one way to build from config. The dataclass schemas (amptrain/config.py,
capture/config.py) are pure schema: types, valid keys and enums for choices, no defaults; every default lives in
the YAML (conf/train.yaml and each training group's default file, which the group's other options start from;
conf/capture.yaml and conf/base/ for capture's groups). Every option of every group composes with no key left
without a value, and the model, loss and optimiser of each are built from their group's `_target_`."""
from dataclasses import MISSING as NO_DEFAULT
from dataclasses import fields, is_dataclass

import pytest
from omegaconf import MISSING

from ampcap.config import find_conf_dir, to_dict, validate
from amptrain.config import TrainConfig, compose_train
from capture.config import CaptureConfig, KnobConfig, compose_capture

CONF = find_conf_dir()


def defaults_in(schema, prefix: str = "") -> list[str]:
    """Keys of a dataclass schema (nested ones too) that carry a default value. KnobConfig is the one exception:
    an entry of the plugin.knobs map, where each knob says what it has and None is 'not given'."""
    out = []
    for f in fields(schema):
        if f.default_factory is not NO_DEFAULT:
            value = f.default_factory()
            out += defaults_in(type(value), f"{prefix}{f.name}.") if is_dataclass(value) else [f"{prefix}{f.name}"]
        elif f.default is not MISSING:
            out.append(f"{prefix}{f.name}")
    return out


@pytest.mark.parametrize("schema", [TrainConfig, CaptureConfig])
def test_the_schemas_hold_no_defaults(schema):
    assert defaults_in(schema) == [], "these defaults belong in conf/ (the YAML), not in the schema"
    assert all(f.default is None for f in fields(KnobConfig))


GROUPS = [("train", g, p.stem) for g in ("dataset", "model", "loss", "optimizer", "trainer", "adapt")
          for p in sorted((CONF / g).glob("*.yaml"))]
GROUPS += [("capture", g, p.stem) for g in ("plugin", "sweep", "signal") for p in sorted((CONF / g).glob("*.yaml"))]
GROUPS += [("train", "+experiment", p.stem) for p in sorted((CONF / "experiment").glob("*.yaml"))]


@pytest.mark.parametrize("stage, group, option", GROUPS, ids=[f"{g}={o}" for _, g, o in GROUPS])
def test_every_option_of_every_group_composes_and_builds(stage, group, option):
    """validate() refuses a key left without a value; then the model, loss and optimiser are instantiated."""
    overrides = [f"{group}={option}"] + (["dataset.path=somewhere"] if (group, option) == ("dataset", "path") else [])
    if stage == "capture":
        to_dict(validate(compose_capture(overrides), CaptureConfig))
        return
    from hydra.utils import instantiate

    from amptrain.losses import Loss
    from amptrain.model import AmpNet

    cfg = to_dict(validate(compose_train(overrides), TrainConfig))
    knobs = [{"name": "gain", "kind": "continuous", "min": 0.0, "max": 10.0, "default": 5.0}]
    model = instantiate(cfg["model"], n_cond=1, knobs=knobs, sample_rate=48000, fixed_knobs={}, dc_block_hz=0.0,
                        fused_splits=0, _convert_="all")
    assert isinstance(model, AmpNet) and model.hidden_size == cfg["model"]["hidden_size"]
    loss = instantiate(cfg["loss"])
    assert isinstance(loss, Loss) and loss.pre_emphasis == cfg["loss"]["pre_emphasis"]
    optimizer = instantiate(cfg["optimizer"], learning_rate=cfg["trainer"]["learning_rate"])
    assert float(optimizer.learning_rate) == pytest.approx(cfg["trainer"]["learning_rate"]) and not optimizer.clipnorm


def test_a_capture_option_says_only_what_differs_from_its_base():
    """conf/base/<group>.yaml is what each option starts from: a plugin option without preroll_s gets the base's."""
    cfg = to_dict(validate(compose_capture(["plugin=builtin"]), CaptureConfig))
    assert cfg["plugin"]["preroll_s"] == 0.5 and cfg["sweep"]["n_train"] == 512 and cfg["signal"]["pickup"] is True
    assert to_dict(validate(compose_capture(["sweep=tiny"]), CaptureConfig))["sweep"]["edges"] == 0.0


def test_a_composed_config_pickles_into_a_worker_process():
    """The choices' enums live in their config modules: a composed config (and a choice) survives pickling, as
    a capture or the adaptive loop sends it to plugin processes (an external plugin's capture did not, once)."""
    import pickle

    ccfg = compose_capture(["plugin=refamp"])
    again = pickle.loads(pickle.dumps(ccfg))
    assert again.sweep.design == "sobol" and again.plugin.kind == "external"
    assert pickle.loads(pickle.dumps(compose_train([]))).trainer.schedule == "cosine"
