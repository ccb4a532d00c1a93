"""The one way params are validated: typed access to a params.yaml section, where every bad value is a one-line
FundiffError naming the dotted key, the value and the fix. Every stage checks its whole section before any work.

Numbers: YAML 1.1 (PyYAML) reads ``1e-3`` as a string, so a string that parses as a finite number is read as that number
(deliberately, the same way everywhere); any other string is rejected. Floats must be finite. Integers must be written
as integers (``32``, not ``'32'`` or ``32.0``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from fundiff.errors import FundiffError, shown

MISSING: Any = object()

# Keys that were renamed: (section prefix, old key) -> new key. An old key in params.yaml is the one-line "unknown key"
# error naming its new name, so a params file from before a rename fails loudly instead of being half-read.
RENAMED: dict[tuple[str, str], str] = {
    # Part A's Gaussian blurs (experiments blur and hybrids) are named like every other blur: blur_<old key>
    (f"partA.experiments.{experiment}.{backend}", old): f"blur_{old}"
    for experiment in ("blur", "hybrids")
    for backend in ("mnist", "deepfloyd")
    for old in ("kernel_size", "sigma")
}


def parse_yaml(stream: Any, name: str) -> Any:
    """YAML read the way DVC reads params.yaml: safely (no code, no Python objects) and with every key of a mapping
    written once; a repeated key is a one-line FundiffError naming it and its line (PyYAML alone keeps the last)."""
    import yaml

    class UniqueKeys(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue  # an unhashable key: the params checks refuse it with the section it is in
            if key in seen:
                line = key_node.start_mark.line + 1
                raise FundiffError(f"{name} line {line}: the key {shown(key)} is given twice in one mapping; keep one")
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return yaml.load(stream, Loader=UniqueKeys)  # noqa: S506 - a SafeLoader subclass


def section(params: Any, dotted: str) -> Any:
    """The value at ``dotted`` ("partA.backends.mnist") of the params mapping."""
    node: Any = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise FundiffError(
                f"params.yaml has no {dotted!r} section; restore it from git (`git checkout params.yaml`) "
                "or add it (see conf/config.yaml)"
            )
        node = node[key]
    return node


def seed_of(params: Any) -> int:
    """The shared ``seed``: an integer."""
    seed = params.get("seed", MISSING) if isinstance(params, dict) else MISSING
    if seed is MISSING:
        raise FundiffError("params.yaml has no seed; add `seed: <integer>` (see conf/config.yaml)")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise FundiffError(f"seed={shown(seed)} must be an integer")
    return seed


EDITIONS = ("ddpm", "flow")  # conf/partB/<edition>.yaml


def edition_of(params: Any) -> str:
    """``partB.edition``: which edition of the course's Part B the pipeline runs (ddpm when params has no partB)."""
    part_b = params.get("partB", {}) if isinstance(params, dict) else {}
    edition = part_b.get("edition", "ddpm") if isinstance(part_b, dict) else MISSING
    if edition not in EDITIONS:
        raise FundiffError(
            f"partB.edition={shown(edition)} is not an edition of the course; use `dvc exp run -S partB=ddpm` or "
            "`-S partB=flow` (conf/partB/)"
        )
    return edition


def deterministic_of(params: Any) -> bool:
    """The shared ``deterministic`` (default false): true or false."""
    value = params.get("deterministic", False) if isinstance(params, dict) else False
    if not isinstance(value, bool):
        raise FundiffError(f"deterministic={shown(value)} must be true or false")
    return value


