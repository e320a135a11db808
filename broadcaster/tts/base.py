"""The engine interface.

An engine is untrusted: it may hang, crash, return early, or return silence
or noise; :mod:`broadcaster.tts.verify` decides whether what came back is usable.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from broadcaster.config import SpeechSettings
from broadcaster.language import Language
from broadcaster.textnorm import Sentence

if TYPE_CHECKING:
    from broadcaster.pcm import Pcm


@dataclass(frozen=True)
class VoiceInfo:
    """One voice as ``broadcaster voices`` shows it."""

    engine: str
    voice: str
    language: Language | None
    usable: bool
    reason: str = ""


class Engine(ABC):
    """A text-to-speech engine. Implementations must be safe to call from several threads."""

    name: str = ""

    @abstractmethod
    def voice_for(self, language: Language, settings: SpeechSettings) -> str:
        """The voice this engine would use, or :class:`EngineError` saying why it cannot."""

    @abstractmethod
    def synthesize(self, text: str, language: Language, settings: SpeechSettings,
                   timeout_s: float) -> Pcm:  # fmt: skip
        """Speak ``text`` (as :meth:`prepare` made it) into audio, or raise :class:`EngineError`."""

    def prepare(self, sentence: Sentence, language: Language, settings: SpeechSettings) -> str:
        """What this engine is given for ``sentence``: its characters, for an engine with its own
        Chinese front end (SAPI, NSSpeech, a neural model)."""
        return sentence.text

    @abstractmethod
    def voices(self, speech: Mapping[Language, SpeechSettings]) -> list[VoiceInfo]:
        """The voice this engine would use per language under ``speech``, usable or not (why)."""

    @property
    def version(self) -> str:
        """Changes whenever the same text could sound different (part of the cache key)."""
        return "1"


# Compiled on first use (re keeps it), not at import: a class of Chinese characters takes ms.
_SPOKEN = r"[\u3400-\u9fff\uf900-\ufaffA-Za-z0-9]"

def spoken_chars(text: str) -> int:
    return len(re.findall(_SPOKEN, text))
