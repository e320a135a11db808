"""Playlists → play requests. The only module that imports APScheduler.

APScheduler wakes us ``AHEAD_S`` before each slot's next due time (one job per
slot, with a trigger computed by :mod:`broadcaster.scheduler.timetable`), and a tick every
few seconds — on its own thread, timed by the monotonic clock, so a wall clock
stepped back cannot hold it up — catches up after clock steps or sleeps. Handing
a slot on a little early lets the station place it on the card so that its first
sample is heard at the due time, whatever the device's latency. Either way
:class:`DueTracker` decides: every occurrence up to ``AHEAD_S`` from now is
handed on once — to be played if it is at most ``grace_s`` late, else logged
missed. A clock stepped back hands nothing on twice, and what it has not handed
on yet comes due again in time; a clock stepped forward hands on a few late slots
and logs the rest missed: no storm of duplicate plays. Steps (the wall clock
against the monotonic one) are counted and make the slot jobs look again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from broadcaster.content.models import Content
from broadcaster.scheduler.timetable import Occurrence, next_due, occurrences

logger = logging.getLogger(__name__)

TICK_S = 5.0
CLOCK_STEP_S = 2.0
REMEMBER = dt.timedelta(hours=36)
"""How long what was handed on is remembered: a clock stepped back by up to this hands nothing twice."""
AHEAD_S = 1.0
"""Slots are handed on this long before they are due."""


class DueTracker:
    """What fell due since the last look, each occurrence once. Pure: the clock is passed in."""

    def __init__(self, content: Content, now: dt.datetime) -> None:
        self.content = content
        self.checked_until = now
        self._handed: dict[str, dt.datetime] = {}  # occurrence key → its due time

    def update(self, content: Content) -> None:
        self.content = content

    def due(self, now: dt.datetime) -> list[Occurrence]:
        """Occurrences in (last look, now] not handed on before.

        When the clock went back, the next look starts from the new time: what was
        handed on already (while the clock ran ahead) is not handed on again, and
        what was not (a slot the station had not reached) comes due when its time comes.
        """
        if now <= self.checked_until:
            self.checked_until = now
            return []
        found = [o for o in occurrences(self.content, self.checked_until, now) if o.key not in self._handed]
        self._handed.update((o.key, o.due) for o in found)
        self._handed = {key: due for key, due in self._handed.items() if due > now - REMEMBER}
        self.checked_until = now
        return found


class _SlotTrigger(BaseTrigger):
    """Fires at a slot's next due time, as the timetable computes it."""

    def __init__(self, scheduler: Scheduler, playlist: str, index: int) -> None:
        self.scheduler, self.playlist, self.index = scheduler, playlist, index

    def get_next_fire_time(self, previous_fire_time, now):
        content = self.scheduler.tracker.content
        playlist = content.playlists.get(self.playlist)
        if playlist is None or self.index >= len(playlist.slots):
            return None
        ahead = dt.timedelta(seconds=AHEAD_S)
        after = previous_fire_time + ahead if previous_fire_time else now
        due = next_due(content, playlist, self.index, after)
        return None if due is None else due - ahead


class Scheduler:
    """Hands due occurrences to ``on_due(occurrence, late_s)``."""

    def __init__(self, content: Content, on_due: Callable[[Occurrence, float], None],
                 clock: Callable[[], dt.datetime]) -> None:  # fmt: skip
        self.clock = clock
        self.on_due = on_due
        self.tracker = DueTracker(content, clock())
        self._lock = threading.Lock()
        self._aps = BackgroundScheduler(timezone=content.config.tz,
                                        job_defaults={"misfire_grace_time": None, "coalesce": True,
                                                      "max_instances": 1})  # fmt: skip
        self._last_tick = (clock().timestamp(), time.monotonic())
        self.clock_steps = 0
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_every, name="scheduler-tick", daemon=True)

    def start(self) -> Scheduler:
        self._aps.start()
        self._install_jobs()
        self._ticker.start()
        logger.info("Scheduler started")
        return self

    def shutdown(self) -> None:
        self._stop.set()
        self._aps.shutdown(wait=False)

    def _tick_every(self) -> None:
        while not self._stop.wait(TICK_S):  # a monotonic wait: the wall clock may be stepped
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the tick must go on
                logger.exception("Scheduler tick failed")

    def update(self, content: Content) -> None:
        """New content (after a reload): new jobs; what was already handed on is not repeated."""
        with self._lock:
            self.tracker.update(content)
        self._install_jobs()

    def _install_jobs(self) -> None:
        for job in self._aps.get_jobs():
            job.remove()
        for playlist in self.tracker.content.playlists.values():
            for index in range(len(playlist.slots)):
                self._aps.add_job(self.tick, _SlotTrigger(self, playlist.id, index),
                                  id=f"{playlist.id}#{index}")  # fmt: skip

    @property
    def alive(self) -> bool:
        return bool(self._aps.running) and self._ticker.is_alive()

    def tick(self) -> None:
        """Hand on everything due up to now (called by every job and by the tick)."""
        now = self.clock()
        with self._lock:
            mono = time.monotonic()
            step = (now.timestamp() - self._last_tick[0]) - (mono - self._last_tick[1])
            self._last_tick = (now.timestamp(), mono)
            stepped = abs(step) > CLOCK_STEP_S
            if stepped:
                self.clock_steps += 1
                logger.warning("The clock was stepped by %+.0f s", step)
            due = self.tracker.due(now + dt.timedelta(seconds=AHEAD_S))
        if stepped:
            self._install_jobs()  # the slot jobs' next times were worked out on the old clock
        for occurrence in due:
            late = (now - occurrence.due).total_seconds()
            self.on_due(occurrence, late)
