"""The unconditional UNet's autoguidance: the CFG formula with a weaker snapshot in place of the unconditional pass."""

import torch

from fundiff.nets.eps_predictor import AutoGuided, UNetNoisePredictor
from fundiff.nets.unets import TimeConditionalUNet


def test_autoguidance_is_the_cfg_formula_with_a_weaker_snapshot():
    torch.manual_seed(0)
    good, bad = TimeConditionalUNet(num_hiddens=4).eval(), TimeConditionalUNet(num_hiddens=4).eval()
    g, b = UNetNoisePredictor(good, 50), UNetNoisePredictor(bad, 50)
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    eg, eb = g.predict(x, 20, None)[0], b.predict(x, 20, None)[0]
    assert torch.equal(AutoGuided(g, b, 1.0).predict(x, 20)[0], eg)  # w = 1: the final model alone
    torch.testing.assert_close(AutoGuided(g, b, 2.5).predict(x, 20)[0], eb + 2.5 * (eg - eb))
    assert AutoGuided(g, b, 2.0).conditional is False
