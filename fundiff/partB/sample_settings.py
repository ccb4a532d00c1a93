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
from fundiff.partB.sampling import ALGORITHM2, SamplerSettings

NPZ_SAMPLERS = ("full", "fast")
MODELS = ("time_cond", "class_cond")
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
RENAMED[("sample.time_cond", "samples_per_grid")] = "grid_samples"


@dataclass(frozen=True)
class DdpmSampleParams:
    """What ``sample@<model>`` draws, and how."""

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

    @property
    def conditional(self) -> bool:
        return self.kind == "class_cond"

    def for_checkpoint(self, num_timesteps: int) -> None:
        """The checks that need the checkpoint: its T bounds the fast sampler's steps."""
        steps = self.fast.num_steps
        if steps > num_timesteps:
            raise FundiffError(
                f"sample.{self.kind}.fast_num_steps={steps} must be <= {num_timesteps}, the checkpoint's number of "
                f"training timesteps (train.{self.kind}.num_timesteps)"
            )

    def costs(self, num_hiddens: int, num_timesteps: int, device: str = "cpu") -> list[Term]:
        """What the stage costs (fundiff.budget), each part named by its key: the bulk and metric samples it keeps and
        draws, the batch inside one network call, the per-snapshot grids and the guidance sweep."""
        key, per_call = f"sample.{self.kind}", seconds_per_call(num_hiddens, device)
        calls = 2 if self.conditional or self.autoguide_epoch is not None else 1  # CFG / autoguidance: two per step
        steps = {"full": num_timesteps, "fast": self.fast.num_steps or num_timesteps}
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
                 seconds=2 * self.grid_samples * num_timesteps * calls * per_call),
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


def _guidance(s: ParamSection, kind: str) -> dict[str, Any]:
    """The guidance keys, read as numbers; their ranges are SamplerSettings' to check (once, for every caller)."""
    if kind != "class_cond":
        return dict(autoguide_weight=s.number("autoguide_weight", default=1.0))
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


def _common(s: ParamSection) -> dict[str, Any]:
    return dict(
        variance=s.choice("variance", VARIANCES),
        clip_x0=s.boolean("clip_x0", default=False),
        fast_num_steps=s.integer("fast_num_steps", 1, hint=" (and at most the checkpoint's T)"),
        fast_variance=s.choice("fast_variance", VARIANCES),
        fast_sampler=s.choice("fast_sampler", FAST_SAMPLERS, default="course"),
        metric_samples=s.integer("metric_samples", 10),
        gif_samples=s.integer("gif_samples", 1, 100),
        gif_every=s.integer("gif_every", 1),
        batch_size=s.integer("batch_size", 1),
        channels_last=s.boolean("channels_last", default=True),
        fold_batchnorm=s.boolean("fold_batchnorm", default=True),
        npz_sampler=s.choice("npz_sampler", NPZ_SAMPLERS),
    )


def _counts(s: ParamSection, kind: str, metric_samples: int) -> dict[str, Any]:
    if kind != "class_cond":
        return dict(
            grid_samples=s.integer("grid_samples", 1),
            npz_samples=s.integer("npz_samples", 10),
            autoguide_epoch=s.optional_integer("autoguide_epoch", 1, default=None),
        )
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


def sample_params(raw: Any, kind: str) -> DdpmSampleParams:
    """The section ``sample.<kind>`` (``raw``), every key checked; the fast sampler's steps are checked against the
    checkpoint's T by :meth:`DdpmSampleParams.for_checkpoint`."""
    if kind not in MODELS:
        raise FundiffError(f"sample.{kind} is not a DDPM's section; use one of {', '.join(MODELS)}")
    s = ParamSection(raw, f"sample.{kind}", CLASS_KEYS if kind == "class_cond" else TIME_KEYS)
    common, guidance = _common(s), _guidance(s, kind)
    counts = _counts(s, kind, common["metric_samples"])
    shared = dict(
        clip_x0=common["clip_x0"],
        batch_size=common["batch_size"],
        channels_last=common["channels_last"],
        frame_count=common["gif_samples"],
        **{k: (tuple(v) if k == "guidance_interval" else v) for k, v in guidance.items()},
    )
    full = _settings(kind, sampler=ALGORITHM2, variance=common["variance"], frame_every=common["gif_every"], **shared)
    fast = _settings(
        kind,
        sampler=common["fast_sampler"],
        num_steps=common["fast_num_steps"],
        variance=common["fast_variance"],
        **shared,
    )
    conditional = kind == "class_cond"
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
    )
