"""Each training speed knob (train.<model>.precision | compile | tf32 | log_every) against the plain float32 run:
training images/s inside fundiff.partB.training.train (what the train stage runs) and the test loss at equal steps.

    python bench/train_knobs.py [--profile faithful] [--models class_cond,time_cond,denoiser] [--epochs 3]
                                [--device auto] [--rows plain,tf32,bf16,compile,all] [--set key=value ...]

Per model, one row per knob set, all in one process and interleaved model by model, on data/mnist's split (random
digits if absent) at the widths and batch sizes of ``--profile`` (conf/profile/<name>.yaml over conf/config.yaml, as
`dvc exp run -S profile=<name>` composes them):

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
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.train_throughput import load_data  # noqa: E402
from fundiff.device import configure_determinism, resolve_device  # noqa: E402
from fundiff.partB.config import config_from_params  # noqa: E402
from fundiff.partB.training import train  # noqa: E402

ROWS = {
    "plain": dict(precision="fp32", compile="off", tf32="off", log_every=1),
    "tf32": dict(precision="fp32", compile="off", tf32="on", log_every=1),
    "bf16": dict(precision="bf16", compile="off", tf32="off", log_every=1),
    "compile": dict(precision="fp32", compile="on", tf32="off", log_every=1),
    "all": dict(precision="auto", compile="auto", tf32="auto", log_every=50),
}


def train_params(profile: str) -> dict:
    """conf/config.yaml's train section with conf/profile/<profile>.yaml's over it (what Hydra composes)."""
    base = yaml.safe_load((ROOT / "conf/config.yaml").read_text())
    over = yaml.safe_load((ROOT / f"conf/profile/{profile}.yaml").read_text()) or {}
    train_section = base["train"]
    for kind, values in (over.get("train") or {}).items():
        train_section[kind] = {**train_section[kind], **values}
    return {"seed": base["seed"], "train": train_section}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="faithful")
    parser.add_argument("--models", default="class_cond,time_cond,denoiser")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="a train.<model> param, every model")
    args = parser.parse_args()
    device = resolve_device(args.device)
    configure_determinism(device, False)
    params = train_params(args.profile)
    for item in args.set:
        key, value = item.split("=", 1)
        for kind in params["train"]:
            params["train"][kind][key] = yaml.safe_load(value)
    x, y, xt, yt = load_data()
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"torch {torch.__version__} on {name}; {len(x)} training images, {args.epochs} epochs, profile {args.profile}"
    )
    print(f"{'model':10} {'row':8} {'img/s':>9} {'after ep1':>10} {'speed-up':>9} {'test loss':>10} {'/ plain':>8}")
    for kind in args.models.split(","):
        base = config_from_params(kind, params["train"][kind], params["seed"])
        reference = None
        for row in args.rows.split(","):
            config = replace(base, epochs=args.epochs, snapshot_epochs=(), **ROWS[row])
            stamps: list[float] = []
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            result = train(
                config,
                x,
                y,
                xt,
                yt,
                device=device,
                progress=False,
                on_epoch=lambda _epoch, _loss, stamps=stamps: stamps.append(time.perf_counter()),
            )
            total = len(x) * args.epochs / (stamps[-1] - start)
            steady = len(x) * (args.epochs - 1) / (stamps[-1] - stamps[0]) if args.epochs > 1 else total
            loss = result.test_losses[-1]
            reference = reference or (total, steady, loss)
            print(
                f"{kind:10} {row:8} {total:9.0f} {steady:10.0f} {steady / reference[1]:8.2f}× {loss:10.5f} "
                f"{loss / reference[2]:8.4f}"
            )
            del result
            if device.type == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
