"""Speech benchmarks: cold and warm rendering, and pre-rendering 200 announcements.

Run:  .venv/bin/python bench/bench_speech.py [--count 200]

1. Cold render of every sample announcement (empty cache, one at a time)
   against raw ``espeak-ng -w`` on the same normalized text: the ratio is what
   sentence splitting, verification, the chime, loudness and the true-peak
   limiter cost on top of the engine itself.
2. Warm render (everything cached) per announcement: what a station pays per
   announcement at start-up or reload.
3. Pre-render of N distinct announcements across all cores (render --all).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from broadcaster.content.load import load_content  # noqa: E402
from broadcaster.content.models import Speech  # noqa: E402
from broadcaster.render.renderer import Renderer, render_all  # noqa: E402
from broadcaster.schema.problems import Problems  # noqa: E402
from broadcaster.textnorm import sentences  # noqa: E402
from broadcaster.tts import Speaker, all_engines  # noqa: E402
from broadcaster.tts.cache import AudioCache  # noqa: E402
from broadcaster.tts.espeak import NORMAL_WPM, VOICES  # noqa: E402


def renderer_in(folder: Path, config) -> Renderer:  # type: ignore[no-untyped-def]
    speaker = Speaker(all_engines(), AudioCache(folder / "speech"))
    return Renderer(config, speaker, folder / "announcements")


def romanized(text: str, language, config) -> str:  # type: ignore[no-untyped-def]
    """What espeak-ng is given for ``text``: the readings, sentence by sentence."""
    return "\n".join(s.romanized for s in sentences(text, language, config.lexicon[language]))


def raw_espeak_s(text: str, language, config) -> float:  # type: ignore[no-untyped-def]
    settings = config.speech[language]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(
            ["espeak-ng", "-v", VOICES[language], "-s", str(round(NORMAL_WPM * settings.speed)),
             "-b", "1", "-w", f"{tmp}/x.wav", "--stdin"],
            input=text.encode(), check=True,
        )  # fmt: skip
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    content = load_content(ROOT / "config.yaml", Problems(), dt.date.today())
    config = content.config
    samples = list(content.announcements.values())

    with tempfile.TemporaryDirectory() as tmp:
        renderer = renderer_in(Path(tmp), config)
        cold, raw = 0.0, 0.0
        for a in samples:
            started = time.perf_counter()
            renderer.render(a)
            cold += time.perf_counter() - started
            raw += raw_espeak_s(romanized(a.text, a.language, config), a.language, config)
        warm = []
        for _ in range(5):
            fresh = renderer_in(Path(tmp), config)  # a new process would start like this
            for a in samples:
                started = time.perf_counter()
                fresh.render(a)
                warm.append(time.perf_counter() - started)

    print(f"samples: {len(samples)} announcements")
    print(f"cold render, one at a time: {cold:.2f} s; raw espeak-ng -w: {raw:.2f} s; ratio {cold / raw:.2f}x")
    print(f"warm render per announcement: median {statistics.median(warm) * 1000:.1f} ms, "
          f"max {max(warm) * 1000:.1f} ms")  # fmt: skip

    many = []
    for i in range(args.count):
        a = samples[i % len(samples)]
        text = f"第{i + 1}号通知。" + a.text
        many.append(dataclasses.replace(a, id=f"{a.id}-{i}", segments=(Speech(text),)))
    with tempfile.TemporaryDirectory() as tmp:
        renderer = renderer_in(Path(tmp), config)
        started = time.perf_counter()
        done, failed = render_all(renderer, many, workers=os.cpu_count())
        elapsed = time.perf_counter() - started
    audio_s = sum(r.duration_s for r in done)
    print(f"pre-render {len(many)} announcements on {os.cpu_count()} cores: {elapsed:.1f} s "
          f"({elapsed / len(many) * 1000:.0f} ms each, {audio_s / 60:.0f} min of audio, "
          f"{len(failed)} failed)")  # fmt: skip


if __name__ == "__main__":
    main()
