"""Start-up cost of every stage module against `import torch` (issue #12's target: at most 1 s more than torch).

    python bench/startup.py [--repeats 3] [--stages train sample ...]

Each import runs in a fresh interpreter, interleaved (torch, stage 1, torch, stage 2, ...), so a busy machine slows
both sides alike; the figure per stage is the median over ``--repeats`` rounds of (stage − torch) and stage / torch.
The libraries each stage pulls in at import are listed too: diffusers, transformers, torchvision, dvclive and
matplotlib are imported only where used (fundiff.nets.pretrained replaces diffusers' ModelMixin for saving).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("data", "train", "classifier", "sample_denoiser", "sample", "cas", "partA_inputs", "partA", "report")
SLOW = ("torch", "diffusers", "transformers", "torchvision", "dvclive", "matplotlib")


def import_seconds(module: str) -> tuple[float, list[str]]:
    code = f"import sys, {module}; print(' '.join(m for m in {SLOW!r} if m in sys.modules))"
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, out.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    args = parser.parse_args()
    import_seconds("torch")  # warm the file cache
    torch_s: dict[str, list[float]] = {s: [] for s in args.stages}
    stage_s: dict[str, list[float]] = {s: [] for s in args.stages}
    loaded: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for stage in args.stages:
            torch_s[stage].append(import_seconds("torch")[0])
            seconds, loaded[stage] = import_seconds(f"stages.{stage}")
            stage_s[stage].append(seconds)
    print(f"{'stage':16} {'torch s':>8} {'stage s':>8} {'extra s':>8} {'ratio':>6}  libraries at import")
    for stage in args.stages:
        t, s = statistics.median(torch_s[stage]), statistics.median(stage_s[stage])
        extra = statistics.median(b - a for a, b in zip(torch_s[stage], stage_s[stage]))
        print(f"{stage:16} {t:8.2f} {s:8.2f} {extra:+8.2f} {s / t:6.2f}  {' '.join(loaded[stage]) or '-'}")


if __name__ == "__main__":
    main()
