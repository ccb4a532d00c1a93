"""A page that compares DVC experiments: each chosen metric against one swept param, one point per experiment.

    python -m fundiff.report.compare --param sample.class_cond.guidance_scale \\
        --metric accuracy_fast --metric class_cond.metrics.json:fid_fast [--out reports/experiments.html]

It reads DVC's own experiment store (``dvc.api.exp_show``: the workspace, the baseline commit and every experiment of
it, queued runs included once they finish), so it answers sweep questions such as "how does γ change accuracy and
FID?" after ``dvc exp run --queue -S …`` and ``dvc queue start``. A column matches a name exactly or as its last part
(``reports/partB/class_cond.metrics.json:accuracy_fast`` matches ``accuracy_fast``); a name found in several files
takes enough of its path to tell them apart (``class_cond.metrics.json:fid_fast``).
The page (a table and one plot per metric, PNG inlined) is a view of the experiment store, not a pipeline output: it is
written outside DVC's outputs and is not tracked.
"""

from __future__ import annotations

import argparse
import base64
import html
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fundiff.errors import FundiffError
from fundiff.io import atomic_file

SKIP_STATES = {"Queued", "Running", "Failed"}


def resolve_column(columns: Sequence[str], name: str) -> str:
    """The column ``name`` denotes: itself, or the one column that ends in ``:name`` (a file's metric or param), in
    ``.name`` (a param's last keys: ``class_cond.guidance_scale``) or in ``/name`` (a shorter path:
    ``class_cond.metrics.json:fid_fast`` for ``reports/partB/class_cond.metrics.json:fid_fast``)."""
    if name in columns:
        return name
    found = [c for c in columns if any(c.endswith(f"{sep}{name}") for sep in ":./")]
    if len(found) == 1:
        return found[0]
    if not found:
        raise FundiffError(f"no experiment column is {name!r}; see the columns of `dvc exp show`")
    raise FundiffError(f"{name!r} is in several files ({', '.join(found)}); give enough of the path to pick one")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def comparison_rows(
    rows: list[dict[str, Any]], param: str, metrics: Sequence[str]
) -> tuple[str, list[str], list[dict[str, Any]]]:
    """(param column, metric columns, one record per finished experiment with a numeric param): name, param, metrics,
    sorted by the param. The baseline commit and the workspace count as experiments of their own."""
    columns = sorted({key for row in rows for key in row})
    param_col = resolve_column(columns, param)
    metric_cols = [resolve_column(columns, m) for m in metrics]
    records = []
    for row in rows:
        if row.get("State") in SKIP_STATES:
            continue
        x = _number(row.get(param_col))
        if x is None:
            continue
        name = row.get("Experiment") or row.get("rev") or "?"
        records.append({"experiment": str(name), "param": x, **{c: _number(row.get(c)) for c in metric_cols}})
    if not records:
        raise FundiffError(
            f"no finished experiment has a number for {param_col}; run a sweep first "
            f"(dvc exp run --queue -S '{param}=…' then dvc queue start)"
        )
    records.sort(key=lambda r: (r["param"], r["experiment"]))
    return param_col, metric_cols, records


def comparison_figure(param_col: str, metric_cols: Sequence[str], records: list[dict[str, Any]]):
    from fundiff.figures.mpl import new_figure

    figure = new_figure(4.2 * len(metric_cols), 3.4)
    for i, column in enumerate(metric_cols):
        ax = figure.add_subplot(1, len(metric_cols), i + 1)
        points = [(r["param"], r[column]) for r in records if r[column] is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
        ax.set_xlabel(param_col.split(":")[-1])
        ax.set_title(column.split(":")[-1], fontsize=10)
        ax.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def comparison_page(param_col: str, metric_cols: Sequence[str], records: list[dict[str, Any]]) -> str:
    from fundiff.figures.mpl import png_bytes

    png = base64.b64encode(png_bytes(comparison_figure(param_col, metric_cols, records))).decode()
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["experiment", param_col, *metric_cols])
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(v if isinstance(v, str) else '–' if v is None else f'{v:.4g}')}</td>"
            for v in [r["experiment"], r["param"], *(r[c] for c in metric_cols)]
        )
        + "</tr>"
        for r in records
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fundiff: experiments compared</title>'
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
        f"<h1>Experiments compared: {html.escape(param_col)}</h1>"
        f"<p>{len(records)} finished experiments from DVC's experiment store (<code>dvc exp show</code>), one point "
        "each, sorted by the param.</p>"
        f'<img alt="metrics against {html.escape(param_col)}" src="data:image/png;base64,{png}">'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--param", required=True, help="the swept param, e.g. sample.class_cond.guidance_scale")
    parser.add_argument("--metric", action="append", required=True, help="a metric column (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("reports/experiments.html"))
    args = parser.parse_args(argv)
    try:
        import dvc.api

        param_col, metric_cols, records = comparison_rows(dvc.api.exp_show(), args.param, args.metric)
        with atomic_file(args.out) as handle:
            handle.write(comparison_page(param_col, metric_cols, records).encode())
    except FundiffError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"{len(records)} experiments compared on {param_col} -> {args.out}")


if __name__ == "__main__":
    main()
