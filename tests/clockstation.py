"""``broadcaster run`` with its wall clock offset by the seconds written in a file.

For the clock-step tests: the real station (cards, play log, scheduler, control
socket) through the daemon's clock seam, while the monotonic clock runs on as the
machine's. Run as ``python tests/clockstation.py OFFSET_FILE`` in a station's folder.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

from broadcaster.config import Config
from broadcaster.daemon import Daemon


def main() -> int:
    offset_file = Path(sys.argv[1])

    def clock(config: Config) -> dt.datetime:
        return dt.datetime.now(config.tz) + dt.timedelta(seconds=float(offset_file.read_text()))

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Daemon(Path("config.yaml"), clock=clock).run()


if __name__ == "__main__":
    sys.exit(main())
