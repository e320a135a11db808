"""Live voice: a microphone's audio, cleaned up and carried to the cards' callbacks.

The microphone and each sound card run on their own crystal clocks, which never
agree exactly (a few parts in 10,000): a fixed buffer between them slowly fills
up (a growing delay) or runs dry (holes). So each card reads the microphone
through its own :class:`DriftBuffer`, a bounded ring that resamples very
slightly (at most 0.5 %) to keep its depth near a target, and trims at once
when it is far above it. The card adds what it reads in its callback, after the
mix that was made ahead (:mod:`broadcaster.audio.card`): live voice does not
wait for the lead, and no card gets a second stream.

:class:`VoiceProcessor` runs in the microphone's callback: a noise gate (the
hum of an open microphone is not broadcast), a slow level control towards the
announcements' loudness, and a peak limiter (a shout does not clip the horns).
"""

from __future__ import annotations

import logging
import math
import threading
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from broadcaster.audio.devices import _sounddevice
from broadcaster.errors import AudioError
from broadcaster.i18n import _

logger = logging.getLogger(__name__)

MAX_CORRECTION = 0.005
"""The largest change of speed the drift control makes (0.5 %: not heard)."""
CORRECTION_PER_S = 0.1
"""Speed change per second of depth error beyond the dead band: 10 ms further plays 0.1 % faster
(a clock 300 ppm off leaves the depth 3 ms beyond the dead band)."""
DEAD_BAND_S = 0.01
"""Depth errors this small are left alone: the microphone's blocks come in bursts, and a speed
that followed them would wobble."""
TRIM_S = 0.15
"""Deeper than target + this: the oldest audio is dropped at once (a stalled card caught up)."""
CAPACITY_S = 1.0


class DriftBuffer:
    """Mono audio from the microphone's clock to one card's clock.

    ``write`` is called from the microphone's callback, ``read`` from the card's;
    each holds the lock only to move indices and copy a block.
    """

    def __init__(self, in_rate_hz: int, out_rate_hz: int, target_s: float = 0.06) -> None:
        self.in_rate_hz, self.out_rate_hz = in_rate_hz, out_rate_hz
        self.nominal = in_rate_hz / out_rate_hz
        """Input samples per output sample, before the drift control."""
        self.target = round(target_s * in_rate_hz)
        self.trim = self.target + round(TRIM_S * in_rate_hz)
        self._ring = np.zeros(round(CAPACITY_S * in_rate_hz) + 1, dtype=np.float32)
        self._start = 0
        self._count = 0
        self._phase = 0.0
        self._depth = float(self.target)
        """The depth, smoothed over reads (what the drift control follows)."""
        self._primed = False
        self._lock = threading.Lock()
        self.underruns = 0
        """Reads that found too little audio (the microphone was late or stopped): silence played."""
        self.underrun_frames = 0
        self.overruns = 0
        """Writes that found the ring full (nobody reads): the oldest audio was dropped."""
        self.trims = 0
        """Times the depth was cut back to the target at once."""

    @property
    def depth_s(self) -> float:
        return self._count / self.in_rate_hz

    @property
    def speed(self) -> float:
        """How much faster than nominal the input is read now (drift control)."""
        error_s = (self._depth - self.target) / self.in_rate_hz
        beyond = max(0.0, abs(error_s) - DEAD_BAND_S) * (1 if error_s > 0 else -1)
        return 1.0 + max(-MAX_CORRECTION, min(MAX_CORRECTION, beyond * CORRECTION_PER_S))

    def write(self, samples: np.ndarray) -> None:
        size = len(self._ring)
        with self._lock:
            if len(samples) >= size:
                samples = samples[-(size - 1) :]
            excess = self._count + len(samples) - (size - 1)
            if excess > 0:
                self.overruns += 1
                self._drop(excess)
            end = (self._start + self._count) % size
            first = min(len(samples), size - end)
            self._ring[end : end + first] = samples[:first]
            self._ring[: len(samples) - first] = samples[first:]
            self._count += len(samples)

    def read(self, frames: int) -> np.ndarray:
        """``frames`` samples at the output rate (silence until the target depth is first reached)."""
        with self._lock:
            if not self._primed:
                if self._count < self.target:
                    return np.zeros(frames, dtype=np.float32)
                self._primed = True
                self._depth = float(self._count)
                self._phase = 0.0
            if self._count > self.trim:
                self.trims += 1
                self._drop(self._count - self.target)
                self._depth = float(self.target)
            self._depth += 0.05 * (self._count - self._depth)
            step = self.nominal * self.speed
            positions = self._phase + step * np.arange(frames)
            needed = int(positions[-1]) + 2
            if self._count < needed:
                self.underruns += 1
                self.underrun_frames += frames
                self._primed = False  # wait for the target depth again
                return np.zeros(frames, dtype=np.float32)
            chunk = self._peek(needed)
            advance = self._phase + step * frames
            used = int(advance)
            self._phase = advance - used
            self._drop(used)
        return np.interp(positions, np.arange(needed), chunk).astype(np.float32)

    def flush(self) -> None:
        """Start again from the target depth: what is older than that is not news any more."""
        with self._lock:
            if self._count > self.target:
                self._drop(self._count - self.target)
            self._depth = float(self._count)

    def _peek(self, count: int) -> np.ndarray:
        size = len(self._ring)
        first = min(count, size - self._start)
        if first == count:
            return self._ring[self._start : self._start + count].copy()
        return np.concatenate([self._ring[self._start :], self._ring[: count - first]])

    def _drop(self, count: int) -> None:
        count = min(count, self._count)
        self._start = (self._start + count) % len(self._ring)
        self._count -= count


