"""RePaint's resampling (issue 15): jump_n_sample = 1 is today's inpainting bit for bit."""

import pytest
import torch
from partA_helpers import inpaint_before_repaint
from test_denoising import ToyDenoiser

from fundiff.partA import denoising as loop


def _setup(value_range, learned_variance, seed=0):
    den = ToyDenoiser(value_range, learned_variance=learned_variance)
    g = torch.Generator().manual_seed(seed)
    x0 = den.to_model(torch.rand(3, 1, 8, 8, generator=g))
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:6, :5] = 1
    return den, x0, mask, loop.cfg(den, den.encode("a"), 3.0)


@pytest.mark.parametrize("value_range, learned", [((0.0, 1.0), False), ((-1.0, 1.0), True)])
@pytest.mark.parametrize("final, i_start", [(False, 0), (True, 0), (False, 5)])
def test_inpainting_is_unchanged_bit_for_bit(value_range, learned, final, i_start):
    den, x0, mask, eps_fn = _setup(value_range, learned)
    ts = den.default_timesteps + ([-1] if final else [])
    expected = inpaint_before_repaint(den, x0, mask, ts, eps_fn, torch.Generator().manual_seed(7), i_start)
    out = loop.inpaint(den, x0, mask, ts, eps_fn, torch.Generator().manual_seed(7), i_start=i_start)
    assert torch.equal(out, expected)
