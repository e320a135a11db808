"""espeak-ng, called as a program: the default engine on Linux.

It gets the readings (:meth:`EspeakEngine.prepare`): pinyin through
``cmn-latn-pinyin`` and jyutping through ``yue-Latn-jyutping``, because it reads
Hanzi one by one with a default reading (and on espeak-ng 1.51 the plain ``cmn``
voice falls back to English letter names for many characters). Latin words (LED,
APP, QR) go to the English voice, in SSML: the romanized voices would read them
as pinyin. Text goes in on standard input, never on the command line, so it
cannot become an option.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.config import Language, SpeechSettings
from broadcaster.errors import AudioError, EngineError
from broadcaster.textnorm import Sentence, Word
from broadcaster.tts.base import Engine, VoiceInfo

if TYPE_CHECKING:
    from broadcaster.pcm import Pcm

VOICES = {Language.MANDARIN: "cmn-latn-pinyin", Language.CANTONESE: "yue-latn-jyutping"}
ENGLISH = "en"
PROBE_TIMEOUT_S = 5.0
NORMAL_WPM = 175
PROBE = {Language.MANDARIN: "各位村民请注意戴口罩", Language.CANTONESE: "各位街坊唔好聚集"}


class EspeakEngine(Engine):
    name = "espeak-ng"
    romanized = True

    def __init__(self, program: str = "espeak-ng") -> None:
        self.program = shutil.which(program) or program
        self._probe_failure = ""

    @functools.cached_property
    def installed_voices(self) -> set[str]:
        try:
            out = self._run(["--voices"], "", PROBE_TIMEOUT_S).decode("utf-8", "replace")
        except EngineError as exc:
            self._probe_failure = exc.reason
            return set()
        names = set()
        for line in out.splitlines()[1:]:  # Pty Language Age/Gender VoiceName File Other
            columns = line.split()
            if len(columns) > 4:  # a voice by its language (yue) or its file (sit/yue-Latn-jyutping)
                names |= {columns[1].lower(), columns[4].rsplit("/", 1)[-1].lower()}
        return names

    @functools.cached_property
    def version(self) -> str:  # type: ignore[override]
        try:
            return self._run(["--version"], "", PROBE_TIMEOUT_S).decode().split(":")[0].strip()
        except EngineError:
            return "unknown"

    def _configured(self, language: Language, settings: SpeechSettings) -> str:
        """The voice set in config.yaml for this engine, or the default for ``language``."""
        return settings.voice if settings.voice and settings.engine == self.name else VOICES[language]

    def voice_for(self, language: Language, settings: SpeechSettings) -> str:
        voice = self._configured(language, settings)
        if not self.installed_voices:
            if self._probe_failure and "not installed" not in self._probe_failure:
                raise EngineError(self.name, f"does not answer: espeak-ng --voices {self._probe_failure}")
            raise EngineError(self.name, "espeak-ng is not installed")
        if voice.lower() not in self.installed_voices:
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

    def prepare(self, sentence: Sentence, language: Language, settings: SpeechSettings) -> str:
        """SSML: the readings in the language's voice, Latin words in the English one."""
        import html
        voice = self._configured(language, settings)
        runs: list[tuple[str, str]] = []  # (voice, text), neighbours with the same voice joined
        for word in sentence.words:
            english = not word.reading and any(c.isascii() and c.isalpha() for c in word.text)
            if english:
                piece = (ENGLISH, _ABBREVIATION.sub(lambda m: " ".join(m[0]), word.text))
            else:
                piece = (voice, f" {_spoken(word)} " if word.reading else word.text)
            if runs and runs[-1][0] == piece[0]:
                runs[-1] = (piece[0], runs[-1][1] + piece[1])
            else:
                runs.append(piece)
        body = "".join(f'<voice name="{v}">{html.escape(" ".join(t.split()))}</voice> ' for v, t in runs)
        return f"<speak>{body.strip()}</speak>"

    def _options(self, voice: str, settings: SpeechSettings) -> list[str]:
        wpm = round(NORMAL_WPM * settings.speed)
        return ["-v", voice, "-s", str(wpm), "-p", str(settings.pitch), "-b", "1"]

    def synthesize(self, text: str, language: Language, settings: SpeechSettings,
                   timeout_s: float) -> Pcm:  # fmt: skip
        voice = self.voice_for(language, settings)
        with tempfile.TemporaryDirectory(prefix="broadcaster-espeak-") as tmp:
            out = Path(tmp) / "speech.wav"
            self._run([*self._options(voice, settings), *_markup(text), "-w", str(out), "--stdin"], text,
                      timeout_s)  # fmt: skip
            try:
                from broadcaster.pcm import read_wav

                return read_wav(out)
            except AudioError as exc:
                raise EngineError(self.name, f"wrote no usable audio: {exc}") from exc

    def phonemes(self, text: str, language: Language, settings: SpeechSettings) -> str:
        """espeak-ng's phoneme transcription; ``(en)`` in it means an English fallback."""
        voice = self.voice_for(language, settings)
        return self._run(["-q", "-x", *self._options(voice, settings), *_markup(text), "--stdin"], text,
                         30).decode()  # fmt: skip

    def voices(self, speech: Mapping[Language, SpeechSettings]) -> list[VoiceInfo]:
        out = []
        for language in Language:
            settings = speech[language]
            voice = self._configured(language, settings)
            try:
                self.voice_for(language, settings)
                english = "(en)" in self.phonemes(PROBE[language], language, settings)
            except EngineError as exc:
                out.append(VoiceInfo(self.name, voice, language, False, exc.reason))
                continue
            reason = "falls back to English for Chinese characters" if english else ""
            out.append(VoiceInfo(self.name, voice, language, not english, reason))
        return out


# An abbreviation is read letter by letter (L E D, A P P), as announcers do; other words as words.
_ABBREVIATION = re.compile(r"\b[A-Z]{2,4}\b")
# The jyutping voice drops the tone of a syllabic nasal (ng5 五, m4 唔); the character itself is
# read with it, and the voice takes characters too.
_SYLLABIC_NASAL = re.compile(r"(?:m|ng)[1-6]")


def _spoken(word: Word) -> str:
    syllables = word.reading.split()
    if len(syllables) != len(word.text):
        return word.reading
    return " ".join(char if _SYLLABIC_NASAL.fullmatch(syllable) else syllable
                    for char, syllable in zip(word.text, syllables, strict=True))  # fmt: skip


def _markup(text: str) -> list[str]:
    """SSML only for what :meth:`EspeakEngine.prepare` made (escaped); other text stays plain."""
    return ["-m"] if text.startswith("<speak>") else []
