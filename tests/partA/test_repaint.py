"""RePaint's resampling (issue 15): the jump schedule, the step up in the one reverse loop, jump_n_sample = 1 being
today's inpainting bit for bit, and the seam metric."""

import numpy as np
import pytest
import torch
from diffusers import RePaintScheduler
from partA_helpers import inpaint_before_repaint
from test_algorithms import OracleDenoiser, ToyDenoiser

from fundiff.diffusion.forward_process import add_noise
from fundiff.diffusion.noise_schedule import repaint_timesteps, scaled_timesteps, strided_timesteps
from fundiff.diffusion.reverse import renoise, reverse_process
from fundiff.errors import FundiffError
from fundiff.partA import algorithms
from fundiff.partA.experiments.inpainting import boundary_error


def _setup(value_range, learned_variance, seed=0):
    den = ToyDenoiser(value_range, learned_variance=learned_variance)
    g = torch.Generator().manual_seed(seed)
    x0 = den.to_model(torch.rand(3, 1, 8, 8, generator=g))
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:6, :5] = 1
    return den, x0, mask, algorithms.cfg(den, den.encode("a"), 3.0)


# ---- jump_n_sample = 1 is today's inpainting ----------------------------------------------------------------------


@pytest.mark.parametrize("value_range, learned", [((0.0, 1.0), False), ((-1.0, 1.0), True)])
@pytest.mark.parametrize("final, i_start", [(False, 0), (True, 0), (False, 5)])
def test_inpainting_is_unchanged_bit_for_bit(value_range, learned, final, i_start):
    den, x0, mask, eps_fn = _setup(value_range, learned)
    ts = den.default_timesteps + ([-1] if final else [])
    expected = inpaint_before_repaint(den, x0, mask, ts, eps_fn, torch.Generator().manual_seed(7), i_start)
    out = algorithms.inpaint(den, x0, mask, ts, eps_fn, torch.Generator().manual_seed(7), i_start=i_start)
    assert torch.equal(out, expected)
    for jump_length in (1, 2, 10, 40):  # without resampling the jump length changes nothing
        g = torch.Generator().manual_seed(7)
        out = algorithms.inpaint(
            den, x0, mask, ts, eps_fn, g, i_start=i_start, jump_length=jump_length, jump_n_sample=1
        )
        assert torch.equal(out, expected)


def test_resampling_draws_more_and_changes_the_fill_not_the_known_part():
    den, x0, mask, eps_fn = _setup((0.0, 1.0), False)
    ts = den.default_timesteps + [-1]
    g1, g3 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    once = algorithms.inpaint(den, x0, mask, ts, eps_fn, g1)
    thrice = algorithms.inpaint(den, x0, mask, ts, eps_fn, g3, jump_length=2, jump_n_sample=3)
    assert not torch.equal(once, thrice) and not torch.equal(g1.get_state(), g3.get_state())
    assert torch.equal(thrice * (1 - mask), x0 * (1 - mask))  # the final step to -1 pastes the original exactly
    assert torch.isfinite(thrice).all()


def test_oracle_inpainting_with_resampling_still_recovers_x0():
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 1, 8, 8, generator=g)
    den = OracleDenoiser(x0)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4] = 1
    eps_fn = algorithms.conditional(den, den.encode("a"))
    out = algorithms.inpaint(den, x0, mask, den.default_timesteps + [-1], eps_fn, g, jump_length=3, jump_n_sample=4)
    torch.testing.assert_close(out, x0, atol=1e-4, rtol=0)


# ---- the schedule -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jump_length, jump_n_sample", [(1, 1), (1, 2), (2, 3), (5, 2), (10, 10), (33, 3), (40, 5)])
def test_repaint_schedule_shape(jump_length, jump_n_sample):
    ts = scaled_timesteps(300)  # 297, 288, ..., 9, 0: 34 timesteps
    schedule = repaint_timesteps(ts, jump_length, jump_n_sample)
    n_jump_levels = len(range(0, len(ts) - 1 - jump_length, jump_length))
    assert len(schedule) == len(ts) + (jump_n_sample - 1) * n_jump_levels * (jump_length + 1)
    assert schedule[0] == ts[0] == 297 and schedule[-1] == 0
    pos = [ts.index(t) for t in schedule]
    moves = np.diff(pos)
    assert set(moves) <= {1, -jump_length}  # down one strided step, or up jump_length of them
    assert (moves == -jump_length).sum() == (jump_n_sample - 1) * n_jump_levels
    if jump_n_sample == 1 or n_jump_levels == 0:
        assert schedule == ts


