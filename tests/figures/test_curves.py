"""Loss curves are deterministic bytes; the one DVCLive TSV reader (step/value, timestamp ignored, one-line errors)."""

import numpy as np
import pytest
from PIL import Image

from fundiff.errors import FundiffError
from fundiff.figures.curves import LossLog, loss_curves_png, moving_average, read_tsv, save_loss_curve


def write_logs(directory, test_steps):
    train = directory / "train.tsv"
    test = directory / "test.tsv"
    rng = np.random.default_rng(0)
    losses = 0.1 * np.exp(-np.arange(40) / 15) + 0.01 * rng.random(40)
    train.write_text("step\tloss\n" + "".join(f"{i}\t{float(v)!r}\n" for i, v in enumerate(losses)))
    test.write_text("step\tloss\n" + "".join(f"{s}\t{0.05 / (i + 1)!r}\n" for i, s in enumerate(test_steps)))
    return train, test


@pytest.mark.parametrize("test_steps", [[19, 39], [0, 1], [1, 2]])  # global steps, 0- or 1-based epoch indices
def test_loss_curve_png_is_deterministic(tmp_path, test_steps):
    train, test = write_logs(tmp_path, test_steps)
    save_loss_curve(train, tmp_path / "a.png", "loss", test_tsv=test)
    save_loss_curve(train, tmp_path / "b.png", "loss", test_tsv=test)
    first = (tmp_path / "a.png").read_bytes()
    assert first == (tmp_path / "b.png").read_bytes()
    assert b"Software" not in first and b"matplotlib" not in first
    with Image.open(tmp_path / "a.png") as picture:
        assert picture.size == (640, 380)


def test_combined_curves_png_is_deterministic(tmp_path):
    train, test = write_logs(tmp_path, [19, 39])
    logs = [LossLog("a", read_tsv(train), read_tsv(test), 20.0), LossLog("b", read_tsv(train), None, None)]
    first = loss_curves_png(logs)
    assert first == loss_curves_png(logs) and first.startswith(b"\x89PNG") and b"Software" not in first


def test_tsv_reader_and_moving_average(tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text("timestamp\tstep\tloss\n1\t0\t0.5\n2\t1\t0.25\n")
    steps, values = read_tsv(path)
    assert steps.tolist() == [0, 1] and values.tolist() == [0.5, 0.25]
    assert read_tsv(path, metric="loss")[1].tolist() == [0.5, 0.25]
    assert moving_average(np.array([1.0, 3.0, 5.0]), 2).tolist() == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    "content, detail",
    [
        ("epoch\tvalue\n1\t2\n", "expected DVCLive columns 'step' and 'loss', found epoch, value"),
        ("", "expected DVCLive columns 'step' and 'loss', found no header"),
        ("step\tloss\n0\t0.5\t9\n", "line 2 has 3 fields, expected 2"),
        ("step\tloss\n0\tlow\n", "line 2 is not numeric"),
    ],
)
def test_bad_tsv_is_one_line_naming_the_file(tmp_path, content, detail):
    path = tmp_path / "loss.tsv"
    path.write_text(content)
    with pytest.raises(FundiffError) as caught:
        read_tsv(path, metric="loss")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and detail in message, message
    with pytest.raises(FundiffError, match="missing"):
        read_tsv(tmp_path / "absent.tsv")
