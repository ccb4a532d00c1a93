"""DVC stage `partA@<experiment>`: one experiment of Part A (SPEC A 0, 1.1-1.9) on the backend `partA.backend`.

Writes reports/partA/<experiment>/ (the figures as PNG, manifest.json for the report, metrics.json) and
reports/partA/<experiment>.metrics.json, the same flat numbers as the DVC metrics file (beside the directory: DVC forbids
a metrics file inside a tracked output directory; the Part B stages do the same). Params: `seed`, `partA.backend`, `partA.backends.<backend>`, `partA.experiments.<experiment>.<backend>`.
The whole experiment runs in memory first; the directory appears atomically, or not at all on error.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from fundiff.denoiser import load_denoiser
from fundiff.errors import FundiffError, require
from fundiff.io import atomic_dir, atomic_file
from fundiff.partA.experiments import EXPERIMENTS, Context, run_experiment, write_result
from stages.common import entrypoint, load_params, section, seed_everything


def load_classifier_fn(path: str | None, param: str):
    """Part B's digit classifier as images01 -> labels (loaded on first use), or None when the param is null."""
    if not path:
        return None
    require(Path(path).exists(), f"{param}: {path} not found; run `dvc repro classifier` or set it to null")
    model = None

    def classify_labels(images01):
        nonlocal model
        try:
            from fundiff.metrics import classify, load_classifier
        except ImportError as error:
            raise FundiffError(f"{param}: fundiff.metrics (Part B's classifier) is not available: {error}") from error
        if model is None:
            model = load_classifier(path)
        return classify(model, images01)[0]

    return classify_labels


def build_context(params: dict, root: Path = Path(".")) -> Context:
    backend = section(params, "partA.backend")
    require(backend in ("mnist", "deepfloyd"), f"partA.backend={backend!r} is unknown; use mnist or deepfloyd")
    settings = dict(section(params, f"partA.backends.{backend}"))
    den = load_denoiser(backend, settings)
    classify = None
    if backend == "mnist":
        classify = load_classifier_fn(settings.get("classifier"), "partA.backends.mnist.classifier")
    return Context(den=den, seed=int(params["seed"]), classify=classify, root=root)


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS))
    parser.add_argument("--out", default="reports/partA")
    args = parser.parse_args()

    params = load_params()
    seed_everything(int(params["seed"]))
    if "OMP_NUM_THREADS" not in os.environ:
        # Batches of a few dozen 28×28 (or 64×64 on a GPU) images: extra CPU threads mostly spin. Measured on the
        # shared 2-core machine: text_img2img 29 s with 1 thread, 110 s with 2. Set OMP_NUM_THREADS to override.
        torch.set_num_threads(1)
    started = time.perf_counter()
    ctx = build_context(params)
    prefix = f"partA.experiments.{args.experiment}.{ctx.den.name}"
    result = run_experiment(args.experiment, ctx, section(params, prefix), prefix)
    out = Path(args.out) / args.experiment
    with atomic_dir(out) as tmp:
        write_result(args.experiment, result, tmp)
        with atomic_file(Path(args.out) / f"{args.experiment}.metrics.json", "wb") as handle:
            handle.write((tmp / "metrics.json").read_bytes())
    elapsed = time.perf_counter() - started
    numbers = ", ".join(f"{k} {v:g}" for k, v in sorted(result.metrics.items()))
    print(f"partA@{args.experiment} ({ctx.den.name}, {ctx.den.device}): {elapsed:.1f} s -> {out}  [{numbers}]")


if __name__ == "__main__":
    main()
