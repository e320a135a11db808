"""Announcement → one verified, loudness-normalised WAV at the output rate, cached.

The layout of a rendered announcement::

    chime (2 s) · 0.3 s · body · gap · body · …   (body = segments, ``repeat`` times)

where a body is its segments in order: spoken sentences (0.3 s apart),
pauses and pre-recorded clips. The file is named by a hash of everything that
decides its sound, so a warm render only normalizes text and checks that files
exist, and a change anywhere (text, voice, speed, clip, loudness) renders anew.

numpy and the audio modules are imported inside the functions that make
sound: a warm render only looks things up, and starts in a fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.config import OUTPUT_RATE_HZ, Config
from broadcaster.content.models import Announcement, Clip, Pause, Speech
from broadcaster.errors import AudioError, BroadcasterError
from broadcaster.i18n import _
from broadcaster.language import Language
from broadcaster.render.ordered import ordered_map
from broadcaster.textnorm import Sentence, Word, each_sentence, reading_versions
from broadcaster.tts.cache import cache_key
from broadcaster.tts.speaker import Speaker

if TYPE_CHECKING:
    import numpy as np

    from broadcaster.pcm import Pcm, Spool

logger = logging.getLogger(__name__)

RENDER_VERSION = 1
SENTENCE_GAP_S = 0.3
AFTER_CHIME_S = 0.3
PEAK_CEILING_DBFS = -1.5


@dataclass(frozen=True)
class Rendered:
    """A rendered announcement on disk, and what was measured on it."""

    announcement_id: str
    path: Path
    duration_s: float
    loudness_lufs: float
    true_peak_dbfs: float
    engines: tuple[str, ...]


def chime(rate_hz: int = OUTPUT_RATE_HZ) -> Pcm:
    """The two-tone pre-announcement chime: A4 then C♯5, bell-like, about 2 s."""
    import numpy as np

    from broadcaster.pcm import Pcm

    length_s = 2.0
    t = np.arange(round(length_s * rate_hz)) / rate_hz
    out = np.zeros_like(t)
    for frequency, start_s in ((440.0, 0.0), (554.37, 0.7)):
        local = t - start_s
        on = local >= 0
        envelope = np.where(on, np.minimum(local / 0.01, 1.0) * np.exp(-np.maximum(local, 0) / 0.45), 0)
        for partial, weight in ((1, 1.0), (2, 0.35), (3, 0.12)):
            out += weight * envelope * np.sin(2 * np.pi * frequency * partial * np.maximum(local, 0))
    fade = np.minimum(1.0, (t[-1] - t) / 0.05)  # no click at the end
    return Pcm((0.3 * out * fade).astype(np.float32), rate_hz)


def load_clip(path: Path) -> Pcm:
    """A pre-recorded clip (wav without ffmpeg; mp3, ogg, m4a, flac through ffmpeg)."""
    import numpy as np
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

    from broadcaster.pcm import Pcm

    try:
        # An open file, not a path: pydub leaks the handle it opens itself.
        with path.open("rb") as file:
            segment = AudioSegment.from_file(file, format=path.suffix.lstrip(".").lower())
        segment = segment.set_channels(1)
    except (CouldntDecodeError, OSError, IndexError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # not ffmpeg's whole output
        message = _("cannot read clip {name}: {reason}")
        raise AudioError(message.format(name=path.name, reason=reason)) from exc
    scale = float(1 << (8 * segment.sample_width - 1))
    samples = np.array(segment.get_array_of_samples(), dtype=np.float32) / scale
    return Pcm(samples, segment.frame_rate).resampled(OUTPUT_RATE_HZ)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Renderer:
    def __init__(self, config: Config, speaker: Speaker, folder: Path) -> None:
        self.config = config
        self.speaker = speaker
        self.folder = folder

    def _readings_key(self, text: str, language: Language) -> str:
        """Readings are kept in the cache by text, lexicon and the versions of everything that
        turns text into readings (:func:`reading_versions`): the front ends take a second or two
        to load, and a warm render should not need them, nor even the normalization rules."""
        lexicon = self.config.lexicon.get(language) or {}
        return cache_key("readings", language.value, sorted(lexicon.items()), reading_versions(), text)

    def _noted(self, text: str, language: Language) -> list[Sentence] | None:
        """The readings of ``text`` if they are in the cache; never loads a front end."""
        note = self.speaker.cache.note(self._readings_key(text, language))
        if note is None:
            return None
        try:
            return [Sentence(tuple(Word(t, r) for t, r in words)) for words in json.loads(note)]
        except (ValueError, TypeError):
            return None  # a damaged note is made again

    def _reading(self, text: str, language: Language) -> Iterator[Sentence]:
        """The front end's readings one sentence at a time; all of them noted at the end."""
        said = []
        for sentence in each_sentence(text, language, self.config.lexicon.get(language) or {}):
            said.append(sentence)
            yield sentence
        self.speaker.cache.write_note(self._readings_key(text, language),
                                      json.dumps([[[w.text, w.reading] for w in s.words] for s in said],
                                                 ensure_ascii=False))  # fmt: skip

    def speech(self, text: str, language: Language, what: str) -> Iterator[tuple[Pcm, str | None]]:
        """Spoken ``text`` at the output rate, a piece at a time in order: sentences, and the pauses
        between them (engine None); with each sentence, the engine that spoke it.

        Sentences are spoken side by side (engines are processes), a few ahead of the one
        handed out, so a long text takes about 1/cores of the time and is never held whole.
        """
        from broadcaster.pcm import Pcm

        settings = self.config.speech[language]
        workers = os.cpu_count() or 2

        def speak(sentence: Sentence) -> tuple[Pcm, str] | None:
            if not sentence.speaks:  # punctuation only (a text of just "……"): a pause
                return None
            spoken = self.speaker.speak(sentence, language, settings, what)
            return spoken.pcm.resampled(OUTPUT_RATE_HZ), spoken.engine

        noted = self._noted(text, language)
        said = noted if noted is not None else self._reading(text, language)  # spoken as they are read
        for count, spoken in enumerate(ordered_map(speak, said, workers)):
            if count:
                yield Pcm.silence(SENTENCE_GAP_S), None
            if spoken is not None:
                yield spoken

    def _key(self, announcement: Announcement) -> str | None:
        """The rendered file's key, if every sentence is already cached; else None."""
        settings = self.config.speech[announcement.language]
        layout: list[object] = []
        for segment in announcement.segments:
            if isinstance(segment, Speech):
                said = self._noted(segment.text, announcement.language)
                if said is None:
                    return None  # never read: not spoken either
                for sentence in said:
                    if not sentence.speaks:
                        layout.append("pause")
                        continue
                    found = self.speaker.find(sentence, announcement.language, settings)
                    if found is None:
                        return None
                    layout.append(found)
            elif isinstance(segment, Pause):
                layout.append(segment.seconds)
            else:
                layout.append(_file_hash(segment.path))
        return cache_key("announcement", RENDER_VERSION, layout, self._wants_chime(announcement),
                         announcement.repeat, announcement.gap_s, self.config.loudness_lufs,
                         PEAK_CEILING_DBFS, OUTPUT_RATE_HZ)  # fmt: skip

    def _wants_chime(self, announcement: Announcement) -> bool:
        return self.config.chime and announcement.chime

    def _paths(self, key: str) -> tuple[Path, Path]:
        wav = self.folder / f"{key}.wav"
        return wav, wav.with_suffix(".json")

    def cached(self, announcement: Announcement) -> Rendered | None:
        """The rendered announcement if it is up to date on disk; never calls an engine."""
        key = self._key(announcement)
        if key is None:
            return None
        wav, meta = self._paths(key)
        if not (wav.is_file() and meta.is_file()):
            return None
        try:
            facts = json.loads(meta.read_text(encoding="utf-8"))
            return Rendered(announcement.id, wav, facts["duration_s"], facts["loudness_lufs"],
                            facts["true_peak_dbfs"], tuple(facts["engines"]))  # fmt: skip
        except (OSError, ValueError, KeyError):
            return None

    def render(self, announcement: Announcement) -> Rendered:
        """Render (or find up to date) ``announcement``; :class:`SpeechError` if it cannot be spoken.

        The announcement is laid out at the output rate into a spool (a temporary file),
        its loudness measured on the way; then read back a block at a time, brought to the
        station's loudness, limited and written. A long announcement is never held in memory.
        """
        found = self.cached(announcement)
        if found is not None:
            return found
        from broadcaster.pcm import Spool
        from broadcaster.render import loudness

        self.folder.mkdir(parents=True, exist_ok=True)
        meter = loudness.Meter(OUTPUT_RATE_HZ)
        with Spool(self.folder, meter.feed) as spool:
            engines = self._lay_out(announcement, spool)
            key = self._key(announcement)
            assert key is not None, "every sentence was just cached"
            wav, meta = self._paths(key)
            lufs, peak = loudness.master(spool.read, spool.length, OUTPUT_RATE_HZ, meter.lufs(),
                                         self.config.loudness_lufs, PEAK_CEILING_DBFS,
                                         lambda: _writing(wav))  # fmt: skip
            duration_s = spool.length / OUTPUT_RATE_HZ
        rendered = Rendered(announcement.id, wav, duration_s, lufs, peak, tuple(dict.fromkeys(engines)))
        meta.write_text(json.dumps({"duration_s": rendered.duration_s,
                                    "loudness_lufs": rendered.loudness_lufs,
                                    "true_peak_dbfs": rendered.true_peak_dbfs,
                                    "engines": list(rendered.engines),
                                    "announcement": announcement.id}), encoding="utf-8")  # fmt: skip
        logger.info("Rendered %s: %.1f s, %.1f LUFS", announcement.id, duration_s, lufs)
        return rendered

    def _lay_out(self, announcement: Announcement, spool: Spool) -> list[str]:
        """chime · 0.3 s · body · gap · body · … into ``spool``; the engines that spoke."""
        from broadcaster.pcm import Pcm

        if self._wants_chime(announcement):
            spool.append(chime().samples)
            spool.append(Pcm.silence(AFTER_CHIME_S).samples)
        engines: list[str] = []
        body = spool.length
        for segment in announcement.segments:
            if isinstance(segment, Speech):
                for pcm, engine in self.speech(segment.text, announcement.language, announcement.id):
                    spool.append(pcm.samples)
                    engines += [engine] if engine else []
            elif isinstance(segment, Pause):
                spool.append(Pcm.silence(segment.seconds).samples)
            elif isinstance(segment, Clip):
                spool.append(load_clip(segment.path).samples)
        end = spool.length
        for _repeat in range(announcement.repeat - 1):
            spool.append(Pcm.silence(announcement.gap_s).samples)
            spool.again(body, end)
        return engines

    def say(self, text: str, language: Language, with_chime: bool = False) -> Pcm:
        """Speech for a one-off text, loudness-normalised (for ``broadcaster say``)."""
        from broadcaster.pcm import Pcm, concat
        from broadcaster.render import loudness

        parts = [pcm for pcm, _ in self.speech(text, language, text[:20])] or [Pcm.silence(0)]
        if with_chime:
            parts = [chime(), Pcm.silence(AFTER_CHIME_S), *parts]

        return loudness.normalize(concat(parts), self.config.loudness_lufs, PEAK_CEILING_DBFS)[0]


