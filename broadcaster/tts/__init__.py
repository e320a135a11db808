"""Text-to-speech: one :class:`Engine` interface, one module per engine, a cache.

Nothing here imports numpy or an engine's module until something is spoken: a
warm render only looks things up.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from broadcaster.tts.base import Engine, VoiceInfo
from broadcaster.tts.speaker import Speaker, Spoken

__all__ = ["Engine", "VoiceInfo", "Speaker", "Spoken", "all_engines"]

_ENGINES = {
    "espeak-ng": ("broadcaster.tts.espeak", "EspeakEngine"),
    "pyttsx3": ("broadcaster.tts.pyttsx3_engine", "Pyttsx3Engine"),
    "sherpa-onnx": ("broadcaster.tts.sherpa", "SherpaOnnxEngine"),
    "tone": ("broadcaster.tts.tone", "ToneEngine"),
}


class _Engines(Mapping[str, Engine]):
    """Every engine by name; each is made (its module imported) when first asked for."""

    def __init__(self) -> None:
        self._made: dict[str, Engine] = {}

    def __getitem__(self, name: str) -> Engine:
        if name not in self._made:
            module, cls = _ENGINES[name]
            self._made[name] = getattr(importlib.import_module(module), cls)()
        return self._made[name]

    def __contains__(self, name: object) -> bool:
        return name in _ENGINES

    def __iter__(self) -> Iterator[str]:
        return iter(_ENGINES)

    def __len__(self) -> int:
        return len(_ENGINES)


def all_engines() -> Mapping[str, Engine]:
    """Every engine broadcaster knows, by name; each says itself whether it can be used."""
    return _Engines()
