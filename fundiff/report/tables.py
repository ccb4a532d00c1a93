"""Numbers on the page: one formatting of a value, natural sorting, flattened metric names, and the metrics tables
(families of metrics along one axis, such as accuracy per digit or MSE per σ, become one wide table)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-4):
            return f"{value:.3e}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


def natural_key(text: str) -> tuple:
    return tuple((0, int(tok), "") if tok.isdigit() else (1, 0, tok) for tok in re.split(r"(\d+)", text) if tok)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


GROUP_MIN = 3  # at least this many metrics of one family become one row of a wide table
AXIS = re.compile(r"^(?P<head>.+?)_(?P<axis>digit|sigma|i_start|steps|epoch|gamma|t)_?(?P<value>\d[\dp.]*)$")
AXIS_LABEL = {
    "digit": "{}",
    "sigma": "σ={}",
    "t": "t={}",
    "i_start": "i_start={}",
    "steps": "{} steps",
    "epoch": "epoch {}",
    "gamma": "γ={}",
}


def metric_family(name: str) -> tuple[str, str, str, tuple] | None:
    """``accuracy_full_digit3`` -> (accuracy_full, "3"); ``mse_unet_sigma_0p5`` -> (mse_unet, "σ=0.5");
    ``mse_noisy_t250`` -> (mse_noisy, "t=250"); ``accuracy/3`` and nested ``{"accuracy": {"3": ..}}`` (flattened to
    ``accuracy.3``) -> (accuracy, "3"). Returns (row, axis, column, column sort key) or None."""
    match = AXIS.match(name)
    if match:
        value = match["value"].replace("p", ".")
        head, axis, column = match["head"], match["axis"], AXIS_LABEL[match["axis"]].format(value)
    elif "/" in name:
        (head, column), axis = name.split("/", 1), "/"
        value = column
    elif re.match(r"^[A-Za-z_]+\.", name):
        (head, column), axis = name.split(".", 1), "."
        value = column
    else:
        return None
    try:
        key = (0, float(value), natural_key(column))
    except ValueError:
        key = (1, 0.0, natural_key(column))
    return head, axis, column, key


def metrics_table(rows: Mapping[str, Any]) -> str:
    """The metrics as pandas tables, values pre-formatted so pandas prints them verbatim, everything sorted.

    Families of at least GROUP_MIN metrics along one axis (digit, σ, t, i_start, steps, epoch, or ``name/x``) become
    rows of a wide table with that axis as columns (per-digit accuracy; the UNet's MSE per σ beside blur's MSE per σ);
    families with the same columns share a table. Every other metric is a (metric, value) row."""
    if not rows:
        return ""
    families: dict[tuple[str, str], dict[str, tuple[str, tuple]]] = {}  # (head, axis) -> {column: (name, sort key)}
    for name in rows:
        found = metric_family(name)
        if found:
            head, axis, column, key = found
            families.setdefault((head, axis), {})[column] = (name, key)
    wide: dict[tuple[str, ...], dict[str, dict[str, Any]]] = {}
    grouped: set[str] = set()
    for (head, _), members in sorted(families.items()):
        if len(members) >= GROUP_MIN:
            columns = tuple(sorted(members, key=lambda c: members[c][1]))
            wide.setdefault(columns, {})[head] = {c: rows[members[c][0]] for c in columns}
            grouped |= {full for full, _ in members.values()}
    html = []
    single = sorted((n for n in rows if n not in grouped), key=natural_key)
    if single:
        frame = pd.DataFrame({"metric": single, "value": [format_value(rows[n]) for n in single]})
        html.append(frame.to_html(index=False, border=0, classes="metrics", escape=True, justify="left"))
    for columns in sorted(wide, key=lambda c: (len(c), [natural_key(x) for x in c])):
        heads = sorted(wide[columns], key=natural_key)
        frame = pd.DataFrame(
            [[head, *(format_value(wide[columns][head][c]) for c in columns)] for head in heads],
            columns=["metric", *columns],
        )
        html.append(frame.to_html(index=False, border=0, classes="metrics wide", escape=True, justify="left"))
    return "\n".join(html)
