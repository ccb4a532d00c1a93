"""Each training speed knob (train.<model>.precision | compile | tf32 | log_every) against the plain float32 run:
training images/s inside fundiff.partB.training.train (what the train stage runs) and the test loss at equal steps.

    python bench/train_knobs.py [--profile faithful] [--models class_cond,time_cond,denoiser] [--epochs 3]
                                [--device auto] [--rows plain,tf32,bf16,compile,all] [--set key=value ...]

Per model, one row per knob set, all in one process and interleaved model by model, on data/mnist's split (random
digits if absent) at the widths and batch sizes of ``--profile``: conf/ composed with ``profile=<name>`` and the
``--set`` overrides, as `dvc exp run -S profile=<name> -S ...` composes params.yaml (``--set key=value`` sets
train.<model>.key of every model; a dotted key is a Hydra override as it stands). Each row is ``train.<model>`` with
that row's knobs and ``--epochs`` epochs, checked and mapped by fundiff.partB.config.config_from_params (so the lr
schedule spans the ``--epochs``, as it would in the train stage):

* ``plain``: precision fp32, compile off, tf32 off, log_every 1 (the reference);
* ``tf32``, ``bf16``, ``compile``: that knob alone; ``all``: every knob as ``auto`` resolves it on the device, with
  log_every 50.

Columns: images/s over the whole run (compilation included, as the stage sees it), images/s after epoch 1 (steady
state), the speed-up over ``plain`` on both, and the final test loss / ``plain``'s (issue #12's rule: a knob is on
by default on CUDA only if this stays within 2 %). On the CPU, ``compile`` pays minutes of compilation and bf16 has no
fast kernels: the rows show the arithmetic's effect on the loss, not a speed-up.
"""

from __future__ import annotations

import argparse
import time

import torch
from arglists import count, name_list, override
from common import one_line_errors, params_for, train_overrides, training_data

from fundiff.device import configure_determinism, resolve_device
from fundiff.params import section, seed_of
from fundiff.partB.config import KINDS, config_from_params
from fundiff.partB.training import train

ROWS = {
    "plain": dict(precision="fp32", compile="off", tf32="off", log_every=1),
    "tf32": dict(precision="fp32", compile="off", tf32="on", log_every=1),
    "bf16": dict(precision="bf16", compile="off", tf32="off", log_every=1),
    "compile": dict(precision="fp32", compile="on", tf32="off", log_every=1),
    "all": dict(precision="auto", compile="auto", tf32="auto", log_every=50),
}


def run_row(config, data, device: torch.device) -> tuple[float, float, float]:
    """Train ``config``: (images/s over the whole run, images/s after epoch 1, the final test loss)."""
    x, y, xt, yt = data
    stamps: list[float] = []
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = train(
        config, x, y, xt, yt, device=device, progress=False, on_epoch=lambda _e, _l: stamps.append(time.perf_counter())
    )
    epochs = config.epochs
    total = len(x) * epochs / (stamps[-1] - start)
    steady = len(x) * (epochs - 1) / (stamps[-1] - stamps[0]) if epochs > 1 else total
    loss = result.test_losses[-1]
    del result
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return total, steady, loss


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="faithful")
    parser.add_argument("--models", type=name_list(KINDS, "model"), default=["class_cond", "time_cond", "denoiser"])
    parser.add_argument("--epochs", type=count, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rows", type=name_list(ROWS, "row"), default=list(ROWS))
    parser.add_argument(
        "--set", nargs="*", type=override, default=[], metavar="KEY=VALUE", help="a train.<model> param, every model"
    )
    args = parser.parse_args()
    epochs = args.epochs
    device = resolve_device(args.device, "--device")
    configure_determinism(device, False)
    params = params_for(parser, [f"profile={args.profile}", *train_overrides(args.set)])
    seed = seed_of(params)
    configs = {  # every recipe checked before any training
        kind: [
            config_from_params(
                kind, {**section(params, f"train.{kind}"), "epochs": epochs, "snapshot_epochs": [], **ROWS[row]}, seed
            )
            for row in args.rows
        ]
        for kind in args.models
    }
    data = training_data()
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"torch {torch.__version__} on {name}; {len(data[0])} training images, {epochs} epochs, profile {args.profile}"
    )
    print(f"{'model':10} {'row':8} {'img/s':>9} {'after ep1':>10} {'speed-up':>9} {'test loss':>10} {'/ plain':>8}")
    for kind, rows in configs.items():
        reference = None
        for row, config in zip(args.rows, rows):
            total, steady, loss = run_row(config, data, device)
            reference = reference or (total, steady, loss)
            print(
                f"{kind:10} {row:8} {total:9.0f} {steady:10.0f} {steady / reference[1]:8.2f}× {loss:10.5f} "
                f"{loss / reference[2]:8.4f}"
            )


if __name__ == "__main__":
    main()
