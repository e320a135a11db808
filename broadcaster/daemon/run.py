"""``broadcaster run``: the composition root of the station.

Starts in dependency order — lock, content, play log, rendering (in child
processes), sound cards, the station thread, scheduler, control socket, file
watcher — and stops in reverse in ``finally``: the scheduler stops before the
station, which ends every play with its row before the cards close. Reloads
(SIGHUP or a changed file, debounced) re-check every file, render what is new
and swap atomically; a file with errors keeps its last good version.

Who owns what:

- the main thread: start, stop, reloads (one at a time) and the systemd watchdog;
  it replaces ``content`` and ``items`` whole (readers take the reference once);
- the station thread (:class:`broadcaster.player.station.Station`): every zone's queue,
  current play and log rows;
- the scheduler's thread: only hands requests to the station;
- the control socket's threads: read ``content``/``items``, post to the station,
  wait for a render in a child process, never play or render themselves;
- each card's feeder and PortAudio callback: that card's blocks and playbacks.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from broadcaster.audio.pulse import SinkWatcher
from broadcaster.config import Config
from broadcaster.content.load import load_announcement, load_content
from broadcaster.content.models import Announcement, Content, Loop
from broadcaster.content.models import Priority as AnnouncementPriority
from broadcaster.daemon.control import call, socket_path
from broadcaster.daemon.fleet import FleetOrders
from broadcaster.daemon.live import LiveDesk, LiveSwitch
from broadcaster.daemon.reload import content_signature, merge_last_good
from broadcaster.daemon.rendering import RenderPool
from broadcaster.daemon.server import _ControlServer
from broadcaster.daemon.systemd import notify
from broadcaster.errors import BroadcasterError
from broadcaster.fleet.link import FleetLink
from broadcaster.i18n import _
from broadcaster.player.station import Priority, Request, Station
from broadcaster.player.zones import Item, Outputs, Player
from broadcaster.playlog import PlayLog
from broadcaster.scheduler.jobs import Scheduler
from broadcaster.scheduler.timetable import Occurrence, in_quiet_hours
from broadcaster.schema.problems import Problem, Problems

__all__ = ["Daemon", "call", "socket_path"]

logger = logging.getLogger(__name__)

DEBOUNCE_S = 1.0
WATCH_S = 1.0
WATCHDOG_S = 10.0


_PRIORITIES = {
    AnnouncementPriority.NORMAL: Priority.NORMAL,
    AnnouncementPriority.HIGH: Priority.HIGH,
    AnnouncementPriority.EMERGENCY: Priority.EMERGENCY,
}


class AlreadyRunningError(BroadcasterError):
    """Raised when another station already runs on the same folder."""

    def __init__(self, path: Path) -> None:
        super().__init__(_("another station is already running here (lock {path})").format(path=path))




PRIVATE_UMASK = 0o027


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("broadcaster")
    except PackageNotFoundError:
        return ""


def _keep_private(path: Path) -> None:
    """``path`` (made if it is the data folder) closed to other local users: the play log says
    what the village heard and when; the owner and the group (the operators) may read it."""
    try:
        if not path.exists():
            path.mkdir(parents=True, mode=0o750)
        os.chmod(path, path.stat().st_mode & 0o770)
    except OSError as exc:  # not ours to change: say so, go on
        logger.warning("cannot make %s private: %s", path, exc.strerror)


class _Lock:
    """One station per folder: an exclusive lock on a file, released when the process dies."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.file = path.open("a+")
        try:
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(self.file.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self.file.close()
            raise AlreadyRunningError(path) from exc

    def release(self) -> None:
        self.file.close()






def _since(lines: list[str], before: dict[str, dt.datetime], now: dt.datetime,
           log_as: str) -> dict[str, dt.datetime]:  # fmt: skip
    """``lines`` with the time each was first seen (``now``, for a new one, which is logged once)."""
    for line in lines:
        if line not in before:
            logger.error(log_as, line)
    return {line: before.get(line, now) for line in lines}


class Daemon:
    def __init__(self, config_path: Path | None,
                 clock: Callable[[Config], dt.datetime] | None = None) -> None:  # fmt: skip
        self.config_path = config_path
        self.renders = RenderPool()
        self._clock = clock or (lambda config: dt.datetime.now(config.tz))
        self.content: Content | None = None
        self.items: dict[str, Item] = {}
        self._content_errors: dict[str, dt.datetime] = {}
        """The files' errors now, each with when it was first seen (a fixed file drops out)."""
        self._render_errors: dict[str, dt.datetime] = {}
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self._reload_lock = threading.Lock()
        self.started_at = time.monotonic()
        self.fleet: FleetLink | None = None

    def clock(self) -> dt.datetime:
        assert self.content is not None
        return self._clock(self.content.config)

    # --- content ---------------------------------------------------------------------------------

    def _load(self) -> tuple[Content, Problems]:
        problems = Problems()
        content = load_content(self.config_path, problems)  # today in the station's time zone
        return merge_last_good(self.content, content, problems), problems

    def _report(self, problems: list[Problem]) -> None:
        root = self.content.config.root if self.content else Path.cwd()
        lines = [p.render(root) for p in problems if p.is_error]
        self._content_errors = _since(lines, self._content_errors, self.clock(), "%s")

    def _render_all(self, content: Content) -> dict[str, Item]:
        """Every announcement rendered in child processes (cached ones are only found)."""
        items, errors = self.renders.render_all(content.config, content.announcements.values())
        lines = [f"{name}: {error}" for name, error in sorted(errors.items())]
        self._render_errors = _since(lines, self._render_errors, self.clock(), "Cannot render %s")
        return items

    @property
    def errors(self) -> list[str]:
        """What is wrong now, newest first, each with the time it was first seen."""
        found = {**self._content_errors, **self._render_errors}
        return [f"{line} (since {since:%H:%M})" for line, since in sorted(found.items(), key=lambda x: x[1],
                                                                          reverse=True)]  # fmt: skip

    def reload(self) -> None:
        """Re-check every file; render what is new; swap atomically. Broken files keep their last good."""
        with self._reload_lock:
            content, problems = self._load()
            self._report(list(problems))
            items = self._render_all(content)  # before the swap: new slots never wait for speech
            running = self._content
            if content.config.zones.keys() != running.config.zones.keys():
                logger.error("Zones changed in config.yaml: restart the station to use them")
            if content.config.fleet != running.config.fleet:
                logger.error("The fleet settings changed in config.yaml: restart the station to use them")
                content = Content(running.config, content.announcements, content.playlists)
            self.content, self.items = content, items
            self._set_background()
            self.scheduler.update(content)
            kept = sorted({str(p.path.name) for p in problems if p.is_error})
            logger.info("Reloaded: %d announcements, %d playlists%s", len(content.announcements),
                        len(content.playlists), f"; kept the last good version of {', '.join(kept)}"
                        if kept else "")  # fmt: skip

    def _set_background(self) -> None:
        assert self.content is not None
        for zone in self.station.zones:
            loop_items, gap = [], Loop.gap_s
            for playlist in self.content.playlists.values():
                if playlist.enabled and playlist.loop and (not playlist.zones or zone in playlist.zones):
                    loop_items += [self.items[a] for a in playlist.loop.play if a in self.items]
                    gap = playlist.loop.gap_s
            self.station.set_background(zone, loop_items, gap)

    # --- requests ---------------------------------------------------------------------------------

    def on_due(self, occurrence: Occurrence, late_s: float) -> None:
        content = self.content
        assert content is not None
        day = occurrence.due.astimezone(content.config.tz).date()
        for zone in occurrence.zones:
            items, priority = [], Priority.NORMAL
            for name in occurrence.announcements * occurrence.repeat:
                announcement = content.announcements.get(name)
                item = self.items.get(name)
                if announcement is None or item is None:
                    self.log.missed(
                        name, "", zone, "schedule", occurrence.due, "not available (see the errors)"
                    )
                    continue
                if not announcement.is_valid_on(day):
                    self.log.missed(name, item.content_hash, zone, "schedule", occurrence.due,
                                    f"not valid on {day.isoformat()}")  # fmt: skip
                    continue
                priority = max(priority, _PRIORITIES[announcement.priority])
                items.append(item)
            if items and zone in self.station.zones:
                trigger = "emergency" if priority is Priority.EMERGENCY else "schedule"
                self.station.submit(Request(tuple(items), zone, priority, trigger, occurrence.due,
                                            f"{occurrence.playlist}#{occurrence.slot + 1}"))  # fmt: skip

    def send(self, name: str, zones: list[str] | None, priority: str,
             progress: Callable[[str], None] = lambda text: None, by: str = "") -> dict[str, object]:
        """Play an announcement now (the control socket's ``send``).

        A rendered announcement is handed to the station at once; one that is not
        (a file from outside the station, or not yet rendered) is rendered in a child
        process first, with ``progress`` told so.
        """
        content = self.content
        assert content is not None
        announcement = self._find(content, name)
        level = Priority.EMERGENCY if priority == "emergency" else Priority.NOW
        targets = zones or list(self.station.zones)
        unknown = [z for z in targets if z not in self.station.zones]
        if unknown:
            raise BroadcasterError(_("unknown zone '{name}'").format(name=unknown[0]))
        quiet = content.config.quiet_hours
        if level < Priority.EMERGENCY and quiet and self._quiet(self.clock()):
            # Pressing send means it: refuse now, with the reason, rather than "sent" and then missed.
            message = _("quiet hours until {end}: only emergencies play now; send it with "
                        "--priority emergency if it cannot wait")
            raise BroadcasterError(message.format(end=quiet[1].strftime("%H:%M")))
        item = None if self._stale(announcement) else self.items.get(announcement.id)
        if item is None:
            progress(_("rendering {id}").format(id=announcement.id))
            result = self.renders.render(content.config, announcement)
            if isinstance(result, str):
                message = _("cannot render {id}: {reason}")
                raise BroadcasterError(message.format(id=announcement.id, reason=result))
            item = result
        if by:
            item = replace(item, started_by=by)  # in the play rows: who asked (the town's message)
        requested = self.clock()
        trigger = "emergency" if level is Priority.EMERGENCY else "manual"
        for zone in targets:
            self.station.submit(Request((item,), zone, level, trigger, requested, announcement.id))
        return {"sent": announcement.id, "zones": targets, "priority": level.name.lower()}

    def cap(self, xml: str) -> dict[str, object]:
        """A CAP alert handed to the station by ``broadcaster cap`` (the fleet's go through its link)."""
        return FleetOrders(self).cap(xml.encode(), by="cap")

    def _stale(self, announcement: Announcement) -> bool:
        """A file sent by path that differs from the station's version of the same id."""
        known = self.content.announcements.get(announcement.id) if self.content else None
        return known is None or known != announcement

    def _find(self, content: Content, name: str) -> Announcement:
        if name in content.announcements:
            return content.announcements[name]
        path = Path(name)
        if path.suffix in (".yaml", ".yml") and path.is_file():
            problems = Problems()
            announcement = load_announcement(path, content.config.root, problems)
            if announcement is not None and not problems.has_errors:
                return announcement
            raise BroadcasterError("; ".join(p.render() for p in problems if p.is_error))
        raise BroadcasterError(_("unknown announcement '{name}'").format(name=name))

    def status(self) -> dict[str, object]:
        assert self.content is not None
        now = self.clock()
        from broadcaster.scheduler.timetable import occurrences

        upcoming = occurrences(self.content, now, now + dt.timedelta(days=1))[:10]
        cards = {card.name: {"alive": card.alive, "underflows": card.underflows, "dropouts": card.gaps,
                             "failure": card.failure}
                 for card in self.outputs.cards.values()}  # fmt: skip
        return {
            "station": self.content.config.station,
            "now": now.isoformat(timespec="seconds"),
            "zones": self.station.snapshot,
            "next": [
                {
                    "due": o.due.isoformat(timespec="seconds"),
                    "playlist": o.playlist,
                    "announcements": list(o.announcements),
                    "zones": list(o.zones),
                }
                for o in upcoming
            ],  # fmt: skip
            "errors": ([self.log.problem] if self.log.problem else [])
            + [f"{c.device.name}: {c.failure}" for c in self.outputs.cards.values() if c.failure]
            + self.errors[:10],
            "cards": cards,
            "cache": {"rendered": len(self.items), "announcements": len(self.content.announcements)},
            "clock_steps": self.scheduler.clock_steps,
            "live": self.live.state(),
            "fleet": ({"broker": self.fleet.settings.broker, "id": self.fleet.settings.id,
                       "connected": self.fleet.connected.is_set()} if self.fleet else None),  # fmt: skip
        }

    # --- life cycle -------------------------------------------------------------------------------

    def run(self) -> int:
        os.umask(PRIVATE_UMASK)  # what the station writes: its owner and group only
        content, problems = self._load()
        self.content = content
        self._report(list(problems))
        config = content.config
        _keep_private(config.resolve(Path("data")))
        lock = _Lock(config.resolve(Path("data") / "broadcaster.lock"))
        started: list[Callable[[], None]] = [lock.release]
        try:
            self.log = PlayLog(config.resolve(config.play_log), config.timezone)
            started.append(self.log.close)
            _keep_private(self.log.path)
            self.log.reconcile(self.clock())
            self.items = self._render_all(content)
            self.outputs = Outputs(config.zones, tolerate_missing=True, lead_s=config.output_lead_s,
                                   buffer_s=config.output_buffer_s).open()
            started.append(self.outputs.close)
            watcher = SinkWatcher(self.outputs.sink_removed, self.outputs.sink_added).start()
            started.append(watcher.stop)
            player = Player(self.outputs, self.log, self.clock)
            self.station = Station(player, config.zones, self.clock, self._quiet)
            self._set_background()
            self.station.start()
            started.append(self.station.shutdown)
            self.live = LiveDesk(self.station, lambda: self._content.config, self.clock, self._quiet)
            started.append(self.live.stop)
            if config.live.switch:
                started.append(LiveSwitch(config.live.switch, self.live).start().stop)
            self.scheduler = Scheduler(content, self.on_due, self.clock).start()
            started.append(self.scheduler.shutdown)
            server = _ControlServer(socket_path(config.root), self)
            started.append(server.close)
            if config.fleet is not None:
                self.fleet = FleetLink(config.fleet, FleetOrders(self), self.log.path,
                                       config.resolve(Path("data") / "fleet.sqlite"), self.clock,
                                       version()).start()  # fmt: skip
                started.append(self.fleet.stop)
            self._signals()
            threading.Thread(target=self._watch, name="file-watcher", daemon=True).start()
            notify("READY=1")
            logger.info("Station %s is on the air (%d zones)", config.station, len(config.zones))
            self._main_loop()
            notify("STOPPING=1")
            return 0
        finally:
            for stop in reversed(started):
                try:
                    stop()
                except Exception:  # noqa: BLE001 - keep stopping the rest
                    logger.exception("while stopping")

    @property
    def _content(self) -> Content:
        """The content on the air; there is always some once the station has started."""
        if self.content is None:
            raise BroadcasterError(_("the station has not loaded its content yet"))
        return self.content

    def _quiet(self, moment: dt.datetime) -> bool:
        config = self._content.config
        return in_quiet_hours(moment, config.quiet_hours, config.tz)

    def _signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())

    def _main_loop(self) -> None:
        last_ping = last_flush = 0.0
        while not self.stopping.wait(0.5):
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self.reload()
            if time.monotonic() - last_flush > 5:
                last_flush = time.monotonic()
                if self.log.problem:
                    self.log.flush()  # catch up once the disk is writable again
                if not all(card.alive for card in self.outputs.cards.values()):
                    self.outputs.recover()  # a sound server or card that came back
            if time.monotonic() - last_ping > WATCHDOG_S / 2 and self._healthy():
                notify("WATCHDOG=1")
                last_ping = time.monotonic()

    def _healthy(self) -> bool:
        """Pings systemd's watchdog only while the scheduler and the outputs work.

        A card that is known to be gone (failed, reported, retried every 5 s) does not
        stop the pings: a restart would not bring it back. A card whose stream is open
        but has stopped taking audio (a hang) does.
        """
        cards = self.outputs.cards.values()
        return self.scheduler.alive and all(card.alive or card.failure for card in cards)

    def _watch(self) -> None:
        assert self.content is not None
        root = self.content.config.root
        seen = content_signature(root)
        changed_at = None
        while not self.stopping.wait(WATCH_S):
            now = content_signature(root)
            if now != seen:
                seen, changed_at = now, time.monotonic()  # editors save in several steps: wait
            elif changed_at is not None and time.monotonic() - changed_at >= DEBOUNCE_S:
                changed_at = None
                logger.info("Files changed: reloading")
                self.reload_requested.set()




