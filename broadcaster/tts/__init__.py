"""Text-to-speech: one :class:`Engine` interface, one module per engine, a cache.

Nothing here imports numpy until something is spoken: a warm render only looks things up.
"""

from __future__ import annotations

from broadcaster.tts.base import Engine, VoiceInfo
from broadcaster.tts.espeak import EspeakEngine
from broadcaster.tts.pyttsx3_engine import Pyttsx3Engine
from broadcaster.tts.sherpa import SherpaOnnxEngine
from broadcaster.tts.speaker import Speaker, Spoken
from broadcaster.tts.tone import ToneEngine

__all__ = ["Engine", "VoiceInfo", "Speaker", "Spoken", "all_engines"]


def all_engines() -> dict[str, Engine]:
    """Every engine broadcaster knows, by name; each says itself whether it can be used."""
    engines: list[Engine] = [EspeakEngine(), Pyttsx3Engine(), SherpaOnnxEngine(), ToneEngine()]
    return {engine.name: engine for engine in engines}
