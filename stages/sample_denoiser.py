"""DVC stage `sample_denoiser`: the figures and numbers of Part B 1 (the single-step denoiser).

    python -m stages.sample_denoiser --data data/mnist --models data/models \
        --out reports/partB/denoiser --metrics reports/partB/denoiser.metrics.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.partB.sample_denoiser import write_denoiser_results
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
    parser.add_argument("--models", type=Path, default=Path("data/models"))
    parser.add_argument("--out", type=Path, default=Path("reports/partB/denoiser"))
    parser.add_argument("--metrics", type=Path, default=Path("reports/partB/denoiser.metrics.json"))
    args = parser.parse_args()

    params = load_params()
    check_outputs(dirs=[args.out], files=[args.metrics])
    seed = seed_of(params)
    seed_everything(seed)
    use_all_cores()
    print(
        write_denoiser_results(
            section(params, "sample.denoiser"),
            seed,
            args.data,
            args.models,
            args.out,
            args.metrics,
            pick_device(params),
        )
    )


if __name__ == "__main__":
    main()
