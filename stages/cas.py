"""DVC stage `cas`: the classification accuracy score of class_cond's (flow edition: flow_class_cond's) samples
(fundiff.judge.cas).

    python -m stages.cas --samples reports/partB/class_cond/samples.npz --data data/mnist \
        --real-metrics data/models/classifier/metrics.json --out reports/partB/cas --metrics reports/partB/cas.metrics.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.judge.cas import write_cas
from fundiff.judge.train import config_from_params
from fundiff.params import edition_of
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
    parser.add_argument("--samples", type=Path, default=Path("reports/partB/class_cond/samples.npz"))
    parser.add_argument("--data", type=Path, default=Path("data/mnist"))
    parser.add_argument("--real-metrics", type=Path, default=Path("data/models/classifier/metrics.json"))
    parser.add_argument("--out", type=Path, default=Path("reports/partB/cas"))
    parser.add_argument("--metrics", type=Path, default=Path("reports/partB/cas.metrics.json"))
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args()

    params = load_params()
    check_outputs(dirs=[args.out], files=[args.metrics])
    config = config_from_params(section(params, "classifier"), seed_of(params))
    seed_everything(config["seed"])
    use_all_cores()
    device = pick_device(params)
    edition = edition_of(params)
    print(write_cas(config, args.samples, args.data, args.real_metrics, args.out, args.metrics, device, args.progress,
                    edition))  # fmt: skip


if __name__ == "__main__":
    main()
