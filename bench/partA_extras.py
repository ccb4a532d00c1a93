"""Legibility of every anagram view and RePaint's seam error, on the workspace's trained class_cond model.

    python bench/partA_extras.py [--samples 8]

Runs `python -m stages.partA anagrams|inpainting` with modified params (a temporary params file via FUNDIFF_PARAMS;
outputs in a temporary directory, nothing in the workspace changes) and prints the judge's figures: the share of
illusions read as the right digit both ways, per view, and boundary_error / mse_outside_mask / success_rate of
inpainting per (jump_length, jump_n_sample). Needs the outputs of `make repro` (data/models/...).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=8, help="illusions drawn per view")
    args = parser.parse_args()
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        params = copy.deepcopy(base)
        anagrams = params["partA"]["experiments"]["anagrams"]["mnist"]
        anagrams["illusions"] = [{"view": view, "prompts": prompts} for view, prompts in PAIRS.items()]
        anagrams["num_samples"] = args.samples
        metrics = run("anagrams", params, scratch, "views")
        print(f"legibility both ways ({args.samples} illusions per view, the pipeline's judge)")
        for k, (view, prompts) in enumerate(PAIRS.items(), start=1):
            print(f"  {view:14s} {'/'.join(prompts):5s} {metrics[f'success_rate_{k}_{view}']:.3f}")
        print("RePaint (jump_length, jump_n_sample): boundary_error, mse_outside_mask, success_rate")
        for length, n in REPAINT:
            params = copy.deepcopy(base)
            params["partA"]["experiments"]["inpainting"]["mnist"].update(jump_length=length, jump_n_sample=n)
            m = run("inpainting", params, scratch, f"repaint_{length}_{n}")
            print(
                f"  {length:3d} {n:3d}   {m['boundary_error']:.3f}   {m['mse_outside_mask']:.1e}   {m['success_rate']:.3f}"
            )


if __name__ == "__main__":
    main()
