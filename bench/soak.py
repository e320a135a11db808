"""The soak: a compressed day (a play every 3 s on two zones) on the audio lab.

Run:  .venv/bin/python bench/soak.py --minutes 30
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = soak(Path(tmp), args.minutes)
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
