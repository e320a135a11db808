"""`voices`, `say` and `render` from the command line, with real espeak-ng and the audio lab."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from broadcaster.pcm import read_wav
from broadcaster.render import loudness
from tests.audiolab import RATE, active_seconds, best_correlation
from tests.conftest import REPO

HOTLINE = "请大家出入戴口罩，有发烧咳嗽及时就医，热线12345。"


def check_speech(path: Path, min_s: float) -> None:
    pcm = read_wav(path)
    assert pcm.rate_hz == 48_000
    assert pcm.duration_s > min_s
    assert loudness.integrated_lufs(pcm) == pytest.approx(-18.0, abs=1.0)
    assert loudness.true_peak_dbfs(pcm) <= -1.4


@pytest.mark.parametrize("language", ["mandarin", "cantonese"])
def test_say_writes_speech_that_passes_the_checks(station, run_cli, tmp_path, language):
    out = tmp_path / f"{language}.wav"
    result = run_cli("say", HOTLINE, "--language", language, "-o", str(out), cwd=station)
    assert result.code == 0, result.text
    check_speech(out, min_s=4.0)


def test_say_text_only_shows_the_readings(station, run_cli):
    text = "2020年1月28日10:23，热线12345，手机13800138000，1万多元，500ml，37.3℃，3-5天"
    mandarin = run_cli("say", text, "--language", "mandarin", "--text-only", cwd=station)
    assert mandarin.out.splitlines()[0] == (
        "二零二零年一月二十八日十点二十三分，热线幺二三四五，手机幺三八，零零幺三，八零零零，"
        "一万多元，五百毫升，三十七点三摄氏度，三到五天"
    )
    cantonese = run_cli("say", text, "--language", "cantonese", "--text-only", cwd=station)
    assert cantonese.out.splitlines()[0] == (
        "二零二零年一月廿八日十點廿三分，热线一二三四五，手机一三八，零零一三，八零零零，"
        "一万多元，五百毫升，攝氏三十七點三度，三至五天"
    )


def test_render_by_id_and_by_file_outside_the_station(station, run_cli, tmp_path):
    out = tmp_path / "hygiene.wav"
    result = run_cli("render", "hygiene", "-o", str(out), cwd=station)
    assert result.code == 0, result.text
    check_speech(out, min_s=10.0)
    loose = tmp_path / "loose.yaml"
    loose.write_text("language: cantonese\ntext: 各位街坊，唔好聚集。\n", encoding="utf-8")
    result = run_cli("render", str(loose), cwd=station)
    assert result.code == 0, result.text
    assert "loose:" in result.out


def test_render_unknown_id_suggests_the_right_one(station, run_cli):
    result = run_cli("render", "hygeine", cwd=station)
    assert result.code == 1
    assert result.err.strip() == "error: unknown announcement 'hygeine'; did you mean 'hygiene'?"


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg is not installed")
def test_say_writes_mp3(station, run_cli, tmp_path):
    out = tmp_path / "x.mp3"
    assert run_cli("say", "各位村民请注意。", "-o", str(out), cwd=station).code == 0
    assert out.read_bytes()[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")


def test_voices_lists_engines_and_why_one_cannot_be_used(station, run_cli):
    result = run_cli("voices", cwd=station)
    assert result.code == 0
    rows = [line.split() for line in result.out.splitlines()]
    assert ["espeak-ng", "cmn-latn-pinyin", "Mandarin", "yes"] in rows
    assert ["espeak-ng", "yue-latn-jyutping", "Cantonese", "yes"] in rows
    assert any(row[:3] == ["sherpa-onnx", "-", "Mandarin"] and row[3] == "no" for row in rows)


def test_say_without_output_plays_on_the_default_sound_device(station, audio_lab, tmp_path):
    expected = tmp_path / "expected.wav"
    cmd = [sys.executable, "-m", "broadcaster", "say", "各位村民请注意，出入戴口罩。"]
    subprocess.run([*cmd, "-o", str(expected)], cwd=station, check=True, env=audio_lab.env, timeout=60)
    a, b = audio_lab.record("zone_a"), audio_lab.record("zone_b")
    proc = subprocess.run(cmd, cwd=station, env=audio_lab.env, capture_output=True, text=True, timeout=60)
    recorded_a, recorded_b = a.stop(), b.stop()
    assert proc.returncode == 0, proc.stderr
    reference = read_wav(expected).samples
    assert best_correlation(recorded_a, reference) > 0.9
    assert active_seconds(recorded_a) > 0.5 * active_seconds(reference)
    assert len(recorded_b) > RATE and np.max(np.abs(recorded_b)) < 0.001
    assert len(recorded_a) > RATE  # the recorder really ran


@pytest.mark.parametrize("language", ["mandarin", "cantonese"])
def test_the_seed_article_renders_verbatim(station, run_cli, tmp_path, language):
    """The 2020 Foshan article as published: ……, quotes after full stops, » and >, LED, times."""
    article = (REPO / "tests" / "corpus" / "seed" / "foshan-village-broadcast-article.txt").read_text(
        encoding="utf-8"
    )
    body = "".join(f"  {line}\n" if line.strip() else "\n" for line in article.splitlines())
    (station / "announcements" / "seed.yaml").write_text(
        f"language: {language}\nchime: no\ntext: |\n{body}", encoding="utf-8"
    )
    out = tmp_path / "seed.wav"
    result = run_cli("render", "seed", "-o", str(out), cwd=station)
    assert result.code == 0, result.text
    check_speech(out, min_s=8 * 60.0)  # 3,474 characters: well over eight minutes of speech


def test_a_warm_render_only_looks_things_up(station):
    """Once rendered, `render ID` loads no audio library and no front end: it starts quickly."""
    command = [sys.executable, "-X", "importtime", "-m", "broadcaster", "render", "hygiene"]
    cold = subprocess.run(command, cwd=station, capture_output=True, text=True, timeout=300)
    warm = subprocess.run(command, cwd=station, capture_output=True, text=True, timeout=60)
    assert cold.returncode == 0 and warm.returncode == 0, warm.stderr
    assert warm.stdout == cold.stdout  # the same file, found in the cache
    imported = {line.rpartition("|")[2].strip() for line in warm.stderr.splitlines()
                if line.startswith("import time:")}  # fmt: skip
    heavy = {"numpy", "scipy", "soxr", "pydub", "pypinyin", "ToJyutping", "broadcaster.render.loudness"}
    assert "broadcaster.render.renderer" in imported
    assert imported & heavy == set()
    assert {"numpy", "pypinyin"} <= {line.rpartition("|")[2].strip() for line in cold.stderr.splitlines()}


def test_a_broken_file_does_not_stop_the_others_from_rendering(tmp_path, run_cli):
    station = tmp_path / "station"
    (station / "announcements").mkdir(parents=True)
    (station / "config.yaml").write_text("zones:\n  a: {device: default}\n", encoding="utf-8")
    (station / "announcements" / "good.yaml").write_text("language: mandarin\ntext: 各位村民请注意。\n",
                                                         encoding="utf-8")  # fmt: skip
    (station / "announcements" / "broken.yaml").write_text("language: mandarin\ntxet: 请注意。\n",
                                                           encoding="utf-8")  # fmt: skip
    one = run_cli("render", "good", cwd=station)
    assert one.code == 0, one.err
    assert "good:" in one.out and "broken" not in one.err
    own = run_cli("render", "broken", cwd=station)
    assert own.code == 1 and "broken.yaml:2:1" in own.err
    every = run_cli("render", "--all", cwd=station)
    assert every.code == 1
    assert "broken.yaml:2:1" in every.err and "1 rendered, 0 failed" in every.err
