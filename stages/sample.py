"""DVC stage `sample@<model>`: the samples, GIFs, accuracy and FID of one Part B DDPM (time_cond | class_cond) or flow
model (flow_time_cond | flow_class_cond | flow_class_cond_unscheduled), or the pure-noise UNet's outputs (pure_noise).

    python -m stages.sample class_cond --data data/mnist --models data/models \
        --classifier data/models/classifier/weights --out reports/partB/class_cond \
        --metrics reports/partB/class_cond.metrics.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.partB.sample_ddpm import write_ddpm_results
from fundiff.partB.sample_pure_noise import write_pure_noise_results
from fundiff.partB.sample_settings import MODELS
from stages._cli import (
    allow_long_runs_of,
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
    parser.add_argument("model", choices=(*MODELS, "pure_noise"))
    parser.add_argument("--data", type=Path, default=Path("data/mnist"))
    parser.add_argument("--models", type=Path, default=Path("data/models"))
    parser.add_argument("--classifier", type=Path, default=Path("data/models/classifier/weights"))
    parser.add_argument("--out", type=Path, help="default: reports/partB/<model>")
    parser.add_argument("--metrics", type=Path, help="default: reports/partB/<model>.metrics.json")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args()

    params = load_params()
    seed = seed_of(params)
    seed_everything(seed)
    use_all_cores()
    out = args.out or Path("reports/partB") / args.model
    metrics = args.metrics or Path("reports/partB") / f"{args.model}.metrics.json"
    check_outputs(dirs=[out], files=[metrics])
    raw, device = section(params, f"sample.{args.model}"), pick_device(params)
    if args.model == "pure_noise":  # 1.2.3 of the flow edition: a single-step UNet, not a sampler
        print(write_pure_noise_results(raw, seed, args.data, args.models, out, metrics, device))
        return
    print(
        write_ddpm_results(
            raw,
            args.model,
            seed,
            args.data,
            args.models,
            args.classifier,
            out,
            metrics,
            device,
            progress=args.progress,
            allow_long_runs=allow_long_runs_of(params),
        )
    )


if __name__ == "__main__":
    main()
