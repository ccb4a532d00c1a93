"""fundiff.nets.pretrained writes what diffusers' ModelMixin.save_pretrained writes, byte for byte, without importing
diffusers; and no stage module imports diffusers (or the other slow libraries) just by being imported."""

import copy
import subprocess
import sys

import pytest
import torch
from diffusers import ConfigMixin, ModelMixin

from fundiff.judge.model import MnistClassifier
from fundiff.nets.pretrained import CONFIG_NAME, WEIGHTS_NAME, load_pretrained
from fundiff.nets.unets import MODEL_CLASSES


def diffusers_twin(model):
    """The same modules and config in a diffusers ModelMixin (what these classes subclassed before): the reference."""

    class Twin(ModelMixin, ConfigMixin):
        def __init__(self):
            super().__init__()
            self.register_to_config(**model.config)
            for name, child in model.named_children():
                self.add_module(name, child)

    Twin.__name__ = type(model).__name__
    return Twin()


@pytest.mark.parametrize(
    "cls, kwargs",
    [*((c, dict(num_hiddens=4)) for c in MODEL_CLASSES.values()), (MnistClassifier, dict(num_channels=4))],
    ids=[*MODEL_CLASSES, "classifier"],
)
def test_save_pretrained_is_byte_for_byte_diffusers_and_loads_back(tmp_path, cls, kwargs):
    torch.manual_seed(0)
    ours = cls(**kwargs)
    ours.save_pretrained(tmp_path / "ours")
    diffusers_twin(ours).save_pretrained(tmp_path / "theirs")
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "theirs" / name).read_bytes(), name

    back = load_pretrained(cls, tmp_path / "ours", fix="retrain")
    assert back.config == ours.config and type(back.config.get("num_hiddens", 0)) is int
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), ours.state_dict().values()))


def test_the_config_is_the_constructor_arguments_and_read_only():
    model = MODEL_CLASSES["class_cond"](num_hiddens=4)
    assert dict(model.config) == {"in_channels": 1, "num_hiddens": 4, "num_classes": 10}
    assert model.config.num_hiddens == 4
    with pytest.raises(TypeError, match="read-only"):
        model.config["num_hiddens"] = 8
    with pytest.raises(AttributeError):
        model.config.missing  # noqa: B018
    copied = copy.deepcopy(model)  # AveragedModel (EMA) deep-copies the network
    assert copied.config == model.config and copied.config is not model.config


SLOW_IMPORTS = ("diffusers", "transformers", "dvclive", "matplotlib", "torchvision")


@pytest.mark.parametrize(
    "stage", ["data", "train", "classifier", "sample_denoiser", "sample", "cas", "partA_inputs", "partA", "report"]
)
def test_importing_a_stage_loads_no_slow_library(stage):
    """Start-up (issue #12): each of these costs 0.3–2 s to import, so a stage imports them only where it uses them."""
    code = f"import sys, stages.{stage}; print(' '.join(m for m in {SLOW_IMPORTS!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], f"stages.{stage} imports {loaded} at import time"
