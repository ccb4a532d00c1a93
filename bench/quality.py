"""The result-quality figures of the default profile, from the outputs of `dvc repro` (nothing is recomputed but the
independent reading at the end):

    python bench/quality.py [--strict]

Prints, each beside its target:

* time_cond (samples.npz, 1,000 unconditional samples): share read with confidence >= 0.9 by the pipeline's judge,
  the smallest and largest digit share, FID against the floor of as many real digits (ratio), and the same share for
  the real test digits (the judge's own ceiling);
* class_cond: FID of the fast sampler at γ = params against the floor at the same sample count (ratio), accuracy; the
  guidance sweep (accuracy and FID per γ);
* anagrams and hybrids: success per illusion, before (drawn) and after judge-guided best-of-N selection;
* CAS beside the real-data classifier.

``--strict`` also reads time_cond's and class_cond's samples.npz with the independent, stricter judge of
bench/strict_judge.py (trains once, cached): the share of time_cond samples its unanimous ensemble reads as one digit
with every member's confidence >= 0.9, and class_cond's accuracy by it.

``--judge-epochs 8,15`` asks how much of time_cond's gap is the judge's: the pipeline's judge recipe (params.yaml's
``classifier``) retrained for each epoch count, then its test accuracy, the confident share of the real test digits
(its ceiling) and of time_cond's samples.npz, their digit shares, and class_cond's samples.npz accuracy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from arglists import epoch_list
from common import DATA, one_line_errors

from fundiff.data import load_splits, to_tensor_images
from fundiff.judge.reading import judge_images
from fundiff.judge.train import config_from_params, train_classifier
from fundiff.metrics import class_accuracy
from fundiff.params import section, seed_of
from stages._cli import load_params

TIME_NPZ, CLASS_NPZ = "reports/partB/time_cond/samples.npz", "reports/partB/class_cond/samples.npz"


def metrics(path: str) -> dict:
    return json.loads(Path(path).read_text())


def line(what: str, value: str, target: str, ok: bool | None) -> None:
    mark = "" if ok is None else ("  ok" if ok else "  MISSED")
    print(f"  {what:<58s} {value:>22s}   target {target}{mark}")


def npz_images(path: str) -> tuple[torch.Tensor, np.ndarray]:
    """samples.npz's images (N×1×28×28) and labels."""
    with np.load(path) as npz:
        return torch.from_numpy(npz["images"]).unsqueeze(1), npz["labels"]


@torch.inference_mode()
def sure_share(strict, images01: torch.Tensor) -> float:
    """Share of images that every member of the strict ensemble reads as the same digit with probability >= 0.9."""
    probs = torch.stack([m(images01).softmax(dim=1) for m in strict.members])  # members × N × 10
    top = probs.argmax(dim=2)
    same = (top == top[0]).all(dim=0)
    sure = (probs.max(dim=2).values >= 0.9).all(dim=0)
    return float((same & sure).float().mean())


def time_cond_lines() -> None:
    print("time_cond (reports/partB/time_cond/samples.npz)")
    tc = metrics("reports/partB/time_cond.metrics.json")
    shares = [tc[f"npz_share_digit{d}"] for d in range(10)]
    line("confident (>= 0.9) share, pipeline judge", f"{tc['npz_confident']:.1%}", ">= 90%", tc["npz_confident"] >= 0.9)
    line("  the same for the real test digits (the judge's ceiling)", f"{tc['real_confident']:.1%}", "-", None)
    line(
        "digit shares, min / max",
        f"{min(shares):.1%} / {max(shares):.1%}",
        "5-15% each",
        0.05 <= min(shares) and max(shares) <= 0.15,
    )
    ratio = tc["npz_fid"] / tc["npz_fid_train_digits"]
    line(
        f"FID / floor ({tc['npz_fid_samples']} samples)",
        f"{tc['npz_fid']:.1f} / {tc['npz_fid_train_digits']:.1f} = {ratio:.2f}x",
        "<= 3x",
        ratio <= 3,
    )
    line(
        f"FID full / fast sampler ({tc['fid_samples']} samples; floor {tc['fid_train_digits']:.1f})",
        f"{tc['fid_full']:.1f} / {tc['fid_fast']:.1f}",
        "-",
        None,
    )


