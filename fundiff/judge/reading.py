"""The judge's reading of images: the one way anything in fundiff asks the MNIST judge what it sees.

:func:`judge_images` runs the judge's one batched forward pass (fundiff.judge.model.judge_outputs) and returns a
:class:`Reading`: the digit read, how sure (the top softmax probability), every probability and the penultimate
features (the space of our FID). "Confident" means a top probability of at least :data:`CONFIDENT` (0.9).

:class:`RealDigits` is the FID floor: the judge's features of real training digits, drawn in one fixed order from the
shared seed, so the pipeline and every bench script compare samples with the same real digits at the same count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fundiff.data import to_tensor_images
from fundiff.judge.model import MnistClassifier, judge_outputs
from fundiff.metrics import fid
from fundiff.streams import REAL_SUBSET

CONFIDENT = 0.9


@dataclass(frozen=True)
class Reading:
    """The judge's reading of N images."""

    digits: np.ndarray  # int64 N: the digit read
    confidence: np.ndarray  # float32 N: its probability (the top softmax probability)
    features: np.ndarray  # float32 N×F: penultimate features (FID's space)
    probabilities: np.ndarray  # float32 N×10: every digit's probability

    def __len__(self) -> int:
        return len(self.digits)

    @property
    def confident_share(self) -> float:
        return float((self.confidence >= CONFIDENT).mean())

    def subset(self, index: np.ndarray) -> Reading:
        return Reading(self.digits[index], self.confidence[index], self.features[index], self.probabilities[index])

    def digit_shares(self) -> np.ndarray:
        return np.bincount(self.digits, minlength=10)[:10] / max(1, len(self.digits))


def judge_images(judge: MnistClassifier, images01, batch_size: int = 500) -> Reading:
    """What the judge reads in images in [0, 1] (N×28×28 or N×C×H×W, numpy or torch)."""
    logits, features = judge_outputs(judge, images01, batch_size)
    probabilities = logits.softmax(dim=1)
    confidence, digits = probabilities.max(dim=1)
    return Reading(
        digits.numpy().astype(np.int64),
        confidence.numpy().astype(np.float32),
        features.numpy(),
        probabilities.numpy(),
    )


def reading_metrics(reading: Reading, prefix: str) -> dict[str, float]:
    """``<prefix>_confident`` (share with confidence >= 0.9) and ``<prefix>_share_digit<d>`` (share read as d)."""
    metrics = {f"{prefix}_confident": reading.confident_share}
    metrics.update({f"{prefix}_share_digit{d}": float(s) for d, s in enumerate(reading.digit_shares())})
    return metrics


class RealDigits:
    """The judge's features of real training digits in one fixed order (a permutation drawn from ``seed`` +
    :data:`REAL_SUBSET`), read once per count: :meth:`features` of the first ``count``, at most the whole split (an
    FID against them reads as many samples, since FIDs compare only at the same count), and :meth:`floor`, their FID
    against the ``reference`` features (the real test digits): what a perfect sampler would score at that count."""

    def __init__(self, judge: MnistClassifier, train_images: np.ndarray, reference: np.ndarray, seed: int):
        self.judge, self.images, self.reference = judge, train_images, reference
        generator = torch.Generator().manual_seed(seed + REAL_SUBSET)
        self.order = torch.randperm(len(train_images), generator=generator).numpy()
        self._features: dict[int, np.ndarray] = {}

    def count(self, wanted: int) -> int:
        """How many real digits an FID at ``wanted`` samples reads: at most the training split."""
        return min(wanted, len(self.images))

    def features(self, wanted: int) -> np.ndarray:
        count = self.count(wanted)
        if count not in self._features:
            images = to_tensor_images(self.images[self.order[:count]])
            self._features[count] = judge_images(self.judge, images).features
        return self._features[count]

    def floor(self, wanted: int) -> float:
        return fid(self.features(wanted), self.reference)

    def fid_at(self, reading: Reading, wanted: int) -> float:
        """FID of a reading's first samples, as many as the floor at ``wanted`` reads, against the reference."""
        return fid(reading.features[: self.count(wanted)], self.reference)
