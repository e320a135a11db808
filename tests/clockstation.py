"""``broadcaster run`` with its wall clock offset by the seconds written in a file.

For the clock-step tests: the real station (cards, play log, scheduler, control
socket) sees a wall clock stepped as the machine's would be — ``time.time`` and
the daemon's clock seam — while the monotonic clock runs on. Run as
``python tests/clockstation.py OFFSET_FILE`` in a station's folder.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from pathlib import Path

OFFSET_FILE = Path(sys.argv[1])
_machine_time = time.time


_last = [0.0]


def offset_s() -> float:
    """The offset in the file; the test replaces the file whole (rename), so a read sees one
    value or the other; should it ever see an empty file, the last value holds."""
    try:
        _last[0] = float(OFFSET_FILE.read_text())
    except (OSError, ValueError):
        pass
    return _last[0]


# Before broadcaster is imported: the cards take time.time as their clock when they are made.
time.time = lambda: _machine_time() + offset_s()

from broadcaster.config import Config  # noqa: E402
from broadcaster.daemon.run import Daemon  # noqa: E402


def clock(config: Config) -> dt.datetime:
    return dt.datetime.now(config.tz) + dt.timedelta(seconds=offset_s())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(Daemon(Path("config.yaml"), clock=clock).run())
