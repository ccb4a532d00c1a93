"""One command that measures a GPU (`make gpu-check`): every GPU figure of the project against its target, one table.

    python bench/gpu_check.py [--dry-run] [--out .fundiff/gpu-check.md] [--budget 570] [--mnist-dir data/raw]

In at most ~10 minutes on one H100-class GPU, each figure through the command that measures it on its own: the bf16
matmul rate (8192², here); training at the faithful profile's D = 64 in the train stage's own loop, every knob off
against ``auto``, as images/s and as a share of that rate, and the bf16 and TF32 test losses against float32 at equal
steps (``bench/train_knobs.py``; FLOPs per image from ``bench/train_throughput.py``); the CUDA variants of the tests,
determinism among them (``pytest -k cuda``); the faithful profile end to end from a fresh clone with per-stage wall
times and start-up (``bench/repro_wall.py``; full MNIST from ``--mnist-dir`` or data/raw if it holds MNIST/raw/, else
downloaded). The table (device, driver, versions, figures, pass/fail) goes to ``--out`` and stdout; exit 1 if a
target is missed or a step failed. ``--dry-run``: the same steps on the CPU at tiny sizes (64 random digits, the tiny
profile, `dvc repro train@denoiser`), to show they still run and parse (tests/test_gpu_check.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_IMAGES_PER_S, TARGET_FAITHFUL_S, LOSS_TOLERANCE = 30_000, 300, 0.02
# Per mode: the bf16 matmul's size; train_knobs' profile, epochs and --set (class_cond at the faithful D = 64 and
# batch 128 on a GPU); train_throughput's --set (the same width); repro_wall's --set and --targets; each step's cap (s).
# fmt: off
GPU = dict(n=8192, profile="faithful", epochs=6, knob_set=[], width=["num_hiddens=64", "batch_size=128"],
           repro=["profile=faithful"], targets=[], caps=dict(tests=200, flops=150, knobs=200, faithful=330))
DRY = dict(n=256, profile="tiny", epochs=2, knob_set=["batch_size=16"], width=["num_hiddens=4", "batch_size=16"],
           repro=["profile=tiny"], targets=["train@denoiser"], caps=dict(tests=300, flops=300, knobs=300, faithful=300))
# fmt: on


class Check:
    """The rows of the table and the time left; a step that fails or times out becomes an ERROR row, not a crash."""

    def __init__(self, budget: float, dry: bool):
        self.deadline, self.dry, self.rows, self.failed = time.monotonic() + budget, dry, [], False

    def row(self, figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else "n/a (dry run)" if self.dry else "PASS" if ok else "FAIL"
        self.failed |= ok is False and not self.dry
        self.rows.append((figure, value, target, verdict))

    def error(self, figure: str, message: str) -> None:
        self.failed = True
        self.rows.append((figure, f"ERROR: {message}", "", "FAIL"))

    def start(self, cmd: list[str], cwd: Path = ROOT) -> tuple[list[str], subprocess.Popen, Path]:
        """``cmd`` started in its own process group (a timeout ends its children too), output to a temporary file."""
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "TQDM_DISABLE": "1"}
        log = Path(tempfile.mkstemp(prefix="gpu-check-", suffix=".log")[1])
        with open(log, "w") as sink:
            proc = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        return cmd, proc, log

    def finish(self, figure: str, started: tuple, cap: float, ok: tuple = (0,)) -> str | None:
        """The started command's output, or None after an ERROR row (an exit status not in ``ok``, or a timeout)."""
        cmd, proc, log = started
        left = max(min(cap, self.deadline - time.monotonic()), 1)
        try:
            proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.error(figure, f"`{' '.join(cmd[1:3])}` ran past {left:.0f} s (the step's cap or --budget)")
            return None
        finally:
            out = log.read_text(errors="replace")
            log.unlink()
        if proc.returncode not in ok:
            tail = [line for line in out.splitlines() if line.strip()][-1:] or ["no output"]
            self.error(figure, f"`{' '.join(cmd[1:3])}` exit {proc.returncode}: {tail[0].strip()[:200]}")
            return None
        return out

    def run(self, figure: str, cmd: list[str], cap: float, cwd: Path = ROOT, ok: tuple = (0,)) -> str | None:
        if self.deadline - time.monotonic() < 10:
            self.error(figure, "skipped: no time left in --budget")
            return None
        return self.finish(figure, self.start(cmd, cwd), cap, ok)

    def table(self) -> str:
        lines = ["| figure | value | target | result |", "| --- | --- | --- | --- |"]
        lines += [f"| {' | '.join(cell.replace('|', '/') for cell in row)} |" for row in self.rows]
        return "\n".join(lines) + "\n"


