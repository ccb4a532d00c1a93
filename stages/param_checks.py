"""Typed access to one params.yaml section: every bad value is a one-line FundiffError naming the dotted key."""

from __future__ import annotations

from typing import Any, Iterable

from fundiff.errors import FundiffError

_MISSING = object()


class Section:
    def __init__(self, values: dict[str, Any], prefix: str, known: Iterable[str]):
        if not isinstance(values, dict):
            raise FundiffError(f"params.yaml: {prefix} must be a mapping, got {type(values).__name__}")
        self.values, self.prefix = values, prefix
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise FundiffError(f"{prefix}.{unknown[0]} is not a known key; known keys: {', '.join(sorted(known))}")

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def _get(self, name: str, default: Any) -> Any:
        value = self.values.get(name, default)
        if value is _MISSING:
            raise FundiffError(f"params.yaml has no {self.key(name)}; add it (see conf/config.yaml)")
        return value

    def integer(self, name: str, lo: int | None = None, hi: int | None = None, default: Any = _MISSING,
                hint: str = "") -> int:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FundiffError(f"{self.key(name)}={value!r} must be an integer")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f">= {lo}" if hi is None else f"in {lo}..{hi}"
            raise FundiffError(f"{self.key(name)}={value} must be {bounds}{hint}")
        return value

    def number(self, name: str, lo: float | None = None, lo_open: bool = False, default: Any = _MISSING,
               hint: str = "") -> float:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FundiffError(f"{self.key(name)}={value!r} must be a number")
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise FundiffError(f"{self.key(name)}={value} must be {'>' if lo_open else '>='} {lo}{hint}")
        return float(value)

    def boolean(self, name: str, default: Any = _MISSING) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise FundiffError(f"{self.key(name)}={value!r} must be true or false")
        return value

    def choice(self, name: str, options: Iterable[str], default: Any = _MISSING) -> str:
        options = tuple(options)
        value = self._get(name, default)
        if value not in options:
            raise FundiffError(f"{self.key(name)}={value!r} is unknown; use one of {', '.join(options)}")
        return value

    def numbers(self, name: str, lo: float = 0.0, default: Any = _MISSING) -> list[float]:
        value = self._get(name, default)
        if not isinstance(value, list) or not value:
            raise FundiffError(f"{self.key(name)} must be a non-empty list of numbers, got {value!r}")
        out = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (int, float)) or item < lo:
                raise FundiffError(f"{self.key(name)} has {item!r}; every entry must be a number >= {lo}")
            out.append(float(item))
        if len(set(out)) != len(out):
            raise FundiffError(f"{self.key(name)} lists a value twice: {value}")
        return out
