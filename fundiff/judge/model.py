"""The MNIST judge: a small CNN (fundiff.nets.pretrained, so ``save_pretrained`` writes diffusers' config.json +
safetensors, byte-deterministic) whose predictions score samples and whose penultimate features are the space of our
FID. What it reads is asked through fundiff.judge.reading.judge_images; ``load_classifier`` reads it back offline
and strictly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fundiff.errors import require
from fundiff.nets.pretrained import Pretrained, load_pretrained, register_config

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class MnistClassifier(Pretrained):
    """[Conv3×3·BN·ReLU]×2 (c) · pool → [Conv3×3·BN·ReLU]×2 (2c) · pool → Linear(feature_dim)·ReLU → Linear(10).
    Input: images in [0, 1], N×1×28×28. The features of the penultimate layer are FID's feature space."""

    @register_config
    def __init__(self, num_channels: int = 32, feature_dim: int = 128, num_classes: int = 10):
        super().__init__()
        c = num_channels

        def conv(i: int, o: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

        self.conv = nn.Sequential(
            *conv(1, c), *conv(c, c), nn.MaxPool2d(2), *conv(c, 2 * c), *conv(2 * c, 2 * c), nn.MaxPool2d(2)
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(2 * c * 7 * 7, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x01: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv((x01 - MNIST_MEAN) / MNIST_STD))

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x01))


def as_mnist_batch(images) -> torch.Tensor:
    """Accept N×28×28 or N×C×H×W (numpy or torch, values in [0, 1]); return float32 N×1×28×28.
    Colour images are averaged to grey and other sizes resized (antialiased bilinear) to 28×28."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    require(x.is_floating_point(), f"classify expects float images in [0, 1], got dtype {x.dtype}")
    x = x.detach().float().cpu()
    if x.ndim == 3:
        x = x.unsqueeze(1)
    require(x.ndim == 4 and x.shape[1] in (1, 3), f"classify expects N×28×28 or N×C×H×W images, got {tuple(x.shape)}")
    if x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True)
    if x.shape[-2:] != (28, 28):
        x = F.interpolate(x, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
    return x


@torch.inference_mode()
def judge_outputs(model: MnistClassifier, images01, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (float32, N×classes) and penultimate features (float32, N×feature_dim) of images in [0, 1], on CPU, in
    batches: the one forward pass, behind fundiff.judge.reading.judge_images.
    Non-finite values (damaged weights) are a FundiffError, never a silent reading."""
    model.eval()
    device = next(model.parameters()).device
    x = as_mnist_batch(images01)
    logits, feats = [], []
    for start in range(0, len(x), batch_size):
        f = model.features(x[start : start + batch_size].to(device))
        logits.append(model.head(f).float().cpu())
        feats.append(f.float().cpu())
    if not feats:
        return torch.zeros(0, model.config.num_classes), torch.zeros(0, model.config.feature_dim)
    features = torch.cat(feats)
    require(
        bool(torch.isfinite(features).all()),
        "the MNIST classifier produced non-finite values (NaN or inf): its "
        "weights are damaged; restore them with `dvc checkout` or retrain (dvc repro classifier)",
    )
    return torch.cat(logits), features


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> MnistClassifier:
    """The judge saved by ``save_pretrained`` (the `classifier` stage writes data/models/classifier/weights)."""
    return load_pretrained(MnistClassifier, path, fix="run `dvc repro classifier`").to(device).eval()
