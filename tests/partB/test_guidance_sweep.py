import pytest
import torch

from fundiff.judge.model import MnistClassifier
from fundiff.judge.reading import judge_images as read
from fundiff.metrics import fid
from fundiff.partB.guidance_sweep import guidance_point
from fundiff.partB.sample_result import balanced_labels


def test_a_guidance_points_fid_reads_only_as_many_samples_as_its_floor():
    """A sweep point with more samples than there are real digits for its floor (sweep_samples_per_digit past 450 in
    mnist5k) compares its first fid_samples with the floor, a balanced prefix; accuracy still reads every sample."""
    torch.manual_seed(0)
    judge = MnistClassifier(num_channels=2, feature_dim=4).eval()
    images, labels = torch.rand(30, 1, 28, 28), balanced_labels(30)
    test = read(judge, torch.rand(20, 1, 28, 28)).features
    point = guidance_point(judge, 5.0, images, labels, test, fid_samples=20)
    assert point.fid == fid(read(judge, images[:20]).features, test)
    assert point.fid != fid(read(judge, images).features, test)
    everything = read(judge, images)
    assert point.accuracy == pytest.approx(float((torch.as_tensor(everything.digits) == labels).double().mean()))
    assert point.confident == everything.confident_share
