"""The page's own playlist, ``playlists/web.yaml``: slots added and removed from the page.

Each slot plays one announcement at a time of day, on every day or on one date,
on chosen zones (or the playlist's: every zone). The file is an ordinary
playlist: the station reads it like the others, ``broadcaster check`` checks it,
and a person may edit it by hand (the page then shows what is there).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from broadcaster.content.models import PLAYLISTS_DIR, Content
from broadcaster.i18n import Msg
from broadcaster.schema.fields import FieldError, parse_date, parse_time
from broadcaster.web.forms import FormError, save, version

FILE = Path(PLAYLISTS_DIR) / "web.yaml"
TITLE = "网页排程"


@dataclass(frozen=True)
class PageSlot:
    at: str
    play: str
    date: str = ""
    zones: tuple[str, ...] = ()


def read(root: Path) -> tuple[list[PageSlot], str]:
    """The page's slots and the file's version (for a change made meanwhile)."""
    path = root / FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        data = {}
    slots = []
    for slot in data.get("slots") or []:
        if isinstance(slot, dict) and slot.get("at") and slot.get("play"):
            play = slot["play"][0] if isinstance(slot["play"], list) else str(slot["play"])
            dates = slot.get("dates") or []
            slots.append(PageSlot(str(slot["at"]), str(play), str(dates[0]) if dates else "",
                                  tuple(str(z) for z in slot.get("zones") or ())))  # fmt: skip
    return slots, version(path)


def write(root: Path, slots: list[PageSlot], expected_version: str) -> None:
    data: dict[str, object] = {"title": TITLE, "slots": []}
    for slot in slots:
        entry: dict[str, object] = {"at": slot.at, "play": [slot.play]}
        if slot.date:
            entry["dates"] = [slot.date]
        if slot.zones:
            entry["zones"] = list(slot.zones)
        data["slots"].append(entry)  # type: ignore[attr-defined]
    text = "# 网页排程: made by 'broadcaster web' (editing it by hand is fine).\n" + yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False, default_flow_style=False)
    save(root / FILE, text, expected_version)


def new_slot(content: Content, values: dict[str, str], zones: list[str], today: dt.date) -> PageSlot:
    """A slot from the form, checked: a known announcement and zones, a time, a date not past."""
    name = values.get("announcement", "")
    if name not in content.announcements:
        raise FormError(Msg.of("unknown announcement '{name}'", name=name))
    unknown = [z for z in zones if z not in content.config.zones]
    if unknown:
        raise FormError(Msg.of("unknown zone '{name}'", name=unknown[0]))
    try:
        at = parse_time(values.get("at", ""))
        day = parse_date(values["date"]) if values.get("date") else None
    except FieldError as exc:
        raise FormError(exc.message) from None
    if day is not None and day < today:
        raise FormError(Msg.of("{date} is past", date=day.isoformat()))
    return PageSlot(at.isoformat(), name, day.isoformat() if day else "", tuple(zones))
