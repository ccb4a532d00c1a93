"""sample.<model> read once into DdpmSampleParams: the two samplers' settings, the counts, the checks."""

import pytest
import yaml

from fundiff.errors import FundiffError
from fundiff.params import ParamSection
from fundiff.partB.sample_settings import sample_params
from fundiff.partB.sampling import ALGORITHM2, SamplerSettings

PARAMS = yaml.safe_load(open("params.yaml"))


def section(kind, **changes):
    return {**PARAMS["sample"][kind], **changes}


def test_class_cond_settings_carry_the_params_guidance_to_both_samplers():
    raw = section("class_cond")
    p = sample_params(raw, "class_cond")
    assert p.full == SamplerSettings(
        ALGORITHM2,
        None,
        raw["variance"],
        raw["clip_x0"],
        raw["guidance_scale"],
        tuple(raw["guidance_interval"]),
        batch_size=raw["batch_size"],
        channels_last=raw["channels_last"],
        frame_count=raw["gif_samples"],
        frame_every=raw["gif_every"],
    )
    assert p.fast.sampler == raw["fast_sampler"] and p.fast.num_steps == raw["fast_num_steps"]
    assert p.fast.variance == raw["fast_variance"] and p.fast.frame_every == 1
    assert p.fast.guidance_interval == p.full.guidance_interval and p.fast.guidance_scale == raw["guidance_scale"]
    assert p.sweep_settings(0.0).guidance_scale == 0.0 and p.sweep_settings(0.0).frame_count == 0
    assert p.grid_settings() == p.full.replace(frame_count=0)
    assert p.bulk_samples == 10 * raw["samples_per_digit"] and p.grid_samples == 10 * raw["grid_samples_per_digit"]
    assert p.drawn(p.npz_sampler) == max(p.metric_samples, p.bulk_samples)
    assert set(p.values) == set(raw)  # the manifest echoes every key, checked


def test_time_cond_settings_carry_autoguidance():
    raw = section("time_cond", autoguide_weight=2.5)
    p = sample_params(raw, "time_cond")
    assert p.full.autoguide_weight == p.fast.autoguide_weight == 2.5 and p.full.guidance_scale == 1.0
    assert p.autoguide_epoch == raw["autoguide_epoch"] and p.grid_samples == raw["grid_samples"]


def test_the_fast_samplers_steps_are_checked_against_the_checkpoints_T():
    p = sample_params(section("class_cond", fast_num_steps=301), "class_cond")
    with pytest.raises(FundiffError, match=r"fast_num_steps=301 must be <= 300, the checkpoint's number of training"):
        p.for_checkpoint(300)
    p.for_checkpoint(1000)


def test_a_renamed_key_names_its_new_name():
    raw = section("time_cond", samples_per_grid=40)
    del raw["grid_samples"]
    with pytest.raises(
        FundiffError, match=r"sample\.time_cond\.samples_per_grid is not a known key: it was renamed to "
    ):
        sample_params(raw, "time_cond")
    with pytest.raises(FundiffError, match=r"x\.b is not a known key; known keys: a$"):
        ParamSection({"a": 1, "b": 2}, "x", ("a",))


@pytest.mark.parametrize(
    "kind, changes, message",
    [
        ("class_cond", dict(metric_samples=15), r"metric_samples=15 must be a multiple of 10"),
        ("class_cond", dict(guidance_interval=[0.2]), r"guidance_interval=\[0\.2\] must be \[lo, hi\]"),
        ("time_cond", dict(fast_num_steps=0), r"fast_num_steps=0 must be >= 1 \(and at most the checkpoint's T\)"),
        ("time_cond", dict(fast_sampler="euler"), r"fast_sampler='euler' is unknown"),
    ],
)
def test_bad_values_are_one_line_errors(kind, changes, message):
    with pytest.raises(FundiffError, match=message):
        sample_params(section(kind, **changes), kind)


def test_flow_sections_give_euler_at_num_ts_and_fast_num_ts():
    from fundiff.partB.sample_settings import section_objective
    from fundiff.partB.sampling import EULER

    raw = section("flow_class_cond")
    assert (
        section_objective(raw, "flow_class_cond") == "flow" and section_objective(section("class_cond"), "x") == "ddpm"
    )
    p = sample_params(raw, "flow_class_cond", "flow")
    assert p.flow and p.conditional and (p.full.sampler, p.fast.sampler) == (EULER, EULER)
    assert (p.full.num_steps, p.fast.num_steps) == (raw["num_ts"], raw["fast_num_ts"])
    assert p.full.guidance_scale == raw["guidance_scale"] and p.full.guidance_interval == (0.0, 1.0)
    assert p.full.frame_every == raw["gif_every"] and set(p.values) == set(raw)
    p.for_checkpoint(1)  # a flow model has no T to exceed
    t = sample_params(section("flow_time_cond"), "flow_time_cond", "flow")
    assert (
        not t.conditional
        and t.autoguide_epoch is None
        and t.bulk_samples == PARAMS["sample"]["flow_time_cond"]["npz_samples"]
    )
    with pytest.raises(FundiffError, match="sample.flow_time_cond has an unknown key 'variance'|variance"):
        sample_params(section("flow_time_cond", variance="beta"), "flow_time_cond", "flow")
    with pytest.raises(FundiffError, match=r"sample.flow_time_cond.num_ts=0 must be >= 1"):
        sample_params(section("flow_time_cond", num_ts=0), "flow_time_cond", "flow")
