"""The ``deepfloyd`` backend of Part A: DeepFloyd IF stage I (and stage II for experiment 0) through diffusers, the
course's pretrained model (docs/course.md, Part A)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from fundiff.device import resolve_device, resolve_dtype
from fundiff.diffusion.noise_schedule import scaled_timesteps
from fundiff.diffusion.reverse import learned_range_log_variance
from fundiff.errors import FundiffError, require
from fundiff.partA.backends.base import Backend, Prediction
from fundiff.partA.backends.hub import load_embeddings, load_pipeline, place_pipelines


class DeepFloydBackend(Backend):
    """DeepFloyd IF stage I (64×64, 6 output channels: noise + learned-range variance) with optional stage II (upsampler).

    Prompt conditions are T5 embeddings [1, 77, D]: from a precomputed embeddings file (dict prompt -> tensor, the form
    the course hands out) or, when ``text_encoder`` names a model, from T5 itself. Images live in [-1, 1]."""

    name = "deepfloyd"

    def __init__(
        self,
        stage_1,
        *,
        stage_2=None,
        embeddings: dict[str, torch.Tensor] | None = None,
        text_encoder=None,
        timesteps: Sequence[int] | None = None,
        device: str | torch.device = "cpu",
        param: str = "partA.backends.deepfloyd",
        embeddings_path: str | None = None,
    ):
        self.stage_1 = stage_1
        self.stage_2 = stage_2
        self.unet = stage_1.unet
        self.scheduler = stage_1.scheduler
        require(
            self.scheduler.config.variance_type == "learned_range"
            and self.unet.config.out_channels == 2 * self.unet.config.in_channels,
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
        cls,
        *,
        stage_1: str,
        stage_2: str | None = None,
        embeddings: str | None = None,
        text_encoder: str | None = None,
        variant: str | None = "fp16",
        cpu_offload: bool = False,
        allow_cpu: bool = False,
        timesteps: Sequence[int] | None = None,
        device: str = "auto",
        dtype: str = "auto",
        param: str = "partA.backends.deepfloyd",
    ) -> DeepFloydBackend:
        """Load the IF pipelines the way the course does: ``from_pretrained(id, text_encoder=None, variant="fp16",
        torch_dtype=float16)`` on CUDA. ``device`` auto | cpu | cuda and ``dtype`` auto | float16 | float32 | bfloat16
        (auto: CUDA + float16 where a GPU is visible). On the CPU (only tiny test models make it bearable) ``device:
        cpu`` or ``allow_cpu: true`` must say so. Weights come from a local directory or the local Hugging Face cache
        first; the Hub is asked only when they are not there and ``HF_HUB_OFFLINE`` is not set."""
        target = resolve_device(device, f"{param}.device")
        require(
            target.type == "cuda" or device == "cpu" or allow_cpu,
            f"{param}: DeepFloyd IF needs a CUDA GPU and none is visible; run on a GPU machine, or set "
            f"{param}.device: cpu (hours per image for the real model)",
        )
        torch_dtype = resolve_dtype(dtype, target, f"{param}.dtype")
        require(
            embeddings or text_encoder,
            f"{param}: set {param}.embeddings (a .pth dict prompt -> [1, 77, 4096] tensor) or {param}.text_encoder",
        )
        table = load_embeddings(embeddings, f"{param}.embeddings") if embeddings else None
        from diffusers import IFPipeline, IFSuperResolutionPipeline

        one = load_pipeline(IFPipeline, stage_1, f"{param}.stage_1", variant, torch_dtype)
        two = (
            load_pipeline(IFSuperResolutionPipeline, stage_2, f"{param}.stage_2", variant, torch_dtype)
            if stage_2
            else None
        )
        encoder = None
        if text_encoder:  # T5 + tokenizer only: the IF pipeline of that repo without its UNet
            encoder = load_pipeline(
                IFPipeline, text_encoder, f"{param}.text_encoder", variant, torch_dtype, with_t5=True, unet=None
            )
        place_pipelines((one, two, encoder), target, cpu_offload, param)
        return cls(
            one,
            stage_2=two,
            embeddings=table,
            text_encoder=encoder,
            timesteps=timesteps,
            device=target,
            param=param,
            embeddings_path=embeddings,
        )

    # conditions ------------------------------------------------------------------------------------------------
    def encode(self, prompt: str) -> torch.Tensor:
        if prompt in self._cache:
            return self._cache[prompt]
        if prompt in self.embeddings:
            embeds = self.embeddings[prompt]
        elif self.text_encoder is not None:
            with torch.no_grad():
                embeds, _ = self.text_encoder.encode_prompt(
                    prompt, do_classifier_free_guidance=False, device=self.device
                )
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
            x_t.to(self.device, self.dtype),
            torch.tensor(int(t), device=self.device),
            encoder_hidden_states=self.batch_condition(cond, n).to(self.device, self.dtype),
            return_dict=False,
        )[0].float()
        return out[:, :c], out[:, c:]

    def add_variance(self, mean, t, t_prev, variance, noise):
        """docs/course.md, A 1.4: image + exp(0.5·v)·z with v the scheduler's learned-range variance of the step t -> t_prev."""
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
            prompt_embeds=embeds,
            negative_prompt_embeds=negative,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            generator=generator,
            output_type="pt",
        ).images
        high = None
        if self.stage_2 is not None:
            high = self.stage_2(
                image=low,
                prompt_embeds=embeds,
                negative_prompt_embeds=negative,
                num_inference_steps=num_inference_steps,
                generator=generator,
                output_type="pt",
            ).images
            high = self.to_unit(high.float()).cpu()
        return self.to_unit(low.float()).cpu(), high
