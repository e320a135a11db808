"""Speech for one sentence: from the cache, or from the first engine that works.

Engines are tried in order (per language and platform); each failure is
retried once; the output is verified; the result is cached by everything that
decides how it sounds, so an unchanged sentence is never synthesized twice.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from broadcaster.config import SpeechSettings
from broadcaster.errors import EngineError, SpeechError
from broadcaster.i18n import _
from broadcaster.language import Language
from broadcaster.textnorm import Sentence
from broadcaster.tts.base import Engine
from broadcaster.tts.cache import AudioCache, cache_key

if TYPE_CHECKING:
    from broadcaster.pcm import Pcm

logger = logging.getLogger(__name__)

DEFAULT_ORDER = {
    "linux": ("espeak-ng", "pyttsx3"),
    "win32": ("pyttsx3", "espeak-ng"),
    "darwin": ("pyttsx3", "espeak-ng"),
}
TIMEOUT_S = 60.0
BASE_TIMEOUT_S = 10.0
TIMEOUT_PER_CHAR_S = 0.2
"""An engine gets 10 s plus 0.2 s per character (espeak-ng needs ~0.01 s), at most ``TIMEOUT_S``:
a hanging engine costs seconds per sentence, not a minute."""


@dataclass(frozen=True, eq=False)
class Spoken:
    pcm: Pcm
    key: str
    engine: str


class Speaker:
    def __init__(self, engines: Mapping[str, Engine], cache: AudioCache,
                 platform: str = sys.platform, timeout_s: float = TIMEOUT_S) -> None:  # fmt: skip
        self.engines = engines
        self.cache = cache
        self.platform = platform
        self.timeout_s = timeout_s

    def _names(self, settings: SpeechSettings) -> list[str]:
        names: list[str] = []
        if settings.engine != "auto":
            names.append(settings.engine)
        if settings.model_dir is not None:
            names.append("sherpa-onnx")
        names += DEFAULT_ORDER.get(self.platform, DEFAULT_ORDER["linux"])
        return list(dict.fromkeys(n for n in names if n in self.engines))

    def chain(self, settings: SpeechSettings) -> list[Engine]:
        """Engines to try, best first: the configured one, a neural model if any, the defaults."""
        return [self.engines[name] for name in self._names(settings)]

    @staticmethod
    def key(engine: Engine, voice: str, text: str, language: Language,
            settings: SpeechSettings) -> str:  # fmt: skip
        return cache_key("speech", engine.name, engine.version, voice, language.value,
                         settings.speed, settings.pitch, str(settings.model_dir or ""), text)  # fmt: skip

    def _pointer(self, sentence: Sentence, language: Language, settings: SpeechSettings) -> str:
        """Where the key of the audio for ``text`` is noted, whichever engine made it.

        Looking up through this note costs one small file read: no engine is
        asked for its voices (pyttsx3 would need a process for that), nor for
        its version: an engine that hangs or was updated does not lose the
        station audio that is on disk and valid.
        """
        return cache_key("sentence", self._names(settings), language.value, settings.engine, settings.voice,
                         settings.speed, settings.pitch, str(settings.model_dir or ""), sentence.text,
                         sentence.romanized)  # fmt: skip

    def find(self, sentence: Sentence, language: Language, settings: SpeechSettings) -> str | None:
        """The cache key under which ``sentence`` is already stored, without reading the audio."""
        key = self.cache.note(self._pointer(sentence, language, settings))
        return key if key is not None and self.cache.has(key) else None

    def cached(self, sentence: Sentence, language: Language, settings: SpeechSettings) -> Spoken | None:
        key = self.find(sentence, language, settings)
        pcm = self.cache.get(key) if key else None
        if key is None or pcm is None:
            return None
        return Spoken(pcm, key, self.cache.note(key + ".engine") or "?")

    def speak(self, sentence: Sentence, language: Language, settings: SpeechSettings, what: str) -> Spoken:
        """Verified audio of ``sentence``, or :class:`SpeechError`.

        Each engine gets what :meth:`Engine.prepare` makes of it (espeak-ng: the readings).
        """
        found = self.cached(sentence, language, settings)
        if found is not None:
            return found
        from broadcaster.tts.verify import verify_speech  # numpy: only when something is spoken

        tried: list[str] = []
        for engine in self.chain(settings):
            try:
                voice = engine.voice_for(language, settings)
            except EngineError as exc:
                tried.append(str(exc))
                continue
            text = engine.prepare(sentence, language, settings)
            key = self.key(engine, voice, text, language, settings)
            timeout_s = min(self.timeout_s, BASE_TIMEOUT_S + TIMEOUT_PER_CHAR_S * len(sentence.text))
            for attempt in (1, 2):
                try:
                    pcm = engine.synthesize(text, language, settings, timeout_s)
                    verify_speech(pcm, sentence.text, engine.name)
                except EngineError as exc:
                    logger.warning("%s, attempt %d of 2: %s", what, attempt, exc)
                    error = exc
                    continue
                self.cache.put(key, pcm)
                self.cache.write_note(key + ".engine", engine.name)
                self.cache.write_note(self._pointer(sentence, language, settings), key)
                return Spoken(pcm, key, engine.name)
            tried.append(str(error))
        raise SpeechError(what, tried or [_("no engine is configured")])
