"""Flow matching against diffusers and against the course's text: the Euler step is FlowMatchEulerDiscreteScheduler's,
the saved scheduler config is its save_pretrained's, the UNets modulate as SPEC writes it, the objective is B.1's and
the sampler is B.2 / B.4 (CFG on the velocity) through THE reverse loop."""

import json

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from fundiff.diffusion.flow import (
    EulerFlow,
    euler_sigmas,
    flow_scheduler_config,
    flow_time,
    interpolate,
    save_flow_scheduler,
    velocity_target,
)
from fundiff.diffusion.guidance import eps_fn_for
from fundiff.diffusion.reverse import reverse_process
from fundiff.nets.eps_predictor import FlowVelocityPredictor
from fundiff.nets.unets import ClassConditionalUNet, MultiplicativeTimeUNet, TimeConditionalUNet, one_hot
from fundiff.partB.config import TrainConfig, train_record
from fundiff.partB.objectives import loss_on_batch
from fundiff.partB.sample_result import balanced_labels
from fundiff.partB.sampling import SamplerSettings, sample

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(cls, seed=0):
    torch.manual_seed(seed)
    model = cls(num_hiddens=4).eval()
    for m in model.modules():  # non-trivial BatchNorm statistics, so eval mode matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model


@pytest.mark.parametrize("num_ts", [1, 7, 50])
def test_euler_equals_diffusers_flow_match_euler(num_ts):
    """Our step x + (t' − t)·u against diffusers' x + (σ' − σ)·v with σ = 1 − t and v = −u, over a whole trajectory
    with the same velocity at every step."""
    scheduler = FlowMatchEulerDiscreteScheduler.from_config(flow_scheduler_config())
    scheduler.set_timesteps(sigmas=euler_sigmas(num_ts))
    assert torch.allclose(scheduler.sigmas, torch.tensor([*euler_sigmas(num_ts), 0.0]), atol=1e-7)
    flow = EulerFlow(num_ts)
    step = flow.step_fn()
    g = torch.Generator().manual_seed(1)
    ours = theirs = torch.randn(3, 1, 6, 6, generator=g)
    loop = flow.timesteps() + [-1]
    for i, (k, t_diffusers) in enumerate(zip(loop[:-1], scheduler.timesteps)):
        u = torch.tanh(ours + flow_time(k, num_ts))  # any velocity field, evaluated where we are
        assert abs(float(scheduler.sigmas[i]) - (1 - flow_time(k, num_ts))) < 1e-6
        ours = step(ours, u, None, k, loop[i + 1], None)
        theirs = scheduler.step(-u, t_diffusers, theirs).prev_sample
        assert torch.allclose(ours, theirs, atol=1e-6), f"step {i}"
    assert scheduler.step_index == num_ts


def test_saved_scheduler_config_is_diffusers_own(tmp_path):
    save_flow_scheduler(tmp_path / "ours")
    FlowMatchEulerDiscreteScheduler().save_pretrained(tmp_path / "theirs")
    ours = (tmp_path / "ours" / "scheduler_config.json").read_text()
    assert ours == (tmp_path / "theirs" / "scheduler_config.json").read_text()
    loaded = FlowMatchEulerDiscreteScheduler.from_pretrained(tmp_path / "ours")
    assert json.loads(ours)["shift"] == loaded.config.shift == 1.0


def fc(block, v):
    """SPEC's FCBlock by hand: Linear, GELU, Linear, as a (N, C, 1, 1) channel vector."""
    lin1, lin2 = block[0], block[2]
    h = torch.nn.functional.gelu(v @ lin1.weight.T + lin1.bias)
    return (h @ lin2.weight.T + lin2.bias)[:, :, None, None]


def by_hand(model, x, bottleneck, up1):
    """The UNet with SPEC's modulation written out: unflatten ← bottleneck(unflatten), up1 ← up1_fn(up1)."""
    b = model.body
    e1 = b.conv_in(x)
    e2 = b.down1(e1)
    e3 = b.down2(e2)
    u = bottleneck(b.unflatten(b.flatten(e3)))
    u1 = up1(b.up1(torch.cat([u, e3], 1)))
    u2 = b.up2(torch.cat([u1, e2], 1))
    return b.conv_out(b.conv_mid(torch.cat([u2, e1], 1)))


def test_flow_unets_modulate_as_spec_writes():
    x, t = torch.randn(3, 1, 28, 28), torch.rand(3, 1)
    mult = tiny(MultiplicativeTimeUNet)
    expected = by_hand(mult, x, lambda h: h * fc(mult.t1, t), lambda h: h * fc(mult.t2, t))  # unflatten·t1, up1·t2
    assert torch.allclose(mult(x, t), expected, atol=1e-5)
    add = tiny(TimeConditionalUNet)  # the DDPM edition's, same weights: adds instead
    add.load_state_dict(mult.state_dict())
    assert torch.allclose(add(x, t), by_hand(mult, x, lambda h: h + fc(mult.t1, t), lambda h: h + fc(mult.t2, t)))
    assert not torch.allclose(add(x, t), mult(x, t))
    cls = tiny(ClassConditionalUNet)
    c = one_hot(torch.tensor([0, 4, 9]))
    expected = by_hand(
        cls, x, lambda h: fc(cls.c1, c) * h + fc(cls.t1, t), lambda h: fc(cls.c2, c) * h + fc(cls.t2, t)
    )  # c1(c)·unflatten + t1(t), c2(c)·up1 + t2(t)
    assert torch.allclose(cls(x, t, c), expected, atol=1e-5)


