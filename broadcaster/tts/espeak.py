"""espeak-ng: the default engine on Linux.

It gets the readings (:meth:`EspeakEngine.prepare`): pinyin through
``cmn-latn-pinyin`` and jyutping through ``yue-Latn-jyutping``, because it reads
Hanzi one by one with a default reading (and on espeak-ng 1.51 the plain ``cmn``
voice falls back to English letter names for many characters). Latin words (LED,
APP, QR) go to the English voice, in SSML: the romanized voices would read them
as pinyin. Text goes in on standard input, never on the command line, so it
cannot become an option.

Speech comes from the espeak-ng library in worker processes that stay up
(:mod:`broadcaster.tts.espeak_worker`): the program would load its voice data
again for every sentence, which costs as much as speaking it. Where the library
cannot be loaded, or another program is configured, the program is run instead.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.config import SpeechSettings
from broadcaster.errors import AudioError, EngineError
from broadcaster.i18n import _
from broadcaster.language import Language
from broadcaster.textnorm import Sentence, Word
from broadcaster.tts.base import Engine, VoiceInfo

if TYPE_CHECKING:
    from broadcaster.pcm import Pcm

def _close_all(workers: list[Worker]) -> None:
    while workers:
        workers.pop().close()


VOICES = {Language.MANDARIN: "cmn-latn-pinyin", Language.CANTONESE: "yue-latn-jyutping"}
ENGLISH = "en"
PROBE_TIMEOUT_S = 5.0
NORMAL_WPM = 175
PROBE = {Language.MANDARIN: "各位村民请注意戴口罩", Language.CANTONESE: "各位街坊唔好聚集"}
WORKER = [sys.executable, "-m", "broadcaster.tts.espeak_worker"]

logger = logging.getLogger(__name__)


class Worker:
    """One worker process (:mod:`broadcaster.tts.espeak_worker`), asked one thing at a time."""

    def __init__(self, command: list[str] = WORKER) -> None:
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        hello = self._exchange(None, PROBE_TIMEOUT_S)
        if "rate" not in hello:
            self.close()
            raise EngineError(EspeakEngine.name, str(hello.get("error", _("the worker did not start"))))
        self.rate_hz = int(str(hello["rate"]))

    def _exchange(self, request: dict[str, object] | None, timeout_s: float) -> dict[str, object]:
        """Send ``request`` (None: just read), read the answer's header; killed after ``timeout_s``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            self.proc.kill()

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            if request is not None:
                self.proc.stdin.write(json.dumps(request).encode() + b"\n")
                self.proc.stdin.flush()
            header = json.loads(self.proc.stdout.readline() or b"null")
            if isinstance(header, dict) and "samples" in header:
                header["data"] = self.proc.stdout.read(2 * int(header["samples"]))
        except (OSError, ValueError):
            header = None
        finally:
            timer.cancel()
        if not isinstance(header, dict) or len(header.get("data", b"")) != 2 * int(header.get("samples", 0)):
            self.close()
            if expired.is_set():
                message = _("did not finish within {seconds:.0f} s")
                raise EngineError(EspeakEngine.name, message.format(seconds=timeout_s))
            raise EngineError(EspeakEngine.name, _("its worker stopped"))
        return header

    def speak(self, request: dict[str, object], timeout_s: float) -> Pcm:
        import numpy as np

        from broadcaster.pcm import Pcm

        answer = self._exchange(request, timeout_s)
        if "error" in answer:
            raise EngineError(EspeakEngine.name, str(answer["error"]))
        data = answer["data"]
        assert isinstance(data, bytes)
        samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768
        return Pcm(samples, self.rate_hz)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


class EspeakEngine(Engine):
    name = "espeak-ng"
    romanized = True

    def __init__(self, program: str = "espeak-ng", worker: list[str] | None = WORKER) -> None:
        """``program`` for voices, phonemes and where no worker runs; ``worker`` None: the
        program for speech too (it is also used for any other ``program``)."""
        self.program = shutil.which(program) or program
        self._probe_failure = ""
        self._worker = worker if program == "espeak-ng" else None
        self._idle: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        self._started: list[Worker] = []
        # The workers end with this engine, or at exit (they also end when their pipe closes).
        self.close = weakref.finalize(self, _close_all, self._started)

    def _take_worker(self) -> Worker | None:
        """An idle worker, a new one, or None if workers cannot run here (then the program speaks)."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        if self._worker is None:
            return None
        try:
            worker = Worker(self._worker)
        except (EngineError, OSError) as exc:
            logger.info("espeak-ng library not used (%s); running the program", exc)
            self._worker = None
            return None
        self._started.append(worker)
        return worker

    @functools.cached_property
    def installed_voices(self) -> set[str]:
        try:
            out = self._run(["--voices"], "", PROBE_TIMEOUT_S).decode("utf-8", "replace")
        except EngineError as exc:
            missing = isinstance(exc.__cause__, FileNotFoundError)  # not the (translated) text
            self._probe_failure = "" if missing else exc.reason
            return set()
        names = set()
        for line in out.splitlines()[1:]:  # Pty Language Age/Gender VoiceName File Other
            columns = line.split()
            if len(columns) > 4:  # a voice by its language (yue) or its file (sit/yue-Latn-jyutping)
                names |= {columns[1].lower(), columns[4].rsplit("/", 1)[-1].lower()}
        return names

    @functools.cached_property
    def version(self) -> str:
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
            if self._probe_failure:
                message = _("does not answer: espeak-ng --voices {reason}")
                raise EngineError(self.name, message.format(reason=self._probe_failure))
            raise EngineError(self.name, _("espeak-ng is not installed"))
        if voice.lower() not in self.installed_voices:
            raise EngineError(self.name, _("voice {voice} is not installed").format(voice=voice))
        return voice

    def _run(self, args: list[str], text: str, timeout_s: float) -> bytes:
        try:
            proc = subprocess.run(
                [self.program, *args], input=text.encode(), capture_output=True,
                timeout=timeout_s, check=False,
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise EngineError(self.name, _("espeak-ng is not installed")) from exc
        except subprocess.TimeoutExpired as exc:
            message = _("did not finish within {seconds:.0f} s")
            raise EngineError(self.name, message.format(seconds=timeout_s)) from exc
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip()[:200]
            message = _("exited with {code}: {detail}")
            raise EngineError(self.name, message.format(code=proc.returncode, detail=detail))
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
        worker = self._take_worker()
        if worker is not None:
            request = {"voice": voice, "rate": round(NORMAL_WPM * settings.speed), "pitch": settings.pitch,
                       "ssml": bool(_markup(text)), "text": text}  # fmt: skip
            try:
                return worker.speak(request, timeout_s)
            finally:
                if worker.alive:
                    self._idle.put(worker)
        with tempfile.TemporaryDirectory(prefix="broadcaster-espeak-") as tmp:
            out = Path(tmp) / "speech.wav"
            self._run([*self._options(voice, settings), *_markup(text), "-w", str(out), "--stdin"], text,
                      timeout_s)  # fmt: skip
            try:
                from broadcaster.pcm import read_wav

                return read_wav(out)
            except AudioError as exc:
                raise EngineError(self.name, _("wrote no usable audio: {reason}").format(reason=exc)) from exc

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
            reason = _("falls back to English for Chinese characters") if english else ""
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
