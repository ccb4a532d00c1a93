"""Part A's backends: the pretrained models its algorithms run on (see fundiff.partA.backends.base)."""

from __future__ import annotations

from typing import Any

from fundiff.device import DEVICES, DTYPES, resolve_device
from fundiff.diffusion.noise_schedule import strided_timesteps
from fundiff.diffusion.reverse import VARIANCES
from fundiff.errors import FundiffError, require
from fundiff.params import ParamSection
from fundiff.partA.backends.base import Backend

BACKENDS = ("mnist", "deepfloyd")
MNIST_KEYS = (
    "checkpoint",
    "train_config",
    "classifier",
    "variance",
    "invert",
    "timesteps",
    "fold_batchnorm",
    "channels_last",
    "device",
)
DEEPFLOYD_KEYS = (
    "stage_1",
    "stage_2",
    "variant",
    "embeddings",
    "text_encoder",
    "cpu_offload",
    "allow_cpu",
    "timesteps",
    "device",
    "dtype",
)


def _timesteps(s: ParamSection) -> list[int] | None:
    value = s.values.get("timesteps")
    if value is None:
        return None
    timesteps = ParamSection(value, s.key("timesteps"), ("start", "stride"))
    start, stride = timesteps.integer("start", 0), timesteps.integer("stride", 1)
    return strided_timesteps(start, stride)


def backend_settings(name: str, raw: Any, prefix: str = "partA.backends") -> dict[str, Any]:
    """The settings section ``partA.backends.<name>``, every key checked (nothing loaded): the keyword arguments of
    the backend's loader, its ``device`` still a setting (auto | cpu | cuda)."""
    require(name in BACKENDS, f"partA.backend={name!r} is unknown; use one of {', '.join(BACKENDS)}")
    where = f"{prefix}.{name}"
    s = ParamSection(raw, where, MNIST_KEYS if name == "mnist" else DEEPFLOYD_KEYS)
    common = dict(timesteps=_timesteps(s), device=s.choice("device", DEVICES, default="auto"), param=where)
    if name == "mnist":
        return dict(
            checkpoint=s.string("checkpoint"),
            train_config=s.string("train_config"),
            variance=s.choice("variance", VARIANCES, default="posterior"),
            invert=s.choice("invert", ("auto", "always", "never"), default="auto"),
            fold_batchnorm=s.boolean("fold_batchnorm", default=True),
            channels_last=s.boolean("channels_last", default=True),
            **common,
        )
    return dict(
        stage_1=s.string("stage_1"),
        stage_2=s.string("stage_2", default=None, optional=True),
        embeddings=s.string("embeddings", default=None, optional=True),
        text_encoder=s.string("text_encoder", default=None, optional=True),
        variant=s.string("variant", default=None, optional=True),
        cpu_offload=s.boolean("cpu_offload", default=False),
        allow_cpu=s.boolean("allow_cpu", default=False),
        dtype=s.choice("dtype", ("auto", *DTYPES), default="auto"),
        **common,
    )


def load_backend(name: str, raw: Any, prefix: str = "partA.backends", default_device: str = "auto") -> Backend:
    """Build the backend ``name`` (``partA.backend``) from its settings section ``partA.backends.<name>``; a
    ``device`` of auto (or none) means ``default_device`` (the top-level param ``device``)."""
    settings = backend_settings(name, raw, prefix)
    where = settings["param"]
    device = default_device if settings["device"] == "auto" else settings["device"]
    if name == "mnist":
        from fundiff.partA.backends.mnist import MnistBackend

        settings["device"] = resolve_device(device, f"{where}.device")
        checkpoint, train_config = settings.pop("checkpoint"), settings.pop("train_config")
        backend: Backend = MnistBackend.from_checkpoint(checkpoint, train_config, **settings)
    else:
        from fundiff.partA.backends.deepfloyd import DeepFloydBackend

        settings["device"] = device
        backend = DeepFloydBackend.load(**settings)
    if max(backend.default_timesteps) >= backend.num_timesteps:
        raise FundiffError(
            f"{where}.timesteps start {max(backend.default_timesteps)} must be < T = {backend.num_timesteps}"
        )
    return backend
