"""The HTML report: every results directory's manifest, figures, params and metrics, plus training curves, on one page.

``render_report`` is a pure function of its inputs (the result dirs, the DVCLive dirs, the header): it returns the page
as a string and writes the training-curve PNGs into ``assets_dir``. Same inputs => same bytes: no timestamps, every
iteration sorted, PNGs written by matplotlib's Agg canvas with the default style, a fixed dpi and no "Software" chunk.

Figures are not copied: the page refers to them where their stage wrote them (``partA/<experiment>/x.png`` relative to
``reports/index.html``); those dirs are DVC outputs checked out beside the page, so it opens from disk with no network.
Only what the report itself makes (the curves) goes into ``assets_dir``.

Wall times are not part of the page's bytes: the page loads an optional untracked ``timings.js`` (see fundiff.timings).

One module per concept, in reading order:

* ``workspace`` — what the `report` stage calls: find the inputs, name the run, write the page atomically;
* ``build`` — the page: sections in order, "not run" ones from fundiff.titles, rendered by ``templates/``;
* ``sections`` — the plain data the template renders (header, sections, figures) and their helpers;
* ``manifests`` — one results dir's manifest.json, validated, as a section;
* ``tables`` — value formatting and the metrics tables;
* ``training`` — section "B 0", the training curves (drawn by fundiff.figures.curves).
"""

from fundiff.report.build import build_sections, render_report
from fundiff.report.manifests import read_manifest
from fundiff.report.sections import Header, PageSection, default_order
from fundiff.report.tables import format_value, metrics_table
from fundiff.report.workspace import discover_result_dirs, git_commit, live_dirs, write_report

__all__ = [
    "Header",
    "PageSection",
    "build_sections",
    "default_order",
    "discover_result_dirs",
    "format_value",
    "git_commit",
    "live_dirs",
    "metrics_table",
    "read_manifest",
    "render_report",
    "write_report",
]
