"""The speed knobs of training (fundiff.partB.speed; issue #12): how each resolves per device, that none changes what
the CPU default computes, and that each one that changes the arithmetic stays close to the float32 run. The CUDA
variants run where a GPU is visible and skip otherwise."""

import pytest
import torch

from fundiff.errors import FundiffError
from fundiff.partB.config import RULES, TrainConfig, config_from_params
from fundiff.partB.speed import resolve_speed
from fundiff.partB.training import train

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(kind: str = "class_cond", **changes) -> TrainConfig:
    base = dict(kind=kind, num_hiddens=4, epochs=2, batch_size=16, lr=3e-3, seed=0, num_timesteps=50)
    return TrainConfig(**{**base, **changes})


def test_auto_is_off_on_the_cpu_and_on_for_cuda():
    cpu = resolve_speed(tiny(), "cpu")
    assert (cpu.bf16, cpu.compile_mode, cpu.tf32) == (False, None, False)
    gpu = resolve_speed(tiny(), "cuda")  # resolving needs no GPU
    assert (gpu.bf16, gpu.compile_mode, gpu.tf32) == (True, "reduce-overhead", True)
    assert resolve_speed(tiny(), "cuda", deterministic=True).compile_mode is None
    forced = resolve_speed(tiny(precision="bf16", compile="on", tf32="on"), "cpu")
    assert (forced.bf16, forced.compile_mode, forced.tf32) == (True, "default", False)  # TF32 is CUDA's alone
    off = resolve_speed(tiny(precision="fp32", compile="off", tf32="off"), "cuda")
    assert (off.bf16, off.compile_mode, off.tf32) == (False, None, False)
    assert "bf16 autocast" in gpu.describe() and "every step" in cpu.describe()


@pytest.mark.parametrize(
    "value, expected", [(True, "on"), (False, "off"), ("on", "on"), ("off", "off"), ("auto", "auto")]
)
def test_yaml_booleans_are_switches(value, expected):
    """YAML reads a bare on/off as a boolean; both spellings mean the same."""
    section = {"num_hiddens": 4, "epochs": 1, "batch_size": 8, "lr": 1e-3, "compile": value, "tf32": value}
    config = config_from_params("time_cond", section, seed=0)
    assert config.compile == config.tf32 == expected


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("compile", "fast", "train.time_cond.compile='fast' is unknown; use auto, on (true) or off (false)"),
        ("tf32", 1, "train.time_cond.tf32=1 is unknown"),
        ("precision", "fp16", "train.time_cond.precision='fp16' is unknown; use one of auto, fp32, bf16"),
        ("log_every", 0, "train.time_cond.log_every=0 must be >= 1"),
        ("log_every", "10", "must be an integer (without quotes)"),
    ],
)
def test_bad_knobs_are_one_line_naming_the_key(key, value, fragment):
    section = {"num_hiddens": 4, "epochs": 1, "batch_size": 8, "lr": 1e-3, key: value}
    with pytest.raises(FundiffError) as caught:
        config_from_params("time_cond", section, seed=0)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    assert {"precision", "compile", "tf32", "log_every"} <= set(RULES)  # the one validation layer reads them


def test_logging_cadence_changes_the_log_not_the_training(tiny_mnist, tmp_path):
    """log_every=3: the same losses and weights; the logger sees each 3-step window's mean at its last step (and the
    epoch's last, shorter window); a killed and resumed run replays exactly the same calls."""
    x, y, xt, yt = tiny_mnist
    every = train(tiny(), x, y, xt, yt, progress=False)
    calls = []
    windowed = train(tiny(log_every=3), x, y, xt, yt, progress=False, on_step=lambda s, v: calls.append((s, v)))
    assert windowed.train_losses == every.train_losses
    assert all(
        torch.equal(a, b) for a, b in zip(every.model.state_dict().values(), windowed.model.state_dict().values())
    )
    losses = every.train_losses  # 4 steps per epoch: windows [0..2], [3], [4..6], [7]
    assert [s for s, _ in calls] == [2, 3, 6, 7]
    assert calls[0][1] == pytest.approx(sum(losses[0:3]) / 3) and calls[1][1] == losses[3]

    def die(epoch, _):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny(log_every=3), x, y, xt, yt, resume_dir=tmp_path, on_epoch=die, progress=False)
    replayed = []
    train(
        tiny(log_every=3),
        x,
        y,
        xt,
        yt,
        resume_dir=tmp_path,
        progress=False,
        on_step=lambda s, v: replayed.append((s, v)),
    )
    assert replayed == calls


