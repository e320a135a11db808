"""Rendered audio stored by a hash of everything that decides how it sounds.

Files are written atomically and read back through the WAV decoder; a file
that does not decode is treated as missing (and replaced by the next render).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.errors import AudioError

if TYPE_CHECKING:
    from broadcaster.pcm import Pcm

logger = logging.getLogger(__name__)

FORMAT = 1


def cache_key(*parts: object) -> str:
    """A stable hash of JSON-able ``parts``."""
    data = json.dumps([FORMAT, *parts], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


class AudioCache:
    """WAV files under ``folder``, named by key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.wav"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def get(self, key: str) -> Pcm | None:
        from broadcaster.pcm import read_wav  # numpy: not needed to look a key up

        path = self.path(key)
        if not path.is_file():
            return None
        try:
            pcm = read_wav(path, strict=True)
        except AudioError as exc:
            logger.warning("Cached audio %s is damaged (%s); it will be made again", path, exc)
            path.unlink(missing_ok=True)
            return None
        if len(pcm.samples) == 0:
            logger.warning("Cached audio %s is empty; it will be made again", path)
            path.unlink(missing_ok=True)
            return None
        return pcm

    def note(self, name: str) -> str | None:
        """A short text stored under ``name`` (a pointer to a key), or None."""
        try:
            return (self.folder / name[:2] / f"{name}.txt").read_text(encoding="utf-8").strip()
        except OSError:
            return None

    def write_note(self, name: str, text: str) -> None:
        path = self.folder / name[:2] / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.urandom(8).hex()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)

    def put(self, key: str, pcm: Pcm) -> Path:
        from broadcaster.pcm import write_wav

        path = self.path(key)
        write_wav(path, pcm)
        return path