def describe_device(check: Check, device) -> None:
    import torch

    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability()
        check.row("device", f"{torch.cuda.get_device_name()} (compute capability {major}.{minor})")
        check.row("driver", driver_version())
        check.row("CUDA / cuDNN", f"{torch.version.cuda} / {torch.backends.cudnn.version()}")
    else:
        check.row("device", f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores), dry run")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    check.row("versions", f"Python {platform.python_version()}, torch {torch.__version__}, fundiff {commit.strip()}")


def driver_version() -> str:
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True
        )
    except OSError:
        return "unknown (no nvidia-smi)"
    return (smi.stdout.strip().splitlines() or ["unknown"])[0]


def matmul_tflops(device, n: int, trials: int = 5, repeats: int = 10) -> float:
    """Best of ``trials`` timings of ``repeats`` n×n bf16 matmuls on ``device`` (the ceiling, not the noise)."""
    import torch

    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    a @ b
    sync()
    best = 0.0
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        sync()
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - start) / 1e12)
    return best


def cuda_tests(check: Check, cap: float) -> None:
    """``pytest -k cuda``: the CUDA variants (on a CPU they skip), read back from a JUnit file."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp, "junit.xml")
        cmd = [sys.executable, "-m", "pytest", "-q", "-k", "cuda", "-p", "no:cacheprovider", f"--junitxml={junit}"]
        out = check.run("CUDA tests", cmd, cap, ok=(0, 1, 5))  # 1: a test failed, 5: none collected
        if out is None and not junit.exists():
            return
        outcomes = {}
        for case in ET.parse(junit).iter("testcase"):
            kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            outcomes[f"{case.get('classname')}::{case.get('name')}"] = kinds[0] if kinds else "passed"
    counts = {kind: sum(v == kind for v in outcomes.values()) for kind in ("passed", "failure", "error", "skipped")}
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    passed = counts["passed"] > 0 and counts["failure"] + counts["error"] == 0
    check.row("CUDA tests (pytest -k cuda)", summary or "none collected", "none fails", passed)
    determinism = [v for k, v in outcomes.items() if "determinis" in k and "cuda" in k]
    same_bytes = bool(determinism) and set(determinism) == {"passed"}
    check.row("CUDA determinism (same bytes twice)", ", ".join(determinism) or "not collected", "passed", same_bytes)


def start_flops(check: Check, mode: dict, workdir: Path) -> tuple:
    """bench/train_throughput.py at the check's width, started (CPU only: it runs beside the CUDA tests)."""
    cmd = [sys.executable, str(ROOT / "bench/train_throughput.py"), "--models", "class_cond", "--set", *mode["width"]]
    return check.start(cmd, cwd=workdir)


def flops_per_image(check: Check, mode: dict, started: tuple) -> float | None:
    out = check.finish("FLOPs per training image", started, mode["caps"]["flops"])
    match = re.search(r"([\d.]+) GFLOP/img", out or "")
    if out is not None and not match:
        check.error("FLOPs per training image", "no `GFLOP/img` in bench/train_throughput.py's output")
    if match:
        check.row("FLOPs per training image (forward + backward)", f"{float(match[1]):.3f} GFLOP")
    return float(match[1]) if match else None


def knobs(check: Check, mode: dict, device, workdir: Path) -> list[tuple[str, int]]:
    """Training at D = 64 in the stage's own loop: plain against auto (images/s); the bf16 and TF32 rows' test loss /
    plain's. Returns (label, images/s after epoch 1) of plain and auto."""
    cmd = [sys.executable, str(ROOT / "bench/train_knobs.py"), "--profile", mode["profile"], "--models", "class_cond"]
    cmd += ["--rows", "plain,tf32,bf16,all", "--epochs", str(mode["epochs"]), "--device", device.type]
    cmd += ["--set", *mode["knob_set"]] if mode["knob_set"] else []
    out = check.run("training (bench/train_knobs.py)", cmd, mode["caps"]["knobs"], cwd=workdir)
    pattern = r"^class_cond\s+(\w+)\s+(\d+)\s+(\d+)\s+[\d.]+×\s+\S+\s+(\S+)\s*$"
    rows = {m[1]: (int(m[2]), int(m[3]), float(m[4])) for m in re.finditer(pattern, out or "", re.M)}
    if out is not None and set(rows) != {"plain", "tf32", "bf16", "all"}:
        check.error("training (bench/train_knobs.py)", f"rows read: {sorted(rows) or 'none'}")
    trained = []
    for row, label in (("plain", "every knob off"), ("all", "every knob auto")):
        if row in rows:
            fast = rows[row][1] >= TARGET_IMAGES_PER_S if row == "all" else None
            target = f"≥ {TARGET_IMAGES_PER_S:,} img/s" if row == "all" else ""
            check.row(
                f"training img/s, {label} (run / after epoch 1)", "{:,} / {:,}".format(*rows[row][:2]), target, fast
            )
            trained.append((label, rows[row][1]))
    for row, label in (("bf16", "bf16"), ("tf32", "TF32")):
        if row in rows:
            close = abs(rows[row][2] - 1) <= LOSS_TOLERANCE
            check.row(f"{label} test loss / fp32, equal steps", f"{rows[row][2]:.4f}", f"±{LOSS_TOLERANCE:.0%}", close)
    return trained


