"""The one Gaussian blur of the project (torchvision's) and its high-pass complement: classical denoising (docs/course.md,
A 1.2 and B 1's baseline) and hybrid images (A 1.9)."""

from __future__ import annotations

import torch

from fundiff.errors import require


def check_kernel(kernel_size: int, sigma: float, image_size: int, prefix: str, sigma_key: str = "blur_sigma") -> None:
    """The one check of a Gaussian blur's params, named ``<prefix>.blur_kernel_size`` and ``<prefix>.<sigma_key>``."""
    require(
        isinstance(kernel_size, int) and kernel_size >= 1 and kernel_size % 2 == 1,
        f"{prefix}.blur_kernel_size={kernel_size} must be an odd integer >= 1",
    )
    require(sigma > 0, f"{prefix}.{sigma_key}={sigma} must be > 0")
    require(
        kernel_size // 2 < image_size,
        f"{prefix}.blur_kernel_size={kernel_size} is too large for {image_size}×{image_size} images (reflect padding "
        f"needs blur_kernel_size // 2 < {image_size})",
    )


def lowpass(x: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """Gaussian blur (reflect padding), any leading batch dims."""
    from torchvision.transforms.functional import gaussian_blur  # imported on use: torchvision is slow to import

    return gaussian_blur(x, [kernel_size, kernel_size], [float(sigma), float(sigma)])


def highpass(x: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """identity − low-pass, so ``lowpass(x) + highpass(x) == x``."""
    return x - lowpass(x, kernel_size, sigma)
