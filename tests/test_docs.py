"""The README and docs/ say only what exists: every command they show names a real make target, script, module, flag
and param key; every relative link resolves; "Where is what" is the tree. Fast: it reads files, it runs nothing."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md")), REPO / "bench/README.md"]

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+(?:\n[^`\n]+)?)`")  # an inline span may wrap onto a second line
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def code_of(text: str) -> list[str]:
    """The commands a page shows: each fenced block's lines (comments dropped, `\\` continuations joined), then every
    inline code span."""
    commands = []
    for block in FENCE.findall(text):
        joined = re.sub(r"\\\n\s*", " ", block)
        commands += [line.split(" # ")[0].split("  #")[0] for line in joined.splitlines()]
    outside = FENCE.sub("", text)
    commands += [span.replace("\n", " ") for span in INLINE.findall(outside)]
    return [c.strip() for c in commands if c.strip()]


def words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:  # an unbalanced quote in prose-like code: fall back to whitespace
        return command.split()


def all_commands() -> list[tuple[str, str]]:
    return [(page.relative_to(REPO).as_posix(), c) for page in PAGES for c in code_of(page.read_text())]


def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", (REPO / "Makefile").read_text(), re.M))


def composed_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def commented_keys() -> set[str]:
    """Optional keys that conf/ shows commented out (`# decomposition: three_band`): valid, though not in params.yaml."""
    found = set()
    for path in (REPO / "conf").rglob("*.yaml"):
        found |= set(re.findall(r"^\s*#\s*(?:-\s*)?\{?\s*([A-Za-z_]\w*):", path.read_text(), re.M))
    return found


def key_exists(params: dict, dotted: str, optional: set[str]) -> bool:
    if dotted == "profile":  # a Hydra config group, not a key
        return True
    node = params
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return i == len(parts) - 1 and isinstance(node, dict) and part in optional
    return True


def test_the_readme_is_an_entry_with_the_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= 200, "README.md is the entry; the reference belongs in docs/"
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    first_block = FENCE.search(quick).group(1).splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "repro"], ["make", "test"]]
    assert "```mermaid" not in text, "the graph is `dvc dag`'s to print"


def test_every_make_target_shown_exists():
    targets = make_targets()
    shown = {
        (page, w[i + 1])
        for page, command in all_commands()
        for w in [words(command)]
        for i, word in enumerate(w[:-1])
        if word == "make" and (i == 0 or w[i - 1] in ("&&", ";", "then"))
    }
    assert shown, "no `make` command found: the parser is broken"
    missing = sorted(f"{page}: make {t}" for page, t in shown if t not in targets)
    assert not missing, f"targets not in the Makefile: {missing}"


def test_every_python_script_module_and_flag_shown_exists():
    checked, problems = 0, []
    for page, command in all_commands():
        w = words(command)
        for i, word in enumerate(w[:-1]):
            if not re.fullmatch(r"(\S*/)?python3?", word):
                continue
            target = w[i + 1]
            if target == "-m" and i + 2 < len(w):
                path = REPO / (w[i + 2].replace(".", "/") + ".py")
                args = w[i + 3 :]
            elif target.endswith(".py"):
                path = REPO / target
                args = w[i + 2 :]
            else:
                continue
            checked += 1
            if "<" in str(path):  # a placeholder: `python -m stages.<stage>`
                if not list(REPO.glob(re.sub(r"<[^>]+>", "*", path.relative_to(REPO).as_posix()))):
                    problems.append(f"{page}: {command!r}: nothing matches {path.relative_to(REPO)}")
                continue
            if not path.is_file():
                problems.append(f"{page}: {command!r}: no {path.relative_to(REPO)}")
                continue
            source = path.read_text()
            for arg in args:
                flag = arg.strip("[]").split("=")[0]
                if flag.startswith("--") and f'"{flag}"' not in source:
                    problems.append(f"{page}: {command!r}: {path.relative_to(REPO)} has no option {flag}")
    assert checked >= 10, f"only {checked} python commands found: the parser is broken"
    assert not problems, "\n".join(problems)


def test_every_param_key_set_with_dash_s_exists():
    params, optional = composed_params(), commented_keys()
    keys = [
        (page, m.group(1))
        for page, command in all_commands()
        for m in re.finditer(r"(?:^|\s)-S\s+'?\"?([A-Za-z_][\w.@]*)=", command)
    ]
    assert len(keys) >= 10, f"only {len(keys)} `-S key=value` found: the parser is broken"
    missing = sorted({f"{page}: -S {key}" for page, key in keys if not key_exists(params, key, optional)})
    assert not missing, f"keys in no params.yaml section (nor commented in conf/): {missing}"
    profiles = {m.group(1) for _, c in all_commands() for m in re.finditer(r"-S\s+'?profile=(\w+)", c)}
    assert profiles and all((REPO / f"conf/profile/{p}.yaml").is_file() for p in profiles), profiles


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        if not dest.exists():
            broken.append(f"{target}: no {path_part}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(REPO)}")
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)


def where_is_what() -> list[str]:
    """The paths the README's "Where is what" tree names, each as a glob relative to the repository root. A line is
    `names  # comment`; its names are relative to the nearest less-indented line that names one directory alone."""
    section = README.read_text().split("## Where is what", 1)[1]
    block = FENCE.search(section).group(1)
    stack: list[tuple[int, str]] = []
    paths = []
    for line in block.splitlines():
        names = line.split("#", 1)[0].split()
        if not names:
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        base = stack[-1][1] if stack else ""
        paths += [base + re.sub(r"<[^>]+>", "*", name) for name in names]
        if len(names) == 1 and names[0].endswith("/"):
            stack.append((indent, base + names[0]))
    return paths


def test_where_is_what_is_the_tree():
    paths = where_is_what()
    missing = [p for p in paths if not list(REPO.glob(p.rstrip("/")))]
    assert not missing, f"README.md's 'Where is what' names paths that do not exist: {missing}"
    named = {p.rstrip("/") for p in paths}
    unnamed = [
        entry.relative_to(REPO).as_posix()
        for entry in sorted([*(REPO / "fundiff").iterdir(), *(REPO / "stages").glob("*.py")])
        if entry.name not in ("__init__.py", "__pycache__") and entry.relative_to(REPO).as_posix() not in named
    ]
    assert not unnamed, f"README.md's 'Where is what' leaves out: {unnamed}"
