"""The denoiser interface of Part A, and its two backends.

Every Part A experiment (fundiff.partA) is written once against :class:`Denoiser`:

- ``predict(x_t, t, cond) -> (eps, variance)``: the noise estimate for a batch at one 0-based timestep t, plus the model's
  predicted variance (DeepFloyd's 3 extra output channels) or ``None`` when the model has a fixed variance;
- ``add_variance(mean, t, t_prev, variance, noise)``: how the reverse step t -> t_prev adds its noise; the iterative loop
  asks the denoiser, so a learned variance (DeepFloyd, ``learned_range``) and a fixed one (our MNIST DDPM) share one loop;
- ``alphas_cumprod`` (float32, CPU, length T), ``image_shape`` (C, H, W), ``value_range`` (what x_0 spans in model space);
- ``encode(prompt)`` and ``null_condition()``: conditions of shape (1, ...) that broadcast over a batch;
- ``prepare_image(pil)``: any user image -> (C, H, W) in [0, 1] at the model's resolution;
- ``default_timesteps``: the strided timesteps of the iterative experiments;
- ``pipeline_samples(prompts, steps, seed)``: the experiment "0" samples (DeepFloyd: the stock IF pipelines).

Backends: :class:`MnistDenoiser` (our class-conditioned DDPM of Part B; prompts name a digit) and
:class:`DeepFloydDenoiser` (IF stage I, optional stage II, through diffusers).
"""

from __future__ import annotations

import abc
import json
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from fundiff import inference
from fundiff.errors import FundiffError, require
from fundiff.sampling import denoise_step, guided, step_variance
from fundiff.schedules import normalized_time, strided_timesteps

Prediction = tuple[torch.Tensor, "torch.Tensor | None"]