def test_compiled_training_is_the_same_training(tiny_mnist, monkeypatch):
    """compile: on wraps the network in torch.compile and trains the same parameters. Dynamo traces the real step
    here; its eager backend keeps the arithmetic (and the test's time) that of the plain run, so the bytes agree."""
    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, mode=None, dynamic=None: real(model, backend="eager"))
    x, y, xt, yt = tiny_mnist
    plain = train(tiny(), x, y, xt, yt, progress=False)
    compiled = train(tiny(compile="on"), x, y, xt, yt, progress=False)
    assert compiled.train_losses == plain.train_losses and compiled.test_losses == plain.test_losses
    assert all(
        torch.equal(a, b) for a, b in zip(plain.model.state_dict().values(), compiled.model.state_dict().values())
    )


@pytest.mark.parametrize("kind", ["denoiser", "time_cond", "class_cond"])
def test_bf16_autocast_stays_close_to_float32(kind, tiny_mnist):
    """Mixed precision changes the rounding of the forward pass only: losses within 2 % of the float32 run's, and
    the test loss (computed in float32) too."""
    x, y, xt, yt = tiny_mnist
    fp32 = train(tiny(kind), x, y, xt, yt, progress=False)
    bf16 = train(tiny(kind, precision="bf16"), x, y, xt, yt, progress=False)
    assert bf16.train_losses != fp32.train_losses  # autocast really ran
    assert bf16.train_losses == pytest.approx(fp32.train_losses, rel=0.02)
    assert bf16.test_losses == pytest.approx(fp32.test_losses, rel=0.02)
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())


@CUDA
@pytest.mark.parametrize("kind", ["denoiser", "time_cond", "class_cond"])
def test_cuda_training_with_every_knob_stays_close_to_cuda_float32(kind, tiny_mnist):
    x, y, xt, yt = tiny_mnist
    plain = train(tiny(kind, precision="fp32", compile="off", tf32="off"), x, y, xt, yt, device="cuda", progress=False)
    fast = train(tiny(kind, log_every=4), x, y, xt, yt, device="cuda", progress=False)  # auto: bf16, graphs, TF32
    assert fast.train_losses == pytest.approx(plain.train_losses, rel=0.05)
    assert fast.test_losses == pytest.approx(plain.test_losses, rel=0.02)
    assert next(fast.model.parameters()).device.type == "cuda"


@CUDA
def test_cuda_deterministic_runs_give_the_same_bytes(tiny_mnist, tmp_path):
    from fundiff.device import configure_determinism

    configure_determinism(torch.device("cuda"), True)
    x, y, xt, yt = tiny_mnist
    a = train(tiny(), x, y, xt, yt, device="cuda", progress=False, deterministic=True)
    b = train(tiny(), x, y, xt, yt, device="cuda", progress=False, deterministic=True)
    assert a.train_losses == b.train_losses
    assert all(torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()))

    def die(epoch, _):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # the generator's CUDA state goes with the resume state
        train(
            tiny(), x, y, xt, yt, device="cuda", resume_dir=tmp_path, on_epoch=die, progress=False, deterministic=True
        )
    resumed = train(tiny(), x, y, xt, yt, device="cuda", resume_dir=tmp_path, progress=False, deterministic=True)
    assert resumed.resumed_from_epoch == 1
    assert all(torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), resumed.model.state_dict().values()))
