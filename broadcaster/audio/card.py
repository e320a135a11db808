"""Sound cards: one output stream per card, fed ahead of time by a feeder.

The mix is a function of the card's *frame number*: every :class:`Playback`
has a start frame and, once stopped, a fade, so :func:`mix` can make the block
of frames ``[f, f + n)`` at any time, and make it again.

Each :class:`Card` keeps a queue of ready blocks, ``lead_s`` ahead of what the
card has taken. Three parties touch it, each with its own part:

- the **callback** (PortAudio's real-time thread) only pops a ready block and
  copies it out; with none ready it plays silence and notes a *gap*. It waits
  for nothing but the queue's lock, which the feeder holds for a few deque
  operations and never while mixing, and allocates nothing but a small note;
- the **feeder** (a thread per card; in tests, a virtual clock) owns the
  playbacks: it mixes blocks until the lead is full and reads the callback's
  notes — which playback started, reached the card, had a hole — and finishes
  each playback with what really happened;
- **callers** (the station, the van loop) add playbacks and ask for stops
  through :meth:`Card.play` and :meth:`Playback.stop`, which only hand the
  request to the feeder. A change mixes the queued blocks the card has not
  taken yet again and swaps them in, so a cut or an emergency is heard after
  the device's own buffer, not after the lead.

**Live voice** is the one thing not mixed ahead: a live playback's chime is mixed
like any item, and then the callback itself reads the microphone's drift buffer
(:mod:`broadcaster.audio.live`) and adds it to the block it hands over, so the
voice waits only for the device's buffer, not for the lead. Reading the buffer
takes its lock for a copy of one block.

A real card with nothing to play for ``IDLE_SLEEP_S`` stops its stream; the
next item starts it again and is placed after a warm-up.

A gap (the feeder was late, or the device reported an underflow) does not lose
audio: what follows arrives late. The playbacks sounding at that moment count
a *dropout* (how many, and how long), and a playback with a dropout ends as
``dropout``, never ``completed``: "completed" means the whole item reached the
card without a hole.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from broadcaster.audio.devices import Device, _sounddevice, find_device, list_devices
from broadcaster.config import OUTPUT_RATE_HZ, Config
from broadcaster.errors import AudioError
from broadcaster.i18n import _

logger = logging.getLogger(__name__)

# The defaults of config.yaml's output_lead and output_buffer, and the rate rendered files have.
PREFERRED_RATE_HZ = OUTPUT_RATE_HZ
BLOCK_FRAMES = 1024
"""Frames per callback (21 ms at 48 kHz)."""
LEAD_S = Config.output_lead_s
"""Audio mixed ahead of the card: what protects the broadcast from a busy machine."""
DEVICE_BUFFER_S = Config.output_buffer_s
"""The device's own buffer (PortAudio's suggested latency): it protects the callback."""
KEEP_BLOCKS = 0
"""Blocks left in the queue when a change is mixed again (the rest are taken back)."""
FADE_S = 0.03
STALL_S = 3.0
"""A stream that takes no audio for this long has failed."""
SWITCH_INTERVAL_S = 0.001
"""How long a Python thread may hold the interpreter before another may run (default 5 ms).
The callback and the feeders need it promptly; measured with bench/bench_buffers.py."""
WARM_UP_S = 0.2
"""Audio a new (or woken) stream must have taken before the first item sounds: a sleeping
sound server or a just-opened device must not swallow the start of the chime."""
IDLE_SLEEP_S = 30.0
"""A card with nothing to play for this long stops its stream (and its callbacks) until
the next item: an idle station then costs next to no CPU."""

COMPLETED = "completed"
DROPOUT = "dropout"
INTERRUPTED = "interrupted"
FAILED = "failed"










class Playback:
    """One item on some channels of one card.

    Callers read it and call :meth:`stop`, :meth:`wait`; everything else is
    written by the card's feeder only.
    """

    def __init__(self, card: Card, samples: np.ndarray, channels: tuple[int, ...], gain: float,
                 start_frame: int | None, label: str, source: LiveSource | None = None) -> None:  # fmt: skip
        self.card = card
        self.samples = samples
        """What the mixer plays (for live voice: the chime before it)."""
        self.source = source
        """Live voice: read by the card's callback after ``samples``, until the playback is ended."""
        self.length = len(samples) if source is None else LIVE_FRAMES
        """Frames it lasts unless stopped."""
        self.channels = channels
        """0-based channel indices on the card."""
        self.gain = gain
        self.label = label
        self.start_frame = start_frame
        """Card frame of the first sample; None until the feeder places it (as soon as possible)."""
        self.stop_frame: int | None = None
        """Where the fade-out begins, once a stop has been mixed."""
        self.fade_frames = 1
        self.started_at: float | None = None
        """Wall time (time.time()) when the first sample reached the converter."""
        self.ended_at: float | None = None
        self.outcome: str | None = None
        self.reason = ""
        self.dropouts = 0
        self.dropout_frames = 0
        self._end_at: float | None = None
        self._stop_wanted: str | None = None
        self._stop_outcome = INTERRUPTED
        self._reading = False
        """Live voice: the callback has begun to read the source (written by the callback only)."""
        self._source_holes = 0
        self._source_hole_frames = 0
        self.done = threading.Event()

    # --- read by anyone ---------------------------------------------------------------------

    @property
    def end_frame(self) -> int | None:
        """The card frame after the last one it sounds, once known (None while a stop is pending)."""
        if self.start_frame is None or (self._stop_wanted is not None and self.stop_frame is None):
            return None
        end = self.start_frame + self.length
        if self.stop_frame is not None:
            end = min(end, self.stop_frame + self.fade_frames)
        return end

    @property
    def started(self) -> bool:
        return self.started_at is not None

    @property
    def stopped(self) -> bool:
        return self._stop_wanted is not None

    @property
    def dropout_ms(self) -> int:
        return round(self.dropout_frames * 1000 / self.card.rate_hz)

    def elapsed_s(self) -> float:
        if self.start_frame is None or not self.started:
            return 0.0
        played = self.card.played_until - self.start_frame
        return min(max(0, played), self.length) / self.card.rate_hz

    @property
    def voice_at(self) -> float | None:
        """Live voice: wall time when the voice (after the chime) reaches the converter."""
        if self.started_at is None:
            return None
        return self.started_at + len(self.samples) / self.card.rate_hz

    def stop(self, reason: str) -> None:
        """Fade out and end as interrupted (a playback not yet sounding just ends)."""
        self.card._request_stop(self, reason)

    def end(self) -> None:
        """Live voice: the speaker is done; fade out and end as completed (unless already cut)."""
        self.card._request_stop(self, "", COMPLETED)

    def wait(self, timeout: float | None = None) -> str | None:
        self.done.wait(timeout)
        return self.outcome

    # --- written by the feeder --------------------------------------------------------------

    def _finish(self, outcome: str, reason: str, at: float) -> None:
        with _FINISH_LOCK:  # the feeder and a failing card may end it at once: the first wins
            if self.done.is_set():
                return
            self.outcome, self.reason, self.ended_at = outcome, reason, at
            self.done.set()


