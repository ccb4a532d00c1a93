"""Results directories: the manifest every one of them carries and the one way they are written.

Each results directory (reports/partA/<experiment>/, reports/partB/<model>/) carries a ``manifest.json`` that the
report stage reads: what the figures are, which params made them, and the numbers of that section.

Schema::

    {"section": "B 2.4", "title": "Class-conditioned DDPM", "order": 240,
     "text": "one paragraph of what was done",
     "params": {"guidance_scale": 5.0, ...},            # flat, what made the figures
     "figures": [{"path": "samples_epoch_005.png", "caption": "..."}],  # paths relative to the manifest's dir
     "metrics": {"accuracy": 0.97, ...}}                # flat name -> number (also in the DVC metrics file)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fundiff.io import atomic_outputs
from fundiff.titles import Title

MANIFEST_NAME = "manifest.json"


@dataclass
class Figure:
    path: str
    caption: str


@dataclass
class Manifest:
    """What the report shows of one results directory."""

    section: str
    title: str
    order: int
    text: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    def add_figure(self, path: str, caption: str) -> None:
        self.figures.append(Figure(path, caption))

    def write(self, directory: str | Path) -> None:
        """Deterministic JSON (sorted keys, fixed indent) so the same results give the same bytes."""
        text = json.dumps(asdict(self), indent=2, sort_keys=True, allow_nan=False) + "\n"
        (Path(directory) / MANIFEST_NAME).write_text(text)

    @classmethod
    def read(cls, directory: str | Path) -> Manifest:
        raw = json.loads((Path(directory) / MANIFEST_NAME).read_text())
        raw["figures"] = [Figure(**f) for f in raw.get("figures", [])]
        return cls(**raw)


def manifest_for(title: Title, text: str, params: dict[str, Any]) -> Manifest:
    """A manifest with the section, title and order of the registry entry ``title`` (fundiff.titles)."""
    return Manifest(section=title.section, title=title.title, order=title.order, text=text, params=params)


def metrics_text(metrics: dict[str, Any]) -> str:
    """The DVC metrics file's bytes: flat, sorted, finite numbers only."""
    return json.dumps(metrics, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_result(
    out: str | Path, metrics_file: str | Path, manifest: Manifest, metrics: dict[str, Any], fill: Callable[[Path], None]
) -> None:
    """All or nothing: ``fill(directory)`` writes the figures into a temp dir that gets ``manifest.json`` and
    ``metrics.json``; ``metrics_file`` (beside ``out``: DVC forbids a metrics file inside a tracked output directory)
    gets the same numbers; the two replace their previous versions together or not at all (fundiff.io)."""
    text = metrics_text(metrics)
    with atomic_outputs() as staged:
        directory = staged.dir(out)
        fill(directory)
        manifest.metrics = metrics
        manifest.write(directory)
        (directory / "metrics.json").write_text(text)
        staged.file(metrics_file, text)
