"""The station's content as frozen models: announcements, their segments, playlists and slots."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from broadcaster.config import Config
from broadcaster.language import Language

ANNOUNCEMENTS_DIR = "announcements"


PLAYLISTS_DIR = "playlists"


CLIPS_DIR = "clips"


CLIP_SUFFIXES = (".wav", ".mp3", ".ogg", ".m4a", ".flac")


YAML_SUFFIXES = (".yaml", ".yml")


class Priority(StrEnum):
    NORMAL = "normal"
    HIGH = "high"
    EMERGENCY = "emergency"


PRIORITY_NAMES = {
    "normal": Priority.NORMAL, "普通": Priority.NORMAL, "一般": Priority.NORMAL,
    "high": Priority.HIGH, "重要": Priority.HIGH, "高": Priority.HIGH,
    "emergency": Priority.EMERGENCY, "紧急": Priority.EMERGENCY, "緊急": Priority.EMERGENCY,
}  # fmt: skip


@dataclass(frozen=True)
class Speech:
    """Text to be spoken."""

    text: str


@dataclass(frozen=True)
class Pause:
    """Silence between parts of an announcement."""

    seconds: float


@dataclass(frozen=True)
class Clip:
    """A pre-recorded audio file, inside the station folder."""

    path: Path


Segment = Speech | Pause | Clip


@dataclass(frozen=True)
class Announcement:
    id: str
    path: Path
    title: str
    language: Language
    segments: tuple[Segment, ...]
    chime: bool = True
    repeat: int = 1
    gap_s: float = 3.0
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    priority: Priority = Priority.NORMAL
    notes: str | None = None

    def is_valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )

    @property
    def text(self) -> str:
        """All spoken text, for display."""
        return "".join(s.text for s in self.segments if isinstance(s, Speech))


@dataclass(frozen=True)
class Slot:
    """When a playlist plays: fixed times, or every N seconds inside a window."""

    line: int
    play: tuple[str, ...]
    times: tuple[dt.time, ...] = ()
    every_s: float | None = None
    window: tuple[dt.time, dt.time] | None = None
    days: frozenset[int] = frozenset(range(7))
    dates: tuple[dt.date, ...] = ()
    """One-off dates: when given, the slot plays on these dates only."""
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    repeat: int = 1
    zones: tuple[str, ...] = ()
    """Empty means the playlist's zones."""


@dataclass(frozen=True)
class Loop:
    """Announcements played one after another, again and again."""

    play: tuple[str, ...]
    gap_s: float = 30.0


@dataclass(frozen=True)
class Ref:
    """Where a playlist names an announcement or a zone, for cross-file checks."""

    kind: str
    """"announcement" or "zone"."""
    name: str
    line: int
    column: int


@dataclass(frozen=True)
class Playlist:
    id: str
    path: Path
    title: str
    zones: tuple[str, ...] = ()
    """Empty means every zone of the station."""
    slots: tuple[Slot, ...] = ()
    loop: Loop | None = None
    enabled: bool = True
    refs: tuple[Ref, ...] = ()


@dataclass(frozen=True)
class Content:
    config: Config
    announcements: dict[str, Announcement] = field(default_factory=dict)
    playlists: dict[str, Playlist] = field(default_factory=dict)

