"""The inputs Part A ships (written by the DVC stage ``partA_inputs`` into ``data/images/shipped/``), all deterministic:

- ``mnist_test_7.png``: the first 7 of the MNIST test split (28×28, the MNIST backend's test image);
- ``hand_digit_2.png``, ``hand_digit_5.jpg``, ``hand_house.png``: drawings that look hand-made (dark ink on paper,
  any size, PNG and JPEG), for SDEdit on hand-drawn images (docs/course.md, A 1.7.1);
- ``astronaut.png``, ``chelsea.png``, ``coffee.png``, ``camera.png``: natural images bundled with scikit-image
  (``skimage.data``, no download), the DeepFloyd backend's test image and "web" images;
- ``mask_28_left.png`` (MNIST) and ``mask_64_top.png`` (DeepFloyd): inpainting masks, white = new content.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

INK = (28, 28, 36)
PAPER = (246, 244, 236)


def _jitter(points, rng, amount):
    return [(x + rng.normal(0, amount), y + rng.normal(0, amount)) for x, y in points]


def _stroke(draw: ImageDraw.ImageDraw, points, width: int, fill=INK) -> None:
    draw.line(points, fill=fill, width=width, joint="curve")
    r = width / 2
    for x, y in (points[0], points[-1]):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)


def _arc(cx, cy, rx, ry, start_deg, end_deg, n=24):
    angles = np.radians(np.linspace(start_deg, end_deg, n))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in angles]


def hand_digit(digit: int, size: tuple[int, int], seed: int) -> Image.Image:
    """A digit drawn with a thick felt pen on off-white paper (slightly wobbly strokes)."""
    rng = np.random.default_rng(seed)
    w, h = size
    image = Image.new("RGB", size, PAPER)
    draw = ImageDraw.Draw(image)
    s = min(w, h) / 200.0
    ox, oy = (w - 200 * s) / 2, (h - 200 * s) / 2

    def P(points):
        return _jitter([(ox + x * s, oy + y * s) for x, y in points], rng, 1.2 * s)

    width = max(3, round(14 * s))
    if digit == 2:
        _stroke(draw, P(_arc(100, 70, 42, 36, 200, 390) + [(128, 104), (62, 160)]), width)
        _stroke(draw, P([(60, 160), (100, 158), (142, 162)]), width)
    elif digit == 5:
        _stroke(draw, P([(136, 40), (98, 42), (70, 44)]), width)
        _stroke(draw, P([(70, 44), (66, 96)]), width)
        _stroke(draw, P([(66, 96)] + _arc(98, 124, 40, 38, 240, 480)[1:] + [(64, 150)]), width)
    else:
        raise ValueError(f"no drawing for digit {digit}")
    return image


def hand_house(size: tuple[int, int] = (240, 200), seed: int = 3) -> Image.Image:
    """A child's sketch: house, roof, door, window, sun and ground, in coloured pen."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, PAPER)
    draw = ImageDraw.Draw(image)

    def P(points):
        return _jitter(points, rng, 1.0)

    _stroke(draw, P([(20, 170), (120, 172), (220, 169)]), 4, (40, 120, 40))
    _stroke(draw, P([(70, 170), (70, 100), (160, 100), (160, 170)]), 4, INK)
    _stroke(draw, P([(60, 104), (115, 55), (170, 104)]), 4, (170, 40, 40))
    _stroke(draw, P([(100, 170), (100, 135), (122, 135), (122, 170)]), 3, (110, 70, 30))
    _stroke(draw, P([(135, 115), (152, 115), (152, 130), (135, 130), (135, 115)]), 3, (40, 70, 170))
    _stroke(draw, P(_arc(200, 40, 16, 16, 0, 360, 30)), 4, (230, 170, 20))
    return image


def _skimage(name: str, shorter: int = 256) -> Image.Image:
    import skimage.data

    array = getattr(skimage.data, name)()
    image = Image.fromarray(array).convert("RGB")
    w, h = image.size
    scale = shorter / min(w, h)
    return image.resize((round(w * scale), round(h * scale)), Image.LANCZOS)


def mask(size: int, box: tuple[int, int, int, int]) -> Image.Image:
    """White (new content) inside box = (left, top, right, bottom), black elsewhere."""
    image = Image.new("L", (size, size), 0)
    ImageDraw.Draw(image).rectangle(box, fill=255)
    return image


def write_shipped(out_dir: str | Path, mnist_dir: str | Path = "data/mnist") -> list[str]:
    """Write every shipped input into ``out_dir``; returns the file names."""
    out = Path(out_dir)
    test_images, test_labels = (
        np.load(Path(mnist_dir) / "test_images.npy"),
        np.load(Path(mnist_dir) / "test_labels.npy"),
    )
    first_seven = test_images[np.flatnonzero(test_labels == 7)[0]]
    files = {
        "mnist_test_7.png": Image.fromarray(first_seven.astype(np.uint8), "L"),
        "hand_digit_2.png": hand_digit(2, (200, 200), seed=2),
        "hand_digit_5.jpg": hand_digit(5, (240, 180), seed=5),
        "hand_house.png": hand_house(),
        "astronaut.png": _skimage("astronaut"),
        "chelsea.png": _skimage("chelsea"),
        "coffee.png": _skimage("coffee"),
        "camera.png": _skimage("camera"),
        "mask_28_left.png": mask(28, (0, 0, 13, 27)),
        "mask_64_top.png": mask(64, (18, 0, 45, 22)),
    }
    for name, image in files.items():
        if name.endswith(".jpg"):
            image.save(out / name, format="JPEG", quality=90, optimize=False, progressive=False)
        else:
            image.save(out / name, format="PNG", optimize=False)
    return sorted(files)