@contextmanager
def _writing(path: Path) -> Iterator[Callable[[np.ndarray], None]]:
    from broadcaster.pcm import WavWriter

    with WavWriter(path, OUTPUT_RATE_HZ) as out:
        yield out.write



def make_renderer(config: Config) -> Renderer:
    """The speech pipeline for ``config``: engines, caches, renderer."""
    from broadcaster.tts import Speaker, all_engines
    from broadcaster.tts.cache import AudioCache

    cache_dir = config.resolve(config.cache_dir)
    speaker = Speaker(all_engines(), AudioCache(cache_dir / "speech"))
    return Renderer(config, speaker, cache_dir / "announcements")


def render_all(
    renderer: Renderer,
    announcements: Iterable[Announcement],
    workers: int | None = None,
    progress: Callable[[int, int, Announcement, Rendered | BroadcasterError], None] | None = None,
) -> tuple[list[Rendered], list[tuple[Announcement, BroadcasterError]]]:
    """Render many announcements in parallel (engines run as processes, so threads suffice)."""
    items = list(announcements)
    done: list[Rendered] = []
    failed: list[tuple[Announcement, BroadcasterError]] = []
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        futures = {pool.submit(renderer.render, a): a for a in items}
        for count, future in enumerate(as_completed(futures), start=1):
            announcement = futures[future]
            try:
                rendered = future.result()
                done.append(rendered)
                result: Rendered | BroadcasterError = rendered
            except BroadcasterError as exc:
                result = exc
                failed.append((announcement, exc))
            if progress:
                progress(count, len(items), announcement, result)
    return done, failed
