"""Rendering announcements with real espeak-ng: layout, loudness, peak, cache, clips."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import numpy as np
import pytest
from scipy.signal import resample_poly

from broadcaster.config import Config
from broadcaster.content.load import load_content
from broadcaster.content.models import Announcement, Clip, Pause, Speech
from broadcaster.language import Language
from broadcaster.pcm import OUTPUT_RATE_HZ, read_wav, write_wav
from broadcaster.render import loudness
from broadcaster.render.renderer import AFTER_CHIME_S, Renderer, chime, render_all
from broadcaster.schema.problems import Problems
from broadcaster.textnorm import sentences
from broadcaster.tts import Speaker
from broadcaster.tts.cache import AudioCache
from broadcaster.tts.espeak import EspeakEngine
from tests.test_content import TODAY


class CountingEspeak(EspeakEngine):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def synthesize(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().synthesize(*args, **kwargs)


@pytest.fixture
def engine() -> CountingEspeak:
    return CountingEspeak()


def make_renderer(config: Config, engine, tmp_path) -> Renderer:  # type: ignore[no-untyped-def]
    speaker = Speaker({"espeak-ng": engine}, AudioCache(tmp_path / "speech"), platform="linux")
    return Renderer(config, speaker, tmp_path / "announcements")


def independent_true_peak_dbfs(samples: np.ndarray) -> float:
    """4x oversampling with scipy's own polyphase filter, apart from the code under test."""
    return 20 * np.log10(np.max(np.abs(resample_poly(samples.astype(np.float64), 4, 1))))


def announcement(text: str, **changes) -> Announcement:  # type: ignore[no-untyped-def]
    base = Announcement("a", None, "a", Language.MANDARIN, (Speech(text),), chime=False)  # type: ignore[arg-type]
    return dataclasses.replace(base, **changes)


def test_every_sample_announcement_renders_at_the_loudness_target(station, engine, tmp_path):
    content = load_content(station / "config.yaml", Problems(), TODAY)
    renderer = make_renderer(content.config, engine, tmp_path)
    done, failed = render_all(renderer, content.announcements.values(), workers=2)
    assert failed == [] and len(done) == len(content.announcements)
    for rendered in done:
        pcm = read_wav(rendered.path)
        assert pcm.rate_hz == OUTPUT_RATE_HZ
        text = content.announcements[rendered.announcement_id].text
        assert pcm.duration_s > 0.12 * len(text), rendered.announcement_id
        assert loudness.integrated_lufs(pcm) == pytest.approx(-18.0, abs=1.0)
        assert loudness.true_peak_dbfs(pcm) <= -1.5 + 0.1
        assert independent_true_peak_dbfs(pcm.samples) <= -1.5 + 0.1
        assert rendered.engines == ("espeak-ng",)


def test_a_cached_announcement_calls_no_engine(station, engine, tmp_path):
    config = load_content(station / "config.yaml", Problems(), TODAY).config
    renderer = make_renderer(config, engine, tmp_path)
    item = announcement("各位村民请注意。出入戴口罩。")
    first = renderer.render(item)
    assert engine.calls == 2
    again = make_renderer(config, engine, tmp_path).render(item)
    assert engine.calls == 2 and again.path == first.path
    changed = renderer.render(announcement("各位村民请注意。出入要戴口罩。"))
    assert engine.calls == 3 and changed.path != first.path  # only the changed sentence


def test_a_warm_render_needs_no_front_end(station, engine, tmp_path, monkeypatch):
    """The readings are kept with the audio: a warm start loads neither pypinyin nor ToJyutping."""
    from broadcaster.textnorm import reading

    config = load_content(station / "config.yaml", Problems(), TODAY).config
    items = [announcement("各位村民请注意，有发烧咳嗽及时就医。"),
             announcement("各位街坊，睇醫生。", language=Language.CANTONESE)]  # fmt: skip
    first = [make_renderer(config, engine, tmp_path).render(item) for item in items]

    def unavailable(run, language):  # type: ignore[no-untyped-def]
        raise AssertionError("a front end was asked for readings")

    monkeypatch.setattr(reading, "_read_plain", unavailable)
    again = [make_renderer(config, engine, tmp_path).render(item) for item in items]
    assert [r.path for r in again] == [r.path for r in first]
    with pytest.raises(AssertionError, match="front end"):
        make_renderer(config, engine, tmp_path).render(announcement("新的一句话。"))


def test_layout_chime_repeats_and_gap(station, engine, tmp_path):
    config = load_content(station / "config.yaml", Problems(), TODAY).config
    renderer = make_renderer(config, engine, tmp_path)
    once = renderer.render(announcement("各位村民请注意。", chime=True))
    twice = renderer.render(announcement("各位村民请注意。", chime=True, repeat=2, gap_s=4.0))
    body = once.duration_s - chime().duration_s - AFTER_CHIME_S
    assert twice.duration_s == pytest.approx(once.duration_s + body + 4.0, abs=0.01)
    pcm = read_wav(twice.path)
    # The chime starts with A4 (440 Hz): find it by FFT in the first half second.
    head = pcm.samples[: OUTPUT_RATE_HZ // 2]
    spectrum = np.abs(np.fft.rfft(head))
    assert np.fft.rfftfreq(len(head), 1 / OUTPUT_RATE_HZ)[np.argmax(spectrum)] == pytest.approx(440, abs=3)
    # Silence where the gap is.
    start = round((chime().duration_s + AFTER_CHIME_S + body + 0.5) * OUTPUT_RATE_HZ)
    gap = pcm.samples[start : start + 3 * OUTPUT_RATE_HZ]
    assert np.max(np.abs(gap)) < 0.01


@pytest.mark.parametrize("kind", ["wav", "mp3"])
def test_prerecorded_clips_and_pauses(station, engine, tmp_path, kind):
    if kind != "wav" and not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is not installed")
    config = load_content(station / "config.yaml", Problems(), TODAY).config
    wav = station / "clips" / "bell.wav"
    write_wav(wav, chime(44100))
    clip = wav
    if kind == "mp3":
        clip = wav.with_suffix(".mp3")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), str(clip)], check=True)
    item = announcement("x", segments=(Speech("各位村民请注意。"), Pause(1.5), Clip(clip)))
    rendered = make_renderer(config, engine, tmp_path).render(item)
    speech_only = make_renderer(config, engine, tmp_path).render(announcement("各位村民请注意。"))
    assert rendered.duration_s == pytest.approx(speech_only.duration_s + 1.5 + 2.0, abs=0.06)


def test_a_long_announcement_is_never_held_in_memory(station, tmp_path):
    """Twelve minutes at 48 kHz are 150 MiB as float32: the render holds a few 20 s blocks of it."""
    import tracemalloc

    from broadcaster.tts.tone import ToneEngine

    config = load_content(station / "config.yaml", Problems(), TODAY).config
    renderer = make_renderer(config, ToneEngine(), tmp_path)
    text = "。".join(["各位村民请注意出入戴口罩有发烧咳嗽及时就医"] * 60) + "。"
    sentences("各位村民", Language.MANDARIN)  # the front end's dictionaries are not the audio
    tracemalloc.start()
    try:
        rendered = renderer.render(announcement(text, repeat=3))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rendered.duration_s > 600
    whole_mib = rendered.duration_s * OUTPUT_RATE_HZ * 4 / 2**20
    assert peak / 2**20 < whole_mib / 3, (peak / 2**20, whole_mib)
    written = read_wav(rendered.path)
    assert loudness.integrated_lufs(written) == pytest.approx(rendered.loudness_lufs, abs=0.01)
