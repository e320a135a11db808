"""Who plays what on each zone: priorities, cutting in, resuming, missing.

Per zone, one item at a time. Requests wait in the zone's queue, the highest
priority first, then the earliest due. The rules, by priority:

=============  ====================================  ===============================
priority       cuts (with a 30 ms fade)              when cut itself
=============  ====================================  ===============================
emergency      everything below; also in quiet hours  never (another emergency waits)
live (voice)   now, high, normal, background          ended; it does not come back
now (send)     high, normal, background              played again from its start
high           normal, background                    played again from its start
normal         background                            played again from its start
background     nothing (plays when the zone has       not repeated; the loop goes on
               been idle for the loop's gap)
=============  ====================================  ===============================

Equal priorities do not cut each other: a send during live voice waits for it
to end (and the station refuses a second talk while one is on).

- **resume rule**: a cut request is played again from the cut item's start once
  the more important items are done, then the rest of its items;
- **misfire rule**: a request that would start more than ``grace_s`` (5
  minutes) after it was due — or after it was cut — is logged ``missed`` with
  how late it was; in quiet hours only emergencies play, the rest is logged
  ``missed`` ("quiet hours");
- a request due in the future (the scheduler hands slots on a little early) is
  placed on the card at the frame that reaches the loudspeaker at its due time.

Every request ends as play rows or missed rows in the log, never as nothing:
also when it is stopped, skipped before it sounded, or the station stops.

Threads: :class:`Station` owns every zone's state and changes it only in its
own thread (or, when no thread was started, in the caller's: the tests drive
it on a virtual clock). Other threads — the scheduler, the control socket, the
cards' feeders — post work to it (:meth:`Station.submit`, :meth:`Station.skip`,
…) and read :attr:`Station.snapshot`, which is replaced whole after each step.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import TypeVar

from broadcaster.audio.card import COMPLETED, DROPOUT, FAILED, INTERRUPTED
from broadcaster.config import Zone
from broadcaster.content.models import Loop
from broadcaster.errors import AudioError, BroadcasterError
from broadcaster.i18n import _
from broadcaster.player.hardware import run_hook
from broadcaster.player.zones import Item, LiveItem, Player, ZonePlay

logger = logging.getLogger(__name__)

GRACE_S = 300.0
ITEM_GAP_S = 1.0
POLL_S = 0.25
"""The station thread looks at its timers at least this often (changes wake it at once)."""
STOP_WAIT_S = 3.0
WAKE_WAIT_S = 0.3
RETRY_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
"""After a play fails on a zone (a card that refuses audio), the next waits this long, then longer:
a dead card costs a play row every 30 s, not hundreds a second. Emergencies do not wait."""
"""A slot waits for a woken card's clock until this close to its due time, then plays at once."""

T = TypeVar("T")


class Priority(IntEnum):
    BACKGROUND = 0
    NORMAL = 1
    HIGH = 2
    NOW = 3
    """Sent by a person to play now."""
    LIVE = 4
    """Live voice from the microphone."""
    EMERGENCY = 5


_order = itertools.count()


@dataclass(frozen=True)
class Request:
    """Play ``items`` in order on ``zone``."""

    items: tuple[Item | LiveItem, ...]
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


@dataclass
class _Current:
    """The request a zone is playing, and which of its items."""

    request: Request
    index: int
    play: ZonePlay
    stopped: bool = False


