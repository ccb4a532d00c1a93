"""Reproducible installs (issue 26): requirements.lock agrees with pyproject.toml, this environment is the lock's, and a
small wheelhouse built by `make wheelhouse` installs by `make install-offline` with the network refused."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
_spec = importlib.util.spec_from_file_location("wheelhouse", REPO / "tools/wheelhouse.py")
wheelhouse = sys.modules.setdefault("wheelhouse", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(wheelhouse)
REFRESH = "pyproject.toml and requirements.lock disagree: run `make lock` (docs/install.md)"


def pyproject_requirements() -> list[Requirement]:
    """The project's dependencies and every extra's (the lock holds them all: `make lock` passes --all-extras)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]


def direct_in_lock() -> set[str]:
    """The lock's packages whose `# via` annotation names the project itself: its direct dependencies at lock time."""
    direct, current = set(), None
    for line in LOCK.read_text().splitlines():
        pin = wheelhouse.PIN.match(line)
        if pin:
            current = canonicalize_name(pin[1])
        elif line.lstrip().startswith("#") and "fundiff (pyproject.toml)" in line and current:
            direct.add(current)
    return direct


def test_every_requirement_of_pyproject_is_locked_at_an_allowed_version():
    pins = {pin.name: pin for pin in wheelhouse.read_lock(LOCK)}
    problems = []
    for req in pyproject_requirements():
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req} is not in the lock")
        elif not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{req}: the lock pins {pin.version}")
        elif pin.marker:
            problems.append(f"{req}: locked only where {pin.marker}")
    assert not problems, f"{REFRESH}: {'; '.join(problems)}"


def test_the_lock_holds_no_direct_dependency_that_pyproject_dropped():
    assert direct_in_lock() == {canonicalize_name(r.name) for r in pyproject_requirements()}, REFRESH


def test_the_lock_is_make_locks_and_every_pin_is_hashed():
    text = LOCK.read_text()
    assert text.splitlines()[1].strip() == "#    make lock"
    assert "--all-extras --universal --generate-hashes" in (REPO / "Makefile").read_text()
    pins = wheelhouse.read_lock(LOCK)  # raises on a pin without --hash
    assert {"torch", "torchvision", "setuptools", "pytest", "ruff", "playwright"} <= {p.name for p in pins}
    assert len(pins) == sum(1 for line in text.splitlines() if line and line[0] not in " #")  # every pin read


def test_this_environment_is_the_locks():
    """`make repro` and `make test` install from the lock: every pin that applies here is what is installed."""
    wrong = []
    for pin in wheelhouse.read_lock(LOCK):
        if pin.marker and not Marker(pin.marker).evaluate():
            continue
        try:
            installed = importlib.metadata.version(pin.name)
        except importlib.metadata.PackageNotFoundError:
            installed = "nothing"
        if installed != pin.version:
            wrong.append(f"{pin.name}: {installed} installed, {pin.version} locked")
    assert not wrong, f"this environment is not the lock's (rm -r .venv; make test): {wrong}"


def test_markers_are_read_for_the_target_machine():
    pins = wheelhouse.read_lock(LOCK)
    linux = {p.name for p in wheelhouse.select(pins, wheelhouse.environment("3.12", "manylinux_2_28_x86_64"), set())}
    mac = {p.name for p in wheelhouse.select(pins, wheelhouse.environment("3.12", "macosx_14_0_arm64"), set())}
    assert {"nvidia-cublas", "triton", "torch"} <= linux and "pywin32" not in linux
    assert "torch" in mac and not {n for n in mac if wheelhouse.TORCH_STACK.match(n)} - {"torch", "torchvision"}
    assert "nvidia-ml-py" in mac and not wheelhouse.TORCH_STACK.match("nvidia-ml-py")  # dvclive's, not torch's
    assert wheelhouse.platforms("manylinux2014_x86_64")[0] == "manylinux_2_17_x86_64"


def make(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = ["make", "-s", "-C", str(REPO), *args, f"PYTHON={sys.executable}"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or os.environ.copy(), timeout=300)


def offline_env() -> dict:
    """No index, no find-links but the wheelhouse's, and any network access through a proxy that refuses."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    dead = "http://127.0.0.1:9"
    return {**env, "PIP_CONFIG_FILE": os.devnull, "http_proxy": dead, "https_proxy": dead, "HTTPS_PROXY": dead}


def test_a_small_wheelhouse_installs_with_the_network_refused(tmp_path):
    house, site = tmp_path / "wheelhouse", tmp_path / "site"
    names = ["six", "tabulate", "antlr4-python3-runtime"]  # two wheels, and the sdist-only one Hydra needs
    built = make("wheelhouse", f"WHEELHOUSE={house}", f"PACKAGES={' '.join(names)}")
    assert built.returncode == 0, built.stderr
    assert (house / "requirements-no-torch.txt").is_file() and len(list(house.glob("*.whl"))) == len(names) + 1  # pip
    installed = make("install-offline", f"WHEELHOUSE={house}", f"TARGET={site}", env=offline_env())
    assert installed.returncode == 0, installed.stderr
    code = "import six, tabulate, antlr4; print(six.__file__, tabulate.__file__, antlr4.__file__)"
    env = {**offline_env(), "PYTHONPATH": str(site)}
    files = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert all(Path(f).is_relative_to(site) for f in files.stdout.split())
    pins = {p.name: p.version for p in wheelhouse.read_lock(LOCK)}
    for name in names:
        assert any(site.glob(f"{name.replace('-', '_')}-{pins[name]}.dist-info")), name


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    script = [sys.executable, str(REPO / "tools/wheelhouse.py"), "--dest", str(tmp_path / "w")]
    for args, fragment in (
        (["--python-version", "3"], "give major.minor"),
        (["--only", "no-such-package"], "no-such-package not in the lock"),
        (["--lock", str(tmp_path / "none.lock")], "no lock file"),
    ):
        proc = subprocess.run([*script, *args], capture_output=True, text=True)
        assert proc.returncode == 2 and fragment in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    missing = make("install-offline", f"WHEELHOUSE={tmp_path / 'nothing'}", f"TARGET={tmp_path / 'site'}")
    assert missing.returncode == 2 and "run make wheelhouse" in missing.stderr