def test_flow_objective_is_algorithm_b1():
    """x_t = (1 − t)·x_0 + t·x_1 with x_0 the noise, target x_1 − x_0, t ~ U[0, 1] per sample, L2."""
    model = tiny(MultiplicativeTimeUNet)
    config = TrainConfig(kind="flow_time_cond", num_hiddens=4, epochs=1, batch_size=4, lr=1e-3)
    assert (config.objective, config.modulation, config.architecture) == ("flow", "multiply", "time_cond")
    x1 = torch.rand(4, 1, 28, 28)
    loss = loss_on_batch(model, config, x1, torch.zeros(4), torch.Generator().manual_seed(3), torch.ones(2))
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(x1.shape, generator=g)
    t = torch.rand(4, generator=g)
    x_t = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * x1
    assert torch.equal(x_t, interpolate(x0, x1, t)) and torch.equal(x1 - x0, velocity_target(x0, x1))
    assert torch.allclose(loss, ((model(x_t, t[:, None]) - (x1 - x0)) ** 2).mean())


def test_pure_noise_objective_maps_noise_to_the_digit():
    model = tiny(__import__("fundiff.nets.unets", fromlist=["UnconditionalUNet"]).UnconditionalUNet)
    config = TrainConfig(kind="pure_noise", num_hiddens=4, epochs=1, batch_size=4, lr=1e-3)
    x1 = torch.rand(4, 1, 28, 28)
    loss = loss_on_batch(model, config, x1, torch.zeros(4), torch.Generator().manual_seed(5), torch.ones(2))
    z = torch.randn(x1.shape, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(loss, ((model(z) - x1) ** 2).mean())


def test_euler_cfg_sampler_is_algorithms_b2_and_b4():
    """sample() with the Euler sampler equals the course's loop written out: x ← x + (1/T)·u, u guided with γ."""
    model, num_ts, gamma = tiny(ClassConditionalUNet), 6, 5.0
    labels = balanced_labels(4)
    settings = SamplerSettings("euler", num_ts, guidance_scale=gamma, batch_size=4)
    ours = sample(model, None, settings, 4, torch.Generator().manual_seed(7), labels=labels, progress=False)
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(7))
    c, null = one_hot(labels), torch.zeros(4, 10)
    with torch.no_grad():
        for i in range(num_ts):
            t = torch.full((4, 1), i / num_ts)
            u_c, u_0 = model(x, t, c), model(x, t, null)
            x = x + (1 / num_ts) * (u_0 + gamma * (u_c - u_0))
    assert torch.allclose(ours.images, x.clamp(0, 1), atol=1e-5)
    assert ours.unet_calls_per_image == num_ts and ours.timesteps == list(range(num_ts - 1, -1, -1))


def test_euler_draws_no_noise_and_matches_the_loop_directly():
    model = tiny(MultiplicativeTimeUNet)
    net = FlowVelocityPredictor(model, 4)
    x = torch.randn(2, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    out = reverse_process(x, [3, 2, 1, 0, -1], eps_fn_for(net, None), EulerFlow(4).step_fn(), g, draws_noise=False)
    assert torch.equal(g.get_state(), state)  # an ODE: nothing drawn
    with torch.no_grad():
        expected = x
        for i in range(4):
            expected = expected + 0.25 * model(expected, torch.full((2, 1), i / 4))
    assert torch.allclose(out, expected, atol=1e-5)


def test_flow_checkpoint_record_keeps_ddpm_bytes():
    """train_config.json names objective and modulation only where they are not the DDPM edition's."""
    ddpm = train_record(TrainConfig(kind="time_cond", num_hiddens=4, epochs=1, batch_size=4, lr=1e-3))
    flow = train_record(TrainConfig(kind="flow_time_cond", num_hiddens=4, epochs=1, batch_size=4, lr=1e-3))
    assert "objective" not in ddpm and "modulation" not in ddpm
    assert (flow["objective"], flow["modulation"]) == ("flow", "multiply")


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(objective="score"), "objective='score' is not one of the course's for a time_cond UNet"),
        (dict(modulation="concat"), "modulation='concat' is not one of the course's"),
        (dict(kind="flow_class_cond", modulation="multiply"), "use one of class_scale_time_shift"),
    ],
)
def test_bad_objective_or_modulation_is_one_line(changes, message):
    from fundiff.errors import FundiffError

    base = dict(kind="flow_time_cond", num_hiddens=4, epochs=1, batch_size=4, lr=1e-3)
    with pytest.raises(FundiffError, match=message):
        TrainConfig(**{**base, **changes}).validate("train.x")
