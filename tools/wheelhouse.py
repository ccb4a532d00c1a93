"""Gather every wheel of requirements.lock for one Python and platform into one folder, for a machine without internet.

    python tools/wheelhouse.py [--lock requirements.lock] [--dest .wheelhouse] [--python-version 3.12]
                               [--platform manylinux_2_28_x86_64] [--only "six tqdm"] [--build antlr4-python3-runtime]

Run it where the package registries are reachable (`make wheelhouse`). The lock's environment markers are evaluated
for the target (not for this machine), every selected wheel is downloaded with the lock's hashes checked
(`pip download --only-binary=:all: --require-hashes`), and the packages that publish no wheel (``--build``; by
default antlr4-python3-runtime, which Hydra needs) are built into pure-Python wheels from their hash-checked sdists
(`pip wheel`). The folder then holds two requirement files pinned to its own files' sha256, for
`pip install --no-index --find-links <dest> --require-hashes --no-deps -r <dest>/requirements.txt` (`make
install-offline`): requirements.txt (everything) and requirements-no-torch.txt (without torch, torchvision, triton and
the CUDA libraries, for a machine whose system torch already has CUDA).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

try:
    from packaging.markers import Marker
    from packaging.utils import canonicalize_name
except ImportError:  # a bare interpreter: pip's vendored copy
    from pip._vendor.packaging.markers import Marker
    from pip._vendor.packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SDIST_ONLY = "antlr4-python3-runtime"
TORCH_STACK = re.compile(r"^(torch|torchvision|triton|cuda-.*|nvidia-(?!ml-py$).*)$")  # nvidia-ml-py: dvclive's
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")  # name==version ; marker \\
HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")
LEGACY = {"manylinux1": 5, "manylinux2010": 12, "manylinux2014": 17}


class Failure(Exception):
    """One line for the user: the run stops with exit 2 (bad input) or 1 (pip failed)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Pin:
    name: str  # canonical (PEP 503)
    version: str
    marker: str | None
    hashes: tuple[str, ...]

    def line(self) -> str:
        return f"{self.name}=={self.version} " + " ".join(f"--hash={h}" for h in self.hashes)


def read_lock(path: Path) -> list[Pin]:
    """The pins of a hashed requirements file as uv / pip-compile write it (a pin, then its --hash lines)."""
    if not path.is_file():
        raise Failure(f"no lock file {path}")
    pins: list[Pin] = []
    for raw in path.read_text().splitlines():
        match = PIN.match(raw)
        if match:
            pins.append(Pin(canonicalize_name(match[1]), match[2], match[3], ()))
        elif raw.strip().startswith("--hash") and pins:
            last = pins[-1]
            pins[-1] = Pin(last.name, last.version, last.marker, last.hashes + tuple(HASH.findall(raw)))
    unhashed = [p.name for p in pins if not p.hashes]
    if not pins or unhashed:
        raise Failure(f"{path}: not a hashed lock ({', '.join(unhashed[:3]) or 'no pins'} without --hash)")
    return pins


def platforms(platform: str) -> list[str]:
    """manylinux_2_28_x86_64 -> itself and every older manylinux tag a glibc 2.28 machine runs (pip does not widen
    the new-style tags on its own); other platforms as given (pip widens macOS tags itself)."""
    legacy = re.match(r"^(manylinux1|manylinux2010|manylinux2014)_(.+)$", platform)
    match = re.match(r"^manylinux_2_(\d+)_(.+)$", platform)
    if not (legacy or match):
        return [platform]
    glibc, arch = (LEGACY[legacy[1]], legacy[2]) if legacy else (int(match[1]), match[2])
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(glibc, 4, -1)]
    return tags + [f"{name}_{arch}" for name, minor in LEGACY.items() if minor <= glibc]


def environment(python_version: str, platform: str) -> dict[str, str]:
    """The marker environment of CPython ``python_version`` on ``platform`` (a wheel platform tag)."""
    if not re.fullmatch(r"3\.\d+", python_version):
        raise Failure(f"--python-version {python_version!r}: give major.minor, e.g. 3.12")
    system = next((s for p, s in (("win", "Windows"), ("macosx", "Darwin")) if platform.startswith(p)), "Linux")
    machine = re.sub(r"^(manylinux|musllinux)\w*?_\d+_\d+_|^manylinux\d+_|^win_|^macosx_\d+_\d+_", "", platform)
    return {
        "python_version": python_version,
        "python_full_version": f"{python_version}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": {"Linux": "linux", "Windows": "win32", "Darwin": "darwin"}[system],
        "platform_system": system,
        "platform_machine": {"amd64": "AMD64"}.get(machine, machine),
        "os_name": "nt" if system == "Windows" else "posix",
    }