def scaled_timesteps(num_timesteps: int) -> list[int]:
    """The course's strided timesteps 990, 960, ..., 30, 0 (T = 1000) scaled to T: stride 3 % of T, start 99 % of T
    (T = 300: 297, 288, ..., 9, 0; the same 34 timesteps, so the course's i_start indices keep their meaning)."""
    stride = max(1, round(num_timesteps * 0.03))
    return strided_timesteps(int(num_timesteps * 0.99) // stride * stride, stride)


class Denoiser(abc.ABC):
    """A noise-predicting diffusion model seen through the few things Part A's algorithms need."""

    name: str
    alphas_cumprod: torch.Tensor
    image_shape: tuple[int, int, int]
    value_range: tuple[float, float]
    device: torch.device
    default_timesteps: list[int]

    @property
    def num_timesteps(self) -> int:
        return int(self.alphas_cumprod.shape[0])

    @property
    def value_mid(self) -> float:
        return 0.5 * (self.value_range[0] + self.value_range[1])

    # conditions -------------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, prompt: str) -> torch.Tensor:
        """The condition (shape (1, ...)) for a prompt; FundiffError when the backend cannot read it."""

    @abc.abstractmethod
    def null_condition(self) -> torch.Tensor:
        """The unconditional ("") condition used by classifier-free guidance."""

    # the model ---------------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> Prediction:
        """(eps, variance-or-None) for a batch x_t (N, C, H, W, float32, model range) at timestep t; cond (1|N, ...)."""

    @abc.abstractmethod
    def add_variance(
        self, mean: torch.Tensor, t: int, t_prev: int, variance: torch.Tensor | None, noise: torch.Tensor
    ) -> torch.Tensor:
        """The sample of the step t -> t_prev around its mean; ``noise`` is a standard normal draw like ``mean``."""

    # images ------------------------------------------------------------------------------------------------------
    def to_model(self, images01: torch.Tensor) -> torch.Tensor:
        lo, hi = self.value_range
        return images01 * (hi - lo) + lo

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = self.value_range
        return ((x - lo) / (hi - lo)).clamp(0, 1)

    @abc.abstractmethod
    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        """Any PIL image -> (C, H, W) float32 in [0, 1] at the model's resolution."""

    # experiment 0 ------------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def pipeline_samples(
        self, prompts: Sequence[str], num_inference_steps: int, seed: int, guidance_scale: float
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Samples for experiment 0: (images in [0, 1] at model resolution, upsampled images in [0, 1] or None)."""

    # shared helpers ----------------------------------------------------------------------------------------------
    def batch_condition(self, cond: torch.Tensor, n: int) -> torch.Tensor:
        return cond.expand(n, *cond.shape[1:]) if cond.shape[0] == 1 else cond

    def step(
        self, x_t: torch.Tensor, eps: torch.Tensor, variance: torch.Tensor | None, t: int, t_prev: int,
        noise: torch.Tensor | None, clip_x0: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One reverse update t -> t_prev (SPEC 1.4) with this model's variance. Returns (x_{t_prev}, x̂0).
        ``clip_x0`` clamps x̂0 to the model's value range first."""
        mean, x0_hat = denoise_step(x_t, eps, t, t_prev, self.alphas_cumprod, None,
                                    clip_x0=tuple(self.value_range) if clip_x0 else None)
        if noise is None or t_prev < 0:
            return mean, x0_hat
        return self.add_variance(mean, t, t_prev, variance, noise), x0_hat


# --------------------------------------------------------------------------------------------------------------------
# MNIST: our class-conditioned DDPM of Part B
# --------------------------------------------------------------------------------------------------------------------

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TOKEN = re.compile(r"[a-z]+|\d+")


def parse_digit_prompt(prompt: str) -> int | None:
    """"7", "seven", "a handwritten 7", "the digit Seven" -> 7; "" -> None (the null condition).

    Exactly one digit, written as a single numeral or an English number word; anything else is an error."""
    text = prompt.strip().lower()
    if not text:
        return None
    found = []
    for token in _TOKEN.findall(text):
        if token.isdigit():
            found.append(token)
        elif token in DIGIT_WORDS:
            found.append(str(DIGIT_WORDS.index(token)))
    if len(found) != 1 or len(found[0]) != 1:
        raise FundiffError(
            f"prompt {prompt!r} does not name exactly one digit; the mnist backend reads prompts such as "
            f"'7', 'seven' or 'a handwritten 7' ('' is the unconditional prompt)"
        )
    return int(found[0])


def mnist_fit(gray01: np.ndarray, box: int = 20, size: int = 28) -> np.ndarray:
    """MNIST's own preprocessing for a user drawing (light ink on dark, float in [0, 1]): crop the ink's bounding box,
    scale its longer side to ``box`` pixels, and paste it into a size×size canvas centred on its centre of mass."""
    ink = gray01 > 0.2 * max(float(gray01.max()), 1e-6)
    if not ink.any():
        return np.asarray(Image.fromarray((gray01 * 255).astype(np.uint8)).resize((size, size), Image.LANCZOS)) / 255.0
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    crop = gray01[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((nw, nh), Image.LANCZOS)) / 255.0
    mass = small.sum()
    cy = (small.sum(1) * np.arange(nh)).sum() / mass if mass > 0 else nh / 2
    cx = (small.sum(0) * np.arange(nw)).sum() / mass if mass > 0 else nw / 2
    top = int(np.clip(round(size / 2 - cy), 0, size - nh))
    left = int(np.clip(round(size / 2 - cx), 0, size - nw))
    canvas = np.zeros((size, size), dtype=np.float64)
    canvas[top : top + nh, left : left + nw] = small
    return canvas


class MnistDenoiser(Denoiser):
    """The class-conditioned UNet of Part B (SPEC B 2.4) as a Part A denoiser. Images live in [0, 1]; prompts name a
    digit; the null condition is the all-zero class vector; variance is fixed ("posterior" β̃ or "beta")."""

    name = "mnist"

    def __init__(
        self, model: torch.nn.Module, alphas_cumprod: torch.Tensor, *, timesteps: Sequence[int] | None = None,
        variance: str = "posterior", device: str | torch.device = "cpu", invert: str = "auto",
        fold_batchnorm: bool = True, channels_last: bool = True,
    ):
        require(variance in ("posterior", "beta"), f"variance={variance!r}: use posterior or beta")
        require(invert in ("auto", "always", "never"), f"invert={invert!r}: use auto, always or never")
        self.model = model.to(device).eval()
        if fold_batchnorm:  # the same function with one op fewer per layer
            inference.fold_batchnorm(self.model)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        self.alphas_cumprod = alphas_cumprod.detach().to("cpu", torch.float32)
        self.variance = variance
        self.invert = invert
        self.device = torch.device(device)
        self.image_shape = (1, 28, 28)
        self.value_range = (0.0, 1.0)
        self.default_timesteps = list(timesteps) if timesteps is not None else scaled_timesteps(self.num_timesteps)

    @classmethod
    def from_checkpoint(
        cls, checkpoint: str | Path, train_config: str | Path, *, param: str = "partA.backends.mnist", **kwargs
    ) -> "MnistDenoiser":
        from fundiff.training import TrainConfig
        from fundiff.unets import ClassConditionalUNet

        checkpoint, train_config = Path(checkpoint), Path(train_config)
        require(
            (checkpoint / "config.json").exists(),
            f"{param}.checkpoint: {checkpoint} is not a saved ClassConditionalUNet; run `dvc repro train@class_cond`",
        )
        require(train_config.exists(), f"{param}.train_config: {train_config} not found; run `dvc repro train@class_cond`")
        raw = json.loads(train_config.read_text())
        require(raw.get("kind", "class_cond") == "class_cond",
                f"{param}.train_config: {train_config} is for a {raw.get('kind')!r} model, not class_cond")
        fields = {k: v for k, v in raw.items() if k in TrainConfig.__dataclass_fields__}
        fields["snapshot_epochs"] = tuple(fields.get("snapshot_epochs", ()))
        config = TrainConfig(**fields)
        try:
            model = ClassConditionalUNet.from_pretrained(str(checkpoint))
        except (OSError, ValueError, RuntimeError, EnvironmentError) as error:
            raise FundiffError(f"{param}.checkpoint: cannot load {checkpoint}: {str(error).splitlines()[0]}") from error
        return cls(model, config.alphas_cumprod(), **kwargs)

    def encode(self, prompt: str) -> torch.Tensor:
        digit = parse_digit_prompt(prompt)
        c = torch.zeros(1, 10)
        if digit is not None:
            c[0, digit] = 1.0
        return c.to(self.device)

    def null_condition(self) -> torch.Tensor:
        return torch.zeros(1, 10, device=self.device)

    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> Prediction:
        n = x_t.shape[0]
        t_in = normalized_time(torch.full((n,), int(t)), self.num_timesteps).to(self.device)
        x_t = x_t.to(self.device).contiguous(memory_format=self.memory_format)
        eps = self.model(x_t, t_in, self.batch_condition(cond, n).to(self.device))
        return eps.float(), None

    def add_variance(self, mean, t, t_prev, variance, noise):
        if t_prev < 0:
            return mean
        sigma2 = step_variance(t, t_prev, self.alphas_cumprod.to(mean.device), self.variance)
        return mean + sigma2.sqrt() * noise

    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        gray = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
        if self.invert == "always" or (self.invert == "auto" and _border_mean(gray) > 0.5):
            gray = 1.0 - gray  # dark ink on light paper -> MNIST's light ink on black
        if gray.shape != (28, 28):
            # paper is not black: stretch so the background (border median) is 0 and the brightest ink 1, like MNIST
            background = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
            gray = np.clip((gray - background) / max(float(gray.max()) - background, 1e-6), 0.0, 1.0)
            gray = mnist_fit(gray)
        return torch.from_numpy(gray.astype(np.float32)).clamp(0, 1).unsqueeze(0)

    @torch.no_grad()
    def pipeline_samples(self, prompts, num_inference_steps, seed, guidance_scale):
        """No stock pipeline for our DDPM: our own strided loop with CFG, ``num_inference_steps`` model calls each."""
        T = self.num_timesteps
        require(1 <= num_inference_steps <= T, f"num_inference_steps={num_inference_steps} must be in 1..{T}")
        stride = T // num_inference_steps
        timesteps = strided_timesteps(stride * (num_inference_steps - 1), stride) + [-1]
        generator = torch.Generator().manual_seed(seed)
        conds = torch.cat([self.encode(p) for p in prompts])
        null = self.null_condition()
        x = torch.randn((len(prompts), *self.image_shape), generator=generator).to(self.device)
        for t, t_prev in zip(timesteps[:-1], timesteps[1:]):
            both, _ = self.predict(torch.cat([x, x]), t, torch.cat([conds, null.expand_as(conds)]))
            eps = guided(both[: len(x)], both[len(x) :], guidance_scale)
            noise = torch.randn(x.shape, generator=generator).to(self.device)
            x, _ = self.step(x, eps, None, t, t_prev, noise)
        return self.to_unit(x).cpu(), None


def _border_mean(gray: np.ndarray) -> float:
    return float(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]).mean())


