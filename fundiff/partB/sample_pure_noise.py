"""The stage ``sample@pure_noise``: 1.2.3 of the flow-matching edition (docs/course.md), the single-step UNet trained to
map pure noise ε to a digit under L2. With no information about which digit to draw, the loss is minimised by the
mean of the training digits (the centroid), so after training its outputs for different ε all look like that blurred
average. The section shows the noise inputs, the outputs after every snapshot epoch and the mean training digit beside
them, and measures how close the outputs are to that mean and to each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fundiff.data import load_splits, to_tensor_images
from fundiff.figures.grids import save_table
from fundiff.params import ParamSection
from fundiff.partB.checkpoints import epoch_name, load_for_sampling, load_train_config, snapshot_epochs
from fundiff.partB.live_log import add_loss_curve
from fundiff.result_dirs import manifest_for, write_result
from fundiff.streams import PURE_NOISE
from fundiff.titles import PART_B

KIND = "pure_noise"


def _outputs(models_dir: Path, epochs: list[int], z: torch.Tensor, device: str) -> dict[str, torch.Tensor]:
    """name -> the UNet's outputs for ``z``, per snapshot epoch and for the final weights."""
    outputs = {}
    for name in [epoch_name(e) for e in epochs] + ["final"]:
        model = load_for_sampling(models_dir, KIND, name, device, fold=True)
        with torch.inference_mode():
            outputs[name] = model(z.to(device)).float().cpu()
    return outputs


def _metrics(outputs: dict[str, torch.Tensor], mean_digit: torch.Tensor) -> dict[str, float]:
    """Per checkpoint: the outputs' MSE to the mean training digit, and their spread (the mean per-pixel standard
    deviation across the outputs: 0 when every ε gives the same image)."""
    metrics: dict[str, float] = {}
    for name, out in outputs.items():
        tag = name.replace("epoch_", "epoch")
        metrics[f"mse_to_mean_{tag}"] = float(((out - mean_digit) ** 2).mean())
        metrics[f"spread_{tag}"] = float(out.std(dim=0).mean()) if len(out) > 1 else 0.0
    return metrics


def pure_noise_settings(raw: Any) -> int:
    """``sample.pure_noise``, checked: how many noise inputs each checkpoint maps."""
    return ParamSection(raw, f"sample.{KIND}", ("num_samples",)).integer("num_samples", 1, 100)


def write_pure_noise_results(
    raw: Any, seed: int, data_dir: Path, models_dir: Path, out: Path, metrics_file: Path, device: str
) -> str:
    """The 1.2.3 figures and metrics of the ``pure_noise`` UNet into ``out``; returns a summary line."""
    n = pure_noise_settings(raw)
    config = load_train_config(models_dir, KIND)
    epochs = snapshot_epochs(config, KIND)
    z = torch.randn((n, 1, 28, 28), generator=torch.Generator().manual_seed(seed + PURE_NOISE))
    outputs = _outputs(models_dir, epochs, z, device)
    mean_digit = to_tensor_images(load_splits(data_dir).train_images).mean(dim=0, keepdim=True)
    metrics = _metrics(outputs, mean_digit)
    title = PART_B[KIND]
    text = (
        f"The single-step UNet of 1.2 (D={config['num_hiddens']}, {config['epochs']} epochs, L2) trained with pure "
        f"noise ε ~ N(0, I) as its input and a training digit as its target. Its input carries no information about "
        f"the digit, so the L2 optimum is the same image for every ε: the mean of the training digits. 'mse_to_mean' "
        f"is the outputs' mean squared distance to that mean digit, 'spread' the mean per-pixel standard deviation "
        f"across the {n} outputs (0 = one image whatever the noise)."
    )
    manifest = manifest_for(title, text, {"num_samples": n, "num_hiddens": config["num_hiddens"],
                                          "epochs": config["epochs"], "seed": seed})  # fmt: skip

    def fill(directory: Path) -> None:
        names = [epoch_name(e) for e in epochs] + ["final"]
        rows = [(z * 0.25 + 0.5).clamp(0, 1)] + [outputs[k].clamp(0, 1) for k in names]
        rows.append(mean_digit.expand(n, -1, -1, -1))
        labels = ["noise in"] + [k.replace("_", " ") for k in names] + ["mean digit"]
        save_table(rows, directory / "pure_noise.png", row_labels=labels, title="UNet(noise) per epoch")
        manifest.add_figure(
            "pure_noise.png",
            f"{n} pure-noise inputs (shown as 0.5 + ε/4), the UNet's outputs after each snapshot epoch and at the end, "
            "and the mean training digit: the outputs converge to it.",
        )
        add_loss_curve(directory, models_dir, KIND, manifest, title.title)

    write_result(out, metrics_file, manifest, metrics, fill)
    final = metrics["mse_to_mean_final"]
    return f"sample@{KIND}: {n} outputs per checkpoint; final MSE to the mean digit {final:.5f} -> {out}"
