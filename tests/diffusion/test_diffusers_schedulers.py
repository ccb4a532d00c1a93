"""diffusers' schedulers beside the course's samplers: the saved DDPMScheduler is our schedule, and DDIM / DPM-Solver++
run through THE reverse loop give exactly what a plain diffusers loop gives."""

import json

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

from fundiff.diffusion.diffusers_schedulers import (
    SCHEDULER_DIR,
    DiffusersSampler,
    ddpm_scheduler_config,
    load_scheduler_config,
    save_ddpm_scheduler,
)
from fundiff.diffusion.noise_schedule import alphas_cumprod_from_betas, linear_betas
from fundiff.errors import FundiffError
from fundiff.partB.sampling import SamplerSettings, run_sampler

T, B0, B1 = 50, 1e-4, 0.02
ACP = alphas_cumprod_from_betas(linear_betas(T, B0, B1))
SHAPE = (1, 6, 6)
pytestmark = pytest.mark.usefixtures("one_thread")


def fake_eps(x, t):
    return torch.tanh(0.7 * x + 0.01 * t) * 0.9


class FakeNet:
    conditional = False

    def predict(self, x, t, cond):
        return fake_eps(x, t), None


def ddpm_scheduler(num_timesteps, beta_start, beta_end):
    """diffusers' own DDPMScheduler of a linear schedule: the independent reference of what we write."""
    return DDPMScheduler(
        num_train_timesteps=num_timesteps,
        beta_start=beta_start,
        beta_end=beta_end,
        beta_schedule="linear",
        variance_type="fixed_large",
        clip_sample=False,
        prediction_type="epsilon",
    )


@pytest.fixture
def saved(tmp_path):
    save_ddpm_scheduler(tmp_path / SCHEDULER_DIR, T, B0, B1)
    return tmp_path


@pytest.mark.parametrize("schedule", [(T, B0, B1), (300, 1e-4, 0.02), (1000, 8.5e-4, 0.012)])
def test_our_scheduler_file_is_byte_for_byte_what_diffusers_writes(tmp_path, schedule):
    save_ddpm_scheduler(tmp_path / "ours", *schedule)
    ddpm_scheduler(*schedule).save_pretrained(tmp_path / "theirs")
    name = "scheduler_config.json"
    assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "theirs" / name).read_bytes()
    assert ddpm_scheduler_config(*schedule) == {
        k: v for k, v in ddpm_scheduler(*schedule).config.items() if not k.startswith("_")
    }


def test_saved_scheduler_is_our_schedule_and_loads_with_diffusers_alone(saved):
    scheduler = DDPMScheduler.from_pretrained(str(saved / SCHEDULER_DIR))
    assert torch.equal(scheduler.alphas_cumprod.float(), ACP)
    config = load_scheduler_config(saved, ACP, fix="retrain")
    assert config["num_train_timesteps"] == T and config["prediction_type"] == "epsilon"
    assert config["clip_sample"] is False


def test_a_scheduler_of_another_schedule_is_refused(saved):
    other = alphas_cumprod_from_betas(linear_betas(T, B0, 0.03))
    with pytest.raises(FundiffError, match="does not match the schedule.*retrain"):
        load_scheduler_config(saved, other, fix="retrain")


@pytest.mark.parametrize(
    "content",
    [
        None,
        "{not json",
        json.dumps({"_class_name": "DDPMScheduler", "beta_start": "x"}),
        json.dumps({**ddpm_scheduler_config(T, B0, B1), "_class_name": "DDIMScheduler"}),
        json.dumps({**ddpm_scheduler_config(T, B0, B1), "_class_name": "DDPMScheduler", "beta_schedule": "cosine"}),
        json.dumps([1, 2]),
    ],
)
def test_a_missing_or_broken_scheduler_config_is_one_clear_error(tmp_path, content):
    if content is not None:
        (tmp_path / SCHEDULER_DIR).mkdir()
        (tmp_path / SCHEDULER_DIR / "scheduler_config.json").write_text(content)
    with pytest.raises(FundiffError, match="scheduler_config.json is (missing|unreadable).*retrain"):
        load_scheduler_config(tmp_path, ACP, fix="retrain")


def plain_diffusers(cls, overrides, steps, x):
    scheduler = cls.from_config(ddpm_scheduler(T, B0, B1).config, **overrides)
    scheduler.set_timesteps(steps)
    for t in scheduler.timesteps:
        x = scheduler.step(fake_eps(x, int(t)), t, x).prev_sample
    return x


@pytest.mark.parametrize("steps", [1, 5, 7, T])
@pytest.mark.parametrize(
    "name, cls, overrides",
    [
        ("ddim", DDIMScheduler, dict(timestep_spacing="trailing", clip_sample=False)),
        ("dpm_solver", DPMSolverMultistepScheduler, dict(timestep_spacing="trailing")),
    ],
)
def test_fast_samplers_match_a_plain_diffusers_loop(name, cls, overrides, steps):
    sampler = DiffusersSampler(name, dict(ddpm_scheduler(T, B0, B1).config), steps)
    timesteps = sampler.timesteps()
    assert timesteps[0] == T - 1 and len(timesteps) == steps  # trailing: starts from pure noise
    x_T = torch.randn((4, *SHAPE), generator=torch.Generator().manual_seed(0))
    ours = run_sampler(
        FakeNet(), ACP, timesteps, 4, torch.Generator(), SamplerSettings(batch_size=2), shape=SHAPE, x_start=x_T,
        clamp=False, scheduler=sampler, progress=False,
    )  # fmt: skip
    reference = torch.cat(
        [plain_diffusers(cls, overrides, steps, x_T[:2]), plain_diffusers(cls, overrides, steps, x_T[2:])]
    )
    torch.testing.assert_close(ours.images, reference, rtol=0, atol=1e-5)
    assert ours.unet_calls == 2 * steps


def test_a_scheduler_needs_its_own_timesteps():
    sampler = DiffusersSampler("ddim", dict(ddpm_scheduler(T, B0, B1).config), 5)
    with pytest.raises(FundiffError, match="not those of the ddim scheduler"):
        run_sampler(FakeNet(), ACP, [49, 30, 10, 5, 0], 2, torch.Generator(), shape=SHAPE, scheduler=sampler)


def test_unknown_sampler_and_step_count_are_refused():
    config = dict(ddpm_scheduler(T, B0, B1).config)
    with pytest.raises(FundiffError, match="unknown diffusers sampler 'euler'"):
        DiffusersSampler("euler", config, 5)
    with pytest.raises(FundiffError, match="num_steps=51 must be in 1..T=50"):
        DiffusersSampler("ddim", config, 51)
