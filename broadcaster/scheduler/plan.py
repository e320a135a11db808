"""What the station will play, and why some of it will not: the rules ``broadcaster plan`` shows.

Pure functions of the content and a start time. Each slot that falls due is a
:class:`PlanEntry` with notes: an unknown or expired announcement, a drop in
quiet hours, a wait behind an earlier slot on the same zone (lengths are
estimated from the text). A playlist's ``loop`` has no times: it is listed once,
as the background it is, before the slots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from broadcaster.content.models import Announcement, Content, Pause, Priority
from broadcaster.i18n import Msg
from broadcaster.scheduler.timetable import in_quiet_hours, occurrences

SECONDS_PER_CHAR = 0.25
"""A rough speaking rate for the plan's estimates (espeak-ng at 90 % speed says ~4 characters a second)."""
CHIME_S = 2.3
"""The chime and the pause after it."""


@dataclass(frozen=True)
class PlanEntry:
    due: dt.datetime | None
    """In the station's time zone; None for a background loop, which has no time."""
    playlist: str
    zones: tuple[str, ...]
    announcements: tuple[str, ...]
    notes: tuple[Msg, ...] = ()


def estimate_s(announcement: Announcement) -> float:
    """A rough length: the text at :data:`SECONDS_PER_CHAR`, pauses, repeats, gaps and the chime."""
    pauses = sum(s.seconds for s in announcement.segments if isinstance(s, Pause))
    spoken = len(announcement.text) * SECONDS_PER_CHAR + pauses
    total = spoken * announcement.repeat + announcement.gap_s * (announcement.repeat - 1)
    return total + (CHIME_S if announcement.chime else 0.0)


def _loops(content: Content) -> list[PlanEntry]:
    every_zone = tuple(content.config.zones)
    entries = []
    for playlist in content.playlists.values():
        if playlist.loop is None or not playlist.enabled:
            continue
        gap = playlist.loop.gap_s
        notes = [Msg.of("background loop: plays whenever the zone has been idle for {seconds:g} s",
                        seconds=gap)]  # fmt: skip
        missing = [n for n in playlist.loop.play if n not in content.announcements]
        if missing:
            notes.append(Msg.of("unknown or broken: {names}", names=", ".join(missing)))
        entries.append(PlanEntry(None, playlist.id, playlist.zones or every_zone, playlist.loop.play,
                                 tuple(notes)))  # fmt: skip
    return entries


def plan(content: Content, start: dt.datetime, days: float) -> list[PlanEntry]:
    """Background loops, then every slot due in ``[start, start + days)`` with its notes."""
    config = content.config
    busy_until: dict[str, dt.datetime] = {}
    entries = _loops(content)
    for occurrence in occurrences(content, start, start + dt.timedelta(days=days)):
        notes = []
        local = occurrence.due.astimezone(config.tz)
        found = [content.announcements.get(n) for n in occurrence.announcements]
        anns = [a for a in found if a is not None]
        missing = [n for n, a in zip(occurrence.announcements, found, strict=True) if a is None]
        if missing:
            notes.append(Msg.of("unknown or broken: {names}", names=", ".join(missing)))
        expired = [a.id for a in anns if not a.is_valid_on(local.date())]
        if expired:
            notes.append(Msg.of("not valid that day: {names}", names=", ".join(expired)))
        urgent = any(a.priority is Priority.EMERGENCY for a in anns)
        if not urgent and in_quiet_hours(occurrence.due, config.quiet_hours, config.tz):
            notes.append(Msg.of("dropped: quiet hours"))
        length = dt.timedelta(seconds=sum(estimate_s(a) for a in anns) * occurrence.repeat)
        for zone in occurrence.zones:
            if zone in busy_until and busy_until[zone] > occurrence.due:
                wait = (busy_until[zone] - occurrence.due).total_seconds()
                notes.append(Msg.of("conflict on {zone}: waits {seconds:.0f} s", zone=zone, seconds=wait))
            busy_until[zone] = max(busy_until.get(zone, occurrence.due), occurrence.due) + length
        entries.append(PlanEntry(local, occurrence.playlist, tuple(occurrence.zones),
                                 tuple(occurrence.announcements), tuple(notes)))  # fmt: skip
    return entries
