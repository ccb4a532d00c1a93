"""Part A inputs: user images and masks (any size, any format PIL reads) converted per backend, and test digits.

An entry of an ``images`` list is either a path (relative to the repository root, e.g. ``data/images/my_drawing.jpg``)
or ``mnist-test:<digit|all>:<count>``: the first ``count`` test-split digits of that class (``all``: of every class).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from fundiff.errors import FundiffError, require
from fundiff.partA.backends.base import Backend

MNIST_SPEC = re.compile(r"^mnist-test:(all|[0-9]):([0-9]+)$")
# The size policy of every image Part A reads, checked from the file and its header before anything is decoded: a
# declared 30000×30000 PNG is a few KB on disk and gigabytes decoded (a decompression bomb).
MAX_PIXELS = 40_000_000  # 40 megapixels: a large photo; our backends use 28×28 (MNIST) and 64×64 (DeepFloyd IF)
MAX_BYTES = 64 * 2**20


@dataclass
class Inputs:
    images: torch.Tensor  # N×C×H×W in [0, 1], the backend's resolution
    names: list[str]
    labels: list[int | None]  # the true digit of MNIST test digits, else None


def _open(path: Path, param: str, side: int | None = None) -> Image.Image:
    """The image at ``path``, within :data:`MAX_BYTES` and :data:`MAX_PIXELS` (checked before decoding; one line
    naming the file and the limit otherwise); with ``side``, decoded at the smallest scale the format can give that
    is still at least ``side`` pixels a side (JPEG's draft mode), not whole."""
    require(path.is_file(), f"{param}: {path} not found; put the image there (any format PIL reads) or remove it")
    size = path.stat().st_size
    require(
        size <= MAX_BYTES, f"{param}: {path} is {size:,} bytes, over the limit of {MAX_BYTES:,}; use a smaller file"
    )
    try:
        with Image.open(path) as image:  # reads the header only
            w, h = image.size
            require(
                w * h <= MAX_PIXELS,
                f"{param}: {path} declares {w}×{h} pixels, over the limit of {MAX_PIXELS:,}; use a smaller image",
            )
            if side is not None and image.format == "JPEG":
                image.draft(image.mode, (side, side))
            image.load()
            return image.copy()
    except Image.DecompressionBombError:  # PIL's own, past twice its limit: caught at open, before our check
        raise FundiffError(
            f"{param}: {path} declares more pixels than the limit of {MAX_PIXELS:,}; use a smaller image"
        ) from None
    except (UnidentifiedImageError, OSError) as error:
        raise FundiffError(f"{param}: {path} is not an image PIL can read ({type(error).__name__})") from error


def load_inputs(
    backend: Backend, specs: Sequence[str], param: str, root: str | Path = ".", mnist_dir: str | Path = "data/mnist"
) -> Inputs:
    require(isinstance(specs, (list, tuple)) and len(specs) > 0, f"{param} must be a non-empty list of images")
    images, names, labels = [], [], []
    for k, spec in enumerate(specs):
        where = f"{param}[{k}]"
        match = MNIST_SPEC.match(str(spec))
        if match:
            digits, digit_labels = _mnist_test(match.group(1), int(match.group(2)), Path(root) / mnist_dir, where)
            for index, (array, label) in enumerate(zip(digits, digit_labels)):
                if backend.image_shape == (1, 28, 28):
                    images.append(torch.from_numpy(array.astype(np.float32) / 255.0).unsqueeze(0))
                else:
                    images.append(backend.prepare_image(Image.fromarray(array)))
                names.append(f"test digit {label} #{index}")
                labels.append(int(label))
            continue
        require(
            not str(spec).startswith("mnist-test"),
            f"{where}={spec!r}: write mnist-test:<digit or all>:<count>, e.g. mnist-test:7:1",
        )
        path = Path(root) / str(spec)
        images.append(backend.prepare_image(_open(path, where, side=max(backend.image_shape[1:]))))
        names.append(Path(str(spec)).stem)
        labels.append(None)
    return Inputs(torch.stack(images).float(), names, labels)


def _mnist_test(which: str, count: int, mnist_dir: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    require(count >= 1, f"{where}: the count of mnist-test digits must be >= 1")
    images_path, labels_path = mnist_dir / "test_images.npy", mnist_dir / "test_labels.npy"
    require(
        images_path.exists() and labels_path.exists(), f"{where}: {mnist_dir} has no test split; run `dvc repro data`"
    )
    images, labels = np.load(images_path), np.load(labels_path)
    classes = range(10) if which == "all" else [int(which)]
    members = {}
    for cls in classes:
        members[cls] = np.flatnonzero(labels == cls)[:count]
        require(
            len(members[cls]) == count, f"{where}: the test split has only {len(members[cls])} digits of class {cls}"
        )
    # round robin over the classes (0, 1, ..., 9, 0, 1, ...) so the first rows of a figure show different digits
    picked = np.asarray([members[cls][k] for k in range(count) for cls in classes])
    return images[picked], labels[picked]


def load_mask(backend: Backend, spec: str, param: str, root: str | Path = ".") -> torch.Tensor:
    """A mask at the backend's resolution (H×W, any format; white/ >= 0.5 = 1 = where new content goes) -> 1×1×H×W."""
    path = Path(root) / str(spec)
    image = _open(path, param).convert("L")
    h, w = backend.image_shape[1:]
    require(
        image.size == (w, h),
        f"{param}: {path} is {image.size[0]}×{image.size[1]}; the {backend.name} backend needs a {w}×{h} mask "
        f"(white = new content)",
    )
    mask = (np.asarray(image, dtype=np.float32) / 255.0 >= 0.5).astype(np.float32)
    require(mask.any(), f"{param}: {path} is all black: nothing to inpaint (white = new content)")
    require(not mask.all(), f"{param}: {path} is all white: nothing to keep (black = kept, white = new content)")
    return torch.from_numpy(mask)[None, None]