def select(pins: list[Pin], env: dict[str, str], only: set[str]) -> list[Pin]:
    chosen = [p for p in pins if (not p.marker or Marker(p.marker).evaluate(env)) and (not only or p.name in only)]
    missing = only - {p.name for p in chosen}
    if missing:
        raise Failure(f"--only: {', '.join(sorted(missing))} not in the lock for this Python and platform")
    return chosen


def pip(args: list[str], what: str, hint: str = "") -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if proc.returncode:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        first = next((line for line in lines if line.startswith("ERROR:")), lines[-1] if lines else "")
        raise Failure(f"{what} failed: {first or 'pip exit ' + str(proc.returncode)}{hint}", 1)


def fetch(pins: list[Pin], build: set[str], dest: Path, python_version: str, platform: str, pip_pin: str) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheels, sdists = Path(tmp, "wheels.txt"), Path(tmp, "sdists.txt")
        wheels.write_text("".join(p.line() + "\n" for p in pins if p.name not in build))
        sdists.write_text("".join(p.line() + "\n" for p in pins if p.name in build))
        target = ["--python-version", python_version, "--implementation", "cp"]
        target += [arg for tag in platforms(platform) for arg in ("--platform", tag)]
        common = ["--no-deps", "--require-hashes", "--disable-pip-version-check", "-q"]
        hint = " (torch's Linux wheels need manylinux_2_28 or newer)" if "manylinux" in platform else ""
        pip(
            ["download", *common, "--only-binary=:all:", *target, "-d", str(dest), "-r", str(wheels)],
            "pip download",
            hint,
        )
        if sdists.read_text():
            pip(["wheel", *common, "-w", str(dest), "-r", str(sdists)], "building the sdist-only packages")
        if pip_pin:  # the installer itself (not in the lock): `make install-offline` upgrades the venv's pip to it
            pip(
                ["download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest), f"pip=={pip_pin}"],
                "pip download",
            )


def wheel_for(dest: Path, pin: Pin, built: bool) -> Path:
    """The wheel of ``pin`` in ``dest`` (file names use the name with - as _, any case)."""
    stem = re.sub(r"[-_.]+", "_", pin.name)
    for path in dest.glob("*.whl"):
        name, version = path.name.split("-")[:2]
        if re.sub(r"[-_.]+", "_", name).lower() == stem and version == pin.version:
            if built and not path.name.endswith("-py3-none-any.whl"):
                raise Failure(f"{path.name} is not a pure-Python wheel: build it on the target machine", 1)
            return path
    raise Failure(f"no wheel of {pin.name}=={pin.version} in {dest}", 1)


def write_requirements(dest: Path, pins: list[Pin], build: set[str], no_torch: bool) -> None:
    """requirements.txt (unless ``no_torch``) and requirements-no-torch.txt, pinned to the sha256 of ``dest``'s wheels."""
    lines = []
    for pin in pins:
        digest = hashlib.sha256(wheel_for(dest, pin, pin.name in build).read_bytes()).hexdigest()
        lines.append((pin.name, f"{pin.name}=={pin.version} --hash=sha256:{digest}\n"))
    header = "# made by tools/wheelhouse.py from requirements.lock; install with make install-offline\n"
    if not no_torch:
        (dest / "requirements.txt").write_text(header + "".join(line for _, line in lines))
    rest = "".join(line for name, line in lines if not TORCH_STACK.match(name))
    (dest / "requirements-no-torch.txt").write_text(header + rest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements.lock")
    parser.add_argument("--dest", type=Path, default=ROOT / ".wheelhouse")
    parser.add_argument("--python-version", default=f"{sys.version_info[0]}.{sys.version_info[1]}")
    parser.add_argument("--platform", default="manylinux_2_28_x86_64", help="a wheel platform tag")
    parser.add_argument("--only", default="", help="space- or comma-separated names: a subset of the lock")
    parser.add_argument("--build", default=SDIST_ONLY, help="packages without wheels, built from their sdists")
    parser.add_argument("--no-torch", action="store_true", help="leave out torch, torchvision, triton, CUDA libraries")
    parser.add_argument("--pip", default="", metavar="VERSION", help="also this version of pip's wheel")
    args = parser.parse_args(argv)
    try:
        env = environment(args.python_version, args.platform)
        only = {canonicalize_name(n) for n in re.split(r"[\s,]+", args.only) if n}
        pins = [p for p in select(read_lock(args.lock), env, only) if not (args.no_torch and TORCH_STACK.match(p.name))]
        build = {canonicalize_name(n) for n in re.split(r"[\s,]+", args.build) if n}
        fetch(pins, build, args.dest, args.python_version, args.platform, args.pip)
        write_requirements(args.dest, pins, build, args.no_torch)
    except Failure as failure:
        print(f"error: {failure}", file=sys.stderr)
        return failure.code
    print(f"{len(pins)} wheels for CPython {args.python_version} on {args.platform} in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