class ZoneControl:
    """The decisions for one zone. Called from the station's thread only."""

    def __init__(self, zone: str, player: Player, clock: Callable[[], dt.datetime],
                 quiet: Callable[[dt.datetime], bool], grace_s: float = GRACE_S,
                 hardware: Zone | None = None) -> None:  # fmt: skip
        self.zone, self.player, self.clock, self.quiet, self.grace_s = zone, player, clock, quiet, grace_s
        self.hardware = hardware
        self.background: list[Item] = []
        self.background_gap_s = Loop.gap_s
        self.stopping = False
        self.amplifier_on = False
        self.hardware_errors: list[str] = []
        self._background_next = 0
        self._queue: list[Request] = []
        self._current: _Current | None = None
        self._open: list[ZonePlay] = []
        """Plays whose log rows are not final yet (the last one may still sound as the next is queued)."""
        self._idle_since = clock()
        self._free_frame = 0
        """The card frame where the last item of this zone ends: the next request starts there at
        the earliest (a request ends in the mix a lead before it ends on the card)."""
        self._hook: Future[str | None] | None = None
        self._ready_at: dt.datetime | None = None
        self._hooks = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hooks-{zone}")
        self._failures = 0
        """Plays that failed in a row on this zone."""
        self._retry_at: dt.datetime | None = None

    # --- orders ---------------------------------------------------------------------------------

    def submit(self, request: Request) -> None:
        if self.stopping:
            self._miss(request, "the station stopped")
            return
        self._enqueue(request)
        current = self._current
        if current is not None and not current.stopped and request.priority > current.request.priority:
            # Cut now, and let the next step start the newcomer at once: the card applies the
            # stop and the start in one go, so the fade-out and the new item overlap (30 ms).
            reason = f"cut by {request.priority.name.lower()} '{request.label}'"
            for play in self._open:  # the tail of the previous item may still sound too
                play.stop(reason)
            self._current = None
            cut = current.request
            if Priority.BACKGROUND < cut.priority < Priority.LIVE:
                # Resume rule: the cut item again from its start, then the rest.
                self._enqueue(replace(cut, items=cut.items[current.index :], cut_at=self.clock()))

    def withdraw(self, item: LiveItem, reason: str) -> None:
        """Live voice ended: ends it where it is on, and where it still waits it is logged missed."""
        waiting = [r for r in self._queue if item in r.items]
        self._queue = [r for r in self._queue if item not in r.items]
        for request in waiting:
            self._miss(request, reason)
        for play in self._open:
            if play.item is item:
                play.playback.end()

    def drop(self, announcements: set[str], reason: str) -> None:
        """Those announcements no longer play here: stopped if they play, logged missed if they wait."""
        waiting = [r for r in self._queue if any(i.announcement_id in announcements for i in r.items)]
        self._queue = [r for r in self._queue if r not in waiting]
        for request in waiting:
            self._miss(request, reason)
        current = self._current
        if current is not None and current.play.item.announcement_id in announcements:
            self.stop_all_current(reason)

    def stop_all_current(self, reason: str) -> None:
        """Stop what plays and the rest of its request (logged missed); what waits stays."""
        current = self._current
        if current is not None and not current.stopped:
            current.stopped = True
            for play in self._open:
                play.stop(reason)
            rest = current.request.items[current.index + 1 :]
            self._miss(replace(current.request, items=rest), reason)

    def skip(self) -> bool:
        if self._current is None:
            return False
        self._current.play.stop("skipped by the operator")
        return True

    def stop_all(self, reason: str) -> None:
        """Stop what plays and drop what waits and the rest of the current request (logged missed)."""
        dropped, self._queue = self._queue, []
        for request in dropped:
            self._miss(request, reason)
        self.stop_all_current(reason)

    @property
    def settled(self) -> bool:
        """Nothing plays and every row is final."""
        return self._current is None and not self._open

    # --- the step -------------------------------------------------------------------------------

    def step(self) -> None:
        now = self.clock()
        self._open = [play for play in self._open if not self.player.journal(play)]
        if self._current is not None and self._failures and self._current.play.playback.started:
            logger.info("Zone %s plays again, after %d failed plays", self.zone, self._failures)
            self._failures, self._retry_at = 0, None
        if self._current is not None:
            self._advance(self._current, now)
        while self._current is None and not self.stopping and self._start_next(now):
            pass
        self._power_off_when_idle(now)

    def _advance(self, current: _Current, now: dt.datetime) -> None:
        """When the current item is over in the mix, decide what follows it."""
        playback = current.play.playback
        end = playback.end_frame
        if not (playback.done.is_set() or (end is not None and playback.card.mixed_until >= end)):
            return
        request, index = current.request, current.index
        silent = playback.done.is_set() and not playback.started and playback.outcome == INTERRUPTED
        self._current = None
        reached_end = playback.outcome in (None, COMPLETED, DROPOUT) or playback.stop_frame is not None
        if end is not None and reached_end:  # a failed item never got to its end frame
            self._free_frame = max(self._free_frame, end)
        if silent and request.priority > Priority.BACKGROUND:
            self._miss(replace(request, items=request.items[index : index + 1]), playback.reason)
        if playback.outcome == FAILED and not playback.started:
            self._failed(now, playback.reason)
        if current.stopped or index + 1 == len(request.items):
            self._idle_since = now
            return
        if playback.outcome == FAILED and not playback.started:  # the rest waits for the retry
            self._enqueue(replace(request, items=request.items[index + 1 :]))
            self._idle_since = now
            return
        start = None
        if end is not None and playback.outcome != FAILED:
            start = end + round(ITEM_GAP_S * playback.card.rate_hz)
        self._queue_item(request, index + 1, start)

    def _start_next(self, now: dt.datetime) -> bool:
        """Take the next request (or background item) if there is one; True to look again."""
        if self._queue:
            request = self._queue[0]
        elif self.background and (now - self._idle_since).total_seconds() >= self.background_gap_s:
            request = self._background_request(now)
        else:
            return False
        late = (now - (request.cut_at or request.due)).total_seconds()
        quiet = request.priority < Priority.EMERGENCY and self.quiet(request.due)
        if late > self.grace_s or quiet:
            self._take(request)
            self._miss(request, "quiet hours" if quiet else
                       f"{late:.0f} s late (the limit is {self.grace_s:.0f} s)")  # fmt: skip
            if request.priority == Priority.BACKGROUND:
                self._idle_since = now  # the loop waits another gap
            return True
        if self._retry_at is not None and now < self._retry_at and request.priority < Priority.EMERGENCY:
            return False  # the zone's last play failed: wait before the next try
        if not self._power_ready(now):
            return False  # the amplifier is warming up: the request waits in the queue
        start = None
        if request.due > now:  # placed so that its first sample is heard at its due time
            card = self.player.outputs[self.zone].card
            card.wake_up()
            start = card.frame_at(request.due.timestamp())
            if start is None and card.alive and (request.due - now).total_seconds() > WAKE_WAIT_S:
                return False  # a card that slept reads its clock again: look at the next step
        self._take(request)
        start = max(start or 0, self._free_frame)  # never over the tail of the previous item
        self._queue_item(request, 0, start)
        return self._current is None

    def _take(self, request: Request) -> None:
        if self._queue and self._queue[0] is request:
            self._queue.pop(0)
        else:
            self._background_next += 1

    def _queue_item(self, request: Request, index: int, start_frame: int | None) -> None:
        for position in range(index, len(request.items)):
            item = request.items[position]
            try:
                play = self.player.queue(item, self.zone, request.trigger, request.due, start_frame)
            except (AudioError, OSError) as exc:  # a dead card or an unreadable file: log it, go on
                self.player.failed(item, self.zone, request.trigger, request.due, str(exc))
                start_frame = None
                if self.player.outputs[self.zone].card.alive:
                    continue  # the file, not the card: the next item may play
                self._failed(self.clock(), str(exc))
                if position + 1 < len(request.items):  # the rest waits for the retry
                    self._enqueue(replace(request, items=request.items[position + 1 :]))
                break
            self._current = _Current(request, position, play)
            self._open.append(play)
            return
        self._idle_since = self.clock()

    def _failed(self, now: dt.datetime, reason: str) -> None:
        """A play failed on this zone: the next one waits, a little longer each time in a row."""
        self._failures += 1
        pause = RETRY_S[min(self._failures, len(RETRY_S)) - 1]
        self._retry_at = now + dt.timedelta(seconds=pause)
        if self._failures == 1:  # one line for the whole burst; each play has its row
            logger.error("Zone %s cannot play: %s; trying again after pauses of up to %.0f s",
                         self.zone, reason, RETRY_S[-1])  # fmt: skip

    def _enqueue(self, request: Request) -> None:
        self._queue.append(request)
        self._queue.sort(key=Request.sort_key)

    def _background_request(self, now: dt.datetime) -> Request:
        item = self.background[self._background_next % len(self.background)]
        return Request((item,), self.zone, Priority.BACKGROUND, "schedule", now, item.announcement_id)

    def _miss(self, request: Request, reason: str) -> None:
        if request.priority == Priority.BACKGROUND or not request.items:
            return  # the background loop has no slots to account for
        for item in request.items:
            self.player.log.missed(item.announcement_id, item.content_hash, self.zone, request.trigger,
                                   request.due, reason, item.started_by)  # fmt: skip
        logger.warning("Missed %s on %s: %s", request.label, self.zone, reason)

    # --- the amplifier (hooks run in their own thread: a slow relay holds up nothing) -----------

    def _power_ready(self, now: dt.datetime) -> bool:
        hardware = self.hardware
        if hardware is None or not hardware.power_on or self.amplifier_on and self._hook is None:
            return True
        if self._hook is None:
            self._hook = self._hooks.submit(run_hook, self.zone, "power_on", hardware.power_on,
                                            hardware.power_timeout_s)  # fmt: skip
            self.amplifier_on = True
            return False
        if not self._hook.done():
            return False
        if self._ready_at is None:
            self._note_hook(self._hook)
            self._ready_at = now + dt.timedelta(seconds=hardware.warm_up_s)
        if now < self._ready_at:
            return False
        self._hook, self._ready_at = None, None
        return True

    def _power_off_when_idle(self, now: dt.datetime) -> None:
        hardware = self.hardware
        if self._hook is not None and self._hook.done() and not self._queue and self._current is None:
            # The requests that needed the amplifier went away while it warmed up.
            if self._ready_at is None:
                self._note_hook(self._hook)
            self._hook, self._ready_at = None, None
        if (not self.amplifier_on or hardware is None or self._current is not None or self._queue
                or self._hook is not None):  # fmt: skip
            return
        if self.stopping or (now - self._idle_since).total_seconds() >= hardware.power_off_after_s:
            self.amplifier_on = False
            if hardware.power_off:
                job = self._hooks.submit(run_hook, self.zone, "power_off", hardware.power_off,
                                         hardware.power_timeout_s)  # fmt: skip
                job.add_done_callback(self._note_hook)

    def _note_hook(self, job: Future[str | None]) -> None:
        error = job.result()
        if error:
            self.hardware_errors = [error, *self.hardware_errors][:5]

    def close(self) -> None:
        self._hooks.shutdown(wait=True, cancel_futures=False)

    # --- what status shows ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, object]:
        current = self._current
        sounding = current is not None and current.play.started
        return {
            "zone": self.zone,
            "playing": current.play.item.announcement_id if current and sounding else None,
            "priority": current.request.priority.name.lower() if current and sounding else None,
            "elapsed_s": round(current.play.elapsed_s(), 1) if current and sounding else None,
            "dropouts": current.play.playback.dropouts if current else 0,
            "waiting": [r.label for r in self._queue]
            + ([current.request.label] if current and not sounding else []),
            "amplifier_on": self.amplifier_on,
            "hardware_errors": list(self.hardware_errors),
        }


