"""The page: every results dir's section, a "not run" section for each section of the assignment with no results
(fundiff.titles), the training curves, in page order, rendered by ``templates/report.html.j2``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from fundiff.report.manifests import manifest_section
from fundiff.report.sections import PARTS, Header, PageSection, anchor_for, default_order
from fundiff.report.side_by_side import add_side_by_side
from fundiff.report.tables import natural_key
from fundiff.report.training_curves import training_section
from fundiff.titles import expected_sections

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "report.html.j2"


def build_sections(
    result_dirs: Iterable[str | os.PathLike],
    live_dirs: Mapping[str, str | os.PathLike],
    *,
    page_dir: Path,
    assets_dir: Path,
    assets_href: str = "assets",
    expected: Mapping[str, str] | None = None,
) -> list[PageSection]:
    """Every section of the page, sorted and anchored. ``expected`` (section -> title; default: every section of
    docs/course.md, from fundiff.titles) says which sections show as "not run" when no results dir carries them."""
    expected = expected_sections() if expected is None else expected
    taken: set[str] = set()
    sections = [
        manifest_section(directory, page_dir)
        for directory in sorted({Path(d) for d in result_dirs}, key=lambda p: p.as_posix())
    ]
    add_side_by_side(sections)
    present = {s.section for s in sections}
    for name, title in expected.items():
        if name not in present:
            sections.append(
                PageSection(part=name[:1], section=name, title=title, order=default_order(name), anchor="", ran=False)
            )

    assets_dir.mkdir(parents=True, exist_ok=True)
    if live_dirs:
        sections.append(training_section(live_dirs, assets_dir, assets_href, page_dir))

    sections.sort(key=lambda s: (s.part, s.order, natural_key(s.section), s.source))
    for s in sections:
        s.anchor = anchor_for(s.section, taken)
    return sections


def render_report(
    result_dirs: Iterable[str | os.PathLike],
    live_dirs: Mapping[str, str | os.PathLike],
    header: Header,
    *,
    page_dir: str | os.PathLike,
    assets_dir: str | os.PathLike,
    assets_href: str = "assets",
    timings_href: str | None = "timings.js",
    expected: Mapping[str, str] | None = None,
) -> str:
    """The page as text. ``page_dir`` is where the page will live (figure links are relative to it); curve PNGs are
    written into ``assets_dir`` (may be a temp dir that later becomes ``page_dir/assets_href``)."""
    import jinja2

    expected = expected_sections() if expected is None else expected
    sections = build_sections(
        result_dirs,
        live_dirs,
        page_dir=Path(page_dir),
        assets_dir=Path(assets_dir),
        assets_href=assets_href,
        expected=expected,
    )
    parts = [(key, title, [s for s in sections if s.part == key]) for key, title in PARTS.items()]
    parts = [p for p in parts if p[2]]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    counts = {"ran": len({s.section for s in sections if s.ran and s.section in expected}), "expected": len(expected)}
    return environment.get_template(TEMPLATE_NAME).render(
        header=header,
        parts=parts,
        counts=counts,
        timings_href=timings_href,
    )