# --------------------------------------------------------------------------------------------------------------------
# DeepFloyd IF through diffusers
# --------------------------------------------------------------------------------------------------------------------


def learned_range_log_variance(
    t: int, t_prev: int, alphas_cumprod: torch.Tensor, predicted: torch.Tensor
) -> torch.Tensor:
    """diffusers' ``DDPMScheduler._get_variance(t, predicted)`` for ``variance_type="learned_range"`` when the
    scheduler's previous timestep of t is ``t_prev``: log-variance interpolated, by (v + 1)/2, between the step's
    posterior variance β̃ (min) and its β (max)."""
    abar_t = alphas_cumprod[t]
    abar_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.ones((), dtype=alphas_cumprod.dtype)
    beta = 1 - abar_t / abar_prev
    posterior = torch.clamp((1 - abar_prev) / (1 - abar_t) * beta, min=1e-20)
    frac = (predicted + 1) / 2
    return frac * torch.log(beta) + (1 - frac) * torch.log(posterior)


class DeepFloydDenoiser(Denoiser):
    """DeepFloyd IF stage I (64×64, 6 output channels: noise + learned-range variance) with optional stage II (upsampler).

    Prompt conditions are T5 embeddings [1, 77, D]: from a precomputed embeddings file (dict prompt -> tensor, the form
    the course hands out) or, when ``text_encoder`` names a model, from T5 itself. Images live in [-1, 1]."""

    name = "deepfloyd"

    def __init__(
        self, stage_1, *, stage_2=None, embeddings: dict[str, torch.Tensor] | None = None, text_encoder=None,
        timesteps: Sequence[int] | None = None, device: str | torch.device = "cpu", param: str = "partA.backends.deepfloyd",
        embeddings_path: str | None = None,
    ):
        self.stage_1 = stage_1
        self.stage_2 = stage_2
        self.unet = stage_1.unet
        self.scheduler = stage_1.scheduler
        require(
            self.scheduler.config.variance_type == "learned_range" and self.unet.config.out_channels == 2 * self.unet.config.in_channels,
            f"{param}.stage_1: expected an IF stage-I UNet with learned-range variance "
            f"(out_channels = 2·in_channels, scheduler variance_type learned_range)",
        )
        self.param = param
        self.embeddings = embeddings or {}
        self.embeddings_path = embeddings_path
        self.text_encoder = text_encoder  # an IFPipeline holding tokenizer + T5 encoder, or None
        self._cache: dict[str, torch.Tensor] = {}
        self.device = torch.device(device)
        self.dtype = self.unet.dtype
        self.alphas_cumprod = self.scheduler.alphas_cumprod.detach().to("cpu", torch.float32)
        size = self.unet.config.sample_size
        self.image_shape = (self.unet.config.in_channels, size, size)
        self.value_range = (-1.0, 1.0)
        self.default_timesteps = list(timesteps) if timesteps is not None else scaled_timesteps(self.num_timesteps)
        dim = self.unet.config.encoder_hid_dim or self.unet.config.cross_attention_dim
        self.embed_dim = int(dim)

    @classmethod
    def load(
        cls, *, stage_1: str, stage_2: str | None = None, embeddings: str | None = None, text_encoder: str | None = None,
        variant: str | None = "fp16", cpu_offload: bool = False, allow_cpu: bool = False,
        timesteps: Sequence[int] | None = None, param: str = "partA.backends.deepfloyd",
    ) -> "DeepFloydDenoiser":
        """Load the IF pipelines the way the course does: ``from_pretrained(id, text_encoder=None, variant="fp16",
        torch_dtype=float16)`` on CUDA (float32 on CPU, which only tiny test models make bearable)."""
        cuda = torch.cuda.is_available()
        require(
            cuda or allow_cpu,
            f"{param}: DeepFloyd IF needs a CUDA GPU and none is visible; run on a GPU machine, or set "
            f"{param}.allow_cpu: true (hours per image for the real model)",
        )
        require(
            embeddings or text_encoder,
            f"{param}: set {param}.embeddings (a .pth dict prompt -> [1, 77, 4096] tensor) or {param}.text_encoder",
        )
        device = torch.device("cuda" if cuda else "cpu")
        dtype = torch.float16 if cuda else torch.float32
        table = load_embeddings(embeddings, f"{param}.embeddings") if embeddings else None
        from diffusers import IFPipeline, IFSuperResolutionPipeline

        one = _load_pipeline(IFPipeline, stage_1, f"{param}.stage_1", variant, dtype)
        two = _load_pipeline(IFSuperResolutionPipeline, stage_2, f"{param}.stage_2", variant, dtype) if stage_2 else None
        encoder = None
        if text_encoder:  # T5 + tokenizer only: the IF pipeline of that repo without its UNet
            encoder = _load_pipeline(IFPipeline, text_encoder, f"{param}.text_encoder", variant, dtype, with_t5=True,
                                     unet=None)
        for pipe in (one, two, encoder):
            if pipe is None:
                continue
            pipe.set_progress_bar_config(disable=True)
            if cpu_offload and cuda:
                pipe.enable_model_cpu_offload()
            else:
                pipe.to(device)
        return cls(one, stage_2=two, embeddings=table, text_encoder=encoder, timesteps=timesteps, device=device,
                   param=param, embeddings_path=embeddings)

    # conditions ------------------------------------------------------------------------------------------------
    def encode(self, prompt: str) -> torch.Tensor:
        if prompt in self._cache:
            return self._cache[prompt]
        if prompt in self.embeddings:
            embeds = self.embeddings[prompt]
        elif self.text_encoder is not None:
            with torch.no_grad():
                embeds, _ = self.text_encoder.encode_prompt(prompt, do_classifier_free_guidance=False, device=self.device)
        else:
            known = ", ".join(repr(k) for k in sorted(self.embeddings)[:12])
            raise FundiffError(
                f"prompt {prompt!r} is not in the embeddings file {self.embeddings_path or '(given)'} "
                f"(it has {known}{', ...' if len(self.embeddings) > 12 else ''}); use one of those, add it, or set "
                f"{self.param}.text_encoder to encode prompts with T5"
            )
        embeds = embeds.reshape(1, *embeds.shape[-2:]) if embeds.ndim == 2 else embeds
        require(
            embeds.ndim == 3 and embeds.shape[0] == 1 and embeds.shape[-1] == self.embed_dim,
            f"{self.param}.embeddings: the embedding of {prompt!r} has shape {tuple(embeds.shape)}; "
            f"this stage-I UNet needs [1, L, {self.embed_dim}]",
        )
        embeds = embeds.to(self.device, self.dtype)
        self._cache[prompt] = embeds
        return embeds

    def null_condition(self) -> torch.Tensor:
        return self.encode("")

    # the model -------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor) -> Prediction:
        n, c = x_t.shape[:2]
        out = self.unet(
            x_t.to(self.device, self.dtype), torch.tensor(int(t), device=self.device),
            encoder_hidden_states=self.batch_condition(cond, n).to(self.device, self.dtype), return_dict=False,
        )[0].float()
        return out[:, :c], out[:, c:]

    def add_variance(self, mean, t, t_prev, variance, noise):
        """SPEC 1.4: image + exp(0.5·v)·z with v the scheduler's learned-range variance of the step t -> t_prev."""
        if t_prev < 0:
            return mean
        require(variance is not None, "the DeepFloyd backend needs the predicted variance to add noise")
        v = learned_range_log_variance(t, t_prev, self.alphas_cumprod.to(mean.device), variance.to(mean.dtype))
        return mean + torch.exp(0.5 * v) * noise

    # images ----------------------------------------------------------------------------------------------------
    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        """RGB, shorter side resized to the model's size, centre crop (the course's web-image recipe)."""
        size = self.image_shape[-1]
        image = image.convert("RGB")
        w, h = image.size
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        image = image.resize((nw, nh), Image.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        image = image.crop((left, top, left + size, top + size))
        return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()

    # experiment 0 ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def pipeline_samples(self, prompts, num_inference_steps, seed, guidance_scale):
        """The stock pipelines: stage I (64×64) then, when loaded, stage II (×4), negative prompt "", output_type pt."""
        generator = torch.Generator().manual_seed(seed)
        embeds = torch.cat([self.encode(p) for p in prompts])
        negative = self.null_condition().expand_as(embeds)
        low = self.stage_1(
            prompt_embeds=embeds, negative_prompt_embeds=negative, num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale, generator=generator, output_type="pt",
        ).images
        high = None
        if self.stage_2 is not None:
            high = self.stage_2(
                image=low, prompt_embeds=embeds, negative_prompt_embeds=negative,
                num_inference_steps=num_inference_steps, generator=generator, output_type="pt",
            ).images
            high = self.to_unit(high.float()).cpu()
        return self.to_unit(low.float()).cpu(), high


def _dtype_keyword() -> str:
    """diffusers >= 0.36 takes ``dtype=`` and deprecates ``torch_dtype=`` (the course's spelling)."""
    try:
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401

        return "dtype"
    except ImportError:
        return "torch_dtype"


def _load_pipeline(pipeline_cls, source: str, param: str, variant: str | None, dtype, with_t5: bool = False, **overrides):
    kwargs: dict[str, Any] = {_dtype_keyword(): dtype, **overrides}
    if variant:
        kwargs["variant"] = variant
    if not with_t5:
        kwargs["text_encoder"] = None  # prompts come from the embeddings file; T5 (~9 GB) stays on disk
    try:
        return pipeline_cls.from_pretrained(source, **kwargs)
    except Exception as error:  # hub errors (gated repo, no token, offline), missing files, bad configs
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        hint = (
            "accept the licence on its Hugging Face page and log in (`huggingface-cli login`), or point it at a "
            "local save_pretrained directory"
        )
        raise FundiffError(f"{param}={source!r}: cannot load the weights ({type(error).__name__}: {first}); {hint}") from error


def load_embeddings(path: str | Path, param: str) -> dict[str, torch.Tensor]:
    """The course's prompt_embeds_dict.pth: a dict prompt -> tensor [1, 77, 4096] (any float dtype, any device)."""
    path = Path(path)
    require(path.exists(), f"{param}: {path} not found; put the precomputed prompt embeddings (.pth dict) there")
    try:
        table = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise FundiffError(f"{param}: cannot read {path} as a torch .pth file ({type(error).__name__})") from error
    require(
        isinstance(table, dict) and all(isinstance(k, str) and torch.is_tensor(v) for k, v in table.items()),
        f"{param}: {path} must hold a dict prompt (str) -> embedding tensor",
    )
    return {k: v.float() for k, v in table.items()}


# --------------------------------------------------------------------------------------------------------------------


def _flag(settings: dict[str, Any], name: str, prefix: str, default: bool = True) -> bool:
    value = settings.get(name, default)
    require(isinstance(value, bool), f"{prefix}.{name}={value!r} must be true or false")
    return value


def load_denoiser(backend: str, settings: dict[str, Any], param: str = "partA.backends") -> Denoiser:
    """Build the backend named by ``partA.backend`` from its settings section ``partA.backends.<backend>``."""
    prefix = f"{param}.{backend}"
    timesteps = settings.get("timesteps")
    steps = None
    if timesteps is not None:
        require(
            isinstance(timesteps, dict) and set(timesteps) == {"start", "stride"},
            f"{prefix}.timesteps must be {{start: int, stride: int}}",
        )
        try:
            steps = strided_timesteps(int(timesteps["start"]), int(timesteps["stride"]))
        except ValueError as error:
            raise FundiffError(f"{prefix}.timesteps: {error}") from error
    if backend == "mnist":
        den = MnistDenoiser.from_checkpoint(
            settings["checkpoint"], settings["train_config"], param=prefix, timesteps=steps,
            variance=settings.get("variance", "posterior"), invert=settings.get("invert", "auto"),
            fold_batchnorm=_flag(settings, "fold_batchnorm", prefix), channels_last=_flag(settings, "channels_last", prefix),
            device=settings.get("device") or ("cuda" if torch.cuda.is_available() else "cpu"),
        )
    elif backend == "deepfloyd":
        den = DeepFloydDenoiser.load(
            stage_1=settings["stage_1"], stage_2=settings.get("stage_2"), embeddings=settings.get("embeddings"),
            text_encoder=settings.get("text_encoder"), variant=settings.get("variant"),
            cpu_offload=bool(settings.get("cpu_offload", False)), allow_cpu=bool(settings.get("allow_cpu", False)),
            timesteps=steps, param=prefix,
        )
    else:
        raise FundiffError(f"partA.backend={backend!r} is unknown; use mnist or deepfloyd")
    require(
        max(den.default_timesteps) < den.num_timesteps,
        f"{prefix}.timesteps start {max(den.default_timesteps)} must be < T = {den.num_timesteps}",
    )
    return den


__all__ = [
    "Denoiser", "MnistDenoiser", "DeepFloydDenoiser", "load_denoiser", "load_embeddings", "parse_digit_prompt",
    "learned_range_log_variance", "mnist_fit", "scaled_timesteps", "DIGIT_WORDS",
]
