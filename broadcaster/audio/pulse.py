"""Sinks that vanish from a PulseAudio or PipeWire sound server.

When a USB card is pulled (or a sink unloaded), the sound server moves its
streams to another sink — another zone's loudspeakers — and PortAudio is not
told. :class:`SinkWatcher` follows the server's events (``pactl subscribe``)
and reports a vanished sink by name at once, so that its card's plays are
failed and its stream closed before the announcement goes on elsewhere.
Without ``pactl`` or a reachable server it does nothing (ALSA ``hw:`` devices
report a pulled card as a stream error instead).

``pactl`` translates its output (``事件“移除”于 信宿 #2`` under a Chinese locale),
so every ``pactl`` runs in the C locale: the lines parsed here are always English.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

_EVENT = re.compile(r"Event '(new|remove)' on sink #(\d+)")
LISTEN_WAIT_S = 5.0
"""How long :meth:`SinkWatcher.start` waits for ``pactl subscribe`` to be listening."""


def _pactl_env() -> dict[str, str]:
    """This process's environment (the server's address included) in the C locale.

    ``LC_ALL=C`` and not ``C.UTF-8``: GNU gettext still follows ``LANGUAGE`` under
    ``C.UTF-8``, so that one is dropped as well.
    """
    env = {k: v for k, v in os.environ.items() if k != "LANGUAGE"}
    env["LC_ALL"] = "C"
    return env


class SinkWatcher:
    def __init__(self, on_removed: Callable[[str], None], on_added: Callable[[str], None]) -> None:
        self.on_removed, self.on_added = on_removed, on_added
        self.sinks: dict[str, str] = {}
        self._process: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self._listening = threading.Event()  # pactl subscribe has printed an event
        self._ready = threading.Event()  # self.sinks is a listing taken while pactl listened

    def _list(self) -> dict[str, str] | None:
        try:
            done = subprocess.run(["pactl", "list", "short", "sinks"], capture_output=True, encoding="utf-8",
                                  errors="replace", env=_pactl_env(), timeout=5, check=False)  # fmt: skip
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
        self._process = subprocess.Popen(["pactl", "subscribe"], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, encoding="utf-8", errors="replace",
                                         env=_pactl_env())  # fmt: skip
        self._thread = threading.Thread(target=self._follow, name="sink-watcher", daemon=True)
        self._thread.start()
        # pactl subscribes asynchronously, and a sink pulled before it listens would go
        # unnoticed. Each pactl run is a client coming and going, so an event: list until
        # pactl prints one, then take the listing that the events follow on from.
        deadline = time.monotonic() + LISTEN_WAIT_S
        while not self._listening.wait(0.05) and time.monotonic() < deadline:
            self._list()
        if not self._listening.is_set():
            logger.warning("pactl subscribe printed no event in %.0f s; a sink may vanish unnoticed",
                           LISTEN_WAIT_S)  # fmt: skip
        self.sinks = self._list() or sinks
        self._ready.set()
        logger.info("Watching the sound server's sinks: %s", ", ".join(sorted(self.sinks.values())))
        return self

    def _follow(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        with self._process.stdout as lines:  # the reader closes the pipe, once pactl has ended
            for line in lines:
                self._listening.set()
                self._ready.wait()
                self._event(line)

    def _event(self, line: str) -> None:
        match = _EVENT.search(line)
        if not match:
            return
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
        if self._thread is not None:
            self._thread.join(5)