@pytest.mark.parametrize("n, jump_length, jump_n_sample", [(34, 1, 2), (34, 2, 3), (34, 10, 10), (11, 3, 4), (5, 4, 2)])
def test_repaint_schedule_is_diffusers_in_states(n, jump_length, jump_n_sample):
    """diffusers lists the strided indices k the model is evaluated at (each leaves the sample one strided step below
    k: at our level k, level 0 being the last state) and one undo per strided step up. As states, with one entry per
    jump, that is our schedule over n timesteps (n - 1 evaluations)."""
    scheduler = RePaintScheduler(num_train_timesteps=(n - 1) * 3)
    scheduler.set_timesteps(n - 1, jump_length=jump_length, jump_n_sample=jump_n_sample)
    evals = (scheduler.timesteps.numpy() // 3).tolist()
    levels, last = [n - 1], None
    for k in evals:
        levels.append(k if last is None or k < last else levels[-1] + 1)  # evaluated at k: now at level k; or an undo
        last = k
    inner = [0 < i < len(levels) - 1 and levels[i - 1] < lv < levels[i + 1] for i, lv in enumerate(levels)]
    states = [lv for lv, skip in zip(levels, inner) if not skip]  # one entry per jump
    ours = repaint_timesteps(list(range(n - 1, -1, -1)), jump_length, jump_n_sample)  # timestep = level here
    assert ours == states


def test_repaint_schedule_errors():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(FundiffError, match="jump_length=.* must be an integer >= 1"):
            repaint_timesteps([2, 1, 0], bad, 2)
        with pytest.raises(FundiffError, match="jump_n_sample=.* must be an integer >= 1"):
            repaint_timesteps([2, 1, 0], 1, bad)


# ---- the step up ----------------------------------------------------------------------------------------------------


def test_renoise_is_the_forward_process_from_x_t():
    den = ToyDenoiser()
    acp = den.alphas_cumprod
    x0, z = torch.rand(2, 1, 8, 8), torch.randn(2, 1, 8, 8)
    # from the clean image (t = -1) it is A 1.1's forward process
    torch.testing.assert_close(renoise(x0, -1, 150, acp, z), add_noise(x0, z, torch.tensor([150, 150]), acp))
    # q(x_200 | x_100) after q(x_100 | x_0) is q(x_200 | x_0): the mean and variance of many draws agree
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(200_000, generator=g), torch.randn(200_000, generator=g)
    x = renoise(renoise(torch.full((200_000,), 0.7), -1, 100, acp, z1), 100, 200, acp, z2)
    assert abs(float(x.mean()) - 0.7 * float(acp[200].sqrt())) < 0.01
    assert abs(float(x.var()) - float(1 - acp[200])) < 0.01


def test_reverse_process_steps_up_with_a_draw_and_no_model_call():
    calls, jumps = [], []

    def eps_fn(x, t):
        calls.append(t)
        return torch.zeros_like(x), None

    def step(x, eps, var, t, t_prev, noise):
        return x + 1

    def jump(x, t, t_next, noise):
        jumps.append((t, t_next, noise.clone()))
        return x + 100

    seen, pasted = [], []
    g = torch.Generator().manual_seed(3)
    x = reverse_process(
        torch.zeros(1, 2),
        [3, 2, 1, 3, 2, 1, 0],
        eps_fn,
        step,
        g,
        post_step=lambda x, t: pasted.append(t) or x,
        on_step=lambda i, t, x: seen.append(t),
        jump=jump,
    )
    assert calls == [3, 2, 3, 2, 1] and [(t, u) for t, u, _ in jumps] == [(1, 3)]
    assert float(x[0, 0]) == 105 and seen == [3, 2, 1, 3, 2, 1] and pasted == [2, 1, 2, 1, 0]  # no paste after a jump
    draws = torch.Generator().manual_seed(3)
    for _ in range(2):  # the z of the steps 3 -> 2 and 2 -> 1
        torch.randn(1, 2, generator=draws)
    assert torch.equal(jumps[0][2], torch.randn(1, 2, generator=draws))  # drawn in order, from the same generator
    with pytest.raises(ValueError, match=r"timesteps go up \(1 -> 3\)"):
        reverse_process(torch.zeros(1, 2), [3, 1, 3, 0], eps_fn, step, g)


# ---- the seam metric ------------------------------------------------------------------------------------------------


def test_boundary_error_on_a_synthetic_image():
    mask = torch.zeros(1, 1, 6, 6)
    mask[..., :, :3] = 1  # the left half is new content: the seam is between columns 2 and 3, 6 pairs
    flat = torch.full((2, 1, 6, 6), 0.3)
    assert boundary_error(flat, mask) == 0.0
    step = flat.clone()
    step[..., :3] = 0.8  # a jump of 0.5 across the seam
    assert boundary_error(step, mask) == pytest.approx(0.5)
    step[..., 0, :] = 0.3  # a jump elsewhere is not the seam's: 5 of its 6 pairs still differ by 0.5
    assert boundary_error(step, mask) == pytest.approx(0.5 * 5 / 6, abs=1e-6)
    ramp = torch.linspace(0, 1, 6).expand(1, 3, 6, 6)  # a smooth ramp across: one step of 0.2, every channel
    assert boundary_error(ramp, mask) == pytest.approx(0.2, abs=1e-6)
    box = torch.zeros(1, 1, 6, 6)
    box[..., 2:4, 2:4] = 1  # a 2×2 box: 8 pairs across its boundary, horizontal and vertical
    image = torch.zeros(1, 1, 6, 6)
    image[..., 2:4, 2:4] = 1.0
    image[..., 1, 2] = 1.0  # one outside neighbour matches
    assert boundary_error(image, box) == pytest.approx(7 / 8, abs=1e-6)
    assert boundary_error(image, box[0, 0]) == boundary_error(image, box)
    assert boundary_error(image, torch.ones(6, 6)) == 0.0  # no boundary


def test_strided_schedule_used_by_default():
    assert repaint_timesteps(strided_timesteps(990, 30), 1, 1) == strided_timesteps(990, 30)
