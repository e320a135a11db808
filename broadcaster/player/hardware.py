"""The PA hardware around a sound card: commands that switch amplifiers on and off.

A zone may name a ``power_on`` command (run before the first play of a run of
plays, then ``warm_up`` is waited before the chime) and a ``power_off`` command
(run once the zone has been idle for ``power_off_after``). A command is run
without a shell, with a timeout; its failure is logged and the broadcast goes on.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys

logger = logging.getLogger(__name__)


def run_hook(zone: str, what: str, command: str, timeout_s: float) -> str | None:
    """Run ``command``; None if it worked, else why not (already logged)."""
    try:
        args: str | list[str] = command if sys.platform == "win32" else shlex.split(command)
        result = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
    except ValueError as exc:  # unbalanced quotes
        reason = f"{what} for zone '{zone}' is not a valid command: {exc}"
    except subprocess.TimeoutExpired:
        reason = f"{what} for zone '{zone}' did not finish within {timeout_s:g} s"
    except OSError as exc:
        reason = f"{what} for zone '{zone}' could not run: {exc.strerror or exc}"
    else:
        if result.returncode == 0:
            logger.info("%s for zone %s: done", what, zone)
            return None
        detail = result.stderr.decode("utf-8", "replace").strip()[:200]
        reason = f"{what} for zone '{zone}' failed with exit code {result.returncode}: {detail}"
    logger.error("%s (broadcasting anyway)", reason)
    return reason
