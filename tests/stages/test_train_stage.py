import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fundiff.data import MnistSplits, load_mnist5k, save_splits
from fundiff.errors import FundiffError
from fundiff.partB.config import config_from_params as _config_from_params

REPO = Path(__file__).resolve().parents[2]


def params_with(**train_section):
    return {
        "seed": 1,
        "train": {"class_cond": {"num_hiddens": 4, "epochs": 3, "batch_size": 16, "lr": 1e-3, **train_section}},
    }


def config_from_params(kind, params):
    return _config_from_params(kind, params["train"][kind], params["seed"])


def test_config_from_params_derives_the_per_epoch_decay():
    config = config_from_params("class_cond", params_with(lr_decay_total=0.1, epochs=20))
    assert abs(config.lr_decay**20 - 0.1) < 1e-9 and config.seed == 1


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(epochs=0), r"train\.class_cond\.epochs=0"),
        (dict(lr_decay_total=0), r"train\.class_cond\.lr_decay_total"),
        (dict(sigmaa=0.5), r"train\.class_cond\.sigmaa is not a known key"),
        (dict(snapshot_epochs=[0]), r"train\.class_cond\.snapshot_epochs has 0"),
        (dict(p_uncond=-0.1), r"train\.class_cond\.p_uncond"),
    ],
)
def test_bad_params_name_the_key(changes, message):
    with pytest.raises(FundiffError, match=message):
        config_from_params("class_cond", params_with(**changes))


def test_snapshot_epochs_past_the_epoch_count_are_dropped_with_a_note(capsys):
    """`dvc exp run -S train.class_cond.epochs=3` must work with the default snapshot_epochs [5, 25]."""
    assert config_from_params("class_cond", params_with(snapshot_epochs=[1, 4])).snapshot_epochs == (1,)
    assert config_from_params("class_cond", params_with(snapshot_epochs=[5, 25])).snapshot_epochs == (3,)
    assert "dropping the epochs past epochs=3" in capsys.readouterr().err


def _workdir(root: Path, epochs: int) -> Path:
    images, labels = load_mnist5k()
    save_splits(MnistSplits(images[:320], labels[:320], images[4000:4040], labels[4000:4040]), root / "data/mnist")
    params = params_with(epochs=epochs, snapshot_epochs=[1, epochs], channels_last=True)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def _train(cwd: Path, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "stages.train", "class_cond"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def test_sigkill_then_rerun_resumes_and_matches_uninterrupted(tmp_path):
    straight = _workdir(tmp_path / "straight", epochs=3)
    killed = _workdir(tmp_path / "killed", epochs=3)
    assert _train(straight).wait(timeout=300) == 0

    proc = _train(killed)
    deadline = time.time() + 300
    while not list((killed / ".fundiff/resume").glob("*/state.pt")) and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (killed / "data/models/class_cond/checkpoints").exists()  # nothing partial for DVC to cache

    rerun = _train(killed)
    out, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out
    assert "epochs 2..3" in out
    for name in ("final", "epoch_001", "epoch_003"):
        weights = f"data/models/class_cond/checkpoints/{name}/diffusion_pytorch_model.safetensors"
        assert (straight / weights).read_bytes() == (killed / weights).read_bytes(), name
    live = "data/models/class_cond/live/plots/metrics/train/loss.tsv"
    assert (straight / live).read_bytes() == (killed / live).read_bytes()
    # the DDPM's scheduler beside its weights: model + scheduler load with diffusers alone
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler.from_pretrained(str(killed / "data/models/class_cond/checkpoints/scheduler"))
    assert (
        scheduler.config.num_train_timesteps
        == json.loads((killed / "data/models/class_cond/checkpoints/train_config.json").read_text())["num_timesteps"]
    )
    assert not list((killed / ".fundiff/resume").iterdir())  # resume state is dropped once the run completes


def test_bad_params_exit_nonzero_with_one_line_and_write_nothing(tmp_path):
    work = _workdir(tmp_path, epochs=2)
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["train"]["class_cond"]["p_uncond"] = 2
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    proc = _train(work)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert out.strip().splitlines()[-1].startswith("error: train.class_cond.p_uncond=2")
    assert len(out.strip().splitlines()) == 1
    assert not (work / "data/models").exists()
