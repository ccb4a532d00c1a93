"""The benchmarks' independent judge of digit samples: stricter than, and separate from, the pipeline's own classifier.

* Different architecture (5×5 convs, dropout, no BatchNorm) from ``fundiff.metrics.MnistClassifier``, and trained here,
  with augmentation (small random affine warps), never by the pipeline.
* An ensemble of ``members`` networks with their own seeds; a sample counts as its digit only if **every** member
  predicts that digit (unanimity is stricter than any single member's argmax).
* Trained on the training split of data/mnist only: it never sees the samples it judges, nor the test digits that
  measure its own accuracy.

The trained ensemble is cached under .fundiff/bench/judge-<key>.pt, keyed by the training data and this file's text.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2
from tqdm.auto import tqdm

from fundiff.data import load_splits, to_tensor_images

CACHE = Path(".fundiff/bench")


class JudgeNet(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 5, padding=2),
            nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(2 * w * 49, 256),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(256, 10),
        )

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        return self.net(x01 * 2 - 1)


def _train_member(images: torch.Tensor, labels: torch.Tensor, seed: int, epochs: int, progress: bool) -> JudgeNet:
    torch.manual_seed(seed)
    model = JudgeNet()
    augment = v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps = epochs * ((len(images) + 127) // 128)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed + 1)
    model.train()
    for _ in tqdm(range(epochs), desc=f"judge member {seed}", disable=not progress):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), 128):
            idx = order[start : start + 128]
            x = torch.stack([augment(img) for img in images[idx]])
            loss = F.cross_entropy(model(x), labels[idx], label_smoothing=0.05)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
    return model.eval()


class StrictJudge:
    def __init__(self, members: list[JudgeNet]):
        self.members = members

    @torch.inference_mode()
    def predictions(self, images01: torch.Tensor) -> torch.Tensor:
        """Each member's predicted digit: members × N."""
        x = torch.as_tensor(images01, dtype=torch.float32).reshape(-1, 1, 28, 28)
        return torch.stack(
            [torch.cat([m(x[i : i + 500]).argmax(1) for i in range(0, len(x), 500)]) for m in self.members]
        )

    def unanimous_correct(self, images01: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """True where every member predicts the intended digit."""
        return (self.predictions(images01) == torch.as_tensor(labels).reshape(1, -1)).all(dim=0)

    def accuracy(self, images01: torch.Tensor, labels: torch.Tensor) -> float:
        return float(self.unanimous_correct(images01, labels).float().mean())


def strict_judge(
    data_dir: str | Path = "data/mnist", members: int = 3, epochs: int = 8, progress: bool = True
) -> StrictJudge:
    """Train (or load from the cache) the ensemble on the training split of ``data_dir``."""
    splits = load_splits(data_dir)
    images, labels = to_tensor_images(splits.train_images), torch.from_numpy(splits.train_labels)
    key = hashlib.sha256(
        images.numpy().tobytes()
        + labels.numpy().tobytes()
        + Path(__file__).read_bytes()
        + f"{members},{epochs}".encode()
    ).hexdigest()[:16]
    path = CACHE / f"judge-{key}.pt"
    nets = [JudgeNet() for _ in range(members)]
    if path.exists():
        for net, state in zip(nets, torch.load(path, weights_only=True)):
            net.load_state_dict(state)
            net.eval()
        return StrictJudge(nets)
    nets = [_train_member(images, labels, seed=1000 + i, epochs=epochs, progress=progress) for i in range(members)]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save([n.state_dict() for n in nets], path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)
    return StrictJudge(nets)
