"""DVC stage `check_params`: the whole params.yaml checked, and a killed run's temp leftovers swept, before any other
stage runs.

    python -m stages.check_params --out data/params.checked --sweep data reports

Every other stage depends on its output, so DVC runs it first, before it deletes any stage's outputs: a bad value given
to `dvc repro` or `dvc exp run -S` is one line (exit 2) with every previous output still in place. It runs every time
(`always_changed`), which also removes the `.<name>.tmp-*` a killed writer left under the --sweep folders, even where
DVC then restores that stage from its run cache without running it. Its output is a constant stamp, so it reruns no
other stage. The checks are the stages' own (fundiff.params_check).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.io import atomic_file, sweep_stale
from fundiff.params_check import check_params
from stages._cli import check_outputs, entrypoint, load_params, pick_device

STAMP = "params.yaml checked by `python -m stages.check_params` (a constant: every stage depends on it)\n"


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/params.checked"))
    parser.add_argument("--sweep", type=Path, nargs="*", default=[Path("data"), Path("reports")])
    args = parser.parse_args()
    params = load_params()
    check_outputs(files=[args.out])
    summary = check_params(params, pick_device(params))
    swept = sweep_stale(args.sweep)
    with atomic_file(args.out, "w") as handle:
        handle.write(STAMP)
    print(f"{summary}; {swept} temp leftovers removed" if swept else summary)


if __name__ == "__main__":
    main()
