"""Part B's models by name (the ``train.<model>`` sections, ``data/models/<model>/``): which UNet each one is and what
it learns. Two editions of the course share the three architectures (docs/course.md):

* the DDPM edition: ``denoiser`` (1, one step from x + σε), ``time_cond`` (2, ε-prediction, t added), ``class_cond``
  (2.4, with classifier-free dropout);
* the flow-matching edition: ``denoiser`` again, ``pure_noise`` (1.2.3, the denoiser's UNet fed pure noise),
  ``flow_time_cond`` (2.2, velocity, t multiplied), ``flow_class_cond`` (2.5) and ``flow_class_cond_unscheduled``
  (the same without a learning-rate schedule). Part A samples the DDPM ``class_cond`` in both.

``objective`` and ``modulation`` are params (``train.<model>.objective`` / ``.modulation``); their defaults are the
model's own, so a section may leave them out."""

from __future__ import annotations

from dataclasses import dataclass

from fundiff.errors import FundiffError

OBJECTIVES = {  # per architecture; the first is the default of the DDPM edition's models
    "denoiser": ("denoise", "pure_noise"),  # L2 to the clean image, from x + σε | from ε alone (1.2.3)
    "time_cond": ("ddpm", "flow"),  # ε-prediction (Algorithm 1) | velocity x_1 − x_0 (Algorithm B.1)
    "class_cond": ("ddpm", "flow"),
}
MODULATIONS = {  # how t enters the time-conditioned UNet: unflatten + t1(t) (DDPM edition) | unflatten·t1(t) (flow)
    "time_cond": ("add", "multiply"),
    "class_cond": ("class_scale_time_shift",),  # c1(c)·unflatten + t1(t), the same in both editions
    "denoiser": ("none",),
}


@dataclass(frozen=True)
class ModelSpec:
    architecture: str  # denoiser | time_cond | class_cond (fundiff.nets.unets.MODEL_CLASSES)
    objective: str  # this model's default objective
    modulation: str  # this model's default modulation


MODELS: dict[str, ModelSpec] = {
    "denoiser": ModelSpec("denoiser", "denoise", "none"),
    "time_cond": ModelSpec("time_cond", "ddpm", "add"),
    "class_cond": ModelSpec("class_cond", "ddpm", "class_scale_time_shift"),
    "pure_noise": ModelSpec("denoiser", "pure_noise", "none"),
    "flow_time_cond": ModelSpec("time_cond", "flow", "multiply"),
    "flow_class_cond": ModelSpec("class_cond", "flow", "class_scale_time_shift"),
    "flow_class_cond_unscheduled": ModelSpec("class_cond", "flow", "class_scale_time_shift"),
}
NAMES = tuple(MODELS)
DIFFUSION_OBJECTIVES = ("ddpm", "flow")  # the models that are sampled (sample@<model>), not single-step denoisers


def spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise FundiffError(f"unknown model {name!r}; use one of {', '.join(NAMES)}")
    return MODELS[name]


def architecture_of(name: str) -> str:
    return spec(name).architecture


def default_fields(name: str) -> dict[str, str]:
    """objective and modulation as the DDPM edition's models have them: what train_config.json leaves out (so the
    checkpoints of the DDPM edition keep the bytes they had before the flow edition existed)."""
    arch = architecture_of(name)
    return {"objective": OBJECTIVES[arch][0], "modulation": MODULATIONS[arch][0]}