GATE_OPEN_DBFS = -45.0
"""A block louder than this (RMS, before the level control) opens the gate."""
GATE_CLOSE_DBFS = -50.0
GATE_HOLD_S = 0.3
"""The gate stays open this long after the voice falls silent (between words)."""
CEILING_DBFS = -1.0
MAX_GAIN_DB = 20.0
MIN_GAIN_DB = -20.0
LEVEL_RATE_DB_PER_S = 3.0
"""How fast the level control moves (slow: it follows a speaker, not each syllable)."""
LEVEL_WINDOW_S = 0.5
"""The level control listens to the voice's power over about this long."""


def _db(value: float) -> float:
    return 20 * math.log10(max(value, 1e-9))


class VoiceProcessor:
    """Noise gate, level control and peak limiter, one block at a time (the microphone's thread)."""

    def __init__(self, rate_hz: int, target_dbfs: float = -18.0) -> None:
        self.rate_hz = rate_hz
        self.target_dbfs = target_dbfs
        self.gain_db = 0.0
        self._gate = 0.0
        """The gate's gain at the end of the last block (0 closed, 1 open)."""
        self._held_s = 0.0
        self._power = 10 ** (target_dbfs / 10)
        """The voice's power (mean square) over the last ``LEVEL_WINDOW_S``, while the gate is open."""
        self._limit = 1.0
        self.ceiling = 10 ** (CEILING_DBFS / 20)

    def process(self, block: np.ndarray) -> np.ndarray:
        frames = len(block)
        seconds = frames / self.rate_hz
        power = float(np.mean(block.astype(np.float64) ** 2)) if frames else 0.0
        level = _db(math.sqrt(power))
        if level > GATE_OPEN_DBFS:
            self._held_s = 0.0
            gate = 1.0
            # The level control learns only from the voice, never from the room's hum.
            self._power += min(1.0, seconds / LEVEL_WINDOW_S) * (power - self._power)
            error = self.target_dbfs - (_db(math.sqrt(self._power)) + self.gain_db)
            step = max(-LEVEL_RATE_DB_PER_S * seconds, min(LEVEL_RATE_DB_PER_S * seconds, error))
            self.gain_db = max(MIN_GAIN_DB, min(MAX_GAIN_DB, self.gain_db + step))
        else:
            self._held_s += seconds
            gate = 1.0 if level > GATE_CLOSE_DBFS or self._held_s < GATE_HOLD_S else 0.0
        ramp = np.linspace(self._gate, gate, frames, dtype=np.float32) if frames else block
        self._gate = gate
        out = block * ramp * np.float32(10 ** (self.gain_db / 20))
        peak = float(np.max(np.abs(out))) if frames else 0.0
        limit = min(1.0, self.ceiling / peak) if peak > 0 else 1.0
        # Down at once (from the block's start), up slowly (release over about half a second).
        target = limit if limit < self._limit else min(1.0, self._limit * 10 ** (6 * seconds / 20))
        out *= np.linspace(min(self._limit, target), target, frames, dtype=np.float32)
        self._limit = target
        return np.clip(out, -self.ceiling, self.ceiling)


class Recorder:
    """Writes what went out to a 16-bit WAV file, from its own thread (never the callback's)."""

    def __init__(self, path: Path, rate_hz: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = wave.open(str(path), "wb")  # noqa: SIM115 - closed by close()
        self._file.setnchannels(1)
        self._file.setsampwidth(2)
        self._file.setframerate(rate_hz)
        self._blocks: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="live-recorder", daemon=True)
        self._thread.start()

    def add(self, block: np.ndarray) -> None:
        with self._lock:
            self._blocks.append(block.copy())
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(0.5)
            self._wake.clear()
            with self._lock:
                blocks, self._blocks = self._blocks, []
                closed = self._closed
            for block in blocks:
                self._file.writeframes((np.clip(block, -1, 1) * 32767).astype("<i2").tobytes())
            if closed:
                self._file.close()
                return

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join(5)


