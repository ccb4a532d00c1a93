"""DVC stage `data`: get MNIST (bundled 5k subset or full torchvision MNIST) into data/mnist/ as .npy arrays.

python -m stages.data --out data/mnist
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.data import prepare_from_params
from stages._cli import check_outputs, entrypoint, load_params, section, seed_of


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/mnist"))
    args = parser.parse_args()
    params = load_params()
    check_outputs(dirs=[args.out])
    print(prepare_from_params(section(params, "data"), seed_of(params), args.out))


if __name__ == "__main__":
    main()
