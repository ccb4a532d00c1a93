"""Sections shown beside the run they vary: the flow edition's class-conditioned UNet trained without a learning-rate
schedule (2.6.1) gets a table of its headline metrics next to the scheduled run's (2.6), so the page answers "what did
dropping the schedule cost" without reading two tables."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from fundiff.report.sections import PageSection
from fundiff.report.tables import format_value

# variant results dir -> (the run it varies, what the variant is called in the table)
PAIRS = {"flow_class_cond_unscheduled": ("flow_class_cond", "without a schedule")}
HEADLINE = ("accuracy_full", "fid_full", "fid_train_digits", "npz_confident", "npz_fid", "npz_fid_train_digits")


def _name(section: PageSection) -> str:
    return section.source.rstrip("/").rsplit("/", 1)[-1]


def add_side_by_side(sections: Sequence[PageSection]) -> None:
    """Prepend to each variant's metrics a table of the HEADLINE metrics of the run it varies and of itself."""
    by_name = {_name(s): s for s in sections if s.source}
    for variant, (base, label) in PAIRS.items():
        if variant not in by_name or base not in by_name:
            continue
        a, b = by_name[base].metrics, by_name[variant].metrics
        keys = [k for k in HEADLINE if k in a and k in b]
        if not keys:
            continue
        frame = pd.DataFrame(
            [[k, format_value(a[k]), format_value(b[k])] for k in keys],
            columns=["metric", f"{base} ({by_name[base].section})", f"{label} ({by_name[variant].section})"],
        )
        table = frame.to_html(index=False, border=0, classes="metrics side-by-side", escape=True, justify="left")
        by_name[variant].metrics_html = table + "\n" + by_name[variant].metrics_html
