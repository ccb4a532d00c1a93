"""DVC stage `partA_inputs`: write the inputs Part A ships into data/images/shipped/ (deterministic bytes).

An MNIST test digit, hand-drawn-looking digits and a sketch, natural images from scikit-image's bundled set, and the
inpainting masks (see fundiff/partA/shipped.py). Users' own images and masks go beside them in data/images/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.errors import require
from fundiff.io import atomic_dir
from fundiff.partA.shipped import write_shipped
from stages._cli import check_outputs, entrypoint


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mnist", default="data/mnist")
    parser.add_argument("--out", default="data/images/shipped")
    args = parser.parse_args()
    check_outputs(dirs=[args.out])
    require((Path(args.mnist) / "test_images.npy").exists(), f"{args.mnist} has no test split; run `dvc repro data`")
    with atomic_dir(args.out) as tmp:
        names = write_shipped(tmp, args.mnist)
    print(f"partA_inputs: {len(names)} files -> {args.out}")


if __name__ == "__main__":
    main()
