"""espeak-ng, called as a program: the default engine on Linux.

Mandarin uses ``cmn-latn-pinyin``: on espeak-ng 1.51 the plain ``cmn`` voice
falls back to English letter names for many characters. Text goes in on
standard input, never on the command line, so it cannot become an option.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from broadcaster.config import Language, SpeechSettings
from broadcaster.errors import AudioError, EngineError
from broadcaster.pcm import Pcm, read_wav
from broadcaster.tts.base import Engine, VoiceInfo

VOICES = {Language.MANDARIN: "cmn-latn-pinyin", Language.CANTONESE: "yue"}
NORMAL_WPM = 175
PROBE = {Language.MANDARIN: "各位村民请注意戴口罩", Language.CANTONESE: "各位街坊唔好聚集"}


class EspeakEngine(Engine):
    name = "espeak-ng"

    def __init__(self, program: str = "espeak-ng") -> None:
        self.program = shutil.which(program) or program

    @functools.cached_property
    def installed_voices(self) -> set[str]:
        try:
            out = self._run(["--voices"], "", 10).decode("utf-8", "replace")
        except EngineError:
            return set()
        return {line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1}

    @functools.cached_property
    def version(self) -> str:  # type: ignore[override]
        try:
            return self._run(["--version"], "", 10).decode().split(":")[0].strip()
        except EngineError:
            return "unknown"

    def voice_for(self, language: Language, settings: SpeechSettings) -> str:
        voice = settings.voice if settings.voice and settings.engine == self.name else VOICES[language]
        if not self.installed_voices:
            raise EngineError(self.name, "espeak-ng is not installed")
        if voice not in self.installed_voices:
            raise EngineError(self.name, f"voice {voice} is not installed")
        return voice

    def _run(self, args: list[str], text: str, timeout_s: float) -> bytes:
        try:
            proc = subprocess.run(
                [self.program, *args], input=text.encode(), capture_output=True,
                timeout=timeout_s, check=False,
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise EngineError(self.name, "espeak-ng is not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise EngineError(self.name, f"did not finish within {timeout_s:.0f} s") from exc
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip()[:200]
            raise EngineError(self.name, f"exited with {proc.returncode}: {detail}")
        return proc.stdout

    def _options(self, voice: str, settings: SpeechSettings) -> list[str]:
        wpm = round(NORMAL_WPM * settings.speed)
        return ["-v", voice, "-s", str(wpm), "-p", str(settings.pitch), "-b", "1"]

    def synthesize(self, text: str, language: Language, settings: SpeechSettings,
                   timeout_s: float) -> Pcm:  # fmt: skip
        voice = self.voice_for(language, settings)
        with tempfile.TemporaryDirectory(prefix="broadcaster-espeak-") as tmp:
            out = Path(tmp) / "speech.wav"
            self._run([*self._options(voice, settings), "-w", str(out), "--stdin"], text, timeout_s)
            try:
                return read_wav(out)
            except AudioError as exc:
                raise EngineError(self.name, f"wrote no usable audio: {exc}") from exc

    def phonemes(self, text: str, language: Language, settings: SpeechSettings) -> str:
        """espeak-ng's phoneme transcription; ``(en)`` in it means an English fallback."""
        voice = self.voice_for(language, settings)
        return self._run(["-q", "-x", *self._options(voice, settings), "--stdin"], text, 30).decode()

    def voices(self, speech: Mapping[Language, SpeechSettings]) -> list[VoiceInfo]:
        out = []
        for language in Language:
            settings = speech[language]
            voice = settings.voice if settings.voice and settings.engine == self.name else VOICES[language]
            try:
                self.voice_for(language, settings)
                english = "(en)" in self.phonemes(PROBE[language], language, settings)
            except EngineError as exc:
                out.append(VoiceInfo(self.name, voice, language, False, exc.reason))
                continue
            reason = "falls back to English for Chinese characters" if english else ""
            out.append(VoiceInfo(self.name, voice, language, not english, reason))
        return out
