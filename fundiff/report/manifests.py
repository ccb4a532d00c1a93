"""Results dirs: reading and validating each one's ``manifest.json`` (fundiff.result_dirs), and turning it into its
section of the page (text, params, figures where the stage wrote them, metrics)."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

from fundiff.errors import FundiffError
from fundiff.report.sections import PARTS, PageSection, href_for, shown_figure
from fundiff.report.tables import flatten, format_value, metrics_table, natural_key
from fundiff.result_dirs import MANIFEST_NAME, Manifest


def read_manifest(directory: Path) -> Manifest:
    """The manifest of one results dir, validated; anything wrong is one FundiffError line naming the file."""
    file = directory / MANIFEST_NAME
    if not file.is_file():
        raise FundiffError(
            f"{file}: missing; every results dir needs a {MANIFEST_NAME} (rerun the stage that writes it)"
        )
    problem = _raw_problem(file)
    manifest = None
    if problem is None:
        try:
            manifest = Manifest.read(directory)
        except (TypeError, ValueError, KeyError) as error:
            problem = str(error).splitlines()[0]
    problem = problem or _field_problem(manifest) or _figure_problem(manifest, directory)
    if problem is not None:
        raise FundiffError(
            f"{file}: corrupt manifest: {problem}; rerun the stage that writes it (dvc repro -f <stage>)"
        )
    return manifest


def _raw_problem(file: Path) -> str | None:
    """What is wrong with the JSON itself, or None."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except json.JSONDecodeError as error:
        return f"invalid JSON at line {error.lineno} column {error.colno}"
    if not isinstance(raw, dict):
        return "top level is not an object"
    missing = [key for key in ("section", "title", "order") if key not in raw]
    if missing:
        return f"missing key {missing[0]!r}"
    figures = raw.get("figures", [])
    if not isinstance(figures, list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) for f in figures
    ):
        return "'figures' must be a list of {path, caption}"
    return None


def _field_problem(manifest: Manifest) -> str | None:
    """What is wrong with the manifest's fields' types, or None."""
    if not isinstance(manifest.section, str) or not isinstance(manifest.title, str):
        return "'section' and 'title' must be strings"
    if isinstance(manifest.order, bool) or not isinstance(manifest.order, (int, float)):
        return "'order' must be a number"
    if not isinstance(manifest.text, str):
        return "'text' must be a string"
    for name in ("params", "metrics"):
        if not isinstance(getattr(manifest, name), dict):
            return f"{name!r} must be an object"
    for key, value in flatten(manifest.metrics).items():
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            return f"metric {key!r} is {type(value).__name__}, not a number"
    return None


def _figure_problem(manifest: Manifest, directory: Path) -> str | None:
    """What is wrong with a figure entry (caption, path, file), or None."""
    for figure in manifest.figures:
        if not isinstance(figure.caption, str):
            return f"caption of {figure.path!r} is not a string"
        rel = PurePosixPath(figure.path)
        if rel.is_absolute() or ".." in rel.parts:
            return f"figure path {figure.path!r} must be relative to the manifest's dir"
        if not (directory / rel).is_file():
            return f"figure {figure.path!r} does not exist"
    return None


def part_of(manifest: Manifest, directory: Path) -> str:
    head = manifest.section.strip()[:1].upper()
    if head in PARTS:
        return head
    parent = directory.parent.name.lower()
    return "A" if parent.endswith("a") else "B"


def manifest_section(directory: Path, page_dir: Path) -> PageSection:
    """The section of one results dir (its anchor is set once every section is known). Metrics come from the
    manifest, or from the stage's DVC metrics file beside it when the manifest has none."""
    manifest = read_manifest(directory)
    origin = (directory / MANIFEST_NAME).as_posix()
    metrics = flatten(manifest.metrics)
    if not metrics and (directory / "metrics.json").is_file():  # fall back on the stage's DVC metrics file
        try:
            metrics = flatten(json.loads((directory / "metrics.json").read_text(encoding="utf-8")))
        except (ValueError, UnicodeDecodeError):
            raise FundiffError(
                f"{directory / 'metrics.json'}: not valid JSON; rerun the stage that writes it"
            ) from None
    return PageSection(
        part=part_of(manifest, directory),
        section=manifest.section.strip(),
        title=manifest.title,
        order=manifest.order,
        anchor="",
        source=href_for(directory, page_dir),
        text=[p.strip() for p in re.split(r"\n\s*\n", manifest.text) if p.strip()],
        params=[(k, format_value(v)) for k, v in sorted(manifest.params.items(), key=lambda kv: natural_key(kv[0]))],
        figures=[shown_figure(directory / f.path, f.caption, page_dir, origin) for f in manifest.figures],
        metrics_html=metrics_table(metrics),
        metrics=metrics,
    )