def _as_number(value: Any) -> float | int | None:
    """``value`` as an int or a finite float, or None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    return value if isinstance(value, int) or math.isfinite(value) else None


class ParamSection:
    """One params section (a mapping) under ``prefix``. ``known`` lists its keys, or maps each key to a type for
    ``section[key]`` access (then every key is required)."""

    def __init__(self, values: Any, prefix: str, known: Iterable[str] | Mapping[str, Any]):
        if not isinstance(values, dict):
            raise FundiffError(
                f"params.yaml: {prefix} must be a mapping of keys to values, got {type(values).__name__}"
            )
        self.values, self.prefix = values, prefix
        self.types = dict(known) if isinstance(known, Mapping) else {}
        self.known = tuple(known)
        unknown = sorted(set(values) - set(self.known), key=str)
        if unknown:
            new = RENAMED.get((prefix, str(unknown[0])))
            if new is not None:
                raise FundiffError(f"{prefix}.{unknown[0]} is not a known key: it was renamed to {prefix}.{new}")
            raise FundiffError(f"{prefix}.{unknown[0]} is not a known key; known keys: {', '.join(sorted(self.known))}")
        missing = sorted(set(self.types) - set(values))
        if missing:
            raise FundiffError(f"params.yaml has no {prefix}.{missing[0]}; add it (see conf/)")

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def has(self, name: str) -> bool:
        return name in self.values

    def _get(self, name: str, default: Any) -> Any:
        value = self.values.get(name, default)
        if value is MISSING:
            raise FundiffError(f"params.yaml has no {self.key(name)}; add it (see conf/config.yaml)")
        return value

    def __getitem__(self, name: str) -> Any:
        """The value of a typed key (``known`` as a mapping): ints are accepted where a float is wanted."""
        kind = self.types[name]
        if kind is float:
            return self.number(name)
        if kind is int:
            return self.integer(name)
        value = self._get(name, MISSING)
        if not isinstance(value, kind):
            raise FundiffError(
                f"{self.key(name)}={shown(value)} has the wrong type (want {getattr(kind, '__name__', kind)})"
            )
        return value

    def integer(
        self, name: str, lo: int | None = None, hi: int | None = None, default: Any = MISSING, hint: str = ""
    ) -> int:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            quoted = " (without quotes)" if isinstance(value, str) else ""
            raise FundiffError(f"{self.key(name)}={shown(value)} must be an integer{quoted}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f">= {lo}" if hi is None else f"<= {hi}" if lo is None else f"in {lo}..{hi}"
            raise FundiffError(f"{self.key(name)}={shown(value)} must be {bounds}{hint}")
        return value

    def optional_integer(self, name: str, lo: int | None = None, default: Any = MISSING) -> int | None:
        return None if self._get(name, default) is None else self.integer(name, lo)

    def number(
        self,
        name: str,
        lo: float | None = None,
        lo_open: bool = False,
        hi: float | None = None,
        hi_open: bool = False,
        default: Any = MISSING,
        hint: str = "",
    ) -> float:
        raw = self._get(name, default)
        value = _as_number(raw)
        if value is None:
            raise FundiffError(f"{self.key(name)}={shown(raw)} must be a finite number")
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise FundiffError(f"{self.key(name)}={shown(raw)} must be {'>' if lo_open else '>='} {lo}{hint}")
        if hi is not None and (value >= hi if hi_open else value > hi):
            raise FundiffError(f"{self.key(name)}={shown(raw)} must be {'<' if hi_open else '<='} {hi}{hint}")
        return float(value)

    def optional_number(self, name: str, default: Any = MISSING, **bounds: Any) -> float | None:
        return None if self._get(name, default) is None else self.number(name, **bounds)

    def boolean(self, name: str, default: Any = MISSING) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise FundiffError(f"{self.key(name)}={shown(value)} must be true or false")
        return value

    def switch(self, name: str, default: Any = MISSING) -> str:
        """auto | on | off. YAML reads a bare on/off/true/false as a boolean: true means on, false off."""
        value = self._get(name, default)
        if isinstance(value, bool):
            return "on" if value else "off"
        if value not in ("auto", "on", "off"):
            raise FundiffError(f"{self.key(name)}={shown(value)} is unknown; use auto, on (true) or off (false)")
        return value

    def choice(self, name: str, options: Iterable[str], default: Any = MISSING) -> str:
        options = tuple(options)
        value = self._get(name, default)
        if value not in options:
            raise FundiffError(f"{self.key(name)}={shown(value)} is unknown; use one of {', '.join(options)}")
        return value

    def string(self, name: str, default: Any = MISSING, optional: bool = False) -> str | None:
        value = self._get(name, default)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value:
            raise FundiffError(f"{self.key(name)}={shown(value)} must be a non-empty string")
        return value

    def items(self, name: str, default: Any = MISSING) -> list:
        value = self._get(name, default)
        if not isinstance(value, list) or not value:
            raise FundiffError(f"{self.key(name)} must be a non-empty list, got {shown(value)}")
        return value

    def numbers(self, name: str, lo: float = 0.0, default: Any = MISSING, allow_empty: bool = False) -> list[float]:
        """A list of distinct finite numbers >= lo, non-empty unless ``allow_empty``."""
        if allow_empty and self._get(name, default) == []:
            return []
        value = self.items(name, default)
        out = []
        for item in value:
            number = _as_number(item)
            if number is None or number < lo:
                raise FundiffError(f"{self.key(name)} has {shown(item)}; every entry must be a number >= {lo}")
            out.append(float(number))
        if len(set(out)) != len(out):
            raise FundiffError(f"{self.key(name)} lists a value twice: {shown(value)}")
        return out

    def integers(
        self, name: str, lo: int | None = None, hi: int | None = None, default: Any = MISSING, what: str = "integers"
    ) -> list[int]:
        """A non-empty list of integers in lo..hi."""
        value = self.items(name, default)
        for item in value:
            if (
                isinstance(item, bool)
                or not isinstance(item, int)
                or (lo is not None and item < lo)
                or (hi is not None and item > hi)
            ):
                bounds = (
                    f" in {lo}..{hi}" if lo is not None and hi is not None else f" >= {lo}" if lo is not None else ""
                )
                raise FundiffError(f"{self.key(name)} has {shown(item)}; use {what}{bounds}")
        return value
