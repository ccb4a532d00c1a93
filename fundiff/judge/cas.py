"""Classification accuracy score (CAS; Ravuri & Vinyals 2019): train a classifier only on a generative model's labelled
samples and test it on real test digits. It asks whether the samples carry what a classifier needs to know of each
class (legibility *and* variety), which accuracy-by-a-judge alone does not: a sampler that draws one perfect 3 over and
over scores 100 % by the judge but a poor CAS.

The classifier is the judge's architecture and recipe (params ``classifier``), so CAS reads beside the judge's own
accuracy when trained on the real training split."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fundiff.data import load_splits, to_tensor_images
from fundiff.errors import FundiffError
from fundiff.figures.mpl import new_figure, save_figure
from fundiff.judge.reading import judge_images
from fundiff.judge.train import train_classifier
from fundiff.metrics import class_accuracy
from fundiff.result_dirs import manifest_for, write_result
from fundiff.titles import cas_title


def load_labelled_samples(path: Path, fix: str) -> tuple[np.ndarray, np.ndarray]:
    """``images`` (N×28×28 float in [0, 1]) and ``labels`` (N ints in 0..9) of a samples.npz, checked; never unpickles."""
    if not path.is_file():
        raise FundiffError(f"{path} is missing: {fix}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            images, labels = np.asarray(npz["images"]), np.asarray(npz["labels"])
    except (OSError, ValueError, EOFError, KeyError) as error:  # truncated, not a zip, pickled, or a key missing
        reason = (str(error).splitlines() or [type(error).__name__])[0][:120]
        raise FundiffError(f"{path} is not a readable samples.npz ({reason}): {fix}") from None
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (len(images),) or not len(images):
        raise FundiffError(f"{path} holds images {images.shape} and labels {labels.shape}, not N×28×28 and N: {fix}")
    if images.dtype.kind not in "fiu":  # a string, object or complex array: not pixel values
        raise FundiffError(f"{path} holds images of dtype {images.dtype}, not numbers: {fix}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
        raise FundiffError(f"{path} has labels outside the digits 0..9: {fix}")
    if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise FundiffError(f"{path} has pixel values outside [0, 1] (or NaN): {fix}")
    return images.astype(np.float32), labels.astype(np.int64)


def real_accuracy(path: Path) -> dict[str, float]:
    """The judge's accuracy per digit and overall, from the `classifier` stage's metrics file."""
    fix = "run `dvc repro classifier`"
    try:
        metrics = json.loads(path.read_text())
        return {"real": float(metrics["test_accuracy"])} | {
            str(d): float(metrics[f"test_accuracy_digit{d}"]) for d in range(10)
        }
    except FileNotFoundError:
        raise FundiffError(f"{path} is missing: {fix}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise FundiffError(f"{path} is not the classifier's metrics ({type(error).__name__}): {fix}") from None


def save_per_digit(cas: list[float], real: dict[str, float], path: Path) -> None:
    figure = new_figure(7, 3.2)
    ax = figure.subplots()
    x = np.arange(10)
    ax.bar(x - 0.2, [real[str(d)] * 100 for d in range(10)], 0.4, color="#8c8c8c", label="trained on real digits")
    ax.bar(x + 0.2, [a * 100 for a in cas], 0.4, color="#4c72b0", label="trained on class_cond samples (CAS)")
    ax.set(xlabel="digit", ylabel="accuracy on real test digits (%)", xticks=x, ylim=(0, 105))
    ax.legend(loc="lower left", frameon=False)
    ax.set_title("Classification accuracy score, per digit")
    figure.tight_layout()
    save_figure(figure, path)


def write_cas(
    config: dict[str, Any],
    samples: Path,
    data_dir: Path,
    real_metrics: Path,
    out: Path,
    metrics_file: Path,
    device: str,
    progress: bool = True,
    edition: str = "ddpm",
) -> str:
    """Train the judge's recipe on ``samples`` (a labelled samples.npz), test it on the real test split; the section
    is numbered as the course's ``edition`` (ddpm | flow) numbers its Part B."""
    images, labels = load_labelled_samples(samples, fix=f"run `dvc repro sample@{samples.parent.name}`")
    real = real_accuracy(real_metrics)
    splits = load_splits(data_dir)
    started = time.perf_counter()
    model = train_classifier(torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels), device=device,
                             progress=progress, **config)  # fmt: skip
    pred = judge_images(model, to_tensor_images(splits.test_images)).digits
    overall, per_digit = class_accuracy(pred, splits.test_labels)
    metrics: dict[str, float] = {"cas_accuracy": overall, "real_accuracy": real["real"], "train_samples": len(labels)}
    metrics.update({f"cas_accuracy_digit{d}": a for d, a in enumerate(per_digit)})
    metrics["test_images"] = int(len(pred))
    counts = np.bincount(labels, minlength=10)
    manifest = manifest_for(
        cas_title(edition),
        text=(
            f"A classifier with the judge's architecture and recipe ({config['epochs']} epochs, batch "
            f"{config['batch_size']}, Adam {config['lr']:g}) trained only on the {len(labels)} labelled {samples.parent.name} "
            f"samples of samples.npz ({counts.min()}–{counts.max()} per digit), then tested on the {len(pred)} real "
            f"test digits: 'cas_accuracy'. 'real_accuracy' is the same classifier trained on the "
            f"{len(splits.train_labels)} real training digits (the `classifier` stage). The closer CAS comes to it, "
            "the more of each digit's variety the samples hold; legible but repetitive samples score a high accuracy "
            "by the judge and a low CAS."
        ),
        params={**config, "samples": str(samples)},
    )

    def fill(directory: Path) -> None:
        save_per_digit(per_digit, real, directory / "cas_per_digit.png")
        manifest.add_figure("cas_per_digit.png", "Accuracy on the real test digits, per digit: CAS beside real data.")

    write_result(out, metrics_file, manifest, metrics, fill)
    return (
        f"cas: trained on {len(labels)} samples in {time.perf_counter() - started:.1f} s on {device}; "
        f"CAS {overall:.4f} vs real {real['real']:.4f} on {len(pred)} test digits -> {out}"
    )
