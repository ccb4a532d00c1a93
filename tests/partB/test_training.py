import pytest
import torch

from fundiff.errors import FundiffError
from fundiff.partB.config import TrainConfig
from fundiff.partB.training import evaluate, train


def tiny_config(kind: str, **changes) -> TrainConfig:
    base = dict(kind=kind, num_hiddens=4, epochs=2, batch_size=16, lr=3e-3, seed=0, num_timesteps=50)
    return TrainConfig(**{**base, **changes})


@pytest.mark.parametrize(
    "kind", ["denoiser", "time_cond", "class_cond", "pure_noise", "flow_time_cond", "flow_class_cond"]
)
def test_a_few_steps_lower_the_loss(kind, tiny_mnist):
    x, y, xt, yt = tiny_mnist
    config = tiny_config(kind, epochs=5, lr=1e-2)
    result = train(config, x, y, xt, yt, progress=False)
    first, last = sum(result.train_losses[:4]) / 4, sum(result.train_losses[-4:]) / 4
    assert last < 0.7 * first, (first, last)
    assert len(result.train_losses) == 5 * 4 and len(result.test_losses) == 5
    assert result.test_losses[-1] == evaluate(result.model, config, xt, yt, seed=config.seed + 2)


def test_resume_equals_uninterrupted(tmp_path, tiny_mnist):
    x, y, xt, yt = tiny_mnist
    config = tiny_config("class_cond", epochs=3, snapshot_epochs=(1, 3), lr_decay=0.5)
    straight = train(config, x, y, xt, yt, progress=False)

    class Killed(Exception):
        pass

    def die_in_epoch_2(epoch, loss):
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        train(config, x, y, xt, yt, resume_dir=tmp_path, on_epoch=die_in_epoch_2, progress=False)
    assert (tmp_path / "state.pt").exists()
    steps = []
    resumed = train(config, x, y, xt, yt, resume_dir=tmp_path, on_step=lambda s, v: steps.append(s), progress=False)
    assert resumed.resumed_from_epoch == 1
    assert steps == list(range(len(straight.train_losses)))  # the logger sees every step once, replayed or new
    assert resumed.train_losses == straight.train_losses and resumed.test_losses == straight.test_losses
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    assert sorted(resumed.snapshots) == [1, 3]
    assert all(torch.equal(straight.snapshots[1][k], resumed.snapshots[1][k]) for k in straight.snapshots[1])


def test_training_is_deterministic(tiny_mnist):
    x, y, xt, yt = tiny_mnist
    config = tiny_config("time_cond", epochs=1)
    a, b = (train(config, x, y, xt, yt, progress=False) for _ in range(2))
    assert a.train_losses == b.train_losses


@pytest.mark.parametrize(
    "changes, key",
    [
        (dict(kind="denoiser", sigma=-0.1), "train.x.sigma"),
        (dict(kind="class_cond", p_uncond=1.5), "train.x.p_uncond"),
        (dict(kind="class_cond", epochs=0), "train.x.epochs"),
        (dict(kind="time_cond", snapshot_epochs=(5,)), "train.x.snapshot_epochs"),
        (dict(kind="time_cond", beta_start=0.5, beta_end=0.1), "train.x.beta_start"),
    ],
)
def test_bad_config_names_the_key(changes, key):
    with pytest.raises(FundiffError, match=key.replace(".", r"\.")):
        tiny_config(**changes).validate("train.x")


def test_ema_checkpoint_is_the_average_and_resumes_exactly(tmp_path, tiny_mnist):
    """With ema_decay the saved model is the EMA (a different, smoother set of weights); a kill and rerun ends with
    the same EMA bytes as an uninterrupted run."""
    x, y, xt, yt = tiny_mnist
    config = tiny_config("class_cond", epochs=2, ema_decay=0.9, lr_schedule="onecycle", snapshot_epochs=(1,))
    raw = train(tiny_config("class_cond", epochs=2, lr_schedule="onecycle"), x, y, xt, yt, progress=False)
    straight = train(config, x, y, xt, yt, progress=False)
    assert raw.train_losses == straight.train_losses  # EMA never feeds back into training
    assert not torch.equal(raw.model.body.conv_out.weight, straight.model.body.conv_out.weight)

    def die(epoch, loss):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, x, y, xt, yt, resume_dir=tmp_path, on_epoch=die, progress=False)
    resumed = train(config, x, y, xt, yt, resume_dir=tmp_path, progress=False)
    assert resumed.resumed_from_epoch == 1
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_onecycle_warms_up_then_anneals_to_almost_zero():
    from fundiff.partB.training import make_model, make_scheduler

    config = tiny_config("time_cond", epochs=4, lr=1e-2, lr_schedule="onecycle", warmup=0.25)
    optimizer = torch.optim.Adam(make_model(config).parameters(), lr=config.lr)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch=10)
    lrs = []
    for _ in range(40):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(1e-2 / 25) and max(lrs) == pytest.approx(1e-2, rel=1e-3)
    assert lrs.index(max(lrs)) in (9, 10) and lrs[-1] < 1e-4


@pytest.mark.parametrize(
    "changes, key",
    [(dict(lr_schedule="cosine"), "lr_schedule"), (dict(ema_decay=1.0), "ema_decay"), (dict(warmup=0.0), "warmup")],
)
def test_bad_schedule_or_ema_names_the_key(changes, key):
    with pytest.raises(FundiffError, match=rf"train\.x\.{key}"):
        tiny_config("class_cond", **changes).validate("train.x")
