"""The system's voices through pyttsx3: SAPI5 on Windows, NSSpeech on macOS, espeak on Linux.

Each call runs in a fresh worker process (see ``pyttsx3_worker``) that is
killed at the timeout, so a hung or crashed engine cannot take the station down.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.config import SpeechSettings
from broadcaster.errors import AudioError, EngineError
from broadcaster.i18n import _
from broadcaster.language import Language
from broadcaster.tts.base import Engine, VoiceInfo
from broadcaster.tts.pyttsx3_worker import choose

if TYPE_CHECKING:
    from broadcaster.pcm import Pcm


class Pyttsx3Engine(Engine):
    name = "pyttsx3"

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python

    @functools.cached_property
    def version(self) -> str:
        import importlib.metadata  # slow to import: only when asked

        try:
            return f"{importlib.metadata.version('pyttsx3')}-{sys.platform}"
        except importlib.metadata.PackageNotFoundError:
            return "missing"

    def _call(self, request: dict, timeout_s: float) -> dict:
        try:
            proc = subprocess.run(
                [self.python, "-m", "broadcaster.tts.pyttsx3_worker"],
                input=json.dumps(request).encode(), capture_output=True, timeout=timeout_s,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            message = _("did not finish within {seconds:.0f} s")
            raise EngineError(self.name, message.format(seconds=timeout_s)) from exc
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            last = detail[-1] if detail else proc.returncode
            raise EngineError(self.name, _("crashed: {detail}").format(detail=last))
        try:
            answer = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise EngineError(self.name, _("gave an unreadable answer")) from exc
        if "error" in answer:
            raise EngineError(self.name, answer["error"])
        return answer

    @functools.cached_property
    def _voices(self) -> list[dict]:
        try:
            return self._call({"action": "voices"}, 60)["voices"]
        except EngineError:
            return []

    def voice_for(self, language: Language, settings: SpeechSettings) -> str:
        wanted = settings.voice if settings.engine == self.name else None
        voice = choose(self._voices, language.value, wanted)
        if voice is None:
            message = _("no {language} voice among the system voices")
            raise EngineError(self.name, message.format(language=language.value))
        return voice["id"]

    def synthesize(self, text: str, language: Language, settings: SpeechSettings,
                   timeout_s: float) -> Pcm:  # fmt: skip
        voice = self.voice_for(language, settings)
        with tempfile.TemporaryDirectory(prefix="broadcaster-pyttsx3-") as tmp:
            out = Path(tmp) / "speech.wav"
            request = {"action": "speak", "text": text, "language": language.value,
                       "voice": voice, "speed": settings.speed, "out": str(out),
                       "timeout_s": timeout_s}  # fmt: skip
            self._call(request, timeout_s)
            try:
                from broadcaster.pcm import read_wav

                return read_wav(out)
            except AudioError as exc:
                raise EngineError(self.name, _("wrote no usable audio: {reason}").format(reason=exc)) from exc

    def voices(self, speech: Mapping[Language, SpeechSettings]) -> list[VoiceInfo]:
        out = []
        for language in Language:
            try:
                out.append(VoiceInfo(self.name, self.voice_for(language, speech[language]),
                                     language, True))  # fmt: skip
            except EngineError as exc:
                out.append(VoiceInfo(self.name, "-", language, False, exc.reason))
        return out
