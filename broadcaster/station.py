"""Who plays what on each zone: priorities, waiting, cutting in, resuming, missing.

One worker per zone takes :class:`Request` objects and decides:

- **one item at a time per zone**; a request that would overlap waits in the
  zone's queue (highest priority first, then the earliest due);
- **priorities**: emergency > live > scheduled > background loop. A request of
  a higher priority cuts what plays with a short fade;
- **resume rule**: a cut announcement is played again *from its start* once the
  higher-priority items are done, followed by the rest of its request; a cut
  background item is not repeated, the loop goes on with the next one;
- **misfire rule**: a request that starts more than ``grace_s`` (5 minutes)
  after it was due — or after it was cut — is not played but logged ``missed``
  with how late it was; during quiet hours only emergencies play, the rest is
  logged ``missed`` ("quiet hours").

Every request ends as play rows or missed rows in the log, never as nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import IntEnum

from broadcaster.audio import INTERRUPTED
from broadcaster.config import Zone
from broadcaster.errors import AudioError
from broadcaster.hardware import run_hook
from broadcaster.player import Item, Player, ZonePlay

logger = logging.getLogger(__name__)

GRACE_S = 300.0
ITEM_GAP_S = 1.0


class Priority(IntEnum):
    BACKGROUND = 0
    SCHEDULED = 1
    LIVE = 2
    EMERGENCY = 3


_order = itertools.count()


@dataclass(frozen=True)
class Request:
    """Play ``items`` in order on ``zone``."""

    items: tuple[Item, ...]
    zone: str
    priority: Priority
    trigger: str
    due: dt.datetime
    label: str = ""
    cut_at: dt.datetime | None = None
    """When it was cut by a higher priority: the misfire limit then counts from here."""
    seq: int = field(default_factory=lambda: next(_order))

    def sort_key(self) -> tuple[int, dt.datetime, int]:
        return (-self.priority, self.due, self.seq)


class ZoneWorker:
    """The one place that decides what plays on one zone."""

    def __init__(self, zone: str, player: Player, clock: Callable[[], dt.datetime],
                 quiet: Callable[[dt.datetime], bool], grace_s: float = GRACE_S,
                 hardware: Zone | None = None) -> None:  # fmt: skip
        self.zone, self.player, self.clock, self.quiet, self.grace_s = zone, player, clock, quiet, grace_s
        self.hardware = hardware
        self.amplifier_on = False
        self.hardware_errors: list[str] = []
        self.background: list[Item] = []
        self.background_gap_s = 30.0
        self._background_next = 0
        self._queue: list[Request] = []
        self._current: tuple[Request, ZonePlay] | None = None
        self._cut_by: Request | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self._idle_since = clock()
        self._thread = threading.Thread(target=self._run, name=f"zone-{zone}", daemon=True)

    def start(self) -> ZoneWorker:
        self._thread.start()
        return self

    # --- from other threads ---------------------------------------------------------------------

    def submit(self, request: Request) -> None:
        with self._wake:
            self._queue.append(request)
            self._queue.sort(key=Request.sort_key)
            current = self._current
            if current is not None and request.priority > current[0].priority and self._cut_by is None:
                self._cut_by = request
                current[1].stop(f"cut by {request.priority.name.lower()} '{request.label}'")
            self._wake.notify_all()

    def skip(self) -> bool:
        with self._wake:
            if self._current is None:
                return False
            self._current[1].stop("skipped by the operator")
            return True

    def stop_all(self, reason: str) -> None:
        """Stop what plays and drop what waits (logging it missed)."""
        with self._wake:
            dropped, self._queue = self._queue, []
            if self._current is not None:
                self._current[1].stop(reason)
            self._wake.notify_all()
        for request in dropped:
            self._miss(request, reason)

    def shutdown(self, reason: str = "the station stopped") -> None:
        with self._wake:
            self._stopping = True
        self.stop_all(reason)
        self._thread.join(10)

    def status(self) -> dict[str, object]:
        with self._wake:
            current = self._current
            return {
                "zone": self.zone,
                "playing": current[1].item.announcement_id if current else None,
                "priority": current[0].priority.name.lower() if current else None,
                "elapsed_s": round(current[1].elapsed_s(), 1) if current else None,
                "waiting": [r.label for r in self._queue],
                "amplifier_on": self.amplifier_on,
                "hardware_errors": list(self.hardware_errors),
            }

    # --- the worker -------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stopping and not self._background_due():
                    if self._power_off_due():
                        break
                    self._wake.wait(0.2)
                stopping = self._stopping
                idle = not self._queue and not self._background_due()
                request = None if stopping or idle else (
                    self._queue.pop(0) if self._queue else self._background_request()
                )  # fmt: skip
            # Hooks run outside the lock: a slow relay must not hold up an emergency's submit().
            if stopping:
                if self.amplifier_on:
                    self._power("power_off")
                return
            if idle:
                self._power("power_off")
            elif request is not None:
                self._serve(request)

    def _background_due(self) -> bool:
        if not self.background:
            return False
        return (self.clock() - self._idle_since).total_seconds() >= self.background_gap_s

    def _background_request(self) -> Request | None:
        if not self.background:
            return None
        item = self.background[self._background_next % len(self.background)]
        self._background_next += 1
        return Request(
            (item,), self.zone, Priority.BACKGROUND, "schedule", self.clock(), item.announcement_id
        )

    def _serve(self, request: Request) -> None:
        now = self.clock()
        late = (now - (request.cut_at or request.due)).total_seconds()
        if late > self.grace_s:
            self._miss(request, f"{late:.0f} s late (the limit is {self.grace_s:.0f} s)")
            return
        if request.priority < Priority.EMERGENCY and self.quiet(request.due):
            self._miss(request, "quiet hours")
            return
        if not self.amplifier_on and self.hardware and self.hardware.power_on:
            self._power("power_on")
            self._pause_between(self.hardware.warm_up_s)  # amplifiers need a moment before the chime
        for index, item in enumerate(request.items):
            outcome = self._play(request, item)
            if outcome == INTERRUPTED and self._cut_by is not None:
                with self._wake:
                    self._cut_by = None
                    if request.priority > Priority.BACKGROUND:
                        # Resume rule: the cut item again from its start, then the rest.
                        again = replace(request, items=request.items[index:], cut_at=self.clock())
                        self._queue.append(again)
                        self._queue.sort(key=Request.sort_key)
                return
            if self._stopping:
                self._miss(replace(request, items=request.items[index + 1 :]), "the station stopped")
                return
            if index + 1 < len(request.items):
                if self._pause_between(ITEM_GAP_S):
                    with self._wake:  # something more important arrived: it goes first
                        rest = replace(request, items=request.items[index + 1 :])
                        self._queue.append(rest)
                        self._queue.sort(key=Request.sort_key)
                        self._cut_by = None
                    return
        self._idle_since = self.clock()

    def _power(self, what: str) -> None:
        hardware = self.hardware
        command = getattr(hardware, what, None) if hardware else None
        self.amplifier_on = what == "power_on"
        if hardware is None or not command:
            return
        error = run_hook(self.zone, what, command, hardware.power_timeout_s)
        if error:
            self.hardware_errors = [error, *self.hardware_errors][:5]

    def _power_off_due(self) -> bool:
        if not self.amplifier_on or self.hardware is None or self._current is not None:
            return False
        return (self.clock() - self._idle_since).total_seconds() >= self.hardware.power_off_after_s

    def _pause_between(self, seconds: float) -> bool:
        """Wait ``seconds``; True if a higher-priority request is waiting (or we stop)."""
        with self._wake:
            self._wake.wait_for(lambda: self._cut_by is not None or self._stopping, seconds)
            return self._cut_by is not None

    def _play(self, request: Request, item: Item) -> str:
        try:
            play = self.player.queue(item, self.zone, request.trigger)
        except (AudioError, OSError) as exc:  # a dead card or an unreadable file: log it, go on
            row = self.player.log.start(item.announcement_id, item.content_hash, self.zone,
                                        request.trigger, request.due)  # fmt: skip
            self.player.log.finish(row, "failed", self.clock(), str(exc))
            logger.error("%s on %s failed: %s", item.announcement_id, self.zone, exc)
            return "failed"
        play.requested_at = request.due
        with self._wake:
            self._current = (request, play)
        try:
            while not play.playback.done.wait(0.01):
                if play.started:
                    self.player.note_start(play)
                    break
            return self.player.settle(play, item.duration_s + 30)
        finally:
            with self._wake:
                self._current = None
                if self._cut_by is not None and self._cut_by.priority <= request.priority:
                    self._cut_by = None

    def _miss(self, request: Request, reason: str) -> None:
        if request.priority == Priority.BACKGROUND or not request.items:
            return  # the background loop has no slots to account for
        for item in request.items:
            self.player.log.missed(item.announcement_id, item.content_hash, self.zone, request.trigger,
                                   request.due, reason)  # fmt: skip
        logger.warning("Missed %s on %s: %s", request.label, self.zone, reason)


class Station:
    """All zones' workers."""

    def __init__(self, player: Player, zones: dict[str, Zone], clock: Callable[[], dt.datetime],
                 quiet: Callable[[dt.datetime], bool]) -> None:  # fmt: skip
        self.workers = {name: ZoneWorker(name, player, clock, quiet, hardware=zone)
                        for name, zone in zones.items()}  # fmt: skip

    def start(self) -> Station:
        for worker in self.workers.values():
            worker.start()
        return self

    def submit(self, request: Request) -> None:
        self.workers[request.zone].submit(request)

    def shutdown(self) -> None:
        for worker in self.workers.values():
            worker.shutdown()
