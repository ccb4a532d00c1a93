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

    def bad(detail: str) -> FundiffError:
        return FundiffError(
            f"{file}: corrupt manifest: {detail}; rerun the stage that writes it (dvc repro -f <stage>)"
        )

    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise bad(f"invalid JSON at line {error.lineno} column {error.colno}") from None
    if not isinstance(raw, dict):
        raise bad("top level is not an object")
    missing = [key for key in ("section", "title", "order") if key not in raw]
    if missing:
        raise bad(f"missing key {missing[0]!r}")
    if not isinstance(raw.get("figures", []), list) or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) for f in raw.get("figures", [])
    ):
        raise bad("'figures' must be a list of {path, caption}")
    try:
        manifest = Manifest.read(directory)
    except (TypeError, ValueError, KeyError) as error:
        raise bad(str(error).splitlines()[0]) from None
    if not isinstance(manifest.section, str) or not isinstance(manifest.title, str):
        raise bad("'section' and 'title' must be strings")
    if isinstance(manifest.order, bool) or not isinstance(manifest.order, (int, float)):
        raise bad("'order' must be a number")
    if not isinstance(manifest.text, str):
        raise bad("'text' must be a string")
    for name in ("params", "metrics"):
        if not isinstance(getattr(manifest, name), dict):
            raise bad(f"{name!r} must be an object")
    for key, value in flatten(manifest.metrics).items():
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise bad(f"metric {key!r} is {type(value).__name__}, not a number")
    for figure in manifest.figures:
        if not isinstance(figure.caption, str):
            raise bad(f"caption of {figure.path!r} is not a string")
        rel = PurePosixPath(figure.path)
        if rel.is_absolute() or ".." in rel.parts:
            raise bad(f"figure path {figure.path!r} must be relative to the manifest's dir")
        if not (directory / rel).is_file():
            raise bad(f"figure {figure.path!r} does not exist")
    return manifest


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
    )
