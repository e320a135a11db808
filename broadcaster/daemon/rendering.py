"""Rendering for the station, in child processes.

The station plays files; it does not synthesise speech or measure loudness in
its own process. Those need the engines, the front ends and large temporary arrays (a
cold start with 200 announcements would leave the daemon at ~190 MiB), and
their CPU bursts would compete with the sound cards' feeders for the
interpreter. A :class:`RenderPool` starts fresh processes (``spawn``: nothing
of the station's threads or sound streams is inherited), renders there, and
hands back only what the station needs to play: an :class:`Item` per
announcement, or the error. The processes end when a batch is done.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed

from broadcaster.config import Config
from broadcaster.content.models import Announcement
from broadcaster.player.zones import Item

TYPE_CHECKING = False
if TYPE_CHECKING:
    from broadcaster.render.renderer import Renderer

logger = logging.getLogger(__name__)

_renderer: tuple[Config, Renderer] | None = None


def _render(config: Config, announcement: Announcement) -> Item | str:
    """In the child: render one announcement; an :class:`Item`, or the error as text."""
    global _renderer
    from broadcaster.errors import BroadcasterError
    from broadcaster.i18n import _, set_language
    from broadcaster.render.renderer import make_renderer

    if _renderer is None or _renderer[0] != config:
        set_language(config.ui_language)  # a fresh child: its errors reach people in their language
        _renderer = (config, make_renderer(config))
    try:
        rendered = _renderer[1].render(announcement)
    except BroadcasterError as exc:
        return str(exc)
    except MemoryError:
        return _("too long to render (out of memory)")
    return Item(announcement.id, rendered.path.stem, rendered.path, rendered.duration_s)


class RenderPool:
    """Renders announcements in ``workers`` child processes."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or min(2, os.cpu_count() or 1)

    def _pool(self, count: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=max(1, min(self.workers, count)),
                                   mp_context=multiprocessing.get_context("spawn"))  # fmt: skip

    def render_all(self, config: Config, announcements: Iterable[Announcement],
                   progress: Callable[[Announcement, Item | str], None] | None = None,
                   ) -> tuple[dict[str, Item], dict[str, str]]:  # fmt: skip
        """Every announcement rendered (or found in the cache): items by id, and errors by id."""
        wanted = list(announcements)
        items: dict[str, Item] = {}
        errors: dict[str, str] = {}
        if not wanted:
            return items, errors
        with self._pool(len(wanted)) as pool:
            futures = {pool.submit(_render, config, a): a for a in wanted}
            for future in as_completed(futures):
                announcement = futures[future]
                result = _outcome(future)
                if isinstance(result, Item):
                    items[announcement.id] = result
                else:
                    errors[announcement.id] = result
                if progress:
                    progress(announcement, result)
        return items, errors

    def render(self, config: Config, announcement: Announcement) -> Item | str:
        """One announcement (a ``send`` of a file the station has not rendered)."""
        with self._pool(1) as pool:
            return _outcome(pool.submit(_render, config, announcement))


def _outcome(future: Future[Item | str]) -> Item | str:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a child that died (killed, out of memory) is an error too
        logger.error("rendering failed: %s", exc)
        return f"rendering failed: {type(exc).__name__}: {exc}"
