"""Sound cards: one output stream per card, kept open, fed by a small mixer.

Each :class:`CardOutput` owns one PortAudio stream. Items to play are
:class:`Playback` objects: mono audio, the card channels it goes to, a gain,
and optionally the card frame at which it must start (for exact gaps). The
stream's callback mixes every active playback into its buffer, applies fades
when one is stopped, counts underruns, and tells a playback it is *delivered*
only when a later buffer has reached the converter, i.e. the card really
took all of its audio. A watchdog fails the playbacks of a card whose stream
stopped asking for audio ("the call returned" is not proof).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from broadcaster.errors import AudioError
from broadcaster.pcm import Pcm

logger = logging.getLogger(__name__)

PREFERRED_RATE_HZ = 48_000
LATENCY_S = 0.03
FADE_S = 0.03
STALL_S = 3.0
"""A stream that takes no audio for this long has failed."""
WARM_UP_S = 0.2
"""Audio a new stream must have taken before the first item is queued: a sleeping
sound server or a just-opened device must not swallow the start of the chime."""

COMPLETED = "completed"
INTERRUPTED = "interrupted"
FAILED = "failed"


def _sounddevice():  # type: ignore[no-untyped-def]
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library is missing
        raise AudioError(f"sound output is not available: {exc}") from exc
    return sounddevice


@dataclass(frozen=True)
class Device:
    """An output device as PortAudio sees it."""

    index: int
    name: str
    channels: int
    default_rate_hz: int


def list_devices() -> list[Device]:
    sd = _sounddevice()
    return [
        Device(i, d["name"], int(d["max_output_channels"]), int(d["default_samplerate"]))
        for i, d in enumerate(sd.query_devices())
        if d["max_output_channels"] > 0
    ]


def find_device(spec: str, devices: list[Device]) -> Device:
    """A device by exact name, by index, by ``default``, or by a unique part of its name."""
    if spec == "default":
        index = _sounddevice().default.device[1]
        if index is None or index < 0:
            raise AudioError("there is no default sound output")
        spec = str(index)
    if spec.isdigit():
        found = [d for d in devices if d.index == int(spec)]
    else:
        found = [d for d in devices if d.name == spec]
        found = found or [d for d in devices if spec.lower() in d.name.lower()]
    if len(found) == 1:
        return found[0]
    names = ", ".join(f"'{d.name}'" for d in devices) or "none"
    if not found:
        raise AudioError(f"sound card '{spec}' not found; available: {names}")
    raise AudioError(f"'{spec}' matches several sound cards: {', '.join(d.name for d in found)}")


class Playback:
    """One item being played on some channels of one card. Thread-safe to stop and wait on."""

    def __init__(self, samples: np.ndarray, channels: tuple[int, ...], gain: float,
                 start_frame: int | None, label: str) -> None:  # fmt: skip
        self.samples = samples
        self.channels = channels
        """0-based channel indices on the card."""
        self.gain = gain
        self.start_frame = start_frame
        self.label = label
        self.position = 0
        self.started_frame: int | None = None
        self.started_at: float | None = None
        """time.time() when the first sample reached the card (estimated from the stream clock)."""
        self.ended_at: float | None = None
        self.outcome: str | None = None
        self.reason = ""
        self._fade_left: int | None = None
        self._fade_total = 1
        self._end_dac: float | None = None
        self._stop_reason = ""
        self.done = threading.Event()

    @property
    def duration_frames(self) -> int:
        return len(self.samples)

    @property
    def end_frame(self) -> int | None:
        """The card frame after the last sample, once the start is known (if not stopped)."""
        return None if self.started_frame is None else self.started_frame + len(self.samples)

    def stop(self, reason: str, fade_s: float = FADE_S, rate_hz: int = PREFERRED_RATE_HZ) -> None:
        """Fade out and end as interrupted (a playback not yet started just ends)."""
        if self._fade_left is None and not self.done.is_set():
            self._stop_reason = reason
            self._fade_total = max(1, round(fade_s * rate_hz))
            self._fade_left = self._fade_total

    def finish(self, outcome: str, reason: str = "", at: float | None = None) -> None:
        if self.done.is_set():
            return
        self.outcome, self.reason = outcome, reason
        self.ended_at = at if at is not None else time.time()
        self.done.set()

    def wait(self, timeout: float | None = None) -> str | None:
        self.done.wait(timeout)
        return self.outcome


class CardOutput:
    """One sound card: an open stream, a mixer, a frame clock, a watchdog."""

    def __init__(self, device: Device, channels: int, latency_s: float = LATENCY_S) -> None:
        self.device = device
        self.channels = channels
        self.latency_s = latency_s
        self.rate_hz = PREFERRED_RATE_HZ
        self.frames = 0
        """Frames handed to the card so far (the card's clock; stops while paused)."""
        self.paused = False
        self.underflows = 0
        self.last_callback = time.monotonic()
        self._incoming: deque[Playback] = deque()
        self._active: list[Playback] = []
        self._delivering: list[Playback] = []
        self._clock_offset = 0.0  # time.time() - stream time
        self._stream = None
        self._watchdog: threading.Thread | None = None
        self._closing = threading.Event()
        self.failure: str | None = None
        """Why the stream died, until it is opened again."""

    # --- life cycle ------------------------------------------------------------------------

    def open(self) -> CardOutput:
        sd = _sounddevice()
        try:
            sd.check_output_settings(self.device.index, channels=self.channels,
                                     samplerate=PREFERRED_RATE_HZ, dtype="float32")  # fmt: skip
        except (sd.PortAudioError, ValueError):
            self.rate_hz = self.device.default_rate_hz  # e.g. an hw: device fixed at 44.1 kHz
        try:
            self._stream = sd.OutputStream(
                device=self.device.index, samplerate=self.rate_hz, channels=self.channels,
                dtype="float32", latency=self.latency_s, callback=self._callback,
                finished_callback=self._finished,
            )  # fmt: skip
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioError(f"cannot open sound card '{self.device.name}': {exc}") from exc
        self.last_callback = time.monotonic()
        deadline = time.monotonic() + STALL_S
        while self.frames < WARM_UP_S * self.rate_hz:
            if time.monotonic() > deadline:
                self.close()
                raise AudioError(f"sound card '{self.device.name}' does not take audio")
            time.sleep(0.01)
        self._watchdog = threading.Thread(target=self._watch, name=f"watchdog-{self.device.name}",
                                          daemon=True)  # fmt: skip
        self._watchdog.start()
        logger.info("Opened %s: %d channels at %d Hz", self.device.name, self.channels, self.rate_hz)
        return self

    def close(self, reason: str = "the output was closed") -> None:
        self._closing.set()
        for playback in [*self._incoming, *self._active, *self._delivering]:
            playback.finish(INTERRUPTED, reason)
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            except Exception:  # noqa: BLE001 - a dead stream may fail to close; nothing to save
                logger.debug("closing %s failed", self.device.name, exc_info=True)
            self._stream = None

    # --- playing -----------------------------------------------------------------------------

    def play(self, pcm: Pcm, channels: tuple[int, ...], gain: float = 1.0,
             start_frame: int | None = None, label: str = "") -> Playback:  # fmt: skip
        """Queue ``pcm`` on ``channels`` (0-based); start at ``start_frame`` or as soon as possible."""
        if self._stream is None or self._closing.is_set() or self.failure:
            raise AudioError(f"sound card '{self.device.name}' is not available: {self.failure or 'closed'}")
        if max(channels) >= self.channels:
            raise AudioError(f"sound card '{self.device.name}' has no channel {max(channels) + 1}")
        samples = pcm.resampled(self.rate_hz).samples
        playback = Playback(samples, channels, gain, start_frame, label)
        self._incoming.append(playback)
        return playback

    @property
    def busy(self) -> bool:
        return bool(self._incoming or self._active)

    # --- the audio thread --------------------------------------------------------------------

    def _callback(self, out: np.ndarray, frames: int, timeinfo, status) -> None:  # type: ignore[no-untyped-def]
        # Must never block or raise: an exception here silently stops the stream.
        try:
            self._mix(out, frames, timeinfo, status)
        except Exception:  # noqa: BLE001
            out.fill(0)
            logger.exception("mixer error on %s", self.device.name)

    def _mix(self, out: np.ndarray, frames: int, timeinfo, status) -> None:  # type: ignore[no-untyped-def]
        now = time.time()
        self.last_callback = time.monotonic()
        if status.output_underflow:
            self.underflows += 1
        dac = timeinfo.outputBufferDacTime
        self._clock_offset = now - timeinfo.currentTime if timeinfo.currentTime else 0.0
        dac_wall = dac + self._clock_offset if dac else now + self.latency_s
        # Anything whose last buffer is now at the converter has been delivered.
        for playback in list(self._delivering):
            if playback._end_dac is not None and dac_wall >= playback._end_dac:
                self._delivering.remove(playback)
                playback.finish(INTERRUPTED if playback._stop_reason else COMPLETED,
                                playback._stop_reason, playback._end_dac)  # fmt: skip
        out.fill(0)
        while self._incoming:
            self._active.append(self._incoming.popleft())
        if self.paused:
            return
        block_start = self.frames
        for playback in list(self._active):
            offset = 0
            if playback.started_frame is None:
                start = playback.start_frame if playback.start_frame is not None else block_start
                if playback._fade_left is not None and start >= block_start:
                    self._active.remove(playback)  # stopped before it began
                    playback.finish(INTERRUPTED, playback._stop_reason)
                    continue
                if start >= block_start + frames:
                    continue
                offset = max(0, start - block_start)
                playback.started_frame = block_start + offset
                playback.started_at = dac_wall + offset / self.rate_hz
            n = min(frames - offset, len(playback.samples) - playback.position)
            chunk = playback.samples[playback.position : playback.position + n] * playback.gain
            if playback._fade_left is not None:
                n = min(n, playback._fade_left)
                left = playback._fade_left - np.arange(n)
                chunk = chunk[:n] * (left / playback._fade_total)
                playback._fade_left -= n
            for channel in playback.channels:
                out[offset : offset + n, channel] += chunk
            playback.position += n
            ended = playback.position >= len(playback.samples) or playback._fade_left == 0
            if ended:
                self._active.remove(playback)
                playback._end_dac = dac_wall + (offset + n) / self.rate_hz
                self._delivering.append(playback)
        self.frames += frames

    def _finished(self) -> None:
        if not self._closing.is_set():
            self.failure = "the sound card's stream stopped"
            logger.error("%s: %s", self.device.name, self.failure)
            self._fail_all(self.failure)

    def _fail_all(self, reason: str) -> None:
        for playback in [*self._incoming, *self._active, *self._delivering]:
            playback.finish(FAILED, reason)
        self._incoming.clear()
        self._active.clear()
        self._delivering.clear()

    def _watch(self) -> None:
        while not self._closing.wait(0.2):
            stalled = time.monotonic() - self.last_callback
            if stalled > STALL_S and (self._active or self._delivering or self._incoming):
                logger.error("%s took no audio for %.1f s", self.device.name, stalled)
                self._fail_all(f"the sound card took no audio for {stalled:.1f} s")

    @property
    def alive(self) -> bool:
        return (self._stream is not None and self.failure is None
                and time.monotonic() - self.last_callback < STALL_S)  # fmt: skip

    def lost(self, reason: str) -> None:
        """The card is gone: fail what plays and close the stream, so nothing plays elsewhere."""
        self.failure = reason
        self._fail_all(reason)
        self._closing.set()
        if self._stream is not None:
            try:
                self._stream.abort()
            except Exception:  # noqa: BLE001 - the stream may already be dead
                logger.debug("aborting %s failed", self.device.name, exc_info=True)

    def reopen(self) -> bool:
        """Try to open a dead card's stream again (after its server or device came back)."""
        if self.device.index < 0:
            return False  # still not found
        self.close("reopening the sound card")
        self._closing.clear()
        self.failure = None
        self.frames = 0
        try:
            self.open()
        except AudioError as exc:
            self.failure = str(exc)
            return False
        logger.warning("%s is back", self.device.name)
        return True


def play_blocking(pcm: Pcm, device: str | None = None) -> None:
    """Play ``pcm`` on ``device`` (default: the system's) and wait until it was delivered."""
    target = find_device(device or "default", list_devices())
    card = CardOutput(target, channels=min(2, target.channels)).open()
    try:
        playback = card.play(pcm, tuple(range(card.channels)))
        outcome = playback.wait(pcm.duration_s + 30)
        if outcome != COMPLETED:
            raise AudioError(f"playing on '{target.name}' failed: {playback.reason or 'timed out'}")
    finally:
        card.close()
