"""The soak: back-to-back plays on two zones of the audio lab, every row checked against the recordings.

Run:  .venv/bin/python bench/soak.py --minutes 30 [--hogs 2] [--hog-nice -3]

``--hogs N`` runs N busy processes beside the station; ``--hog-nice -3`` gives them
twice the station's CPU weight (needs root).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.soaklib import soak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--hogs", type=int, default=0)
    parser.add_argument("--hog-nice", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = soak(Path(tmp), args.minutes, args.hogs, args.hog_nice)
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
