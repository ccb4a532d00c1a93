"""Comma-separated number lists for the bench scripts' options, as argparse ``type=`` functions: a bad value is
argparse's one-line usage error naming the option (exit 2), never a traceback."""

from __future__ import annotations


def _ints(text: str, lowest: int) -> list[int]:
    values = [int(v) for v in text.split(",")]  # ValueError -> "argument --x: invalid <type> value: '...'"
    if min(values) < lowest:
        raise ValueError(text)
    return values


def seed_list(text: str) -> list[int]:
    """``180,181`` -> [180, 181]: seeds >= 0."""
    return _ints(text, 0)


def epoch_list(text: str) -> list[int]:
    """``24,72`` -> [24, 72]: epoch counts >= 1."""
    return _ints(text, 1)
