"""Live voice at the station: a talk from the microphone onto chosen zones.

A :class:`Talk` opens the microphone, hands one request per zone to the station
at priority ``live`` (above the schedule and sends, below emergencies) and ends
when the speaker ends it, when its connection goes away, after the longest
talk allowed, or on every zone when something cut it (an emergency, the
operator's ``stop``). The microphone is closed once every zone has faded out.

Where a talk starts: ``broadcaster live`` through the control socket (the
connection is the talk: if the terminal dies, the talk ends), or the
``live: switch:`` command, a foot switch or PTT button whose lines say on/off.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from broadcaster.audio.card import COMPLETED, DROPOUT, Card
from broadcaster.audio.live import Microphone, Recorder, remove_old_recordings
from broadcaster.config import Config
from broadcaster.errors import AudioError, BroadcasterError
from broadcaster.i18n import _
from broadcaster.pcm import Pcm
from broadcaster.player.station import Priority, Request, Station
from broadcaster.player.zones import LiveItem
from broadcaster.render.renderer import chime

logger = logging.getLogger(__name__)

PAUSE_AFTER_CHIME_S = 0.3
SETTLE_S = 5.0
"""How long ending a talk waits for its fades before the microphone closes anyway."""
RECORDINGS = Path("data") / "live"

WAITING, CHIME, ON_AIR, OVER = "waiting", "chime", "on air", "over"


def lead_in(config: Config) -> Pcm:
    if not config.live.chime:
        return Pcm(np.zeros(0, dtype=np.float32), 48_000)
    bell = chime()
    pause = np.zeros(round(PAUSE_AFTER_CHIME_S * bell.rate_hz), dtype=np.float32)
    return Pcm(np.concatenate([bell.samples, pause]), bell.rate_hz)


class Talk:
    """One talk on some zones. Thread-safe: the control socket, the switch and a timer end it."""

    def __init__(self, desk: LiveDesk, item: LiveItem, zones: list[str], microphone: Microphone) -> None:
        self.desk, self.item, self.zones, self.microphone = desk, item, zones, microphone
        self.started = time.monotonic()
        self.ended = threading.Event()
        self.over = threading.Event()
        self.reason = ""
        self._lock = threading.Lock()

    def zone_states(self) -> dict[str, str]:
        now = time.time()
        states = {}
        for zone in self.zones:
            playback = self.item.playbacks.get(zone)
            if playback is None or playback.started_at is None:
                gone = self.ended.is_set() or (playback is not None and playback.done.is_set())
                states[zone] = OVER if gone else WAITING
            elif playback.done.is_set():
                states[zone] = OVER
            elif playback.voice_at is not None and now >= playback.voice_at:
                states[zone] = ON_AIR
            else:
                states[zone] = CHIME
        return states

    def outcomes(self) -> dict[str, str]:
        """Zone → how the talk ended there (``missed`` where it never went on)."""
        found = {}
        for zone in self.zones:
            playback = self.item.playbacks.get(zone)
            found[zone] = (playback.outcome or "playing") if playback and playback.started else "missed"
        return found

    def end(self, reason: str = "") -> None:
        """The speaker is done: fade out everywhere; what still waits is logged missed."""
        with self._lock:
            if self.ended.is_set():
                return
            self.reason = reason
            self.ended.set()
        try:
            self.desk.station.end_live(self.item, reason or "the talk ended before it was on the air")
        except BroadcasterError:
            pass  # the station is stopping: it ends every play itself
        threading.Thread(target=self._close, name="live-close", daemon=True).start()

    def _close(self) -> None:
        deadline = time.monotonic() + SETTLE_S
        for playback in list(self.item.playbacks.values()):
            playback.done.wait(max(0.0, deadline - time.monotonic()))
        self.microphone.close()
        self.desk._talk_over(self)
        self.over.set()
        logger.info("Live voice by %s ended: %s", self.item.started_by or "?", self.outcomes())

    def watch(self) -> None:
        """Ends the talk when it was cut on every zone, or ran too long (called every 50 ms or so)."""
        if self.ended.is_set():
            return
        placed = [self.item.playbacks.get(zone) for zone in self.zones]
        if all(p is not None and p.done.is_set() for p in placed):
            self.end(placed[0].reason if placed[0] is not None else "")
        elif time.monotonic() - self.started > self.desk.config().live.max_duration_s:
            logger.warning("Live voice by %s reached the longest talk allowed", self.item.started_by)
            self.end("the longest talk allowed was reached")


class LiveDesk:
    """The station's one microphone: at most one talk at a time."""

    def __init__(self, station: Station, config: Callable[[], Config], clock: Callable[[], dt.datetime],
                 quiet: Callable[[dt.datetime], bool]) -> None:  # fmt: skip
        self.station, self.config, self.clock, self.quiet = station, config, clock, quiet
        self.talk: Talk | None = None
        self._lock = threading.Lock()
        self._watching = threading.Event()

    def start(self, zones: list[str] | None, by: str, device: str | None = None) -> Talk:
        config = self.config()
        targets = zones or list(config.live.zones) or list(self.station.zones)
        unknown = [z for z in targets if z not in self.station.zones]
        if unknown:
            message = _("unknown zone '{name}'; the zones are: {names}")
            raise BroadcasterError(message.format(name=unknown[0], names=", ".join(self.station.zones)))
        if config.quiet_hours and self.quiet(self.clock()):
            message = _("quiet hours until {end}: only emergencies play now")
            raise BroadcasterError(message.format(end=config.quiet_hours[1].strftime("%H:%M")))
        with self._lock:
            if self.talk is not None:
                message = _("live voice is already on (started by {name})")
                raise BroadcasterError(message.format(name=self.talk.item.started_by or "?"))
            microphone = Microphone(device or config.live.input, 48_000, config.loudness_lufs,
                                    config.live.buffer_s)  # fmt: skip
            for zone in targets:  # the buffers exist before the first block arrives
                card = self.station.player.outputs[zone].card
                microphone.buffer_for(card.name, card.rate_hz)
            try:
                microphone.open()
            except AudioError:
                microphone.close()
                raise
            if config.live.record:
                microphone.recorder = self._recorder(config, by)
            item = LiveItem(microphone, lead_in(config), by)
            self.talk = talk = Talk(self, item, targets, microphone)
        now = self.clock()
        for zone in targets:
            self.station.submit(Request((item,), zone, Priority.LIVE, "live", now, "live"))
        logger.info("Live voice by %s on %s", by or "?", ", ".join(targets))
        threading.Thread(target=self._watch, args=(talk,), name="live-watch", daemon=True).start()
        return talk

    def state(self) -> dict[str, object] | None:
        """The talk on the air (for ``status``): who, where, and how its buffers keep up."""
        talk = self.talk
        if talk is None:
            return None
        buffers = talk.microphone.buffers
        return {
            "by": talk.item.started_by,
            "zones": talk.zone_states(),
            "seconds": round(time.monotonic() - talk.started, 1),
            "buffer_ms": {card: round(b.depth_s * 1000, 1) for card, b in buffers.items()},
            "speed": {card: round(b.speed, 5) for card, b in buffers.items()},
            "holes": sum(b.underruns for b in buffers.values()) + talk.microphone.overflows,
            "trims": sum(b.trims for b in buffers.values()),
            "input_ms": _ms(talk.microphone.input_delay_s),
            "output_ms": {card.name: _ms(card.output_delay_s) for card in self._cards(talk.zones)},
        }

    def _cards(self, zones: list[str]) -> list[Card]:
        cards = (self.station.player.outputs[zone].card for zone in zones)
        return list({card.name: card for card in cards}.values())  # two zones may share a card

    def _watch(self, talk: Talk) -> None:
        while not talk.ended.wait(0.05):
            talk.watch()

    def _talk_over(self, talk: Talk) -> None:
        with self._lock:
            if self.talk is talk:
                self.talk = None

    def _recorder(self, config: Config, by: str) -> Recorder:
        folder = config.resolve(RECORDINGS)
        removed = remove_old_recordings(folder, config.live.keep_days, time.time())
        if removed:
            logger.info("Removed %d live recording(s) older than %g days", removed, config.live.keep_days)
        who = re.sub(r"[^\w-]+", "_", by)[:40] or "live"
        name = f"{self.clock():%Y%m%d-%H%M%S}-{who}.wav"
        return Recorder(folder / name, 48_000)

    def stop(self) -> None:
        talk = self.talk
        if talk is not None:
            talk.end("the station stopped")
            talk.over.wait(SETTLE_S + 1)


