"""DVC stage `classifier`: train the MNIST judge (a small CNN) that scores Part B samples and Part A outputs.

    python -m stages.classifier --data data/mnist --out data/models/classifier/weights \
        --metrics data/models/classifier/metrics.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.judge.train import config_from_params, train_and_save
from stages._cli import (
    check_outputs,
    entrypoint,
    load_params,
    pick_device,
    section,
    seed_everything,
    seed_of,
    use_all_cores,
)


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/mnist"))
    parser.add_argument("--out", type=Path, default=Path("data/models/classifier/weights"))
    parser.add_argument("--metrics", type=Path, default=Path("data/models/classifier/metrics.json"))
    args = parser.parse_args()

    params = load_params()
    check_outputs(dirs=[args.out], files=[args.metrics])
    config = config_from_params(section(params, "classifier"), seed_of(params))
    seed_everything(config["seed"])
    use_all_cores()
    print(train_and_save(config, args.data, args.out, args.metrics, pick_device(params)))


if __name__ == "__main__":
    main()