def faithful(check: Check, mode: dict, mnist_dir: Path | None, workdir: Path) -> None:
    sets = list(mode["repro"])
    if mnist_dir is not None and not check.dry:
        sets.append(f"data.raw_dir={mnist_dir.resolve()}")
    cmd = [sys.executable, str(ROOT / "bench/repro_wall.py"), "--dir", str(workdir / "repro"), "--set", *sets]
    cmd += ["--targets", *mode["targets"]] if mode["targets"] else []
    out = check.run(f"{sets[0]} end to end", cmd, mode["caps"]["faithful"])
    if out is None:
        return
    total = re.search(r"from a fresh clone: (\d+) s", out)
    if not total:
        check.error(f"{sets[0]} end to end", "no total in bench/repro_wall.py's output")
        return
    stages = re.findall(r"^(\S.*?)\s+(\d+\.\d)$", out.split("seconds", 1)[-1], re.M)
    what = f"{sets[0]} end to end ({' '.join(['dvc repro', *mode['targets']])}, fresh clone)"
    check.row(what, f"{total[1]} s", f"≤ {TARGET_FAITHFUL_S} s", int(total[1]) <= TARGET_FAITHFUL_S)
    for name, seconds in stages:
        check.row(f"  {name}", f"{seconds} s")


def tiny_checkout(workdir: Path) -> Path:
    """``workdir``/checkout: this checkout's entries as symlinks (the bench scripts read conf/, params.yaml ... from
    their working directory) but data/mnist as the data stage writes it, 64 random training and 20 test digits."""
    import numpy as np

    checkout = workdir / "checkout"
    (checkout / "data" / "mnist").mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name != "data":
            (checkout / entry.name).symlink_to(entry)
    rng = np.random.default_rng(0)
    for split, count in (("train", 64), ("test", 20)):
        np.save(checkout / f"data/mnist/{split}_images.npy", rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        np.save(checkout / f"data/mnist/{split}_labels.npy", np.arange(count, dtype=np.int64) % 10)
    return checkout


def bad_input(args: argparse.Namespace) -> str | None:
    if args.budget <= 0:
        return f"--budget {args.budget:g} must be > 0"
    if args.mnist_dir is not None and not (args.mnist_dir / "MNIST" / "raw").is_dir():
        return f"--mnist-dir {args.mnist_dir}: no MNIST/raw/ in it (torchvision's layout)"
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        return f"no CUDA GPU visible (torch {torch.__version__}, CUDA {torch.version.cuda}); use a GPU machine or --dry-run"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU at tiny sizes")
    parser.add_argument("--out", type=Path, default=None, help="default .fundiff/gpu-check[-dry].md")
    parser.add_argument("--budget", type=float, default=570.0, help="seconds for all steps (each stops at its share)")
    parser.add_argument("--mnist-dir", type=Path, default=None, help="a folder with MNIST/raw/ (full MNIST, offline)")
    args = parser.parse_args(argv)
    problem = bad_input(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    mnist = args.mnist_dir or (ROOT / "data/raw" if (ROOT / "data/raw/MNIST/raw").is_dir() else None)
    out = args.out or ROOT / f".fundiff/gpu-check{'-dry' if args.dry_run else ''}.md"
    report = measure(Check(args.budget, args.dry_run), DRY if args.dry_run else GPU, mnist)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.table())
    print(report.table() + f"\n(written to {out})")
    return 1 if report.failed else 0


def measure(check: Check, mode: dict, mnist: Path | None) -> Check:
    """The steps in order: matmul, training (alone on the GPU), the CUDA tests beside the CPU-only FLOP count, then the
    faithful profile with whatever --budget is left."""
    import torch

    device = torch.device("cpu" if check.dry else "cuda")
    describe_device(check, device)
    tflops = matmul_tflops(device, mode["n"])
    check.row(f"bf16 matmul ({mode['n']}², best of 5)", f"{tflops:.3g} TFLOP/s")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        data_dir = tiny_checkout(workdir) if check.dry else ROOT  # the scripts read ./data/mnist (random if absent)
        trained = knobs(check, mode, device, data_dir)
        counting = start_flops(check, mode, data_dir)
        cuda_tests(check, mode["caps"]["tests"])
        gflop = flops_per_image(check, mode, counting)
        for label, steady in trained:
            if gflop:
                check.row(f"  share of bf16 matmul, {label}", f"{steady * gflop / (tflops * 1e3):.1%}")
        faithful(check, mode, mnist, workdir)
    return check


if __name__ == "__main__":
    sys.exit(main())
