"""The van operator's loop: announcements one after another, again and again.

Items follow each other with an exact gap: each next item is queued on the
card at the frame where the current one ends plus the gap, as soon as the
current one has started. The operator can pause, skip and quit; every item
that started is logged with trigger ``van``.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from broadcaster.audio.card import INTERRUPTED
from broadcaster.player.zones import Item, Player, ZonePlay

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopStatus:
    """What the display shows."""

    current: str | None
    loop: int
    loops: int | None
    elapsed_s: float
    remaining_s: float
    next: str | None
    paused: bool


class VanLoop:
    def __init__(self, player: Player, zone: str, items: list[Item], loops: int | None,
                 gap_s: float, trigger: str = "van") -> None:  # fmt: skip
        self.player, self.zone, self.items = player, zone, items
        self.loops, self.gap_s, self.trigger = loops, gap_s, trigger
        self.card = player.outputs[zone].card
        self.outcomes: list[tuple[str, str]] = []
        self._current: ZonePlay | None = None
        self._loop = 1
        self._next: str | None = None
        self._skip = threading.Event()
        self._quit = threading.Event()
        self._quit_reason = "stopped by the operator"
        self._recorded: list[ZonePlay] = []

    # --- controls (from any thread) ---------------------------------------------------------

    def pause(self) -> None:
        self.card.set_paused(True)

    def toggle_pause(self) -> None:
        self.card.set_paused(not self.card.paused)

    def skip(self) -> None:
        self._skip.set()

    def quit(self, reason: str = "stopped by the operator") -> None:
        self._quit_reason = reason
        self._quit.set()

    def status(self) -> LoopStatus:
        current = self._current
        elapsed = current.elapsed_s() if current else 0.0
        duration = current.item.duration_s if current else 0.0
        return LoopStatus(current.item.announcement_id if current else None, self._loop, self.loops,
                          elapsed, max(0.0, duration - elapsed), self._next, self.card.paused)  # fmt: skip

    # --- the loop ----------------------------------------------------------------------------

    def _sequence(self) -> Iterator[tuple[int, Item]]:
        rounds = itertools.count(1) if self.loops is None else range(1, self.loops + 1)
        for number in rounds:
            for item in self.items:
                yield number, item

    def run(self) -> list[tuple[str, str]]:
        """Play until the end, or until quit; returns (announcement, outcome) for each play."""
        sequence = self._sequence()
        first = next(sequence, None)
        if first is None:
            return self.outcomes
        self._loop = first[0]
        current: ZonePlay | None = self.player.queue(first[1], self.zone, self.trigger)
        try:
            while current is not None:
                current = self._play_one(current, sequence)
        except KeyboardInterrupt:
            self._quit_reason = "stopped with Ctrl-C"
            self._stop(self._current, None)
            raise
        finally:
            self.card.set_paused(False)
        return self.outcomes

    def _play_one(self, current: ZonePlay, sequence: Iterator[tuple[int, Item]]) -> ZonePlay | None:
        self._current = current
        while not (current.started or current.playback.done.is_set()):
            if self._quit.wait(0.005):
                break
        self.player.journal(current)
        following = None if self._quit.is_set() else next(sequence, None)
        self._next = following[1].announcement_id if following else None
        queued = None
        if following is not None and current.playback.end_frame is not None:
            start = current.playback.end_frame + round(self.gap_s * self.card.rate_hz)
            queued = self.player.queue(following[1], self.zone, self.trigger, start_frame=start)
        while not current.playback.done.wait(0.01):
            if self._quit.is_set():
                self._stop(current, queued)
                return None
            if self._skip.is_set():
                self._skip.clear()
                current.stop("skipped by the operator")
                if queued is not None:  # start the next one right after the fade instead
                    queued.stop("rescheduled")
                    queued.playback.wait(1.0)
                    queued = self.player.queue(following[1], self.zone, self.trigger)  # type: ignore[index]  # queued implies following
        self._record(current)
        if self._quit.is_set():
            self._stop(None, queued)
            return None
        if following is not None:
            self._loop = following[0]
            if queued is None:  # the current one never started (a failure): go on with the next
                queued = self.player.queue(following[1], self.zone, self.trigger)
        return queued

    def _stop(self, current: ZonePlay | None, queued: ZonePlay | None) -> None:
        for play in (current, queued):
            if play is not None and not play.playback.done.is_set():
                play.stop(self._quit_reason)
        if queued is not None:
            queued.playback.wait(1.0)
            if queued.started:
                self._record(queued)
        if current is not None:
            current.playback.wait(2.0)
            self._record(current)
        self._current = None
        return None

    def _record(self, play: ZonePlay) -> None:
        if any(p is play for p in self._recorded):
            return
        self._recorded.append(play)
        outcome = self.player.settle(play, 5.0)
        self.outcomes.append((play.item.announcement_id, outcome))
        if outcome == INTERRUPTED:
            logger.info("%s interrupted: %s", play.item.announcement_id, play.playback.reason)
