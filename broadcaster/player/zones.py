"""What plays where: zones on open sound cards, and every play written to the log.

:class:`Outputs` opens one :class:`CardOutput` per sound card named by the
zones (two zones on the left and right of one card share it). :class:`Player`
puts a rendered item on a zone and keeps its log row true: the row is written
when the audio really starts and finished with what really happened.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from broadcaster.audio.card import (
    COMPLETED,
    DEVICE_BUFFER_S,
    FAILED,
    LEAD_S,
    PREFERRED_RATE_HZ,
    Card,
    CardOutput,
    LiveSource,
    Playback,
)
from broadcaster.audio.devices import Device, find_device, list_devices
from broadcaster.audio.fake import FakeCard
from broadcaster.config import Zone
from broadcaster.errors import AudioError
from broadcaster.i18n import _
from broadcaster.pcm import Pcm, read_wav
from broadcaster.playlog import PlayLog

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class Item:
    """A rendered announcement, ready to play."""

    announcement_id: str
    content_hash: str
    path: Path
    duration_s: float
    started_by: str = ""
    """Who asked for it, when a person did (kept in the log)."""


class LiveSources(Protocol):
    """The microphone as the cards read it: a drift buffer per card (``audio.live.Microphone``)."""

    def buffer_for(self, card: str, card_rate_hz: int) -> LiveSource: ...


@dataclass(frozen=True, eq=False)
class LiveItem:
    """Live voice: the chime, then the microphone until it is ended; logged as ``live``."""

    microphone: LiveSources
    lead_in: Pcm
    """The chime and the pause before the voice (empty for none)."""
    started_by: str = ""
    announcement_id: str = "live"
    content_hash: str = ""
    duration_s: float = math.inf
    playbacks: dict[str, Playback] = field(default_factory=dict)
    """Zone → its playback, once placed (read by whoever holds the microphone)."""


@dataclass(frozen=True)
class ZoneOutput:
    zone: str
    card: Card
    channels: tuple[int, ...]
    """0-based channel indices on the card."""
    gain: float


class Outputs:
    """The station's zones, each on its card; cards opened once and kept open."""

    def __init__(self, zones: dict[str, Zone], devices: list[Device] | None = None,
                 tolerate_missing: bool = False, lead_s: float = LEAD_S,
                 buffer_s: float = DEVICE_BUFFER_S) -> None:  # fmt: skip
        """With ``tolerate_missing`` a card that is not there gets a placeholder that fails
        its plays (with the reason) until :meth:`recover` finds it; otherwise it is an error."""
        devices = list_devices() if devices is None else devices
        self.tolerate_missing = tolerate_missing
        self.zones: dict[str, ZoneOutput] = {}
        self.cards: dict[int, CardOutput] = {}  # FakeCard in tests
        self.missing: set[str] = set()
        """Cards whose sink the sound server lost: not reopened until it is back."""
        wanted: dict[int, tuple[Device, int]] = {}
        placed = []
        absent: dict[str, Device] = {}
        for zone in zones.values():
            try:
                device = find_device(zone.device, devices)
            except AudioError as exc:
                if not tolerate_missing:
                    raise AudioError(_("zone '{zone}': {reason}").format(zone=zone.name, reason=exc)) from exc
                logger.error("zone '%s': %s (its plays fail until the card is there)", zone.name, exc)
                placeholder = Device(-1 - len(absent), zone.device, max(2, *zone.channels), PREFERRED_RATE_HZ)
                device = absent.setdefault(zone.device, placeholder)
            width = max(max(zone.channels), wanted.get(device.index, (device, 0))[1])
            if width > device.channels:
                message = _("zone '{zone}': '{card}' has only {channels} channels")
                raise AudioError(message.format(zone=zone.name, card=device.name, channels=device.channels))
            wanted[device.index] = (device, width)
            placed.append((zone, device))
        for index, (device, width) in wanted.items():
            self.cards[index] = CardOutput(device, max(width, min(2, device.channels)), lead_s, buffer_s)
            if index < 0:
                self.cards[index].failure = f"sound card '{device.name}' not found"
        for zone, device in placed:
            channels = tuple(c - 1 for c in zone.channels)
            self.zones[zone.name] = ZoneOutput(zone.name, self.cards[device.index], channels, zone.volume)

    @classmethod
    def fake(cls, zones: dict[str, Zone], clock: Callable[[], float]) -> Outputs:
        """Zones on :class:`FakeCard` s (one per device name) on a virtual clock, for tests."""
        outputs = cls.__new__(cls)
        outputs.tolerate_missing, outputs.missing = True, set()
        outputs.cards, outputs.zones = {}, {}
        for index, zone in enumerate(zones.values()):
            card: Card | None = next((c for c in outputs.cards.values() if c.name == zone.device), None)
            if card is None:
                card = FakeCard(zone.device, max(2, *zone.channels), clock)
                outputs.cards[index] = card  # type: ignore[assignment]  # tests call only Card's methods
            outputs.zones[zone.name] = ZoneOutput(zone.name, card, tuple(c - 1 for c in zone.channels),
                                                  zone.volume)  # fmt: skip
        return outputs

    def open(self) -> Outputs:
        opened = []
        for card in self.cards.values():
            if card.failure:
                continue  # a placeholder for a card that is not there
            try:
                opened.append(card.open())
            except AudioError as exc:
                if not self.tolerate_missing:
                    for other in opened:
                        other.close()
                    raise
                card.failure = str(exc)
                logger.error("%s (the station starts without it and keeps trying)", exc)
        return self

    def close(self) -> None:
        for card in self.cards.values():
            card.close()

    def sink_removed(self, name: str) -> None:
        """The sound server lost the sink behind a card (a pulled USB card)."""
        self.missing.add(name)
        for card in self.cards.values():
            if card.device.name == name:
                card.lost("the sound card was removed")

    def sink_added(self, name: str) -> None:
        self.missing.discard(name)

    def recover(self) -> list[str]:
        """Reopen cards whose stream died or that were not there; the names of those still dead."""
        dead = [c for c in self.cards.values() if not c.alive and c.device.name not in self.missing]
        if not dead:
            return []
        busy = any(card.busy for card in self.cards.values() if card.alive)
        if not busy and (len(dead) == len(self.cards) or any(c.device.index < 0 for c in dead)):
            # PortAudio reads the device list once: a card plugged in later, or a restarted
            # sound server, needs it read again, which closes every stream. Only when
            # nothing plays; idle streams are opened again right away.
            _reinitialize()
            devices = list_devices()
            for card in self.cards.values():
                try:
                    card.device = find_device(card.device.name, devices)
                except AudioError:
                    continue
            dead = [c for c in self.cards.values() if c.device.name not in self.missing]
        return [card.device.name for card in dead if not card.reopen()]

    def __getitem__(self, zone: str) -> ZoneOutput:
        return self.zones[zone]


