"""What the page is made of: the header, the sections (one per results dir, "not run" or the training curves) and
their figures, with the helpers that number, anchor and size them. Plain data for the template to render."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from fundiff.errors import FundiffError

PARTS = {"A": "Part A — a pretrained diffusion model", "B": "Part B — diffusion models from scratch on MNIST"}
PIXEL_TARGET = 480  # small images (28x28 digits, 64x64 IF stage I) are shown upscaled, pixelated, to about this size


@dataclass(frozen=True)
class Header:
    profile: str
    backend: str
    seed: int | str
    edition: str = "ddpm"  # partB.edition: the course's Part B as DDPM (the seeds') or flow matching (its current one)


@dataclass
class ShownFigure:
    href: str
    caption: str
    width: int
    height: int
    pixelated: bool
    wide: bool
    kind: str  # "png", "gif", ...


@dataclass
class PageSection:
    part: str
    section: str
    title: str
    order: int
    anchor: str
    source: str = ""  # the results dir, relative to the page
    text: list[str] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    figures: list[ShownFigure] = field(default_factory=list)
    metrics_html: str = ""
    metrics: dict = field(default_factory=dict)  # the flat metrics behind metrics_html (fundiff.report.side_by_side)
    notes: list[str] = field(default_factory=list)  # e.g. models without a training log
    ran: bool = True


def section_numbers(section: str) -> tuple[int, ...] | None:
    match = re.fullmatch(r"\s*[AB]?\s*(\d+(?:\.\d+)*)\s*", section)
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def default_order(section: str) -> int:
    """The manifest convention: "B 2.4" -> 240, "A 1.7.2" -> 172, "A 0" -> 0, "B 1" -> 100."""
    numbers = section_numbers(section) or (99,)
    weights = (100, 10, 1)
    return sum(n * w for n, w in zip(numbers, weights))


def anchor_for(section: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-") or "section"
    anchor, n = base, 2
    while anchor in taken:
        anchor, n = f"{base}-{n}", n + 1
    taken.add(anchor)
    return anchor


def href_for(path: Path, page_dir: Path) -> str:
    rel = PurePosixPath(Path(os.path.relpath(path.resolve(), page_dir.resolve())).as_posix())
    return "/".join(quote(part) for part in rel.parts)


def image_size(path: Path, origin: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
            return image.size
    except (OSError, UnidentifiedImageError, SyntaxError) as error:
        raise FundiffError(f"{path}: not a readable image ({error.__class__.__name__}), listed in {origin}") from None


def shown_figure(path: Path, caption: str, page_dir: Path, origin: str) -> ShownFigure:
    width, height = image_size(path, origin)
    scale = max(1, min(8, PIXEL_TARGET // max(width, height, 1)))
    return ShownFigure(
        href=href_for(path, page_dir),
        caption=caption,
        width=width * scale,
        height=height * scale,
        pixelated=scale > 1,
        wide=width * scale > 700 or width >= 3 * height,
        kind=path.suffix.lower().lstrip("."),
    )
