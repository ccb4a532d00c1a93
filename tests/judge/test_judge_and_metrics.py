"""The judge (MNIST classifier), FID, accuracy, the denoising MSE, and strict checkpoint loading."""

import json

import numpy as np
import pytest
import torch

from fundiff.errors import FundiffError
from fundiff.figures.filters import check_kernel
from fundiff.figures.filters import lowpass as gaussian_blur
from fundiff.judge.model import MnistClassifier, as_mnist_batch, load_classifier
from fundiff.judge.reading import judge_images
from fundiff.judge.train import train_classifier
from fundiff.metrics import blur_mse, class_accuracy, denoise_mse, fid, fixed_noise
from fundiff.nets.pretrained import load_pretrained
from fundiff.nets.unets import TimeConditionalUNet, UnconditionalUNet
from fundiff.partB.checkpoints import load_model, load_train_config

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models on shared cores: see conftest


def test_fid_of_a_set_with_itself_is_zero_and_a_mean_shift_is_its_squared_norm():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16))
    assert abs(fid(a, a)) < 1e-6
    shift = rng.normal(size=16)
    assert fid(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)
    b = rng.normal(size=(200, 16)) * 2.0
    assert fid(a, b) > 1.0 and fid(a, b) == pytest.approx(fid(b, a), rel=1e-6)


