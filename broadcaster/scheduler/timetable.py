"""When slots fall due: the schedule's meaning, as pure functions of dates and a time zone.

Shared by the scheduler (what to ask the player for now) and ``broadcaster plan``
(what will play tomorrow). Rules, in the station's time zone:

- a slot plays on its ``days`` and, if it has ``dates``, only on those dates,
  within its (or its playlist's) ``valid_from``/``valid_until``;
- ``at`` times play once each; ``every`` plays at the window's start and then
  every N until the window's end (inclusive);
- on the day clocks go forward, a time inside the skipped hour plays one hour
  later (what the wall clock shows then); on the day clocks go back, a time in
  the repeated hour plays once, the first time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from broadcaster.content.models import Content, Playlist, Slot


@dataclass(frozen=True, order=True)
class Occurrence:
    """One slot falling due: what should play, where, and when."""

    due: dt.datetime
    playlist: str
    slot: int
    """Index of the slot in its playlist (0-based)."""
    announcements: tuple[str, ...]
    zones: tuple[str, ...]
    repeat: int = 1

    @property
    def key(self) -> str:
        """Identifies this occurrence, so that it is handled once."""
        return f"{self.playlist}#{self.slot}@{self.due.astimezone(dt.UTC).isoformat()}"


def local(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    """``day`` at wall-clock ``time`` in ``tz``; times in a DST gap move forward by the gap."""
    wall = dt.datetime.combine(day, time).replace(tzinfo=tz, fold=0)
    return wall.astimezone(dt.UTC).astimezone(tz)


def slot_plays_on(slot: Slot, day: dt.date) -> bool:
    if slot.dates and day not in slot.dates:
        return False
    if day.weekday() not in slot.days:
        return False
    if slot.valid_from and day < slot.valid_from:
        return False
    return not (slot.valid_until and day > slot.valid_until)


def slot_times(slot: Slot, day: dt.date, tz: ZoneInfo) -> list[dt.datetime]:
    """Every moment ``slot`` falls due on ``day``, in order."""
    if not slot_plays_on(slot, day):
        return []
    times = list(slot.times)
    if slot.every_s and slot.window:
        start = dt.datetime.combine(day, slot.window[0])
        end = dt.datetime.combine(day, slot.window[1])
        step = dt.timedelta(seconds=slot.every_s)
        while start <= end:
            times.append(start.time())
            start += step
    return sorted({local(day, t, tz) for t in times})


def zones_of(slot: Slot, playlist: Playlist, content: Content) -> tuple[str, ...]:
    return slot.zones or playlist.zones or tuple(content.config.zones)


def occurrences(content: Content, start: dt.datetime, end: dt.datetime) -> list[Occurrence]:
    """Every occurrence with ``start < due <= end``, in time order."""
    tz = content.config.tz
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    found = []
    for playlist in content.playlists.values():
        if not playlist.enabled:
            continue
        for index, slot in enumerate(playlist.slots):
            day = first
            while day <= last:
                for due in slot_times(slot, day, tz):
                    if start < due <= end:
                        found.append(Occurrence(due, playlist.id, index, slot.play,
                                                zones_of(slot, playlist, content), slot.repeat))  # fmt: skip
                day += dt.timedelta(days=1)
    return sorted(found)


def next_due(content: Content, playlist: Playlist, index: int, after: dt.datetime,
             horizon_days: int = 400) -> dt.datetime | None:  # fmt: skip
    """The first moment after ``after`` at which slot ``index`` of ``playlist`` falls due."""
    tz = content.config.tz
    slot = playlist.slots[index]
    day = after.astimezone(tz).date()
    for _ in range(horizon_days):
        for due in slot_times(slot, day, tz):
            if due > after:
                return due
        day += dt.timedelta(days=1)
    return None


def in_quiet_hours(moment: dt.datetime, quiet: tuple[dt.time, dt.time] | None, tz: ZoneInfo) -> bool:
    """Whether ``moment`` falls in the quiet window (which may cross midnight)."""
    if quiet is None:
        return False
    now = moment.astimezone(tz).time()
    start, end = quiet
    return start <= now < end if start <= end else (now >= start or now < end)
