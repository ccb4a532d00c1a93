"""Legibility of every anagram view and of every decomposition, and RePaint's seam error, on the workspace's trained
class_cond model.

    python bench/partA_extras.py [--samples 8] [--only views|repaint|decompositions]

Runs `python -m stages.partA anagrams|inpainting|hybrids` with modified params (a temporary params file via
FUNDIFF_PARAMS; outputs in a temporary directory, nothing in the workspace changes) and prints the judge's figures:
the share of illusions read as the right digit both ways, per view; boundary_error / mse_outside_mask / success_rate of
inpainting per (jump_length, jump_n_sample); and, per decomposition (fundiff/partA/decompositions.py), the share of
hybrids (no best-of-N selection) whose every component the judge reads as its prompt's digit in its own view (low from
afar, three_band's mid in the low + mid image, high and residual in the image itself, motion blur in the blurred
image). Needs the outputs of `make repro` (data/models/...).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from arglists import count
from common import one_line_errors

from fundiff.params import section
from stages._cli import load_params

REPO = Path(__file__).resolve().parents[1]
PAIRS = {
    "flip": ["6", "9"],
    "rotate_180": ["6", "9"],
    "skew": ["1", "7"],
    "patch_permute": ["3", "8"],
    "pixel_permute": ["0", "1"],
    "jigsaw": ["2", "5"],
    "inner_rotate": ["0", "8"],
    "negate": ["1", "7"],
    "rotate_cw": ["1", "7"],
}
REPAINT = ((1, 1), (3, 3), (3, 10), (10, 10))
LOWHIGH = [{"low": "1", "high": "7"}, {"low": "0", "high": "6"}, {"low": "4", "high": "9"}]  # the default pairs
BLUR = [{"blur": q["low"], "residual": q["high"]} for q in LOWHIGH]
THREE = [
    {"low": "1", "mid": "4", "high": "7"},
    {"low": "0", "mid": "6", "high": "8"},
    {"low": "4", "mid": "9", "high": "1"},
]
# label -> the hybrids params it changes (decomposition, its keys, pairs; a reference image)
DECOMPOSITIONS = {
    "lowhigh (the default)": {"pairs": LOWHIGH},
    "lowhigh, low from a test 0": {  # the reference's digit is the low prompt
        "pairs": [{"low": "0", "high": "1"}, {"low": "0", "high": "6"}, {"low": "0", "high": "8"}],
        "reference": "mnist-test:0:1",
        "reference_component": "low",
    },
    "three_band 13/2.5/1.0": {
        "decomposition": "three_band",
        "blur_kernel_size": 13,
        "sigma_low": 2.5,
        "sigma_mid": 1.0,
        "pairs": THREE,
    },
    "three_band 13/3.0/1.25": {
        "decomposition": "three_band",
        "blur_kernel_size": 13,
        "sigma_low": 3.0,
        "sigma_mid": 1.25,
        "pairs": THREE,
    },
    "motion_blur 9 px, 0°": {"decomposition": "motion_blur", "blur_length": 9, "blur_angle": 0, "pairs": BLUR},
    "motion_blur 9 px, 45°": {"decomposition": "motion_blur", "blur_length": 9, "blur_angle": 45, "pairs": BLUR},
}


def run(experiment: str, params: dict, scratch: Path, tag: str) -> dict:
    path = scratch / f"{tag}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    out = scratch / tag
    env = {
        **os.environ,
        "FUNDIFF_PARAMS": str(path),
        "FUNDIFF_TIMINGS": str(scratch / "timings.json"),
        "TQDM_DISABLE": "1",
    }
    cmd = [sys.executable, "-m", "stages.partA", experiment, "--out", str(out), "--metrics", f"{out}.json"]
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
    return json.loads(Path(f"{out}.json").read_text())


def views(base: dict, scratch: Path, samples: int) -> None:
    params = copy.deepcopy(base)
    anagrams = section(params, "partA.experiments.anagrams.mnist")
    anagrams["illusions"] = [{"view": view, "prompts": prompts} for view, prompts in PAIRS.items()]
    anagrams["num_samples"] = samples
    metrics = run("anagrams", params, scratch, "views")
    print(f"legibility both ways ({samples} illusions per view, the pipeline's judge)")
    for k, (view, prompts) in enumerate(PAIRS.items(), start=1):
        print(f"  {view:14s} {'/'.join(prompts):5s} {metrics[f'success_rate_{k}_{view}']:.3f}")


def repaint(base: dict, scratch: Path) -> None:
    print("RePaint (jump_length, jump_n_sample): boundary_error, mse_outside_mask, success_rate")
    for length, n in REPAINT:
        params = copy.deepcopy(base)
        section(params, "partA.experiments.inpainting.mnist").update(jump_length=length, jump_n_sample=n)
        m = run("inpainting", params, scratch, f"repaint_{length}_{n}")
        print(
            f"  {length:3d} {n:3d}   {m['boundary_error']:.3f}   {m['mse_outside_mask']:.1e}   {m['success_rate']:.3f}"
        )


def decompositions(base: dict, scratch: Path, samples: int) -> None:
    print(f"decompositions: hybrids read every way ({samples} per pair, no best-of-N; the pipeline's judge)")
    for k, (label, changes) in enumerate(DECOMPOSITIONS.items()):
        params = copy.deepcopy(base)
        section(params, "partA.experiments.hybrids.mnist").update(num_samples=samples, best_of=1, **changes)
        m = run("hybrids", params, scratch, f"decomposition_{k}")
        pairs = "  ".join(
            f"{'/'.join(pair.values())} {m[f'success_rate_{j}']:.3f}" for j, pair in enumerate(changes["pairs"], 1)
        )
        print(f"  {label:30s} all {m['success_rate']:.3f}   {pairs}")


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=count, default=8, help="illusions drawn per view or pair")
    parser.add_argument("--only", choices=("views", "repaint", "decompositions"), help="one part (default: all)")
    args = parser.parse_args()
    base = load_params()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        if args.only in (None, "views"):
            views(base, scratch, args.samples)
        if args.only in (None, "repaint"):
            repaint(base, scratch)
        if args.only in (None, "decompositions"):
            decompositions(base, scratch, args.samples)


if __name__ == "__main__":
    main()
