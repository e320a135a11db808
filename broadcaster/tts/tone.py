"""A deterministic engine that "speaks" one tone burst per character.

For tests and benchmarks: real audio through the real pipeline, with no
speech engine installed and the same samples every time.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from broadcaster.config import SpeechSettings
from broadcaster.language import Language
from broadcaster.tts.base import Engine, VoiceInfo, spoken_chars

if TYPE_CHECKING:
    from broadcaster.pcm import Pcm

RATE_HZ = 22_050
SYLLABLE_S = 0.18


class ToneEngine(Engine):
    name = "tone"

    def __init__(self) -> None:
        self.calls = 0

    def voice_for(self, language: Language, settings: SpeechSettings) -> str:
        return f"tone-{language.value}"

    def synthesize(self, text: str, language: Language, settings: SpeechSettings,
                   timeout_s: float) -> Pcm:  # fmt: skip
        import numpy as np

        from broadcaster.pcm import Pcm

        self.calls += 1
        n = round(SYLLABLE_S / settings.speed * RATE_HZ)
        t = np.arange(n) / RATE_HZ
        envelope = np.sin(np.pi * np.arange(n) / n) ** 2
        bursts = []
        for ch in text:
            if not spoken_chars(ch):
                bursts.append(np.zeros(n // 2))
                continue
            f0 = 110 + zlib.crc32(ch.encode()) % 180
            wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3, 4))
            bursts.append(0.3 * envelope * wave)
        return Pcm(np.concatenate(bursts or [np.zeros(n)]).astype(np.float32), RATE_HZ)

    def voices(self, speech: Mapping[Language, SpeechSettings]) -> list[VoiceInfo]:
        return [VoiceInfo(self.name, f"tone-{lang.value}", lang, True) for lang in Language]
