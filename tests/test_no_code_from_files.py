"""No file the project loads can run code: a pickle with a payload, planted in each of them, is refused (or, for the
resume state, discarded with a warning) and its payload never runs."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from fundiff.errors import FundiffError

REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this creates the marker file: proof that code from the file ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "PAYLOAD-RAN"


def plant(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": Payload(marker), "epoch": 1}, path)
    # the planted file really is dangerous: an unsafe load runs the payload
    probe = path.with_name("probe.pkl")
    probe.write_bytes(pickle.dumps(Payload(marker.with_name("PROBE"))))
    pickle.loads(probe.read_bytes())
    assert marker.with_name("PROBE").exists()
    return path


def test_resume_state(tmp_path, marker, capsys):
    from fundiff.partB.resume import load_resume_state

    plant(tmp_path / "resume" / "state.pt", marker)
    assert load_resume_state(tmp_path / "resume") is None
    assert "discarding the resume state" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "resume").exists()


def test_prompt_embeddings(tmp_path, marker):
    from fundiff.partA.backends.hub import load_embeddings

    with pytest.raises(FundiffError, match="cannot read"):
        load_embeddings(plant(tmp_path / "prompt_embeds_dict.pth", marker), "partA.backends.deepfloyd.embeddings")
    assert not marker.exists()


def test_checkpoint_weights(tmp_path, marker):
    from fundiff.nets.pretrained import load_pretrained
    from fundiff.nets.unets import TimeConditionalUNet

    TimeConditionalUNet(num_hiddens=4).save_pretrained(tmp_path / "final")
    plant(tmp_path / "final" / "diffusion_pytorch_model.safetensors", marker)
    with pytest.raises(FundiffError, match="cannot be read"):
        load_pretrained(TimeConditionalUNet, tmp_path / "final", "run `dvc repro train@time_cond`")
    assert not marker.exists()


def test_mnist_arrays(tmp_path, marker):
    from fundiff.data import MnistSplits, load_splits, save_splits

    x, y = np.zeros((4, 28, 28), np.uint8), np.arange(4, dtype=np.int64)
    save_splits(MnistSplits(x, y, x, y), tmp_path)
    np.save(tmp_path / "train_labels.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(FundiffError, match="train_labels.npy is not a readable .npy"):
        load_splits(tmp_path)
    assert not marker.exists()


def test_params_yaml(tmp_path, marker):
    from stages._cli import load_params

    path = tmp_path / "params.yaml"
    path.write_text(
        f"seed: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{marker}']]\n"
    )
    with pytest.raises(FundiffError, match="is not valid YAML"):
        load_params(path)
    assert not marker.exists()


def test_every_torch_load_is_weights_only():
    """Read from the source: every torch.load in the project passes weights_only=True."""
    calls = []
    for path in [*REPO.glob("fundiff/**/*.py"), *REPO.glob("stages/*.py"), *REPO.glob("bench/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
                calls.append((path.name, keywords.get("weights_only")))
    assert calls and all(value == "True" for _, value in calls), calls