_FINISH_LOCK = threading.Lock()

LIVE_FRAMES = 2**62
"""The length of live voice: until it is ended."""


class LiveSource(Protocol):
    """Where a card's callback reads live voice (:class:`broadcaster.audio.live.DriftBuffer`)."""

    underruns: int

    def read(self, frames: int) -> np.ndarray: ...

    def flush(self) -> None: ...


def mix(playbacks: list[Playback], first: int, frames: int, channels: int) -> np.ndarray:
    """The card's frames ``[first, first + frames)``: every playback at its place, faded if stopped."""
    out = np.zeros((frames, channels), dtype=np.float32)
    for playback in playbacks:
        start, end = playback.start_frame, playback.end_frame
        if start is None or end is None or end <= first or start >= first + frames:
            continue
        lo, hi = max(start, first), min(end, first + frames, start + len(playback.samples))
        if hi <= lo:
            continue  # live voice after its chime: added by the callback
        chunk = playback.samples[lo - start : hi - start] * playback.gain
        if playback.stop_frame is not None and hi > playback.stop_frame:
            position = np.arange(lo, hi) - playback.stop_frame
            chunk = chunk * np.clip(1.0 - position / playback.fade_frames, 0.0, 1.0)
        for channel in playback.channels:
            out[lo - first : hi - first, channel] += chunk
    return out


