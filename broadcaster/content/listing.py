"""The station's announcements as people look for them: title, validity, state today, last play."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from broadcaster.content.models import ANNOUNCEMENTS_DIR, Content
from broadcaster.playlog import PlayLog
from broadcaster.schema.problems import Problem

OK, EXPIRED, NOT_YET, BROKEN = "ok", "expired", "not yet valid", "broken"


@dataclass(frozen=True)
class Listed:
    id: str
    title: str
    language: str
    priority: str
    valid_from: str
    valid_until: str
    state: str
    """:data:`OK`, :data:`EXPIRED`, :data:`NOT_YET` or :data:`BROKEN` (a file with errors)."""
    last_played: str
    """When it last reached a loudspeaker, in the station's time (``YYYY-MM-DD HH:MM:SS``), or ''."""


def listing(content: Content, problems: list[Problem], today: dt.date,
            read_only: bool = False) -> list[Listed]:  # fmt: skip
    """Every announcement file, good or broken, by id."""
    config = content.config
    played: dict[str, str] = {}
    log_path = config.resolve(config.play_log)
    if log_path.is_file():
        log = PlayLog(log_path, config.timezone, read_only=read_only)
        try:
            played = log.last_played()
        finally:
            log.close()
    folder = config.resolve(Path(ANNOUNCEMENTS_DIR)).resolve()
    broken = {p.path.stem for p in problems if p.is_error and p.path.resolve().parent == folder}
    rows = []
    for name in sorted({*content.announcements, *broken}):
        a = content.announcements.get(name)
        if a is None:
            rows.append(Listed(name, "", "", "", "", "", BROKEN, played.get(name, "")))
            continue
        state = (EXPIRED if a.valid_until and a.valid_until < today else
                 NOT_YET if a.valid_from and a.valid_from > today else OK)  # fmt: skip
        rows.append(Listed(a.id, a.title, a.language.value, a.priority.value,
                           a.valid_from.isoformat() if a.valid_from else "",
                           a.valid_until.isoformat() if a.valid_until else "", state,
                           played.get(name, "")))  # fmt: skip
    return rows
