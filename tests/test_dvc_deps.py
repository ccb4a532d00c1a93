"""dvc.yaml lists, for every stage, each project module its command imports: otherwise a code change would not rerun
the stages it affects, and DVC would keep stale outputs. Read from the source (ast), so nothing is imported."""

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("fundiff", "stages")
# Imported, but they cannot change any output, so editing them must not rerun the pipeline.
NO_OUTPUT_EFFECT = {
    "fundiff/__init__.py": "the package docstring",
    "fundiff/errors.py": "the error type: messages only",
    "fundiff/timings.py": "the stage timing log .fundiff/timings.json, outside every output",
}
# Per stage: modules it imports whose code its command never runs.
UNUSED_BY_STAGE = {
    "classifier": {
        "fundiff/forward.py": "fundiff.metrics' denoising MSE, used by sample_denoiser only",
        "fundiff/unets.py": "fundiff.checkpoints.load_model, the Part B UNet loader",
        "fundiff/blocks.py": "the Part B UNets' blocks (via fundiff/unets.py)",
    },
}


def module_file(name: str) -> Path | None:
    for candidate in (REPO / (name.replace(".", "/") + ".py"), REPO / name.replace(".", "/") / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_files(path: Path) -> set[Path]:
    """Project modules that ``path`` imports anywhere (module level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]  # a name may be a module
        else:
            continue
        found |= {f for f in map(module_file, names) if f is not None and names[0].split(".")[0] in PACKAGES}
    return found


def import_closure(path: Path) -> set[str]:
    seen, todo = set(), [path]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += imported_files(current)
    return {str(p.relative_to(REPO)) for p in seen}


STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_imported_module_is_a_dependency(name):
    stage = STAGES[name].get("do", STAGES[name])
    command = stage["cmd"].split()
    assert command[:2] == ["python", "-m"], stage["cmd"]
    entry = module_file(command[2])
    deps = set(stage["deps"])
    unused = UNUSED_BY_STAGE.get(name, {})
    missing = sorted(import_closure(entry) - deps - set(NO_OUTPUT_EFFECT) - set(unused))
    assert not missing, f"dvc.yaml stage {name!r} imports {missing} but does not list them under deps"
    assert not deps & set(unused), f"stage {name!r}: {sorted(deps & set(unused))} is both a dep and listed as unused"


def test_the_check_sees_a_missing_dependency():
    """The closure reaches modules imported inside functions and through other modules."""
    closure = import_closure(REPO / "stages" / "sample_partB.py")
    assert {"fundiff/inference.py", "fundiff/unets.py", "fundiff/blocks.py", "stages/param_checks.py"} <= closure
