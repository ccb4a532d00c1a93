"""The bench scripts' option types, as argparse ``type=`` functions: a bad value is argparse's one-line usage error
naming the option (exit 2), never a traceback. ``override`` is the one parser of every ``--set KEY=VALUE``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable


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


def count(text: str) -> int:
    """A count >= 1 (samples, steps, rounds)."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def override(text: str) -> str:
    """``key=value``: one Hydra override, as `dvc exp run -S` takes it (``profile=tiny``, ``train.class_cond.lr=1e-3``,
    ``+new.key=1``)."""
    key, sep, _ = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(text)
    return text


def name_list(choices: Iterable[str], what: str) -> Callable[[str], list[str]]:
    """``a,b`` -> ["a", "b"], each one of ``choices``; anything else is argparse's error listing them."""
    allowed = tuple(choices)

    def parse(text: str) -> list[str]:
        names = text.split(",")
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what} {unknown[0]!r}; use one or more of {','.join(allowed)}")
        return names

    parse.__name__ = what
    return parse
