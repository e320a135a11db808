"""Sinks that vanish from a PulseAudio or PipeWire sound server.

When a USB card is pulled (or a sink unloaded), the sound server moves its
streams to another sink — another zone's loudspeakers — and PortAudio is not
told. :class:`SinkWatcher` follows the server's events (``pactl subscribe``)
and reports a vanished sink by name at once, so that its card's plays are
failed and its stream closed before the announcement goes on elsewhere.
Without ``pactl`` or a reachable server it does nothing (ALSA ``hw:`` devices
report a pulled card as a stream error instead).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

_EVENT = re.compile(r"Event '(new|remove)' on sink #(\d+)")


class SinkWatcher:
    def __init__(self, on_removed: Callable[[str], None], on_added: Callable[[str], None]) -> None:
        self.on_removed, self.on_added = on_removed, on_added
        self.sinks: dict[str, str] = {}
        self._process: subprocess.Popen[str] | None = None

    def _list(self) -> dict[str, str] | None:
        try:
            done = subprocess.run(["pactl", "list", "short", "sinks"], capture_output=True, text=True,
                                  timeout=5, check=False)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return None
        return {line.split("\t")[0]: line.split("\t")[1] for line in done.stdout.splitlines() if "\t" in line}

    def start(self) -> SinkWatcher:
        if shutil.which("pactl") is None:
            return self
        sinks = self._list()
        if sinks is None:
            return self
        self.sinks = sinks
        self._process = subprocess.Popen(["pactl", "subscribe"], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        threading.Thread(target=self._follow, name="sink-watcher", daemon=True).start()
        logger.info("Watching the sound server's sinks: %s", ", ".join(sorted(sinks.values())))
        return self

    def _follow(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            match = _EVENT.search(line)
            if not match:
                continue
            kind, index = match.groups()
            if kind == "remove":
                name = self.sinks.pop(index, None)
                if name:
                    logger.error("Sink %s disappeared", name)
                    self.on_removed(name)
            else:
                self.sinks = self._list() or self.sinks
                name = self.sinks.get(index)
                if name:
                    self.on_added(name)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(5)
