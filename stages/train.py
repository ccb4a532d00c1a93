"""DVC stage `train@<model>`: train one Part B UNet (denoiser | time_cond | class_cond).

    python -m stages.train class_cond --data data/mnist --out data/models/class_cond

Writes <out>/checkpoints/ and <out>/live/ (DVCLive); the resume state goes to .fundiff/resume/ (fundiff.partB.fit).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.partB.config import KINDS, config_from_params
from fundiff.partB.fit import train_and_save
from stages._cli import (
    allow_long_runs_of,
    check_outputs,
    deterministic_of,
    entrypoint,
    load_params,
    pick_device,
    section,
    seed_everything,
    seed_of,
    use_all_cores,
)

RESUME_ROOT = Path(".fundiff/resume")


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=KINDS)
    parser.add_argument("--data", type=Path, default=Path("data/mnist"))
    parser.add_argument("--out", type=Path, help="default: data/models/<model>")
    args = parser.parse_args()

    params = load_params()
    config = config_from_params(args.model, section(params, f"train.{args.model}"), seed_of(params))
    seed_everything(config.seed)
    use_all_cores()
    device = pick_device(params)
    out = args.out or Path("data/models") / args.model
    check_outputs(dirs=[out / "checkpoints", out / "live"])
    long_ok = allow_long_runs_of(params)
    print(train_and_save(config, args.data, out, RESUME_ROOT, device, deterministic_of(params), long_ok))


if __name__ == "__main__":
    main()
