"""Loading DeepFloyd IF through diffusers, offline-first: the pipelines (a local save_pretrained directory or the local
Hugging Face cache first; the Hub only when they are not there and HF_HUB_OFFLINE is not set), the precomputed prompt
embeddings, and a one-line error that names the real cause."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from fundiff.errors import FundiffError, require


def _dtype_keyword() -> str:
    """diffusers >= 0.36 takes ``dtype=`` and deprecates ``torch_dtype=`` (the course's spelling)."""
    try:
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401

        return "dtype"
    except ImportError:
        return "torch_dtype"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _cause(error: Exception, source: str, offline: bool) -> str:
    """What went wrong, in the user's terms, from a diffusers / huggingface_hub loading error."""
    name, text = type(error).__name__, str(error)
    lowered = text.lower()
    if name == "GatedRepoError" or "gated" in lowered or "401" in text or "403" in text:
        return (
            "the licence is not accepted or you are not logged in: accept it on the model's Hugging Face page and "
            "run `huggingface-cli login`"
        )
    if (
        name in ("LocalEntryNotFoundError", "OfflineModeIsEnabled")
        or "cached" in lowered
        or "offline" in lowered
        or ("connect" in lowered)
    ):
        how = "HF_HUB_OFFLINE is set" if offline else "the Hub could not be reached"
        return (
            f"not in the local Hugging Face cache and {how}: download it once with a network "
            "(`huggingface-cli download`), or point the param at a local save_pretrained directory"
        )
    if Path(source).exists():
        return "not a complete save_pretrained directory (model_index.json and the component folders)"
    first = (text.strip().splitlines() or [name])[0][:200]
    return f"{name}: {first}"


def load_pipeline(
    pipeline_cls, source: str, param: str, variant: str | None, dtype, with_t5: bool = False, **overrides
):
    """``pipeline_cls.from_pretrained(source, ...)``, offline-first: a local directory or the local cache, then (unless
    HF_HUB_OFFLINE is set) the Hub. Any failure is one FundiffError naming the param and the real cause."""
    kwargs: dict[str, Any] = {_dtype_keyword(): dtype, **overrides}
    if variant:
        kwargs["variant"] = variant
    if not with_t5:
        kwargs["text_encoder"] = None  # prompts come from the embeddings file; T5 (~9 GB) stays on disk
    offline = _offline()
    try:
        return pipeline_cls.from_pretrained(source, local_files_only=True, **kwargs)
    except Exception as error:  # missing files, not cached, bad configs
        if offline or Path(source).exists():
            raise FundiffError(
                f"{param}={source!r}: cannot load the weights ({_cause(error, source, offline)})"
            ) from error
    try:
        return pipeline_cls.from_pretrained(source, **kwargs)
    except Exception as error:  # hub errors (gated repo, no token, no network), missing files, bad configs
        raise FundiffError(f"{param}={source!r}: cannot load the weights ({_cause(error, source, offline)})") from error


def place_pipelines(pipes: tuple[Any, ...], target: torch.device, cpu_offload: bool, param: str) -> None:
    """Every pipeline of ``pipes`` (None: skipped) on ``target``, or with model CPU offload on CUDA when
    ``cpu_offload``, progress bars off; too little GPU memory is a one-line error naming the fixes."""
    for pipe in pipes:
        if pipe is None:
            continue
        pipe.set_progress_bar_config(disable=True)
        try:
            if cpu_offload and target.type == "cuda":
                pipe.enable_model_cpu_offload()
            else:
                pipe.to(target)
        except torch.cuda.OutOfMemoryError:
            raise FundiffError(
                f"{param}: too little GPU memory for DeepFloyd IF on {target}; set {param}.cpu_offload: true, "
                f"drop {param}.stage_2, or use a larger GPU"
            ) from None


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
