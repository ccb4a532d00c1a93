"""What one Part A experiment costs (fundiff.budget), estimated from its params section before the backend loads.

Part A runs every image of an experiment through the network in one batch (classifier-free guidance doubles it), so
the images it makes at once are the product of its counts (``num_samples``, ``num_per_prompt``, ``best_of``) and of
its lists (prompts, illusions, pairs, input images); each takes one call per strided timestep (per ``i_starts`` entry,
per inference step of ``pipeline``), times RePaint's ``jump_n_sample``, times two for guidance. Rough by design."""

from __future__ import annotations

from typing import Any

from fundiff.budget import HELD_BYTES, Term, activation_bytes, seconds_per_call

COUNT_KEYS = ("num_samples", "num_per_prompt", "best_of")
LIST_KEYS = ("prompts", "illusions", "pairs", "images")
STRIDED_STEPS = 34  # the course's 990, 960, ..., 0 (the mnist backend scales them to its T)
# DeepFloyd IF's stage I at 64×64: per image, the UNet's activations and one call's time on a GPU (rough)
DEEPFLOYD_ACTIVATION_BYTES = 200e6
DEEPFLOYD_SECONDS_PER_CALL = 0.05


def _count(value: Any) -> int:
    """A params value read as a count (what the experiment's own check refuses is 1 here)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


def _entries(value: Any) -> int:
    """How many images a list of inputs stands for (``mnist-test:all:<n>`` is 10·n test digits)."""
    if not isinstance(value, list):
        return 1
    total = 0
    for entry in value:
        parts = entry.split(":") if isinstance(entry, str) and entry.startswith("mnist-test:") else []
        n = int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else 1
        total += 10 * n if len(parts) == 3 and parts[1] == "all" else n
    return max(total, 1)


def _steps(section: dict, backend: dict) -> int:
    """Network calls per image: the strided timesteps (or pipeline's inference steps), per i_start, per jump."""
    inference = section.get("num_inference_steps")
    if isinstance(inference, list) and all(isinstance(n, int) for n in inference):
        return max(sum(inference), 1)
    timesteps = backend.get("timesteps")
    steps = STRIDED_STEPS
    if isinstance(timesteps, dict) and all(_count(timesteps.get(k)) > 0 for k in ("start", "stride")):
        steps = _count(timesteps.get("start")) // _count(timesteps.get("stride")) + 1
    i_starts = section.get("i_starts")
    return (
        steps * (len(i_starts) if isinstance(i_starts, list) and i_starts else 1) * _count(section.get("jump_n_sample"))
    )


def experiment_costs(partA: Any, name: str, num_hiddens: int, device: str = "cpu") -> list[Term]:
    """The cost of ``partA@<name>`` on the backend ``partA.backend`` (``num_hiddens``: the mnist backend's UNet width,
    train.class_cond.num_hiddens), named by the key that multiplies it most; [] where the sections are not there
    (the stage's own checks say so)."""
    backend_name = partA.get("backend") if isinstance(partA, dict) else None
    try:
        section = partA["experiments"][name][backend_name]
        backend = partA["backends"][backend_name]
    except (KeyError, TypeError):
        return []
    if not isinstance(section, dict) or not isinstance(backend, dict):
        return []
    prefix = f"partA.experiments.{name}.{backend_name}"
    factors = [(k, section[k], _count(section[k])) for k in COUNT_KEYS if k in section]
    factors += [(k, section[k], _entries(section[k])) for k in LIST_KEYS if k in section]
    images = 1
    for *_, n in factors:
        images *= n
    key, value, _ = max(factors, key=lambda f: f[2], default=("num_samples", 1, 1))
    calls = 2 * images * _steps(section, backend)  # two: classifier-free guidance's batched pair
    if backend_name == "deepfloyd":
        working, seconds = 2 * images * DEEPFLOYD_ACTIVATION_BYTES, calls * DEEPFLOYD_SECONDS_PER_CALL
    else:
        working, seconds = activation_bytes(num_hiddens, 2 * images), calls * seconds_per_call(num_hiddens, device)
    return [Term(f"{prefix}.{key}", value, held_bytes=images * HELD_BYTES, working_bytes=working, seconds=seconds)]