ON_WORDS = {"on", "start", "press", "pressed", "down", "rising"}
OFF_WORDS = {"off", "stop", "release", "released", "up", "falling"}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def switch_word(line: str) -> bool | None:
    """True for a line that starts a talk, False for one that ends it, None for other lines.

    A line that is just ``1`` or ``0`` counts too; digits inside a longer line (gpiomon's
    offsets and timestamps) do not.
    """
    text = line.strip().lower()
    if text in ("1", "0"):
        return text == "1"
    words = set(re.findall(r"[a-z]+", text))
    if words & ON_WORDS and not words & OFF_WORDS:
        return True
    if words & OFF_WORDS and not words & ON_WORDS:
        return False
    return None


class LiveSwitch:
    """Runs ``live: switch:`` and starts or ends a talk on its lines (restarted if it exits)."""

    RESTART_S = 5.0

    def __init__(self, command: str, desk: LiveDesk) -> None:
        self.command, self.desk = command, desk
        self._stopping = threading.Event()
        self._process: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._run, name="live-switch", daemon=True)

    def start(self) -> LiveSwitch:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._process = subprocess.Popen(
                    shlex.split(self.command), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                    text=True, errors="replace",
                )  # fmt: skip
            except (OSError, ValueError) as exc:
                logger.error("live switch '%s' could not run: %s", self.command, exc)
            else:
                assert self._process.stdout is not None
                with self._process.stdout as lines:
                    for line in lines:
                        self._on_line(line)
                self._process.wait()
                if not self._stopping.is_set():
                    logger.error("live switch '%s' exited with %s", self.command, self._process.returncode)
            self._end("the switch stopped")
            self._stopping.wait(self.RESTART_S)

    def _on_line(self, line: str) -> None:
        word = switch_word(line)
        if word is True and self.desk.talk is None:
            try:
                self.desk.start(None, "switch")
            except BroadcasterError as exc:
                logger.error("live switch: %s", exc)
        elif word is False:
            self._end("")

    def _end(self, reason: str) -> None:
        talk = self.desk.talk
        if talk is not None and talk.item.started_by == "switch":
            talk.end(reason)

    def stop(self) -> None:
        self._stopping.set()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
        self._thread.join(3)


def summary(talk: Talk) -> dict[str, object]:
    outcomes = talk.outcomes()
    seconds = 0.0
    for p in talk.item.playbacks.values():
        if p.started_at is not None and p.ended_at is not None:
            seconds = max(seconds, p.ended_at - (p.voice_at or p.started_at))
    return {
        "live": "ended",
        "zones": outcomes,
        "seconds": round(max(0.0, seconds), 1),
        "dropouts": sum(p.dropouts for p in talk.item.playbacks.values()),
        "reason": next((p.reason for p in talk.item.playbacks.values() if p.reason), talk.reason),
        "ok": all(o in (COMPLETED, DROPOUT) for o in outcomes.values()),
    }