class ZonePlay:
    """One item on one zone, and its log row once it has started."""

    def __init__(self, item: Item | LiveItem, zone: ZoneOutput, playback: Playback, trigger: str,
                 requested_at: dt.datetime) -> None:  # fmt: skip
        self.item, self.zone, self.playback = item, zone, playback
        self.trigger, self.requested_at = trigger, requested_at
        self.row: int | None = None
        self.final = False

    @property
    def started(self) -> bool:
        return self.playback.started

    def elapsed_s(self) -> float:
        return self.playback.elapsed_s()

    def stop(self, reason: str) -> None:
        self.playback.stop(reason)


class Player:
    """Puts items on zones and writes the truth about each play to the log.

    Not thread-safe: one owner (the station's thread, or the van loop) calls it.
    """

    def __init__(self, outputs: Outputs, log: PlayLog, clock: Clock) -> None:
        self.outputs = outputs
        self.log = log
        self.clock = clock

    def queue(self, item: Item | LiveItem, zone: str, trigger: str, requested_at: dt.datetime | None = None,
              start_frame: int | None = None) -> ZonePlay:  # fmt: skip
        """Put ``item`` on ``zone`` as soon as possible, or at ``start_frame`` of its card."""
        output = self.outputs[zone]
        card = output.card
        pcm = item.lead_in if isinstance(item, LiveItem) else read_wav(item.path)
        if pcm.rate_hz != card.rate_hz:
            pcm = pcm.resampled(card.rate_hz)
        if isinstance(item, LiveItem):
            source = item.microphone.buffer_for(card.name, card.rate_hz)
            playback = card.play_live(source, pcm.samples, output.channels, output.gain, start_frame, "live")
            item.playbacks[zone] = playback
        else:
            playback = card.play(pcm.samples, output.channels, output.gain, start_frame, item.announcement_id)
        return ZonePlay(item, output, playback, trigger, requested_at or self.clock())

    def journal(self, play: ZonePlay) -> bool:
        """Bring the log row of ``play`` up to date; True once it is final.

        The row is written when the audio reached the card (outcome ``playing``) and
        finished with the outcome and dropouts; a play that failed before it sounded
        gets a ``failed`` row; one stopped before it sounded gets none (its owner
        decides: resumed later, or logged missed).
        """
        if play.final:
            return True
        playback = play.playback
        item = play.item
        if play.row is None and playback.started:
            play.row = self.log.start(item.announcement_id, item.content_hash, play.zone.zone, play.trigger,
                                      play.requested_at, _when(playback.started_at),
                                      started_by=item.started_by)  # fmt: skip
        if not playback.done.is_set():
            return False
        play.final = True
        outcome = playback.outcome or FAILED
        if play.row is not None:
            self.log.finish(play.row, outcome, _when(playback.ended_at), playback.reason,
                            _when(playback.started_at), dropouts=playback.dropouts,
                            dropout_ms=playback.dropout_ms)  # fmt: skip
        elif outcome == FAILED:
            self.failed(item, play.zone.zone, play.trigger, play.requested_at, playback.reason)
            return True
        if play.row is not None:
            logger.info("%s on %s: %s %s", item.announcement_id, play.zone.zone, outcome, playback.reason)
        return True

    def failed(self, item: Item | LiveItem, zone: str, trigger: str, requested_at: dt.datetime,
               reason: str) -> None:  # fmt: skip
        """A play that could not start (a dead card, an unreadable file)."""
        row = self.log.start(item.announcement_id, item.content_hash, zone, trigger, requested_at,
                             started_by=item.started_by)  # fmt: skip
        self.log.finish(row, FAILED, self.clock(), reason)
        logger.error("%s on %s failed: %s", item.announcement_id, zone, reason)

    def settle(self, play: ZonePlay, timeout: float | None = None) -> str:
        """Wait until ``play`` ends and write its row (for callers that wait, like the van loop)."""
        if play.playback.wait(timeout) is None:
            play.stop("did not finish in time")
            play.playback.wait(2.0)
        self.journal(play)
        return play.playback.outcome or FAILED


def _reinitialize() -> None:
    try:
        import sounddevice

        sounddevice._terminate()
        sounddevice._initialize()
    except Exception:  # noqa: BLE001 - a failed re-read leaves the old list; reopen decides
        logger.exception("could not re-read the sound devices")


def _when(timestamp: float | None) -> dt.datetime:
    if timestamp is None:
        return dt.datetime.now(dt.UTC)
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


__all__ = ["Item", "LiveItem", "Outputs", "Player", "ZonePlay", "COMPLETED"]
