"""The page's own playlist, ``playlists/web.yaml``: slots added and removed from the page.

Each slot plays one announcement at a time of day, or every so often inside a
window; on every day, on chosen weekdays or on one date; on chosen zones (or the
playlist's: every zone). The file is an ordinary
playlist: the station reads it like the others, ``broadcaster check`` checks it,
and a person may edit it by hand (the page then shows what is there).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from broadcaster.content.models import PLAYLISTS_DIR, Content
from broadcaster.i18n import N_, Msg
from broadcaster.schema.fields import FieldError, parse_date, parse_duration, parse_time, parse_window
from broadcaster.web.forms import FormError, save, version

FILE = Path(PLAYLISTS_DIR) / "web.yaml"
TITLE = "网页排程"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {"mon": N_("Mon"), "tue": N_("Tue"), "wed": N_("Wed"), "thu": N_("Thu"), "fri": N_("Fri"),
             "sat": N_("Sat"), "sun": N_("Sun")}  # fmt: skip


@dataclass(frozen=True)
class PageSlot:
    at: str
    """A time of day, or '' for a slot that plays ``every`` so often ``between`` two times."""
    play: str
    date: str = ""
    zones: tuple[str, ...] = ()
    every: str = ""
    between: str = ""
    days: tuple[str, ...] = ()
    """Weekdays (``mon`` …); empty: every day."""

    @property
    def when(self) -> str:
        return self.at or f"{self.between} / {self.every}"


def read(root: Path) -> tuple[list[PageSlot], str]:
    """The page's slots and the file's version (for a change made meanwhile)."""
    path = root / FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        data = {}
    slots = []
    for slot in data.get("slots") or []:
        if isinstance(slot, dict) and (slot.get("at") or slot.get("every")) and slot.get("play"):
            play = slot["play"][0] if isinstance(slot["play"], list) else str(slot["play"])
            dates = slot.get("dates") or []
            days = slot.get("days") or []
            days = days if isinstance(days, list) else [days]
            zones = tuple(str(z) for z in slot.get("zones") or ())
            slots.append(PageSlot(str(slot.get("at") or ""), str(play), str(dates[0]) if dates else "", zones,
                                  str(slot.get("every") or ""), str(slot.get("between") or ""),
                                  tuple(str(d) for d in days)))  # fmt: skip
    return slots, version(path)


def write(root: Path, slots: list[PageSlot], expected_version: str) -> None:
    entries: list[dict[str, object]] = []
    data: dict[str, object] = {"title": TITLE, "slots": entries}
    for slot in slots:
        entry: dict[str, object] = {"at": slot.at} if slot.at else {"every": slot.every,
                                                                      "between": slot.between}  # fmt: skip
        entry["play"] = [slot.play]
        if slot.days:
            entry["days"] = list(slot.days)
        if slot.date:
            entry["dates"] = [slot.date]
        if slot.zones:
            entry["zones"] = list(slot.zones)
        entries.append(entry)
    text = "# 网页排程: made by 'broadcaster web' (editing it by hand is fine).\n" + yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False, default_flow_style=False)
    save(root / FILE, text, expected_version)


def new_slot(content: Content, values: dict[str, str], zones: list[str], days: list[str],
             today: dt.date) -> PageSlot:  # fmt: skip
    """A slot from the form, checked: a known announcement and zones, a time or an every-N window,
    weekdays, a date not past."""
    name = values.get("announcement", "")
    if name not in content.announcements:
        raise FormError(Msg.of("unknown announcement '{name}'", name=name))
    unknown = [z for z in zones if z not in content.config.zones]
    if unknown:
        raise FormError(Msg.of("unknown zone '{name}'", name=unknown[0]))
    days = [d for d in WEEKDAYS if d in days]
    at_text, every_text = values.get("at", "").strip(), values.get("every", "").strip()
    if bool(at_text) == bool(every_text):
        raise FormError(Msg.of("give a time, or how often and between which times, not both"))
    try:
        at = parse_time(at_text).isoformat() if at_text else ""
        every = between = ""
        if every_text:
            if parse_duration(every_text) < 60:
                raise FormError(Msg.of("play at most once a minute"))
            start, end = parse_window(values.get("between") or "00:00-23:59")
            every, between = every_text, f"{start:%H:%M}-{end:%H:%M}"
        day = parse_date(values["date"]) if values.get("date") else None
    except FieldError as exc:
        raise FormError(exc.message) from None
    if day is not None and day < today:
        raise FormError(Msg.of("{date} is past", date=day.isoformat()))
    return PageSlot(at, name, day.isoformat() if day else "", tuple(zones), every, between, tuple(days))
