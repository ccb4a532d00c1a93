"""DVC stage `report`: reports/index.html (+ reports/assets/: the training curves) from every results dir and DVCLive log.

    python -m stages.report [REPORTS [MODELS]]      (dvc.yaml: python -m stages.report reports data/models)

Reads REPORTS/partA/*/manifest.json and REPORTS/partB/*/manifest.json (outputs of other stages: only read, never
written here) and MODELS/<model>/live/. The page links the figures where they are, so reports/ must be kept whole.
Writes atomically; a corrupt manifest is a one-line error naming the file (exit 2), a stage that has not run is a
"not run" section. Also writes the untracked REPORTS/timings.js (stage wall times; see fundiff/timings.py).
The work is fundiff.report.write_report.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fundiff.report import write_report
from fundiff.report.workspace import ASSETS, PAGE
from stages._cli import check_outputs, entrypoint, load_params


@entrypoint
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "reports",
        nargs="?",
        type=Path,
        default=Path("reports"),
        help="dir holding partA/, partB/; the page goes here (default: reports)",
    )
    parser.add_argument(
        "models",
        nargs="?",
        type=Path,
        default=Path("data/models"),
        help="dir holding <model>/live/, the DVCLive logs (default: data/models)",
    )
    args = parser.parse_args()
    params = load_params()
    check_outputs(dirs=[args.reports / ASSETS], files=[args.reports / PAGE])
    print(write_report(args.reports, args.models, params))


if __name__ == "__main__":
    main()