def remove_old_recordings(folder: Path, keep_days: float, now: float) -> int:
    """Delete recordings older than ``keep_days``; how many."""
    removed = 0
    for path in folder.glob("*.wav") if folder.is_dir() else []:
        try:
            if now - path.stat().st_mtime > keep_days * 86400:
                path.unlink()
                removed += 1
        except OSError as exc:
            logger.warning("cannot remove the old recording %s: %s", path, exc)
    return removed


class Microphone:
    """An input stream whose processed blocks go to every card's :class:`DriftBuffer`.

    Opened for a live talk and closed after it, so the device is free between talks. The
    cards' buffers are made before it opens (:meth:`buffer_for`), so none misses the first block.
    """

    BLOCK_FRAMES = 240
    """5 ms at 48 kHz: small input blocks keep the delay down."""

    def __init__(self, device: str, rate_hz: int, target_dbfs: float, buffer_s: float) -> None:
        self.device = device
        self.rate_hz = rate_hz
        self.buffer_s = buffer_s
        self.processor = VoiceProcessor(rate_hz, target_dbfs)
        self.buffers: dict[str, DriftBuffer] = {}
        self.recorder: Recorder | None = None
        self.overflows = 0
        """Blocks the input device reported lost (its buffer overflowed)."""
        self.input_delay_s: float | None = None
        """From the sound at the input to the callback, as the device last said (for ``status``)."""
        self.on_block: Callable[[np.ndarray], None] | None = None
        self._stream = None
        self._lock = threading.Lock()

    def buffer_for(self, card: str, card_rate_hz: int) -> DriftBuffer:
        with self._lock:
            if card not in self.buffers:
                self.buffers = {**self.buffers, card: DriftBuffer(self.rate_hz, card_rate_hz, self.buffer_s)}
            return self.buffers[card]

    def open(self) -> Microphone:
        sd = _sounddevice()
        index = _find_input(sd, self.device)
        try:
            sd.check_input_settings(index, channels=1, samplerate=self.rate_hz, dtype="float32")
        except (sd.PortAudioError, ValueError):  # a microphone fixed at 44.1 kHz: the buffers resample
            self.rate_hz = int(sd.query_devices(index)["default_samplerate"])
            self.processor.rate_hz = self.rate_hz
            self.buffers = {card: DriftBuffer(self.rate_hz, buffer.out_rate_hz, self.buffer_s)
                            for card, buffer in self.buffers.items()}  # fmt: skip
        try:
            stream = sd.InputStream(device=index, channels=1, samplerate=self.rate_hz, dtype="float32",
                                    blocksize=self.BLOCK_FRAMES, latency="low",
                                    callback=self._callback)  # fmt: skip
            stream.start()
            self._stream = stream
        except (sd.PortAudioError, ValueError) as exc:
            message = _("cannot open the microphone '{name}': {reason}")
            raise AudioError(message.format(name=self.device, reason=exc)) from exc
        logger.info("Microphone %s open at %d Hz", self.device, self.rate_hz)
        return self

    def _callback(self, indata: np.ndarray, frames: int, timeinfo, status) -> None:
        try:
            if status.input_overflow:
                self.overflows += 1
            if timeinfo.inputBufferAdcTime and timeinfo.currentTime:
                self.input_delay_s = timeinfo.currentTime - timeinfo.inputBufferAdcTime
            block = self.processor.process(indata[:, 0].copy())
            for buffer in self.buffers.values():
                buffer.write(block)
            recorder = self.recorder
            if recorder is not None:
                recorder.add(block)
        except Exception:  # noqa: BLE001 - an exception here would silently stop the stream
            logger.debug("microphone callback failed", exc_info=True)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # noqa: BLE001 - a dead stream may fail to close; nothing to save
                logger.debug("closing the microphone failed", exc_info=True)
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None


def _find_input(sd, spec: str) -> int:
    """An input device's index by name, index, part of a name, or ``default``."""
    devices = [(i, d["name"]) for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]
    if spec == "default":
        index = sd.default.device[0]
        if index is None or index < 0:
            raise AudioError(_("there is no default microphone"))
        return int(index)
    found = [i for i, name in devices if (spec.isdigit() and i == int(spec)) or name == spec]
    found = found or [i for i, name in devices if spec.lower() in name.lower()]
    if len(found) == 1:
        return found[0]
    names = ", ".join(f"'{name}'" for _i, name in devices) or _("none")
    if not found:
        message = _("microphone '{name}' not found; available: {names}")
        raise AudioError(message.format(name=spec, names=names))
    raise AudioError(_("'{name}' matches several microphones: {names}").format(name=spec, names=names))