class Station:
    """Every zone's decisions, owned by one thread; other threads post work to it."""

    def __init__(self, player: Player, zones: dict[str, Zone], clock: Callable[[], dt.datetime],
                 quiet: Callable[[dt.datetime], bool], grace_s: float = GRACE_S) -> None:  # fmt: skip
        self.player = player
        self.zones = {name: ZoneControl(name, player, clock, quiet, grace_s, hardware=zone)
                      for name, zone in zones.items()}  # fmt: skip
        self.snapshot: list[dict[str, object]] = [zone.snapshot() for zone in self.zones.values()]
        self._inbox: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._closed = False
        """After shutdown: posting raises; guarded by ``_post_lock`` with the last drain of the inbox."""
        self._post_lock = threading.Lock()
        for card in player.outputs.cards.values():
            card.on_change = self.wake

    # --- from any thread ----------------------------------------------------------------------

    def submit(self, request: Request) -> None:
        self._post(lambda: self.zones[request.zone].submit(request))

    def skip(self, zones: list[str]) -> list[str]:
        return self._ask(lambda: [name for name in zones if self.zones[name].skip()])

    def stop(self, zones: list[str], reason: str) -> list[str]:
        def stop() -> list[str]:
            for name in zones:
                self.zones[name].stop_all(reason)
            return zones

        return self._ask(stop)

    def drop(self, announcements: list[str], reason: str) -> None:
        """Announcements withdrawn (a cancelled alert): stopped where they play, missed where they wait."""

        def drop() -> None:
            for zone in self.zones.values():
                zone.drop(set(announcements), reason)

        self._ask(drop)

    def end_live(self, item: LiveItem, reason: str) -> None:
        """The speaker is done (or gone): ``item`` ends on every zone, or never starts."""
        def withdraw() -> None:
            for zone in self.zones.values():
                zone.withdraw(item, reason)

        self._ask(withdraw)

    def set_background(self, zone: str, items: list[Item], gap_s: float) -> None:
        def change() -> None:
            self.zones[zone].background, self.zones[zone].background_gap_s = items, gap_s

        self._post(change)

    def wake(self) -> None:
        if self._thread is not None:
            self._inbox.put(lambda: None)

    def _post(self, job: Callable[[], None]) -> None:
        if self._thread is None:  # driven by the caller (tests on a virtual clock)
            job()
            self.step()
            return
        with self._post_lock:
            if self._closed:
                raise BroadcasterError(_("the station is stopping; nothing was sent"))
            self._inbox.put(job)

    def _ask(self, job: Callable[[], T]) -> T:
        if self._thread is None or self._thread is threading.current_thread():
            result = job()
            self.step()
            return result
        answer: Future[T] = Future()

        def run() -> None:
            try:
                answer.set_result(job())
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                answer.set_exception(exc)

        self._post(run)
        return answer.result(10)

    # --- the station's thread -----------------------------------------------------------------

    def start(self) -> Station:
        self._thread = threading.Thread(target=self._run, name="station", daemon=True)
        self._thread.start()
        return self

    def step(self) -> None:
        for zone in self.zones.values():
            try:
                zone.step()
            except Exception:  # noqa: BLE001 - one zone's fault must not stop the others
                logger.exception("zone %s", zone.zone)
        self.snapshot = [zone.snapshot() for zone in self.zones.values()]

    def _run(self) -> None:
        while True:
            try:
                job = self._inbox.get(timeout=POLL_S)
            except queue.Empty:
                job = lambda: None  # noqa: E731 - a timer tick
            while job is not None:
                try:
                    job()
                except Exception:  # noqa: BLE001 - one bad order must not stop the station
                    logger.exception("station error")
                try:
                    job = self._inbox.get_nowait()
                except queue.Empty:
                    break
            if job is None:
                self._stopped.set()
                return
            try:
                self.step()
            except Exception:  # noqa: BLE001
                logger.exception("station error")

    def shutdown(self, reason: str = "the station stopped") -> None:
        """Stop every zone; wait until every play's row is final (fades and delivery); stop the thread."""

        def stop() -> None:
            for zone in self.zones.values():
                zone.stopping = True
                zone.stop_all(reason)

        self._ask(stop)
        pause = threading.Event()  # never set: a sleep
        for _poll in range(round(STOP_WAIT_S / POLL_S)):
            if all(zone.settled for zone in self.zones.values()):
                break
            if self._thread is None:
                self.step()
            pause.wait(POLL_S)
        if self._thread is not None:
            self._inbox.put(None)
            self._stopped.wait(5)
            with self._post_lock:  # what was posted meanwhile still ends as a row (missed)
                self._closed = True
                while True:
                    try:
                        late = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    try:
                        if late is not None:
                            late()
                    except Exception:  # noqa: BLE001
                        logger.exception("station error")
        for zone in self.zones.values():  # what did not end in time ends now, with its row
            for play in zone._open:
                play.playback._finish(INTERRUPTED, reason, zone.clock().timestamp())
            zone.step()
            zone.close()
