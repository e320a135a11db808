"""Rendering the seed article (3,474 characters, the 2020 Foshan report), as a user runs it.

Run:  .venv/bin/python bench/bench_render.py [--language mandarin|cantonese] [--rounds 3]

Each round runs 1 and 2 back to back, so a slow spell of the machine slows both;
the figures are medians over the rounds.

1. Raw ``espeak-ng -w`` on the same text as the station gives it (the readings,
   one sentence per line), in one process: the floor.
2. Cold ``broadcaster render seed -o seed.wav`` (empty cache, whole process,
   imports included): wall time, the ratio to the floor, and the peak memory of
   the render process (its own; the espeak-ng workers are separate processes).
3. Warm: ``broadcaster render seed`` again, everything cached (median of 5): what
   a secretary waits for after ``check``, and what the station does at start-up.
4. Warm with ``-o seed.wav``: the same, plus a copy of the rendered file (100 MB).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from broadcaster.config import SpeechSettings  # noqa: E402
from broadcaster.language import Language  # noqa: E402
from broadcaster.textnorm import sentences  # noqa: E402
from broadcaster.tts.espeak import NORMAL_WPM, VOICES  # noqa: E402

ARTICLE = ROOT / "tests" / "corpus" / "seed" / "foshan-village-broadcast-article.txt"


def station(folder: Path, language: str) -> Path:
    shutil.copy(ROOT / "config.yaml", folder / "config.yaml")
    (folder / "announcements").mkdir()
    lines = ARTICLE.read_text("utf-8").splitlines()
    body = "".join(f"  {line}\n" if line.strip() else "\n" for line in lines)
    (folder / "announcements" / "seed.yaml").write_text(f"language: {language}\nchime: no\ntext: |\n{body}",
                                                        encoding="utf-8")  # fmt: skip
    return folder


def timed(command: list[str], cwd: Path, stdin: bytes | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, input=stdin, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--language", default="mandarin", choices=["mandarin", "cantonese"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    language = Language(args.language)
    text = ARTICLE.read_text("utf-8")
    romanized = "\n".join(s.romanized for s in sentences(text, language))
    speed = round(NORMAL_WPM * SpeechSettings().speed)
    raw, cold = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = station(Path(tmp), args.language)
        render = [sys.executable, "-m", "broadcaster", "render", "seed", "-o", str(folder / "seed.wav")]
        for _ in range(args.rounds):
            shutil.rmtree(folder / "data", ignore_errors=True)
            os.sync()
            raw.append(timed(["espeak-ng", "-v", VOICES[language], "-s", str(speed), "-b", "1", "-w",
                              str(folder / "raw.wav"), "--stdin"], folder, romanized.encode()))  # fmt: skip
            cold.append(timed(render, folder))
        # The largest of all finished child processes: the render (not its espeak-ng workers).
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        os.sync()  # the cold render's 300 MB on their way to disk would slow what follows
        warm = [timed(render[:-2], folder) for _ in range(7)]
        warm_copy = [timed(render, folder) for _ in range(5)]
    median = statistics.median
    print(f"seed article, {args.language}: {len(text)} characters, {args.rounds} rounds")
    print(f"raw espeak-ng -w, one process: {median(raw):.2f} s (each: {', '.join(f'{x:.2f}' for x in raw)})")
    print(f"cold render (whole process): {median(cold):.2f} s (each: {', '.join(f'{x:.2f}' for x in cold)})")
    print(f"ratio of the medians: {median(cold) / median(raw):.1f}x raw; per round: "
          f"{', '.join(f'{c / r:.1f}' for c, r in zip(cold, raw, strict=True))}")  # fmt: skip
    print(f"peak memory of the render process: {peak_mib:.0f} MiB")
    print(f"warm render (whole process, median of 7): {median(warm) * 1000:.0f} ms "
          f"(fastest {min(warm) * 1000:.0f} ms)")  # fmt: skip
    print(f"warm render -o seed.wav (median of 5): {median(warm_copy) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