def class_cond_lines() -> None:
    print("class_cond (reports/partB/class_cond)")
    cc = metrics("reports/partB/class_cond.metrics.json")
    ratio = cc["npz_fid"] / cc["npz_fid_train_digits"]
    line(
        f"FID / floor, samples.npz (first {cc['npz_fid_samples']} of {cc['npz_samples']})",
        f"{cc['npz_fid']:.1f} / {cc['npz_fid_train_digits']:.1f} = {ratio:.2f}x",
        "<= 2x",
        ratio <= 2,
    )
    for name in ("full", "fast"):
        ratio = cc[f"fid_{name}"] / cc["fid_train_digits"]
        line(
            f"FID / floor, {name} sampler ({cc['fid_samples']} samples)",
            f"{cc[f'fid_{name}']:.1f} / {cc['fid_train_digits']:.1f} = {ratio:.2f}x",
            "<= 2x",
            ratio <= 2,
        )
    line(
        "accuracy, samples.npz (fast sampler) / full sampler",
        f"{cc['accuracy_fast']:.1%} / {cc['accuracy_full']:.1%}",
        ">= 97%",
        min(cc["accuracy_fast"], cc["accuracy_full"]) >= 0.97,
    )
    gammas = sorted(
        {k.split("gamma")[1] for k in cc if k.startswith("sweep_accuracy_gamma")},
        key=lambda g: float(g.replace("p", ".")),
    )
    for g in gammas:
        line(
            f"  sweep γ = {g.replace('p', '.')}: accuracy / FID (floor {cc['sweep_fid_train_digits']:.1f})",
            f"{cc[f'sweep_accuracy_gamma{g}']:.1%} / {cc[f'sweep_fid_gamma{g}']:.1f}",
            "-",
            None,
        )


def part_a_lines() -> None:
    for name, target in (("anagrams", 0.8), ("hybrids", 0.5)):
        print(f"{name} (reports/partA/{name}.metrics.json)")
        m = metrics(f"reports/partA/{name}.metrics.json")
        keys = sorted(k for k in m if k.startswith("success_rate_") and not k.endswith("_drawn"))
        for key in keys:
            drawn = m.get(f"{key}_drawn")
            before = "" if drawn is None else f"{drawn:.0%} -> "
            line(
                f"  {key[len('success_rate_') :]}: drawn -> kept",
                f"{before}{m[key]:.0%}",
                f">= {target:.0%}",
                m[key] >= target,
            )
        drawn = m.get("success_rate_drawn")
        line(
            "  all",
            ("" if drawn is None else f"{drawn:.0%} -> ") + f"{m['success_rate']:.0%}",
            f">= {target:.0%}",
            m["success_rate"] >= target,
        )


def cas_line() -> None:
    print("CAS (reports/partB/cas.metrics.json)")
    cas = metrics("reports/partB/cas.metrics.json")
    line(
        f"trained on {cas['train_samples']} samples / on real digits",
        f"{cas['cas_accuracy']:.1%} / {cas['real_accuracy']:.1%}",
        "reported",
        None,
    )


def strict_lines() -> None:
    """Both samples.npz read by the independent strict judge of bench/strict_judge.py."""
    from strict_judge import strict_judge

    strict = strict_judge()
    print("the independent strict judge (bench/strict_judge.py)")
    images, _ = npz_images(TIME_NPZ)
    test = to_tensor_images(load_splits(DATA).test_images)
    for what, x in (("time_cond samples.npz", images), ("  the real test digits", test)):
        line(f"{what}: unanimous, every member >= 0.9", f"{sure_share(strict, x):.1%}", "-", None)
    x, y = npz_images(CLASS_NPZ)
    line("class_cond samples.npz accuracy (unanimous)", f"{strict.accuracy(x, torch.from_numpy(y)):.1%}", "-", None)


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--strict", action="store_true", help="also read the samples with bench/strict_judge.py's ensemble"
    )
    parser.add_argument(
        "--judge-epochs", type=epoch_list, default=[], help="comma-separated: retrain the judge for each, re-read"
    )
    args = parser.parse_args()
    time_cond_lines()
    class_cond_lines()
    part_a_lines()
    cas_line()
    if args.strict:
        strict_lines()
    if args.judge_epochs:
        judge_epochs(args.judge_epochs)


def judge_epochs(counts: list[int]) -> None:
    """The judge's recipe retrained for each epoch count; what it reads on the real digits and on both samples.npz."""
    params = load_params()
    recipe = section(params, "classifier")
    config_from_params(recipe, seed_of(params))  # the recipe checked before any training
    splits = load_splits(DATA)
    test = to_tensor_images(splits.test_images)
    tc, _ = npz_images(TIME_NPZ)
    cc, cc_labels = npz_images(CLASS_NPZ)
    print("the judge's recipe for more epochs (params.yaml classifier, epochs replaced)")
    for epochs in counts:
        config = config_from_params({**recipe, "epochs": epochs}, seed_of(params))
        judge = train_classifier(
            to_tensor_images(splits.train_images), torch.from_numpy(splits.train_labels), progress=False, **config
        )
        real, samples = judge_images(judge, test), judge_images(judge, tc)
        shares = samples.digit_shares()
        line(
            f"{epochs} epochs: test accuracy / real digits confident",
            f"{class_accuracy(real.digits, splits.test_labels)[0]:.1%} / {real.confident_share:.1%}",
            "-",
            None,
        )
        line(
            "  time_cond confident, shares min / max",
            f"{samples.confident_share:.1%}, {shares.min():.1%} / {shares.max():.1%}",
            ">= 90%, 5-15%",
            samples.confident_share >= 0.9 and 0.05 <= shares.min() and shares.max() <= 0.15,
        )
        accuracy, _ = class_accuracy(judge_images(judge, cc).digits, cc_labels)
        line("  class_cond samples.npz accuracy", f"{accuracy:.1%}", ">= 97%", accuracy >= 0.97)


if __name__ == "__main__":
    main()