def test_fid_matches_scipy_sqrtm_and_handles_rank_deficient_sets():
    from scipy import linalg

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(100, 8)), rng.normal(size=(120, 8)) * 1.5 + 0.3
    mu1, mu2, c1, c2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(c1 @ c2).real
    reference = float((mu1 - mu2) @ (mu1 - mu2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(covmean))
    assert fid(a, b) == pytest.approx(reference, rel=1e-8)
    few = rng.normal(size=(5, 32))  # 5 samples in 32 dims: singular covariance
    assert np.isfinite(fid(few, few)) and abs(fid(few, few)) < 1e-6
    with pytest.raises(FundiffError, match="at least 2 feature vectors"):
        fid(few[:1], few)


def test_class_accuracy_overall_and_per_digit():
    labels = np.repeat(np.arange(10), 2)
    pred = labels.copy()
    pred[[0, 1, 2]] = 5  # both zeros and one 1 wrong
    overall, per = class_accuracy(pred, labels)
    assert overall == pytest.approx(17 / 20) and per[0] == 0.0 and per[1] == 0.5 and per[2:] == [1.0] * 8
    with pytest.raises(FundiffError, match="no samples of class 9"):
        class_accuracy(pred[:18], labels[:18])


@pytest.fixture(scope="module")
def small_digits():
    from fundiff.data import load_mnist5k, to_tensor_images

    images, labels = load_mnist5k()
    idx = np.random.default_rng(0).permutation(len(labels))[:400]
    return to_tensor_images(images[idx]), torch.from_numpy(labels[idx])


def test_classifier_trains_deterministically_saves_bytes_and_loads(tmp_path, small_digits):
    x, y = small_digits
    settings = dict(epochs=3, batch_size=32, lr=3e-3, seed=4, num_channels=8, feature_dim=16, progress=False)
    first = train_classifier(x[:300], y[:300], **settings)
    second = train_classifier(x[:300], y[:300], **settings)
    first.save_pretrained(tmp_path / "a")
    second.save_pretrained(tmp_path / "b")
    name = "diffusion_pytorch_model.safetensors"
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    reading = judge_images(first, x[300:])
    assert reading.digits.dtype == np.int64 and reading.features.shape == (100, 16)
    assert (reading.digits == y[300:].numpy()).mean() > 0.5  # far above chance (0.1) even for this tiny net
    assert np.allclose(reading.probabilities.sum(axis=1), 1) and np.array_equal(
        reading.confidence, reading.probabilities.max(axis=1)
    )
    loaded = load_classifier(tmp_path / "a")
    again = judge_images(loaded, x[300:, 0].numpy())  # N×28×28 numpy works too
    assert np.array_equal(reading.digits, again.digits) and np.array_equal(reading.features, again.features)


def test_classify_accepts_other_layouts():
    assert as_mnist_batch(torch.rand(2, 28, 28)).shape == (2, 1, 28, 28)
    assert as_mnist_batch(torch.rand(2, 3, 64, 64)).shape == (2, 1, 28, 28)
    with pytest.raises(FundiffError, match="float images"):
        as_mnist_batch(np.zeros((2, 28, 28), dtype=np.uint8))
    with pytest.raises(FundiffError, match="N×28×28 or N×C×H×W"):
        as_mnist_batch(torch.rand(28, 28))


def test_bad_checkpoints_are_one_line_errors_naming_file_and_fix(tmp_path):
    good = tmp_path / "good"
    MnistClassifier(num_channels=2, feature_dim=4).save_pretrained(good)
    load_classifier(good)
    with pytest.raises(FundiffError, match=r"missing; run `dvc repro classifier`"):
        load_classifier(tmp_path / "nowhere")
    truncated = tmp_path / "truncated"
    MnistClassifier(num_channels=2, feature_dim=4).save_pretrained(truncated)
    weights = truncated / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(FundiffError, match=r"truncated or corrupt; run `dvc repro classifier`") as error:
        load_classifier(truncated)
    assert "\n" not in str(error.value) and str(weights) in str(error.value)
    foreign = tmp_path / "foreign"
    UnconditionalUNet(num_hiddens=2).save_pretrained(foreign)
    with pytest.raises(FundiffError, match="holds a UnconditionalUNet, not a MnistClassifier"):
        load_classifier(foreign)


def test_load_model_rejects_wrong_kind_and_mismatched_weights(tmp_path):
    final = tmp_path / "class_cond" / "checkpoints" / "final"
    TimeConditionalUNet(num_hiddens=2).save_pretrained(final)  # a time_cond model where class_cond belongs
    with pytest.raises(FundiffError, match=r"not a ClassConditionalUNet; run `dvc repro train@class_cond`"):
        load_model(tmp_path, "class_cond")
    config = json.loads((final / "config.json").read_text())
    (final / "config.json").write_text(json.dumps({**config, "_class_name": "ClassConditionalUNet"}))
    with pytest.raises(FundiffError, match="does not fit ClassConditionalUNet"):
        load_model(tmp_path, "class_cond")
    (tmp_path / "class_cond" / "checkpoints" / "train_config.json").write_text(json.dumps({"kind": "time_cond"}))
    with pytest.raises(FundiffError, match="describes a 'time_cond' model, not 'class_cond'"):
        load_train_config(tmp_path, "class_cond")
    other = tmp_path / "other"
    TimeConditionalUNet(num_hiddens=2).save_pretrained(other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "num_hiddens": 3}))  # weights of another width
    with pytest.raises(FundiffError, match="does not fit TimeConditionalUNet.*; fix it"):
        load_pretrained(TimeConditionalUNet, other, "fix it")


def test_denoise_and_blur_mse():
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    noise = fixed_noise(x.shape, 3)
    identity = torch.nn.Conv2d(1, 1, 1, bias=False)
    torch.nn.init.ones_(identity.weight)
    sigmas = [0.0, 0.5, 1.0]
    mse = denoise_mse(identity, x, sigmas, noise, batch_size=4)
    assert mse == pytest.approx([s**2 * noise.pow(2).mean().item() for s in sigmas], rel=1e-5)
    blur = blur_mse(x, sigmas, noise, 5, 1.0)
    expected = [((gaussian_blur(x + s * noise, 5, 1.0) - x) ** 2).mean().item() for s in sigmas]
    assert blur == pytest.approx(expected, rel=1e-6) and blur[0] > 0
    with pytest.raises(FundiffError, match="must be an odd integer"):
        check_kernel(4, 1.0, 28, "sample.denoiser.blur")
