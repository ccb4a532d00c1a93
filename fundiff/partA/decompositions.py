"""Decompositions for factorized diffusion (Geng et al. 2024, "Factorized Diffusion"), of which the hybrid images of
docs/course.md, A 1.9 are one case.

A decomposition splits an image (or a noise estimate) x into K components that sum to it:

    x = f_1(x) + ... + f_K(x)        (exactly, up to float rounding)

and a factorized sample takes component i of its noise estimate from the CFG estimate of prompt i (see
fundiff.partA.algorithms.hybrid): ε = Σ_i f_i(ε̂(x_t, p_i)). Every f_i here is linear, so the same split applies to
images, noise and a reference image alike (fundiff.partA.algorithms.sample_with_component). The decompositions:

- ``lowhigh`` (the course's hybrid): low = G_σ(x), high = x − G_σ(x), G_σ the project's Gaussian blur
  (fundiff.figures.filters.lowpass, reflect padding).
- ``three_band``: low = G_σlow(x), mid = G_σmid(x) − G_σlow(x), high = x − G_σmid(x), σlow > σmid.
- ``motion_blur``: blur = M(x), the linear motion blur M of :func:`motion_kernel` (reflect padding), and
  residual = x − M(x).
- ``color``: gray = the channel mean repeated over the channels, color = x − gray (3-channel images only).

``seen(image)`` is how the MNIST judge reads each component's prompt: component i is read in the image made of
components 1..i, what a viewer sees when the finer ones are lost (the last one: the image itself, up close); for the
frequency splits (``from_afar``) the first is further seen from afar by the experiment (fundiff.partA.experiments.
hybrids.from_afar). So three_band's mid prompt is read in G_σmid(image), the low and mid bands together, as at a middle
distance: it must win over the low band there.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import torch

from fundiff.errors import require
from fundiff.figures.filters import check_kernel, lowpass

if TYPE_CHECKING:
    from fundiff.params import ParamSection


class Decomposition:
    """x = Σ_i components(x)[i]; ``names`` name the components (and the prompts of a pair)."""

    name: ClassVar[str] = "decomposition"
    names: ClassVar[tuple[str, ...]] = ()
    KEYS: ClassVar[tuple[str, ...]] = ()  # the decomposition's own optional params (beyond the blur's)
    labels: ClassVar[tuple[str, ...]] = ()  # figure rows: "<label>: <prompt>"
    where_seen: ClassVar[tuple[str, ...]] = ()  # captions: "<prompt> <where seen>"
    centered: ClassVar[tuple[bool, ...]] = ()  # components with zero mean, shown +0.5 in figures
    from_afar: ClassVar[bool] = False  # the judge reads the first component from afar

    @classmethod
    def from_params(cls, p: ParamSection) -> Decomposition:
        raise NotImplementedError

    def components(self, x: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def check(self, image_shape: tuple[int, ...], where: str) -> None:
        """FundiffError naming ``<where>.<key>`` when the decomposition cannot split images of this (C, H, W) shape."""

    def formula(self) -> str:
        """ε in terms of the prompts' estimates, and the settings (for the report)."""
        raise NotImplementedError

    def params(self) -> dict[str, object]:
        """The settings as the report's params."""
        return {"decomposition": self.name}

    def seen(self, image: torch.Tensor, parts: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per component, the image the judge reads its prompt in: components 1..i summed (the image itself last);
        ``parts`` = ``components(image)``."""
        views, total = [], parts[0]
        for part in parts[1:]:
            views.append(total)
            total = total + part
        return [*views, image]

    def shown(self, parts: list[torch.Tensor]) -> list[torch.Tensor]:
        """The figure's rows of the components of images in [0, 1]: zero-mean ones +0.5, clamped to [0, 1]."""
        return [(part + 0.5).clamp(0, 1) if centered else part for part, centered in zip(parts, self.centered)]


def _needed(p: ParamSection, name: str, decomposition: str) -> None:
    require(
        p.values.get(name) is not None,
        f"{p.key(name)} is needed by decomposition {decomposition}; add it (see conf/partA/default.yaml, hybrids)",
    )


def _positive(p: ParamSection, name: str, decomposition: str) -> float:
    """A key the chosen decomposition needs: present and a number > 0."""
    _needed(p, name, decomposition)
    return p.number(name, 0, lo_open=True)


class LowHigh(Decomposition):
    """The course's hybrid (A 1.9): low = G_σ(x), high = x − G_σ(x) (kernel ``blur_kernel_size``, σ ``blur_sigma``)."""

    name = "lowhigh"
    names = ("low", "high")
    labels = ("low-pass", "high-pass")
    where_seen = ("from afar", "up close")
    centered = (False, True)
    from_afar = True

    def __init__(self, kernel_size: int, sigma: float):
        self.kernel_size, self.sigma = kernel_size, sigma

    @classmethod
    def from_params(cls, p: ParamSection) -> LowHigh:
        return cls(p["blur_kernel_size"], p["blur_sigma"])

    def components(self, x: torch.Tensor) -> list[torch.Tensor]:
        low = lowpass(x, self.kernel_size, self.sigma)
        return [low, x - low]  # x − low is fundiff.figures.filters.highpass, without a second blur

    def check(self, image_shape: tuple[int, ...], where: str) -> None:
        check_kernel(self.kernel_size, self.sigma, image_shape[-1], where)

    def formula(self) -> str:
        return f"ε = lowpass(ε̂(p_low)) + highpass(ε̂(p_high)), Gaussian kernel {self.kernel_size}, σ {self.sigma}"

    def params(self) -> dict[str, object]:
        return {"blur_kernel_size": self.kernel_size, "blur_sigma": self.sigma}  # the course's: no decomposition key


class ThreeBand(Decomposition):
    """low = G_σlow(x), mid = G_σmid(x) − G_σlow(x), high = x − G_σmid(x), σlow > σmid, one kernel size."""

    name = "three_band"
    names = ("low", "mid", "high")
    KEYS = ("sigma_low", "sigma_mid")
    labels = ("low band", "mid band", "high band")
    where_seen = ("from afar", "at a middle distance", "up close")
    centered = (False, True, True)
    from_afar = True

    def __init__(self, kernel_size: int, sigma_low: float, sigma_mid: float):
        self.kernel_size, self.sigma_low, self.sigma_mid = kernel_size, sigma_low, sigma_mid

    @classmethod
    def from_params(cls, p: ParamSection) -> ThreeBand:
        return cls(p["blur_kernel_size"], _positive(p, "sigma_low", cls.name), _positive(p, "sigma_mid", cls.name))

    def components(self, x: torch.Tensor) -> list[torch.Tensor]:
        low = lowpass(x, self.kernel_size, self.sigma_low)
        up_to_mid = lowpass(x, self.kernel_size, self.sigma_mid)
        return [low, up_to_mid - low, x - up_to_mid]

    def check(self, image_shape: tuple[int, ...], where: str) -> None:
        check_kernel(self.kernel_size, self.sigma_mid, image_shape[-1], where, "sigma_mid")
        require(
            self.sigma_low > self.sigma_mid,
            f"{where}.sigma_low={self.sigma_low} must be > {where}.sigma_mid={self.sigma_mid} (the low band is the "
            "blurrier one)",
        )

    def formula(self) -> str:
        return (
            "ε = G_σlow(ε̂(p_low)) + (G_σmid − G_σlow)(ε̂(p_mid)) + (1 − G_σmid)(ε̂(p_high)), Gaussian kernel "
            f"{self.kernel_size}, σlow {self.sigma_low}, σmid {self.sigma_mid}"
        )

    def params(self) -> dict[str, object]:
        return {
            "decomposition": self.name,
            "blur_kernel_size": self.kernel_size,
            "sigma_low": self.sigma_low,
            "sigma_mid": self.sigma_mid,
        }


def motion_kernel(length: int, angle: float) -> torch.Tensor:
    """A linear motion-blur kernel, ``length``×``length`` (odd): a line through the centre at ``angle`` degrees
    (counter-clockwise from the +x axis, image rows pointing down), ``length`` pixels long, antialiased: with r =
    (length − 1)/2, each pixel weighs max(0, 1 − its distance across the line) · clamp(r + 1 − |its position along
    the line|, 0, 1), and the weights are normalised to sum to 1 (at 0° the centre row, all 1/length)."""
    r = (length - 1) / 2
    coords = torch.arange(length, dtype=torch.float64) - r
    dy, dx = torch.meshgrid(coords, coords, indexing="ij")
    theta = math.radians(angle)
    along = dx * math.cos(theta) - dy * math.sin(theta)
    across = dx * math.sin(theta) + dy * math.cos(theta)
    weight = (1 - across.abs()).clamp(min=0) * (r + 1 - along.abs()).clamp(0, 1)
    return (weight / weight.sum()).float()


class MotionBlur(Decomposition):
    """blur = M(x) (``motion_kernel(blur_length, blur_angle)``, reflect padding, every channel alike), residual =
    x − M(x)."""

    name = "motion_blur"
    names = ("blur", "residual")
    KEYS = ("blur_length", "blur_angle")
    labels = ("motion blur", "residual")
    where_seen = ("blurred by motion", "up close")
    centered = (False, True)

    def __init__(self, length: int, angle: float = 0.0):
        self.length, self.angle = length, angle

    @classmethod
    def from_params(cls, p: ParamSection) -> MotionBlur:
        _needed(p, "blur_length", cls.name)
        angle = p.values.get("blur_angle")
        return cls(p.integer("blur_length", 3), 0.0 if angle is None else p.number("blur_angle"))

    def blur(self, x: torch.Tensor) -> torch.Tensor:
        """M(x): the kernel applied to every channel (conv2d, groups = C) with reflect padding; any leading dims."""
        kernel = motion_kernel(self.length, self.angle).to(x.device, x.dtype)
        shape, c, pad = x.shape, x.shape[-3], self.length // 2
        flat = x.reshape(-1, c, *shape[-2:])
        padded = torch.nn.functional.pad(flat, (pad, pad, pad, pad), mode="reflect")
        out = torch.nn.functional.conv2d(padded, kernel.expand(c, 1, -1, -1), groups=c)
        return out.reshape(shape)

    def components(self, x: torch.Tensor) -> list[torch.Tensor]:
        blurred = self.blur(x)
        return [blurred, x - blurred]

    def check(self, image_shape: tuple[int, ...], where: str) -> None:
        require(
            self.length % 2 == 1,
            f"{where}.blur_length={self.length} must be an odd integer >= 3 (the kernel has a centre pixel)",
        )
        require(
            self.length // 2 < image_shape[-1],
            f"{where}.blur_length={self.length} is too large for {image_shape[-1]}×{image_shape[-1]} images (reflect "
            f"padding needs blur_length // 2 < {image_shape[-1]})",
        )

    def formula(self) -> str:
        return (
            f"ε = M(ε̂(p_blur)) + (1 − M)(ε̂(p_residual)), M a linear motion blur {self.length} px long at {self.angle}°"
        )

    def params(self) -> dict[str, object]:
        return {"decomposition": self.name, "blur_length": self.length, "blur_angle": self.angle}


class Color(Decomposition):
    """gray = the channel mean, repeated over the channels; color = x − gray (3-channel images)."""

    name = "color"
    names = ("gray", "color")
    labels = ("grayscale", "colour residual")
    where_seen = ("in grayscale", "in colour")
    centered = (False, True)

    @classmethod
    def from_params(cls, p: ParamSection) -> Color:
        return cls()

    def components(self, x: torch.Tensor) -> list[torch.Tensor]:
        gray = x.mean(dim=-3, keepdim=True).expand_as(x)
        return [gray, x - gray]

    def check(self, image_shape: tuple[int, ...], where: str) -> None:
        require(
            image_shape[0] == 3,
            f"{where}.decomposition=color needs colour (3-channel) images and this backend's have "
            f"{image_shape[0]} channel(s); use lowhigh, three_band or motion_blur",
        )

    def formula(self) -> str:
        return "ε = gray(ε̂(p_gray)) + (1 − gray)(ε̂(p_color)), gray = the channel mean"


DECOMPOSITIONS: dict[str, type[Decomposition]] = {cls.name: cls for cls in (LowHigh, ThreeBand, MotionBlur, Color)}
OWN_KEYS = tuple(key for cls in DECOMPOSITIONS.values() for key in cls.KEYS)


def decomposition_from_params(p: ParamSection, image_shape: tuple[int, ...]) -> Decomposition:
    """The decomposition named by ``<p>.decomposition`` (default lowhigh), built from its keys and checked against
    the backend's image shape; another decomposition's key that is set is an error naming it."""
    name = p.choice("decomposition", DECOMPOSITIONS, default="lowhigh")
    cls = DECOMPOSITIONS[name]
    for key in OWN_KEYS:
        require(
            key in cls.KEYS or p.values.get(key) is None,
            f"{p.key(key)} is not used by decomposition {name}; remove it or set decomposition to the one it belongs "
            f"to ({next(c.name for c in DECOMPOSITIONS.values() if key in c.KEYS)})",
        )
    decomposition = cls.from_params(p)
    decomposition.check(image_shape, p.prefix)
    return decomposition
