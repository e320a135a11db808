"""Engines, the checks on their output, and the speaker's retry, fallback and cache."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from broadcaster.config import SpeechSettings
from broadcaster.errors import EngineError, SpeechError
from broadcaster.language import Language
from broadcaster.pcm import Pcm
from broadcaster.textnorm import read, sentences
from broadcaster.tts import Speaker
from broadcaster.tts.base import Engine, VoiceInfo
from broadcaster.tts.cache import AudioCache
from broadcaster.tts.espeak import EspeakEngine
from broadcaster.tts.pyttsx3_engine import Pyttsx3Engine
from broadcaster.tts.tone import ToneEngine
from broadcaster.tts.verify import verify_speech

SETTINGS = SpeechSettings()
MANDARIN = "各位村民请注意，出入戴口罩，有发烧咳嗽及时就医。"
CANTONESE = "各位街坊，唔好聚埋一齊，出入要戴口罩。"


def test_espeak_speaks_both_languages_and_the_output_passes_the_checks():
    engine = EspeakEngine()
    for language, text in ((Language.MANDARIN, MANDARIN), (Language.CANTONESE, CANTONESE)):
        pcm = engine.synthesize(text, language, SETTINGS, 30)
        assert verify_speech(pcm, text, engine.name) is pcm
        assert 2.0 < pcm.duration_s < 10.0


def test_mandarin_voice_has_no_english_fallback_on_any_sample_sentence():
    from broadcaster.content.load import load_content
    from broadcaster.schema.problems import Problems
    from tests.conftest import REPO
    from tests.test_content import TODAY

    content = load_content(REPO / "config.yaml", Problems(), TODAY)
    engine = EspeakEngine()
    checked = 0
    for a in content.announcements.values():
        for sentence in sentences(a.text, a.language, content.config.lexicon[a.language]):
            phonemes = engine.phonemes(sentence.romanized, a.language, SETTINGS)
            assert "(en)" not in phonemes, (a.id, sentence, phonemes)
            checked += 1
    assert checked > 30
    # The check can fail: espeak-ng's plain "cmn" voice does fall back to English here.
    plain = SpeechSettings(engine="espeak-ng", voice="cmn")
    assert "(en)" in engine.phonemes("各位村民请注意戴口罩", Language.MANDARIN, plain)


def test_pyttsx3_worker_writes_a_whole_file_for_a_long_first_utterance():
    long_text = "，".join([MANDARIN.rstrip("。")] * 6) + "。"
    pcm = Pyttsx3Engine().synthesize(long_text, Language.MANDARIN, SETTINGS, 60)
    verify_speech(pcm, long_text, "pyttsx3")
    reference = EspeakEngine().synthesize(long_text, Language.MANDARIN, SETTINGS, 60)
    # Same speech library underneath: a file cut short would be much shorter.
    assert pcm.duration_s == pytest.approx(reference.duration_s, rel=0.25)


def test_the_worker_waits_for_every_frame_the_header_declares(tmp_path):
    # espeak's driver writes the header, then the data, from its own thread after
    # runAndWait() returned: under load a half-written file looked finished (29 s of 39 s).
    import threading
    import wave

    from broadcaster.tts.pyttsx3_worker import _complete_wav

    frames = np.zeros(22050 * 2, dtype="<i2").tobytes()
    path = tmp_path / "speech.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(frames)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 3])  # the header declares 2 s; a third is written

    def finish() -> None:
        time.sleep(0.5)
        path.write_bytes(whole)

    writer = threading.Thread(target=finish)
    started = time.monotonic()
    writer.start()
    _complete_wav(path, 10)
    assert time.monotonic() - started >= 0.5
    assert path.read_bytes() == whole
    writer.join()
    path.write_bytes(whole[:-2])  # one frame short, for good
    with pytest.raises(TimeoutError):
        _complete_wav(path, 0.5)


def test_text_reaches_espeak_as_data_never_as_options(tmp_path):
    marker = tmp_path / "pwned"
    text = f'-v en --stdout $(touch {marker}) "; touch {marker}'
    pcm = EspeakEngine().synthesize(text, Language.MANDARIN, SETTINGS, 30)
    assert pcm.duration_s > 1.0
    assert not marker.exists()


def _fake_program(tmp_path: Path, body: str) -> str:
    voices = "Pty Language       Age/Gender VoiceName          File          Other Languages\\n" \
             " 5  cmn-latn-pinyin --/M      x sit/x\\n 5  yue --/M x sit/yue\\n"  # fmt: skip
    script = tmp_path / "fake-espeak"
    lines = ["#!/bin/sh", f'for a in "$@"; do [ "$a" = --voices ] && printf "{voices}" && exit 0; done', body]
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_a_hanging_engine_is_killed_at_its_timeout(tmp_path):
    engine = EspeakEngine(_fake_program(tmp_path, "sleep 30"))
    with pytest.raises(EngineError, match="did not finish within 1 s"):
        engine.synthesize(MANDARIN, Language.MANDARIN, SETTINGS, 1)


def test_a_crashing_engine_is_reported(tmp_path):
    engine = EspeakEngine(_fake_program(tmp_path, "echo boom >&2; exit 3"))
    with pytest.raises(EngineError, match="exited with 3: boom"):
        engine.synthesize(MANDARIN, Language.MANDARIN, SETTINGS, 5)


def test_the_library_worker_speaks_as_the_program_does():
    """One worker process speaks sentence after sentence: the same speech as a program run each."""
    worker, program = EspeakEngine(), EspeakEngine(worker=None)
    for language, text in ((Language.MANDARIN, MANDARIN), (Language.CANTONESE, CANTONESE)) * 2:
        prepared = worker.prepare(read(text, language), language, SETTINGS)
        spoken = worker.synthesize(prepared, language, SETTINGS, 30)
        expected = program.synthesize(prepared, language, SETTINGS, 30)
        assert verify_speech(spoken, text, "espeak-ng") is spoken
        assert spoken.rate_hz == expected.rate_hz
        assert spoken.duration_s == pytest.approx(expected.duration_s, abs=0.1)  # its pause before
    assert len(worker._started) == 1  # one process spoke all four
    worker.close()
    assert not worker._started


def _fake_worker(body: str) -> list[str]:
    return [sys.executable, "-c", f"import sys, time\nprint('{{\"rate\": 22050}}', flush=True)\n{body}"]


def test_a_hanging_worker_is_killed_at_its_timeout_and_replaced():
    engine = EspeakEngine(worker=_fake_worker("time.sleep(30)"))
    for _ in range(2):
        started = time.monotonic()
        with pytest.raises(EngineError, match="did not finish within 1 s"):
            engine.synthesize(MANDARIN, Language.MANDARIN, SETTINGS, 1)
        assert time.monotonic() - started < 5
    assert len(engine._started) == 2 and not any(w.alive for w in engine._started)


def test_a_worker_that_dies_is_an_engine_error():
    engine = EspeakEngine(worker=_fake_worker("sys.stdin.readline(); sys.exit(1)"))
    with pytest.raises(EngineError, match="its worker stopped"):
        engine.synthesize(MANDARIN, Language.MANDARIN, SETTINGS, 5)


def test_without_the_library_the_program_speaks():
    engine = EspeakEngine(worker=[sys.executable, "-c", "print('{\"error\": \"no library\"}')"])
    pcm = engine.synthesize(MANDARIN, Language.MANDARIN, SETTINGS, 30)
    assert verify_speech(pcm, MANDARIN, "espeak-ng") is pcm
    assert engine._worker is None and not engine._started


@pytest.mark.parametrize(("samples", "reason"), [
    (np.zeros(22050 * 3), "silence"),
    (np.random.default_rng(1).uniform(-0.5, 0.5, 22050 * 3), "noise"),
    (np.sign(np.sin(np.arange(22050 * 3) / 5)), "clipped"),
    (np.sin(np.arange(2205) / 5) * 0.3, "expected"),  # 0.1 s for 24 characters
    (np.sin(np.arange(22050 * 60) / 5) * 0.3, "expected"),  # a minute for 24 characters
    (np.array([]), "no audio"),
])  # fmt: skip
def test_verification_rejects_unusable_audio(samples, reason):
    with pytest.raises(EngineError, match=reason):
        verify_speech(Pcm(samples.astype(np.float32), 22050), MANDARIN, "x")


class Scripted(Engine):
    """An engine that plays back a script of results: audio, or an error to raise."""

    def __init__(self, name: str, script: list) -> None:  # type: ignore[type-arg]
        self.name = name
        self.script = script
        self.calls = 0
        self.timeouts: list[float] = []
        self.answer = "1.51"

    @property
    def version(self) -> str:
        return self.answer

    def voice_for(self, language, settings):  # type: ignore[no-untyped-def]
        return "v"

    def synthesize(self, text, language, settings, timeout_s):  # type: ignore[no-untyped-def]
        self.calls += 1
        self.timeouts.append(timeout_s)
        result = self.script.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def voices(self, speech) -> list[VoiceInfo]:  # type: ignore[no-untyped-def]
        return []


def _speech(text: str) -> Pcm:
    return ToneEngine().synthesize(text, Language.MANDARIN, SETTINGS, 5)


def test_a_failure_is_retried_once_then_the_next_engine_is_tried(tmp_path):
    first = Scripted(
        "espeak-ng", [EngineError("espeak-ng", "crashed"), Pcm(np.zeros(44100, np.float32), 22050)]
    )
    second = Scripted("pyttsx3", [_speech(MANDARIN)])
    speaker = Speaker({"espeak-ng": first, "pyttsx3": second}, AudioCache(tmp_path), platform="linux")
    spoken = speaker.speak(read(MANDARIN, Language.MANDARIN), Language.MANDARIN, SETTINGS, "hygiene")
    assert (first.calls, second.calls, spoken.engine) == (2, 1, "pyttsx3")


def test_when_every_engine_fails_the_error_names_the_announcement_and_engines(tmp_path):
    engines = {"espeak-ng": Scripted("espeak-ng", [EngineError("espeak-ng", "crashed")] * 2),
               "pyttsx3": Scripted("pyttsx3", [EngineError("pyttsx3", "hung")] * 2)}  # fmt: skip
    speaker = Speaker(engines, AudioCache(tmp_path), platform="linux")
    with pytest.raises(SpeechError) as caught:
        speaker.speak(read(MANDARIN, Language.MANDARIN), Language.MANDARIN, SETTINGS, "hygiene")
    assert caught.value.what == "hygiene"
    assert caught.value.tried == ["espeak-ng: crashed", "pyttsx3: hung"]


def test_a_cache_hit_calls_no_engine_and_a_change_does(tmp_path):
    engine = Scripted("espeak-ng", [_speech(MANDARIN), _speech("各位村民请注意。")])
    speaker = Speaker({"espeak-ng": engine}, AudioCache(tmp_path), platform="linux")
    first = speaker.speak(read(MANDARIN, Language.MANDARIN), Language.MANDARIN, SETTINGS, "a")
    again = speaker.speak(read(MANDARIN, Language.MANDARIN), Language.MANDARIN, SETTINGS, "a")
    assert engine.calls == 1 and again.key == first.key
    assert np.allclose(again.pcm.samples, first.pcm.samples, atol=1 / 32768)
    speaker.speak(read(MANDARIN, Language.MANDARIN), Language.MANDARIN, SpeechSettings(speed=1.0), "a")
    assert engine.calls == 2


def test_a_damaged_cache_file_is_made_again(tmp_path):
    engine = Scripted("espeak-ng", [_speech(MANDARIN), _speech(MANDARIN)])
    cache = AudioCache(tmp_path)
    speaker = Speaker({"espeak-ng": engine}, cache, platform="linux")
    key = speaker.speak(read(MANDARIN, Language.MANDARIN), Language.MANDARIN, SETTINGS, "a").key
    path = cache.path(key)
    path.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])  # truncated
    speaker.speak(read(MANDARIN, Language.MANDARIN), Language.MANDARIN, SETTINGS, "a")
    assert engine.calls == 2


def test_engine_order_follows_the_platform_and_the_config(tmp_path):
    engines = {n: Scripted(n, []) for n in ("espeak-ng", "pyttsx3", "sherpa-onnx")}
    cache = AudioCache(tmp_path)
    names = lambda speaker, s: [e.name for e in speaker.chain(s)]  # noqa: E731
    assert names(Speaker(engines, cache, "linux"), SETTINGS) == ["espeak-ng", "pyttsx3"]
    assert names(Speaker(engines, cache, "win32"), SETTINGS) == ["pyttsx3", "espeak-ng"]
    neural = SpeechSettings(model_dir=Path("models/zh"))
    assert names(Speaker(engines, cache, "linux"), neural) == ["sherpa-onnx", "espeak-ng", "pyttsx3"]
    chosen = SpeechSettings(engine="pyttsx3")
    assert names(Speaker(engines, cache, "linux"), chosen) == ["pyttsx3", "espeak-ng"]


def test_audio_on_disk_is_used_whatever_the_engine_answers_about_its_version(tmp_path):
    """A hung ``--version`` once turned into "unknown", changed every key and lost the cache."""
    engine = Scripted("espeak-ng", [_speech(MANDARIN)])
    first = Speaker({"espeak-ng": engine}, AudioCache(tmp_path), platform="linux")
    key = first.speak(read(MANDARIN, Language.MANDARIN), Language.MANDARIN, SETTINGS, "a").key
    engine.answer = "unknown"
    again = Speaker({"espeak-ng": engine}, AudioCache(tmp_path), platform="linux")
    assert again.speak(read(MANDARIN, Language.MANDARIN), Language.MANDARIN, SETTINGS, "a").key == key
    assert engine.calls == 1


def test_the_timeout_fits_the_sentence(tmp_path):
    engine = Scripted("espeak-ng", [_speech(MANDARIN), _speech("各位村民请注意。")])
    speaker = Speaker({"espeak-ng": engine}, AudioCache(tmp_path), platform="linux")
    speaker.speak(read(MANDARIN, Language.MANDARIN), Language.MANDARIN, SETTINGS, "a")
    speaker.speak(read("各位村民请注意。", Language.MANDARIN), Language.MANDARIN, SETTINGS, "a")
    assert engine.timeouts == [pytest.approx(10 + 0.2 * len(MANDARIN)), pytest.approx(10 + 0.2 * 8)]


def test_an_engine_that_does_not_answer_is_not_called_missing(tmp_path, monkeypatch):
    from broadcaster.tts import espeak

    monkeypatch.setattr(espeak, "PROBE_TIMEOUT_S", 0.5)
    script = tmp_path / "stuck-espeak"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(EngineError, match="does not answer: espeak-ng --voices did not finish"):
        EspeakEngine(str(script)).voice_for(Language.MANDARIN, SETTINGS)
    with pytest.raises(EngineError, match="espeak-ng is not installed"):
        EspeakEngine(str(tmp_path / "nowhere")).voice_for(Language.MANDARIN, SETTINGS)


@pytest.mark.parametrize("seconds", [0.004, 0.3, 7.0])
def test_spectral_flatness_is_welchs(seconds):
    """The noise check's spectrum, without scipy at run time, against scipy's Welch estimate."""
    import math

    from scipy.signal import welch

    from broadcaster.tts.verify import FLATNESS_SPAN_S, spectral_flatness

    rng = np.random.default_rng(5)
    n = round(seconds * 22050)
    for samples in (0.1 * rng.standard_normal(n), 0.3 * np.sin(np.arange(n) * 0.07) + 0.01 * rng.random(n)):
        _, power = welch(samples[: round(FLATNESS_SPAN_S * 22050)], fs=22050, nperseg=min(1024, n))
        power = power[power > 0]
        expected = math.exp(np.mean(np.log(power))) / np.mean(power)
        assert spectral_flatness(Pcm(samples.astype(np.float32), 22050)) == pytest.approx(expected, rel=1e-3)
