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
    "fundiff/partA/experiments/__init__.py": "the package docstring",
    "fundiff/errors.py": "the error type: messages only",
    "fundiff/timings.py": "the stage timing log .fundiff/timings.json, outside every output",
}
# Per stage: modules it imports whose code its command never runs.
UNUSED_BY_STAGE: dict[str, dict[str, str]] = {}
# Part A's experiments are imported by name (fundiff.partA.registry.experiment_module), one per stage item.
EXPERIMENTS_DIR = "fundiff/partA/experiments"


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
        if names[0].split(".")[0] not in PACKAGES:
            continue
        parents = {".".join(names[0].split(".")[:k]) for k in range(1, names[0].count(".") + 1)}  # run on import
        found |= {f for f in map(module_file, [*names, *parents]) if f is not None}
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


def stage_items() -> list[tuple[str, str | None]]:
    return [(name, item) for name in sorted(STAGES) for item in (STAGES[name].get("foreach") or [None])]


@pytest.mark.parametrize("name,item", stage_items())
def test_every_imported_module_is_a_dependency(name, item):
    stage = STAGES[name].get("do", STAGES[name])
    command = stage["cmd"].split()
    assert command[:2] == ["python", "-m"], stage["cmd"]
    assert command[2] == f"stages.{name}", f"stage {name!r} runs {command[2]}: a stage's script has the stage's name"
    closure = import_closure(module_file(command[2]))
    deps = {dep.replace("${item}", item or "") for dep in stage["deps"]}
    if name == "partA":
        closure |= import_closure(REPO / EXPERIMENTS_DIR / f"{item}.py")
        others = {d for d in deps if d.startswith(EXPERIMENTS_DIR + "/")} - {
            f"{EXPERIMENTS_DIR}/{item}.py",
            f"{EXPERIMENTS_DIR}/__init__.py",
        }
        assert not others, f"partA@{item} depends on other experiments' code {sorted(others)}"
    unused = UNUSED_BY_STAGE.get(name, {})
    missing = sorted(closure - deps - set(NO_OUTPUT_EFFECT) - set(unused))
    assert not missing, f"dvc.yaml stage {name!r} imports {missing} but does not list them under deps"
    assert not deps & set(unused), f"stage {name!r}: {sorted(deps & set(unused))} is both a dep and listed as unused"


def test_part_A_does_not_depend_on_the_training_loop():
    deps = set(STAGES["partA"]["do"]["deps"])
    assert not {"fundiff/partB/training.py", "fundiff/partB/fit.py"} & deps


def test_the_check_sees_a_missing_dependency():
    """The closure reaches modules imported inside functions and through other modules."""
    closure = import_closure(REPO / "stages" / "sample.py")
    assert {
        "fundiff/nets/fold_batchnorm.py",
        "fundiff/nets/unets.py",
        "fundiff/nets/blocks.py",
        "fundiff/params.py",
    } <= closure


def test_every_dependency_exists():
    """A dep that no longer exists (a module moved away) stops `dvc repro` with an error."""
    for name, item in stage_items():
        stage = STAGES[name].get("do", STAGES[name])
        for dep in stage["deps"]:
            path = REPO / dep.replace("${item}", item or "")
            assert path.exists() or dep.startswith(("data/", "reports/")), f"stage {name!r} lists missing dep {dep}"


def wanted_code_deps(name: str) -> list[str]:
    """The project modules stage ``name`` imports (for every foreach item), as dvc.yaml should list them."""
    stage = STAGES[name].get("do", STAGES[name])
    closure = import_closure(module_file(stage["cmd"].split()[2]))
    if name == "partA":
        for item in STAGES[name]["foreach"]:
            closure |= import_closure(REPO / EXPERIMENTS_DIR / f"{item}.py")
        closure = {f for f in closure if not f.startswith(EXPERIMENTS_DIR + "/") or f.endswith("__init__.py")}
    skip = set(NO_OUTPUT_EFFECT) | set(UNUSED_BY_STAGE.get(name, {}))
    return sorted(closure - skip)


def sync_deps(text: str) -> str:
    """dvc.yaml with each stage's code deps (fundiff/ and stages/ *.py, not templated) replaced by its imports."""
    lines, out, stage, in_deps = text.splitlines(keepends=True), [], None, False
    code_written, dep_indent = False, 0
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if indent == 2 and stripped.endswith(":") and not stripped.startswith("-"):
            stage = stripped[:-1]
        if in_deps and not stripped.startswith("- "):
            in_deps = False
        if in_deps:
            dep = stripped[2:]
            if dep.startswith(PACKAGES) and dep.endswith(".py") and "${" not in dep:
                if not code_written:
                    out += [f"{' ' * dep_indent}- {d}\n" for d in wanted_code_deps(stage)]
                    code_written = True
                continue
        if stripped == "deps:" and stage in STAGES:
            in_deps, code_written, dep_indent = True, False, indent + 2
        out.append(line)
    return "".join(out)


if __name__ == "__main__":  # python tests/test_dvc_deps.py: rewrite dvc.yaml's code deps from the imports
    (REPO / "dvc.yaml").write_text(sync_deps((REPO / "dvc.yaml").read_text()))