@dataclass(frozen=True)
class _Taken:
    """The callback's note of one block it handed to the card."""

    frame: int | None
    """Card frame of the block's first sample; None for a gap (silence played instead)."""
    frames: int
    dac_at: float
    """Wall time when its first sample reaches the converter."""
    underflow: bool


class Card:
    """A card's mixer, queue of ready blocks and bookkeeping, without threads or PortAudio.

    :class:`CardOutput` runs it on a real stream; :class:`FakeCard` on a virtual clock.
    """

    def __init__(self, name: str, channels: int, rate_hz: int = PREFERRED_RATE_HZ,
                 block_frames: int = BLOCK_FRAMES, lead_s: float = LEAD_S,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.name = name
        self.channels = channels
        self.rate_hz = rate_hz
        self.block_frames = block_frames
        self.lead_s = lead_s
        self.clock = clock
        self.failure: str | None = None
        """Why the card cannot play, until it is opened again."""
        self.paused = False
        self.gaps = 0
        """Holes in the output since the card was opened (feeder late or device underflow)."""
        self.underflows = 0
        """Underflows the device reported (a subset of ``gaps``)."""
        self.output_delay_s: float | None = None
        """From the callback to the sound at the device's output, as the device last said (for ``status``)."""
        self.on_change: Callable[[], None] = lambda: None
        """Called by the feeder after a playback started, ended or changed."""
        self.played_until = 0
        """Card frames the device has taken (as read from the callback's notes)."""
        self.mixed_until = 0
        self.last_callback = time.monotonic()
        self._blocks: deque[tuple[int, np.ndarray]] = deque()
        self._taken: deque[_Taken] = deque()
        self._silence = np.zeros((block_frames, channels), dtype=np.float32)
        self._lock = threading.Lock()  # callers ↔ feeder; the callback never takes it
        self._queue_lock = threading.Lock()  # feeder ↔ callback, held for a few deque operations
        self._feed_lock = threading.Lock()
        self._paused_blocks: set[int] = set()
        """Frames of the queued blocks mixed while paused (each moved the playbacks one block later)."""
        self._incoming: list[Playback] = []
        self._playbacks: list[Playback] = []
        self._live: tuple[Playback, ...] = ()
        """The live voices among the playbacks, for the callback (replaced whole, never changed)."""
        self._rewind = False
        self._anchor: tuple[int, float] | None = None
        self._in_gap = False
        self._warm_until = 0
        """No item is placed before this frame (a woken stream's warm-up)."""
        self.wake = threading.Event()

    # --- callers --------------------------------------------------------------------------------

    def play(self, samples: np.ndarray, channels: tuple[int, ...], gain: float = 1.0,
             start_frame: int | None = None, label: str = "") -> Playback:  # fmt: skip
        """Queue mono ``samples`` (at the card's rate) on ``channels`` (0-based), at ``start_frame``
        of the card or as soon as possible."""
        self._check(channels)
        playback = Playback(self, samples, channels, gain, start_frame, label)
        with self._lock:
            self._incoming.append(playback)
            self._rewind = True
        self.wake.set()
        return playback

    def play_live(self, source: LiveSource, lead_in: np.ndarray, channels: tuple[int, ...], gain: float = 1.0,
                  start_frame: int | None = None, label: str = "") -> Playback:  # fmt: skip
        """Live voice on ``channels``: ``lead_in`` (the chime) from the mix, then what the callback
        reads from ``source``, until :meth:`Playback.end` or :meth:`Playback.stop`."""
        self._check(channels)
        playback = Playback(self, lead_in, channels, gain, start_frame, label, source)
        with self._lock:
            self._incoming.append(playback)
            self._rewind = True
        self.wake.set()
        return playback

    def _check(self, channels: tuple[int, ...]) -> None:
        if self.failure:
            message = _("sound card '{name}' is not available: {reason}")
            raise AudioError(message.format(name=self.name, reason=self.failure))
        if max(channels) >= self.channels:
            message = _("sound card '{name}' has no channel {channel}")
            raise AudioError(message.format(name=self.name, channel=max(channels) + 1))

    def _request_stop(self, playback: Playback, reason: str, outcome: str = INTERRUPTED) -> None:
        with self._lock:  # the first stop wins: an end asked for after a cut does not undo the cut
            if playback._stop_wanted is None and not playback.done.is_set():
                playback._stop_wanted = reason
                playback._stop_outcome = outcome
                self._rewind = True
        self.wake.set()

    def set_paused(self, paused: bool) -> None:
        with self._lock:
            self.paused = paused
            self._rewind = True
        self.wake.set()

    def wake_up(self) -> None:
        """Make sure the stream runs (a real card may sleep when idle)."""

    def frame_at(self, wall: float) -> int | None:
        """The card frame that reaches the converter at wall time ``wall`` (None before audio flows)."""
        anchor = self._anchor
        if anchor is None:
            return None
        return anchor[0] + round((wall - anchor[1]) * self.rate_hz)

    @property
    def busy(self) -> bool:
        return bool(self._incoming or self._playbacks)

    @property
    def alive(self) -> bool:
        return self.failure is None

    # --- the callback's part ---------------------------------------------------------------------

    def take(self, out: np.ndarray, dac_at: float, underflow: bool) -> None:
        """Hand the next ready block to the card (PortAudio's thread: no waiting but for the
        queue's lock, which the feeder holds only to swap blocks, never while mixing)."""
        with self._queue_lock:
            try:
                frame, block = self._blocks.popleft()
            except IndexError:
                frame, block = None, None
            live = [(p, p.start_frame, p.stop_frame, p.fade_frames) for p in self._live]
        if block is None or block.shape[0] != len(out):
            out.fill(0)
            frame = None
        else:
            out[:] = block
        if live:
            self._add_live(out, frame, live)
        self._taken.append(_Taken(frame, len(out), dac_at, underflow))
        self.last_callback = time.monotonic()

    def _add_live(self, out: np.ndarray, frame: int | None, live: list) -> None:
        """Live voice goes straight into the block the card takes now (not mixed ahead)."""
        frames = len(out)
        read: dict[int, np.ndarray] = {}
        for playback, start, stop_frame, fade_frames in live:
            if start is None:
                continue
            if frame is None:  # a gap in the mix: the voice, once on, goes on over the silence
                if not playback._reading or stop_frame is not None:
                    continue
                first, lo, hi = 0, 0, frames
            else:
                voice = start + len(playback.samples)
                end = LIVE_FRAMES if stop_frame is None else stop_frame + fade_frames
                first, lo, hi = frame, max(voice, frame), min(end, frame + frames)
                if hi <= lo:
                    continue
            source = playback.source
            assert source is not None  # only live voices are listed
            if id(source) not in read:  # one read per source and block, shared by its zones
                if not playback._reading:
                    source.flush()  # what was said during the chime is not news
                holes = source.underruns
                read[id(source)] = source.read(frames)
                if source.underruns > holes:
                    playback._source_holes += 1
                    playback._source_hole_frames += frames
            playback._reading = True
            chunk = read[id(source)][lo - first : hi - first] * playback.gain
            if stop_frame is not None and hi > stop_frame:
                position = np.arange(lo, hi) - stop_frame
                chunk = chunk * np.clip(1.0 - position / fade_frames, 0.0, 1.0)
            for channel in playback.channels:
                out[lo - first : hi - first, channel] += chunk

    # --- the feeder's part -----------------------------------------------------------------------

    def feed(self) -> None:
        """Read the callback's notes, settle what ended, apply changes, mix up to the lead."""
        with self._feed_lock:  # one feeder at a time, also while a card is opened again
            self._feed()

    def _feed(self) -> None:
        changed = self._read_notes()
        now = self.clock()
        ended = [p for p in self._playbacks if p._end_at is not None and now >= p._end_at]
        with self._lock:  # a failing card may end every playback from another thread meanwhile
            incoming, self._incoming = self._incoming, []
            self._set_playbacks([p for p in self._playbacks if p not in ended] + incoming)
            rewind, self._rewind = self._rewind, False
            paused = self.paused
        for playback in ended:
            self._settle(playback)
            changed = True
        if rewind:
            changed |= self._change(incoming, paused)
        lead = math.ceil(self.lead_s * self.rate_hz / self.block_frames)
        while len(self._blocks) < lead:
            first = self.mixed_until
            block = self._mix_block(first, paused)
            with self._queue_lock:
                self._blocks.append((first, block))
            self.mixed_until = first + self.block_frames
        if changed:
            self.on_change()

    def _set_playbacks(self, playbacks: list[Playback]) -> None:
        self._playbacks = playbacks
        self._live = tuple(p for p in playbacks if p.source is not None)

    def _mix_block(self, first: int, paused: bool) -> np.ndarray:
        if paused:
            self._shift(self.block_frames)
            self._paused_blocks.add(first)
            return self._silence
        if not self._playbacks:
            return self._silence
        return mix(self._playbacks, first, self.block_frames, self.channels)

    def _change(self, incoming: list[Playback], paused: bool) -> bool:
        """Apply stops, place new items and mix the queued frames the card has not taken again.

        All of it under the queue's lock, so the card cannot take a block in between: a
        change takes effect exactly at the first queued frame (after ``KEEP_BLOCKS``). The
        callback waits for the mixing at most, about a millisecond per change.
        """
        with self._queue_lock:
            at = self._blocks[KEEP_BLOCKS][0] if len(self._blocks) > KEEP_BLOCKS else self.mixed_until
            for frame in sorted(f for f in self._paused_blocks if f >= at):
                # Undone first (also for a new item given a frame: it was counted with the
                # shift), then mixed again; items placed "as soon as possible" come after.
                self._shift(-self.block_frames)
                self._paused_blocks.discard(frame)
            changed = self._apply_stops(at)
            for playback in incoming:
                if not playback.done.is_set():  # placed once: at its frame, or as soon as possible
                    playback.start_frame = max(at, playback.start_frame or 0, self._warm_until)
            while self._blocks and self._blocks[-1][0] >= at:
                self._blocks.pop()
            for first in range(at, self.mixed_until, self.block_frames):
                self._blocks.append((first, self._mix_block(first, paused)))
        return changed

    def _read_notes(self) -> bool:
        changed = False
        while self._taken:
            note = self._taken.popleft()
            if note.frame is None:
                self._gap(note.frames)
                continue
            self._in_gap = False
            self._anchor = (note.frame, note.dac_at)
            self.played_until = note.frame + note.frames
            self._paused_blocks.discard(note.frame)
            if note.underflow:
                self.underflows += 1
                self._gap(note.frames, at=note.frame)
                self._in_gap = False
            for playback in self._playbacks:
                start, end = playback.start_frame, playback.end_frame
                if start is not None and playback.started_at is None and start < self.played_until:
                    playback.started_at = note.dac_at + (start - note.frame) / self.rate_hz
                    changed = True
                if end is not None and playback._end_at is None and end <= self.played_until:
                    # Delivered once the converter has passed its last sample.
                    playback._end_at = note.dac_at + (end - note.frame) / self.rate_hz
        return changed

    def _gap(self, frames: int, at: int | None = None) -> None:
        """Silence went out instead of audio at card frame ``at`` (default: the next one due)."""
        at = self.played_until if at is None else at
        if not self._in_gap:
            self.gaps += 1
        for playback in self._playbacks:
            start, end = playback.start_frame, playback.end_frame
            if playback._reading and at == self.played_until:
                continue  # live voice goes on over a gap in the mix (not over an underflow)
            if start is not None and start < at and (end is None or at < end):
                playback.dropouts += 0 if self._in_gap else 1
                playback.dropout_frames += frames
        self._in_gap = True
        if at == self.played_until:
            # Nothing was taken: every queued block now sounds later than planned.
            self._anchor = None

    def _apply_stops(self, at: int) -> bool:
        """Stops asked for take effect at frame ``at``: a fade from there, or no sound at all."""
        changed = False
        for playback in list(self._playbacks):
            if playback._stop_wanted is None or playback.stop_frame is not None:
                continue
            if playback.start_frame is not None and playback.start_frame + playback.length <= at:
                playback._stop_wanted = None  # already mixed whole: the stop changes nothing
                continue
            if playback.start_frame is None or playback.start_frame >= at:
                with self._lock:  # stopped before it sounded
                    self._set_playbacks([p for p in self._playbacks if p is not playback])
                playback._finish(INTERRUPTED, playback._stop_wanted, self.clock())
            else:
                playback.fade_frames = max(1, round(FADE_S * self.rate_hz))
                playback.stop_frame = at
            changed = True
        return changed

    def _shift(self, frames: int) -> None:
        """Paused: everything not yet played moves later by ``frames``."""
        for playback in self._playbacks:
            if playback.start_frame is not None:
                playback.start_frame += frames
            if playback.stop_frame is not None:
                playback.stop_frame += frames

    def _settle(self, playback: Playback) -> None:
        at = playback._end_at or self.clock()
        playback.dropouts += playback._source_holes  # live voice: the microphone's holes
        playback.dropout_frames += playback._source_hole_frames
        if playback.stop_frame is not None and playback._stop_outcome == INTERRUPTED:
            playback._finish(INTERRUPTED, playback._stop_wanted or "", at)
        elif playback.dropouts:
            playback._finish(DROPOUT, f"{playback.dropouts} gap(s), {playback.dropout_ms} ms in all", at)
        else:
            playback._finish(COMPLETED, "", at)

    def fail_all(self, reason: str) -> None:
        """Every playback ends as failed (the card or its server is gone)."""
        self._end_all(FAILED, reason)

    def interrupt_all(self, reason: str) -> None:
        self._end_all(INTERRUPTED, reason)

    def _end_all(self, outcome: str, reason: str) -> None:
        with self._lock:
            everything = self._incoming + self._playbacks
            self._incoming = []
            self._set_playbacks([])
        with self._queue_lock:
            self._blocks.clear()
        for playback in everything:
            playback._finish(outcome, reason, self.clock())
        if everything:
            self.on_change()





class CardOutput(Card):
    """A real sound card: a PortAudio stream whose callback takes blocks, and a feeder thread."""

    def __init__(self, device: Device, channels: int, lead_s: float = LEAD_S,
                 buffer_s: float = DEVICE_BUFFER_S) -> None:  # fmt: skip
        super().__init__(device.name, channels, PREFERRED_RATE_HZ, BLOCK_FRAMES, lead_s)
        self.device = device
        self.buffer_s = buffer_s
        self._stream = None
        self._feeder: threading.Thread | None = None
        self._closing = threading.Event()
        self._stream_lock = threading.Lock()  # start and stop come from the feeder and from callers
        self.asleep = False
        self._idle_since: float | None = None
        """Since when nothing plays; None until the stream is open and warm."""

    # --- life cycle ------------------------------------------------------------------------

    def open(self) -> CardOutput:
        sd = _sounddevice()
        # A process with a real-time callback: hand the interpreter over sooner (see SWITCH_INTERVAL_S).
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        try:
            sd.check_output_settings(self.device.index, channels=self.channels,
                                     samplerate=PREFERRED_RATE_HZ, dtype="float32")  # fmt: skip
        except (sd.PortAudioError, ValueError):
            self.rate_hz = self.device.default_rate_hz  # e.g. an hw: device fixed at 44.1 kHz
        # A new event per opening: a feeder of an earlier opening that has not ended yet
        # still sees its own event set and ends without feeding this one.
        self._closing = threading.Event()
        self.feed()  # the first blocks are ready before the stream asks
        self._stream = self._start_stream()
        self.last_callback = time.monotonic()
        self._feeder = threading.Thread(target=self._feed_loop, args=(self._closing,),
                                        name=f"feeder-{self.device.name}", daemon=True)  # fmt: skip
        self._feeder.start()
        deadline = time.monotonic() + STALL_S
        while self.played_until < WARM_UP_S * self.rate_hz:
            if time.monotonic() > deadline:
                self.close()
                raise AudioError(_("sound card '{name}' does not take audio").format(name=self.device.name))
            time.sleep(0.01)
        self._idle_since = time.monotonic()
        logger.info("Opened %s: %d channels at %d Hz", self.device.name, self.channels, self.rate_hz)
        return self

    def _start_stream(self):
        sd = _sounddevice()
        try:
            stream = sd.OutputStream(
                device=self.device.index, samplerate=self.rate_hz, channels=self.channels,
                dtype="float32", blocksize=self.block_frames, latency=self.buffer_s,
                callback=self._callback, finished_callback=self._finished,
            )  # fmt: skip
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            message = _("cannot open sound card '{name}': {reason}")
            raise AudioError(message.format(name=self.device.name, reason=exc)) from exc
        return stream

    def close(self, reason: str = "the output was closed") -> None:
        self._closing.set()
        self.wake.set()
        if self._feeder is not None and self._feeder is not threading.current_thread():
            self._feeder.join(STALL_S)
            if self._feeder.is_alive():
                logger.warning("%s: the feeder did not end within %.0f s", self.device.name, STALL_S)
        self._feeder = None
        self.interrupt_all(reason)
        with self._stream_lock:
            if self._stream is not None:
                try:
                    self._stream.abort()
                    self._stream.close()
                except Exception:  # noqa: BLE001 - a dead stream may fail to close; nothing to save
                    logger.debug("closing %s failed", self.device.name, exc_info=True)
                self._stream = None

    def play(self, samples: np.ndarray, channels: tuple[int, ...], gain: float = 1.0,
             start_frame: int | None = None, label: str = "") -> Playback:  # fmt: skip
        self._check_open()
        playback = super().play(samples, channels, gain, start_frame, label)
        self.wake_up()  # after the item is in: a card falling asleep meanwhile either saw it or wakes
        return playback

    def play_live(self, source: LiveSource, lead_in: np.ndarray, channels: tuple[int, ...], gain: float = 1.0,
                  start_frame: int | None = None, label: str = "") -> Playback:  # fmt: skip
        self._check_open()
        playback = super().play_live(source, lead_in, channels, gain, start_frame, label)
        self.wake_up()
        return playback

    def _check_open(self) -> None:
        if self._stream is None or self._closing.is_set():
            message = _("sound card '{name}' is not available: {reason}")
            raise AudioError(message.format(name=self.device.name, reason=self.failure or _("closed")))

    def wake_up(self) -> None:
        """Start a sleeping stream again; items are placed after a warm-up, as on a new stream."""
        with self._stream_lock:
            if not self.asleep or self._stream is None:
                return
            self._warm_until = self.played_until + round(WARM_UP_S * self.rate_hz)
            self._anchor = None  # the card's clock is read again from the first callback
            self.last_callback = time.monotonic()
            try:
                self._stream.start()
            except Exception as exc:  # noqa: BLE001 - reported as the card's failure
                self.failure = f"the sound card's stream did not start again: {exc}"
                logger.error("%s: %s", self.device.name, self.failure)
            self.asleep = False
            self._idle_since = time.monotonic() if self._idle_since is not None else None
        self.wake.set()
        logger.debug("%s woke up", self.device.name)

    def _sleep_when_idle(self) -> None:
        if self._idle_since is None:
            return  # still opening
        if self.busy or self.asleep:
            self._idle_since = time.monotonic()
            return
        if time.monotonic() - self._idle_since < IDLE_SLEEP_S:
            return
        with self._stream_lock:
            with self._lock:  # play() appends under this lock: an item is either seen here or wakes us
                if self.busy or self._stream is None or self._closing.is_set():
                    return
                self.asleep = True
            try:
                self._stream.stop()
            except Exception:  # noqa: BLE001 - a stream that will not stop just keeps running
                logger.debug("stopping %s failed", self.device.name, exc_info=True)
                self.asleep = False
                return
            # The last callbacks' notes carry the old clock: read them now, then forget the
            # clock, so that a slot placed after waking waits for the new one.
            self._read_notes()
            self._anchor = None
        logger.debug("%s sleeps until the next item", self.device.name)

    # --- the threads -----------------------------------------------------------------------------

    def _callback(self, out: np.ndarray, frames: int, timeinfo, status) -> None:
        # Must never block or raise: an exception here silently stops the stream.
        try:
            now = time.time()
            dac = timeinfo.outputBufferDacTime
            if dac and timeinfo.currentTime:
                self.output_delay_s = dac - timeinfo.currentTime
            dac_at = now + (self.output_delay_s if self.output_delay_s is not None else self.buffer_s)
            self.take(out, dac_at, bool(status.output_underflow))
        except Exception:  # noqa: BLE001
            out.fill(0)

    def _feed_loop(self, closing: threading.Event) -> None:
        # A quarter of the lead: the queue never drops below three quarters of it unless this
        # thread is starved. Changes (an item, a stop, waking up) set ``wake`` and are fed at once.
        period = self.lead_s / 4
        while not closing.is_set():
            self.wake.wait(None if self.asleep else period)
            self.wake.clear()
            if closing.is_set():
                return
            try:
                self.feed()
                self._watch()
                self._sleep_when_idle()
            except Exception:  # noqa: BLE001 - the feeder must go on; the watchdog fails plays
                logger.exception("feeder error on %s", self.device.name)

    def _finished(self) -> None:
        if not self._closing.is_set() and not self.asleep:  # not a stream stopped on purpose
            self.failure = "the sound card's stream stopped"
            logger.error("%s: %s", self.device.name, self.failure)
            self.fail_all(self.failure)

    def _watch(self) -> None:
        stalled = time.monotonic() - self.last_callback
        if stalled > STALL_S and self.busy and not self.asleep:
            logger.error("%s took no audio for %.1f s", self.device.name, stalled)
            self.fail_all(f"the sound card took no audio for {stalled:.1f} s")

    @property
    def alive(self) -> bool:
        return (self._stream is not None and self.failure is None
                and (self.asleep or time.monotonic() - self.last_callback < STALL_S))  # fmt: skip

    def lost(self, reason: str) -> None:
        """The card is gone: fail what plays and close the stream, so nothing plays elsewhere."""
        self.failure = reason
        self.fail_all(reason)
        self._closing.set()
        self.wake.set()
        with self._stream_lock:
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
        self.failure = None
        self.asleep = False
        self._idle_since = None
        self._warm_until = 0
        self._blocks.clear()
        self._taken.clear()
        # Frame numbers go on from where they were: the station may still hold some.
        self.played_until = self.mixed_until
        self._paused_blocks.clear()
        self._anchor = None
        try:
            self.open()
        except AudioError as exc:
            self.failure = str(exc)
            return False
        logger.warning("%s is back", self.device.name)
        return True


def play_blocking(samples: np.ndarray, rate_hz: int, device: str | None = None) -> None:
    """Play mono ``samples`` on ``device`` (default: the system's) and wait until delivered."""
    target = find_device(device or "default", list_devices())
    card = CardOutput(target, channels=min(2, target.channels)).open()
    try:
        if rate_hz != card.rate_hz:
            from broadcaster.pcm import Pcm

            samples = Pcm(samples, rate_hz).resampled(card.rate_hz).samples
        playback = card.play(samples, tuple(range(card.channels)))
        outcome = playback.wait(len(samples) / card.rate_hz + 30)
        if outcome not in (COMPLETED, DROPOUT):
            message = _("playing on '{name}' failed: {reason}")
            raise AudioError(message.format(name=target.name, reason=playback.reason or _("timed out")))
    finally:
        card.close()
