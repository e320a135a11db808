"""Reloading content: what changed on disk, and the last good version of each broken file."""

from __future__ import annotations

from pathlib import Path

from broadcaster.content.models import ANNOUNCEMENTS_DIR, CLIPS_DIR, PLAYLISTS_DIR, Content
from broadcaster.schema.problems import Problems


def content_signature(root: Path) -> dict[str, tuple[int, int]]:
    """What the watcher compares: every content file's change time and size."""
    files = [root / "config.yaml"]
    for folder in (ANNOUNCEMENTS_DIR, PLAYLISTS_DIR, CLIPS_DIR):
        if (root / folder).is_dir():
            files += sorted((root / folder).iterdir())
    signature = {}
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        signature[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return signature


def merge_last_good(old: Content | None, new: Content, problems: Problems) -> Content:
    """``new``, except that a file with errors keeps its version from ``old``."""
    if old is None:
        return new
    broken = {p.path.resolve() for p in problems if p.is_error}
    config = old.config if new.config.path and new.config.path.resolve() in broken else new.config
    announcements = dict(new.announcements)
    for key, announcement in old.announcements.items():
        if key not in announcements and announcement.path.resolve() in broken:
            announcements[key] = announcement
    playlists = dict(new.playlists)
    for key, playlist in old.playlists.items():
        if key not in playlists and playlist.path.resolve() in broken:
            playlists[key] = playlist
    return Content(config, announcements, playlists)

