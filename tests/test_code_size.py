"""Small pieces: no module of fundiff/ or stages/ over 300 lines, no function over 60 (ruff's C901 and PLR0915, set in
pyproject.toml, keep complexity and statements down; lines are counted here, read with ast so nothing is imported)."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODULES = sorted(p for d in ("fundiff", "stages") for p in (REPO / d).rglob("*.py"))
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60


def long_functions(source: str, limit: int) -> list[str]:
    """``name (N lines)`` of every function or method of ``source`` longer than ``limit`` lines."""
    return [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > limit
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_modules_and_functions_are_small(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{path.relative_to(REPO)}: over {MAX_MODULE_LINES} lines"
    assert not long_functions(source, MAX_FUNCTION_LINES), (
        f"{path.relative_to(REPO)}: split {long_functions(source, 60)}"
    )


def test_the_check_sees_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    assert long_functions(f"def f():\n{body}\n", 60) == ["f (62 lines)"]
    assert long_functions("def g():\n    return 1\n", 60) == []
