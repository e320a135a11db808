"""Audio in memory: mono float samples at a known rate; WAV files; a spool on disk.

Everything between the engines and the sound card is a :class:`Pcm`: float32
samples in -1..1, one channel, ``rate_hz`` samples per second.
"""

from __future__ import annotations

import io
import math
import os
import struct
import tempfile
import threading
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from broadcaster.config import OUTPUT_RATE_HZ
from broadcaster.errors import AudioError
from broadcaster.i18n import _


@dataclass(frozen=True, eq=False)
class Pcm:
    samples: np.ndarray
    """float32, mono, -1.0..1.0."""
    rate_hz: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate_hz

    @classmethod
    def silence(cls, seconds: float, rate_hz: int = OUTPUT_RATE_HZ) -> Pcm:
        return cls(np.zeros(round(seconds * rate_hz), dtype=np.float32), rate_hz)

    def resampled(self, rate_hz: int) -> Pcm:
        if rate_hz == self.rate_hz:
            return self
        import soxr  # libsoxr, "high quality": ~2x the speed of scipy's polyphase filter, no scipy

        out = soxr.resample(np.ascontiguousarray(self.samples, np.float32), self.rate_hz, rate_hz, "HQ")
        return Pcm(np.asarray(out, np.float32), rate_hz)


def concat(parts: list[Pcm]) -> Pcm:
    """Join clips of one rate end to end (no crossfade)."""
    rate = parts[0].rate_hz
    if any(p.rate_hz != rate for p in parts):
        raise ValueError("clips have different rates")
    return Pcm(np.concatenate([p.samples for p in parts], dtype=np.float32), rate)


def decode_wav(data: bytes, strict: bool = False) -> Pcm:
    """A PCM WAV (8/16/24/32-bit integer, any channel count) → mono :class:`Pcm`.

    By default trusts the bytes actually present (streaming writers put bogus
    lengths in the header); ``strict`` refuses a file shorter than its header says.
    """
    try:
        with wave.open(io.BytesIO(data)) as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            declared = w.getnframes()
            frames = w.readframes(declared)
    except (wave.Error, EOFError, struct.error) as exc:
        raise AudioError(_("not a readable WAV file: {reason}").format(reason=exc)) from exc
    if strict and len(frames) != declared * width * channels:
        raise AudioError(_("WAV file is truncated"))
    usable = len(frames) // (width * channels) * width * channels
    frames = frames[:usable]
    if width == 1:
        samples = (np.frombuffer(frames, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        samples = np.frombuffer(frames, "<i2").astype(np.float32) / 32768
    elif width == 3:
        raw = np.frombuffer(frames, np.uint8).reshape(-1, 3)
        ints = (raw[:, 0].astype(np.int32) | raw[:, 1].astype(np.int32) << 8
                | raw[:, 2].astype(np.int32) << 16)  # fmt: skip
        samples = (np.where(ints >= 1 << 23, ints - (1 << 24), ints)).astype(np.float32) / (1 << 23)
    elif width == 4:
        samples = np.frombuffer(frames, "<i4").astype(np.float32) / 2**31
    else:
        raise AudioError(_("unsupported WAV sample width {width}").format(width=width))
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return Pcm(samples.astype(np.float32), rate)


def read_wav(path: Path, strict: bool = False) -> Pcm:
    try:
        return decode_wav(path.read_bytes(), strict)
    except OSError as exc:
        raise AudioError(_("cannot read {path}: {reason}").format(path=path, reason=exc.strerror)) from exc


_CHUNK = 1 << 20  # samples converted at a time: a long announcement is never copied whole


def _as_frames(samples: np.ndarray, channels: int) -> bytes:
    ints = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    if channels > 1:
        ints = np.repeat(ints[:, None], channels, axis=1)
    return ints.tobytes()


def encode_wav(pcm: Pcm, channels: int = 1) -> bytes:
    """16-bit PCM WAV; with ``channels`` > 1 the mono signal is copied to each."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(pcm.rate_hz)
        for first in range(0, len(pcm.samples), _CHUNK):
            w.writeframes(_as_frames(pcm.samples[first : first + _CHUNK], channels))
    return buffer.getvalue()


class WavWriter:
    """A mono 16-bit WAV written a block at a time, in place atomically when the ``with`` ends.

    A reader never sees half a file; if the block inside fails, nothing is left behind.
    """

    def __init__(self, path: Path, rate_hz: int) -> None:
        self.path = path
        self.rate_hz = rate_hz
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")

    def __enter__(self) -> WavWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._wave = wave.open(str(self._tmp), "wb")
        self._wave.setnchannels(1)
        self._wave.setsampwidth(2)
        self._wave.setframerate(self.rate_hz)
        return self

    def write(self, samples: np.ndarray) -> None:
        for first in range(0, len(samples), _CHUNK):
            self._wave.writeframes(_as_frames(samples[first : first + _CHUNK], 1))

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._wave.close()
        if kind is None:
            self._tmp.replace(self.path)
        else:
            self._tmp.unlink(missing_ok=True)


def write_wav(path: Path, pcm: Pcm) -> None:
    """Write atomically (a reader never sees half a file), a chunk at a time."""
    with WavWriter(path, pcm.rate_hz) as out:
        out.write(pcm.samples)


class Spool:
    """Audio appended to a temporary file and read back by range: a long announcement on disk,
    not in memory. Each appended block is also handed to ``listener`` (a loudness meter)."""

    def __init__(self, folder: Path, listener: Callable[[np.ndarray], None] | None = None) -> None:
        self.listener = listener
        self.length = 0
        self._file = tempfile.TemporaryFile(dir=folder, prefix=".spool-")
        self._lock = threading.Lock()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def append(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, np.float32)
        with self._lock:
            self._file.seek(0, os.SEEK_END)
            self._file.write(samples.tobytes())
        if self.listener is not None:
            self.listener(samples)
        self.length += len(samples)

    def again(self, first: int, last: int) -> None:
        """Append a copy of samples ``first:last`` (a repeat)."""
        for start in range(first, last, _CHUNK):
            self.append(self.read(start, min(_CHUNK, last - start)))

    def read(self, first: int, count: int) -> np.ndarray:
        """Samples ``first:first + count``; safe to call from several threads."""
        with self._lock:
            self._file.seek(first * 4)
            return np.frombuffer(self._file.read(count * 4), np.float32)


def rms_dbfs(samples: np.ndarray) -> float:
    if len(samples) == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * math.log10(rms) if rms > 0 else -math.inf
