"""The params section ``sample.<model>`` of a Part B DDPM, checked once by the one validation layer (fundiff.params)
into :class:`DdpmSampleParams`: the two :class:`~fundiff.partB.sampling.SamplerSettings` the stage samples with (the
full Algorithm-2 sampler and the fast one) and the counts of what it draws. The stage, the guidance sweep and every
bench script take their sampler settings from here; nothing else turns params into sampler keywords."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fundiff.budget import HELD_BYTES, Term, activation_bytes, seconds_per_call
from fundiff.diffusion.diffusers_schedulers import FAST_SAMPLERS
from fundiff.diffusion.reverse import VARIANCES
from fundiff.errors import FundiffError
from fundiff.params import RENAMED, ParamSection
from fundiff.partB.models import MODELS as ALL_MODELS
from fundiff.partB.sampling import ALGORITHM2, EULER, SamplerSettings

NPZ_SAMPLERS = ("full", "fast")
MODELS = tuple(name for name, m in ALL_MODELS.items() if m.objective in ("ddpm", "flow"))  # the sampled ones
COMMON_KEYS = (
    "variance",
    "clip_x0",
    "fast_num_steps",
    "fast_variance",
    "fast_sampler",
    "metric_samples",
    "gif_samples",
    "gif_every",
    "batch_size",
    "channels_last",
    "fold_batchnorm",
    "npz_sampler",
)
TIME_KEYS = COMMON_KEYS + ("grid_samples", "npz_samples", "autoguide_epoch", "autoguide_weight")
CLASS_KEYS = COMMON_KEYS + (
    "guidance_scale",
    "guidance_interval",
    "grid_samples_per_digit",
    "samples_per_digit",
    "guidance_sweep",
    "sweep_samples_per_digit",
)
# A flow model's section: Euler at num_ts steps (the course's sampler, "full") and at fast_num_ts ("fast"); no
# variance, x̂0 clipping or diffusers sampler (an ODE has none), no autoguidance.
FLOW_SAMPLER_KEYS = ("num_ts", "fast_num_ts")
_DDPM_ONLY = (
    "variance",
    "clip_x0",
    "fast_num_steps",
    "fast_variance",
    "fast_sampler",
    "autoguide_epoch",
    "autoguide_weight",
)
FLOW_TIME_KEYS = tuple(k for k in TIME_KEYS if k not in _DDPM_ONLY) + FLOW_SAMPLER_KEYS
FLOW_CLASS_KEYS = tuple(k for k in CLASS_KEYS if k not in _DDPM_ONLY) + FLOW_SAMPLER_KEYS
RENAMED[("sample.time_cond", "samples_per_grid")] = "grid_samples"


@dataclass(frozen=True)
class DdpmSampleParams:
    """What ``sample@<model>`` draws, and how (a DDPM's or a flow model's: ``objective``)."""

    kind: str
    full: SamplerSettings  # Algorithm 2, every timestep; keeps gif_samples frames every gif_every steps
    fast: SamplerSettings  # the fast sampler at fast_num_steps; keeps gif_samples frames every step
    values: dict[str, Any]  # the checked section, as the report's manifest echoes it
    fold_batchnorm: bool
    metric_samples: int  # samples of each sampler that accuracy and FID read (at least)
    npz_sampler: str  # which sampler's samples fill samples.npz: "full" | "fast"
    bulk_samples: int  # samples.npz's size
    grid_samples: int  # samples in each per-snapshot grid
    autoguide_epoch: int | None = None  # time_cond: the snapshot that autoguides the final model
    samples_per_digit: int = 0  # class_cond: samples.npz holds this many of every digit
    guidance_sweep: tuple[float, ...] = ()  # class_cond: every γ of the guidance sweep
    sweep_samples_per_digit: int = 0
    objective: str = "ddpm"  # ddpm | flow

    @property
    def conditional(self) -> bool:
        return ALL_MODELS[self.kind].architecture == "class_cond"

    @property
    def flow(self) -> bool:
        return self.objective == "flow"

    def for_checkpoint(self, num_timesteps: int) -> None:
        """The checks that need the checkpoint: its T bounds the fast sampler's steps (a DDPM's)."""
        if self.flow:
            return
        steps = self.fast.num_steps
        if steps > num_timesteps:
            raise FundiffError(
                f"sample.{self.kind}.fast_num_steps={steps} must be <= {num_timesteps}, the checkpoint's number of "
                f"training timesteps (train.{self.kind}.num_timesteps)"
            )

    def for_objective(self, trained: str, source: str) -> None:
        """The section must be written for the objective the model is (to be) trained with; ``source`` says where
        that objective comes from (the checkpoint's record, or train.<model>.objective)."""
        if trained == self.objective:
            return
        keys = "num_ts and fast_num_ts" if trained == "flow" else "fast_num_steps, variance, ... (no num_ts)"
        raise FundiffError(
            f"{source}, but sample.{self.kind} is written for a {self.objective} model; give it a {trained} model's "
            f"keys ({keys}; conf/config.yaml shows both)"
        )

    def costs(self, num_hiddens: int, num_timesteps: int | None, device: str = "cpu") -> list[Term]:
        """What the stage costs (fundiff.budget), each part named by its key: the bulk and metric samples it keeps and
        draws, the batch inside one network call, the per-snapshot grids and the guidance sweep. ``num_timesteps``:
        a DDPM's T (None for a flow model, whose samplers take num_ts and fast_num_ts steps)."""
        key, per_call = f"sample.{self.kind}", seconds_per_call(num_hiddens, device)
        calls = 2 if self.conditional or self.autoguide_epoch is not None else 1  # CFG / autoguidance: two per step
        full_steps = self.full.num_steps or num_timesteps or 1  # Algorithm 2: T; Euler: num_ts
        steps = {"full": full_steps, "fast": self.fast.num_steps or full_steps}
        bulk = ("samples_per_digit", self.samples_per_digit) if self.conditional else ("npz_samples", self.bulk_samples)
        other = "fast" if self.npz_sampler == "full" else "full"
        sweep = len(self.guidance_sweep) * 10 * self.sweep_samples_per_digit
        grid = (
            ("grid_samples_per_digit", self.grid_samples // 10)
            if self.conditional
            else ("grid_samples", self.grid_samples)
        )
        return [
            Term(f"{key}.{bulk[0]}", bulk[1], self.drawn(self.npz_sampler) * HELD_BYTES,
                 seconds=self.drawn(self.npz_sampler) * steps[self.npz_sampler] * calls * per_call),
            Term(f"{key}.metric_samples", self.metric_samples, self.drawn(other) * HELD_BYTES,
                 seconds=self.drawn(other) * steps[other] * calls * per_call),
            Term(f"{key}.batch_size", self.full.batch_size, working_bytes=activation_bytes(num_hiddens, self.full.batch_size * calls)),
            Term(f"{key}.sweep_samples_per_digit", self.sweep_samples_per_digit, sweep * HELD_BYTES,
                 seconds=sweep * steps["fast"] * calls * per_call),
            Term(f"{key}.{grid[0]}", grid[1], self.grid_samples * HELD_BYTES,
                 seconds=2 * self.grid_samples * full_steps * calls * per_call),
        ]  # fmt: skip

    def drawn(self, sampler: str) -> int:
        """How many samples the ``full`` or ``fast`` sampler draws: samples.npz's bulk for the npz sampler."""
        return max(self.metric_samples, self.bulk_samples) if sampler == self.npz_sampler else self.metric_samples

    def sweep_settings(self, guidance_scale: float) -> SamplerSettings:
        """The fast sampler at one γ of the guidance sweep, without frames."""
        return self.fast.replace(guidance_scale=guidance_scale, frame_count=0)

    def grid_settings(self) -> SamplerSettings:
        """Algorithm 2 for the per-snapshot grids, without frames."""
        return self.full.replace(frame_count=0)


def _guidance(s: ParamSection, conditional: bool, flow: bool) -> dict[str, Any]:
    """The guidance keys, read as numbers; their ranges are SamplerSettings' to check (once, for every caller)."""
    if not conditional:
        return {} if flow else dict(autoguide_weight=s.number("autoguide_weight", default=1.0))
    return dict(
        guidance_scale=s.number("guidance_scale"),
        guidance_interval=s.numbers("guidance_interval", 0.0, default=[0.0, 1.0]),
    )


def _settings(kind: str, **fields: Any) -> SamplerSettings:
    """SamplerSettings whose one-line error names the params key (``sample.<kind>.<key>=...``)."""
    try:
        return SamplerSettings(**fields)
    except FundiffError as error:
        raise FundiffError(f"sample.{kind}.{error}") from None


def _samplers(s: ParamSection, flow: bool) -> dict[str, Any]:
    if flow:
        return dict(
            num_ts=s.integer("num_ts", 1, hint=" (Euler steps from noise to digit; the course's students: 300)"),
            fast_num_ts=s.integer("fast_num_ts", 1, hint=" (the fewer-step Euler sampler beside it)"),
        )
    return dict(
        variance=s.choice("variance", VARIANCES),
        clip_x0=s.boolean("clip_x0", default=False),
        fast_num_steps=s.integer("fast_num_steps", 1, hint=" (and at most the checkpoint's T)"),
        fast_variance=s.choice("fast_variance", VARIANCES),
        fast_sampler=s.choice("fast_sampler", FAST_SAMPLERS, default="course"),
    )


def _common(s: ParamSection, flow: bool) -> dict[str, Any]:
    return dict(
        **_samplers(s, flow),
        metric_samples=s.integer("metric_samples", 10),
        gif_samples=s.integer("gif_samples", 1, 100),
        gif_every=s.integer("gif_every", 1),
        batch_size=s.integer("batch_size", 1),
        channels_last=s.boolean("channels_last", default=True),
        fold_batchnorm=s.boolean("fold_batchnorm", default=True),
        npz_sampler=s.choice("npz_sampler", NPZ_SAMPLERS),
    )


def _counts(s: ParamSection, conditional: bool, flow: bool, metric_samples: int) -> dict[str, Any]:
    if not conditional:
        counts = dict(grid_samples=s.integer("grid_samples", 1), npz_samples=s.integer("npz_samples", 10))
        if not flow:
            counts["autoguide_epoch"] = s.optional_integer("autoguide_epoch", 1, default=None)
        return counts
    counts = dict(
        grid_samples_per_digit=s.integer("grid_samples_per_digit", 1),
        samples_per_digit=s.integer("samples_per_digit", 1),
        guidance_sweep=s.numbers("guidance_sweep", 0.0, default=[], allow_empty=True),
        sweep_samples_per_digit=s.integer("sweep_samples_per_digit", 1, default=10),
    )
    if metric_samples % 10:
        raise FundiffError(
            f"{s.prefix}.metric_samples={metric_samples} must be a multiple of 10 "
            "(the same number of samples of every digit)"
        )
    return counts


def _sampler_pair(kind: str, common: dict[str, Any], shared: dict[str, Any], flow: bool):
    """The full sampler (Algorithm 2 | Euler at num_ts; frames every gif_every steps) and the fast one (the fast
    sampler at fast_num_steps | Euler at fast_num_ts; frames every step)."""
    if flow:
        full = _settings(kind, sampler=EULER, num_steps=common["num_ts"], frame_every=common["gif_every"], **shared)
        return full, _settings(kind, sampler=EULER, num_steps=common["fast_num_ts"], **shared)
    shared = dict(shared, clip_x0=common["clip_x0"])
    full = _settings(kind, sampler=ALGORITHM2, variance=common["variance"], frame_every=common["gif_every"], **shared)
    fast = _settings(
        kind, sampler=common["fast_sampler"], num_steps=common["fast_num_steps"], variance=common["fast_variance"],
        **shared,
    )  # fmt: skip
    return full, fast


def section_objective(raw: Any, kind: str) -> str:
    """Which model ``sample.<kind>`` is written for: a flow model's when it sets ``num_ts``, else the model's own
    objective (fundiff.partB.models). The stage checks it against the checkpoint after the params."""
    if isinstance(raw, dict) and "num_ts" in raw:
        return "flow"
    return ALL_MODELS[kind].objective if kind in ALL_MODELS else "ddpm"


def section_keys(kind: str, objective: str) -> tuple[str, ...]:
    """The keys ``sample.<kind>`` may hold for a model of ``objective`` (ddpm | flow)."""
    conditional = ALL_MODELS[kind].architecture == "class_cond"
    if objective == "flow":
        return FLOW_CLASS_KEYS if conditional else FLOW_TIME_KEYS
    return CLASS_KEYS if conditional else TIME_KEYS


def sample_params(raw: Any, kind: str, objective: str = "ddpm") -> DdpmSampleParams:
    """The section ``sample.<kind>`` (``raw``) of a model trained with ``objective`` (ddpm | flow, what its
    train_config.json records), every key checked; a DDPM's fast sampler steps are checked against the checkpoint's
    T by :meth:`DdpmSampleParams.for_checkpoint`."""
    if kind not in MODELS:
        raise FundiffError(f"sample.{kind} is not a sampled model's section; use one of {', '.join(MODELS)}")
    flow, conditional = objective == "flow", ALL_MODELS[kind].architecture == "class_cond"
    s = ParamSection(raw, f"sample.{kind}", section_keys(kind, objective))
    common, guidance = _common(s, flow), _guidance(s, conditional, flow)
    counts = _counts(s, conditional, flow, common["metric_samples"])
    shared = dict(
        batch_size=common["batch_size"],
        channels_last=common["channels_last"],
        frame_count=common["gif_samples"],
        **{k: (tuple(v) if k == "guidance_interval" else v) for k, v in guidance.items()},
    )
    full, fast = _sampler_pair(kind, common, shared, flow)
    return DdpmSampleParams(
        kind=kind,
        full=full,
        fast=fast,
        values={**common, **guidance, **counts},
        fold_batchnorm=common["fold_batchnorm"],
        metric_samples=common["metric_samples"],
        npz_sampler=common["npz_sampler"],
        bulk_samples=10 * counts["samples_per_digit"] if conditional else counts["npz_samples"],
        grid_samples=10 * counts["grid_samples_per_digit"] if conditional else counts["grid_samples"],
        autoguide_epoch=counts.get("autoguide_epoch"),
        samples_per_digit=counts.get("samples_per_digit", 0),
        guidance_sweep=tuple(counts.get("guidance_sweep", ())),
        sweep_samples_per_digit=counts.get("sweep_samples_per_digit", 0),
        objective=objective,
    )
