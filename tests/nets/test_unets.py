import pytest
import torch

from fundiff.nets import blocks
from fundiff.nets.fold_batchnorm import fold_batchnorm
from fundiff.nets.unets import ClassConditionalUNet, TimeConditionalUNet, UnconditionalUNet, one_hot


@pytest.mark.parametrize(
    "block, shape_in, shape_out",
    [
        (blocks.Conv(1, 8), (2, 1, 28, 28), (2, 8, 28, 28)),
        (blocks.DownConv(8, 16), (2, 8, 28, 28), (2, 16, 14, 14)),
        (blocks.UpConv(16, 8), (2, 16, 7, 7), (2, 8, 14, 14)),
        (blocks.Flatten(), (2, 16, 7, 7), (2, 16, 1, 1)),
        (blocks.Unflatten(16), (2, 16, 1, 1), (2, 16, 7, 7)),
        (blocks.ConvBlock(1, 8), (2, 1, 28, 28), (2, 8, 28, 28)),
        (blocks.DownBlock(8, 16), (2, 8, 14, 14), (2, 16, 7, 7)),
        (blocks.UpBlock(32, 8), (2, 32, 7, 7), (2, 8, 14, 14)),
    ],
)
def test_block_shapes(block, shape_in, shape_out):
    assert block(torch.randn(shape_in)).shape == shape_out


def test_fcblock_broadcasts_over_feature_maps():
    assert blocks.FCBlock(1, 12)(torch.rand(3, 1)).shape == (3, 12, 1, 1)


def test_unet_shapes_and_conditioning_matters():
    torch.manual_seed(0)
    x = torch.randn(3, 1, 28, 28)
    t = torch.rand(3, 1)
    assert UnconditionalUNet(num_hiddens=8)(x).shape == x.shape
    time_unet = TimeConditionalUNet(num_hiddens=8).eval()
    assert time_unet(x, t).shape == x.shape
    assert not torch.allclose(time_unet(x, t), time_unet(x, t * 0.5))
    class_unet = ClassConditionalUNet(num_hiddens=8).eval()
    c = one_hot(torch.tensor([1, 2, 3]))
    assert class_unet(x, t, c).shape == x.shape
    assert not torch.allclose(class_unet(x, t, c), class_unet(x, t, torch.zeros_like(c)))


def test_unet_follows_the_assignment_widths():
    unet = TimeConditionalUNet(num_hiddens=64)
    assert unet.body.up1[0][0].in_channels == 4 * 64  # concat of unflatten (2D) and the 7x7 features (2D)
    assert unet.body.unflatten[0].kernel_size == (7, 7) and unet.body.unflatten[0].stride == (7, 7)
    assert unet.t1[0].out_features == 128 and unet.t2[0].out_features == 64


def test_one_hot_drop_gives_null_condition():
    c = one_hot(torch.tensor([4, 7]), 10, keep=torch.tensor([True, False]))
    assert c[0, 4] == 1 and c[0].sum() == 1 and c[1].abs().sum() == 0


def test_save_pretrained_round_trip_is_byte_stable(tmp_path):
    torch.manual_seed(0)
    unet = ClassConditionalUNet(num_hiddens=4)
    unet.save_pretrained(tmp_path / "a")
    unet.save_pretrained(tmp_path / "b")
    for name in ("config.json", "diffusion_pytorch_model.safetensors"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    loaded = ClassConditionalUNet.from_pretrained(tmp_path / "a")
    loaded.save_pretrained(tmp_path / "c")
    for name in ("config.json", "diffusion_pytorch_model.safetensors"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "c" / name).read_bytes()


def _with_running_stats(model: torch.nn.Module, *inputs: torch.Tensor) -> torch.nn.Module:
    """Train-mode forwards give BatchNorm running statistics far from the init (mean 0, var 1): a real fold to test."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = 0.5
                module.weight.uniform_(0.5, 2.0)
                module.bias.uniform_(-0.5, 0.5)
        model.train()
        for _ in range(3):
            model(*inputs)
    return model.eval()


@pytest.mark.parametrize("cls", [UnconditionalUNet, TimeConditionalUNet, ClassConditionalUNet])
def test_fold_batchnorm_keeps_the_function_and_removes_every_batchnorm(cls):
    torch.manual_seed(0)
    x = torch.rand(6, 1, 28, 28) * 3
    extra = {
        UnconditionalUNet: (),
        TimeConditionalUNet: (torch.rand(6, 1),),
        ClassConditionalUNet: (torch.rand(6, 1), one_hot(torch.arange(6))),
    }[cls]
    model = _with_running_stats(cls(num_hiddens=8), x, *extra)
    with torch.no_grad():
        before = model(x, *extra)
        folded = fold_batchnorm(model)
        after = folded(x, *extra)
    assert folded is model
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert before.abs().mean() > 0.1  # a real output, not a constant the fold could trivially keep
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_fold_batchnorm_refuses_a_training_model():
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(UnconditionalUNet(num_hiddens=4).train())
