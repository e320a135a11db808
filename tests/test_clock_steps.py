"""A real station whose wall clock is stepped back and forward while it runs (the audio lab).

The station runs with its wall clock an hour ahead, plays a slot, and is put right:
a slot it had not reached comes due in its time and plays once. Then the clock
jumps 15 minutes forward: a slot more than the misfire limit late is logged
missed, a later one plays late. Both steps are counted in ``status``.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from broadcaster.pcm import read_wav
from tests.audiolab import active_seconds
from tests.conftest import REPO
from tests.test_daemon import cli, rows, wait_until

pytestmark = pytest.mark.audio

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def test_slots_across_clock_steps_play_once_or_are_logged_missed(audio_lab, tmp_path):
    station = tmp_path / "station"
    (station / "announcements").mkdir(parents=True)
    (station / "playlists").mkdir()
    config = "timezone: Asia/Shanghai\nzones:\n  a: {device: zone_a}\n"
    (station / "config.yaml").write_text(config, encoding="utf-8")
    beep = "language: mandarin\nchime: no\ntext: 各位村民请注意。\n"
    (station / "announcements" / "beep.yaml").write_text(beep, encoding="utf-8")
    assert cli(station, audio_lab.env, "render", "--all").returncode == 0
    offset = tmp_path / "offset"
    step(offset, "3600")
    real = dt.datetime.now(SHANGHAI).replace(microsecond=0)
    slots = {
        "while ahead": real + dt.timedelta(hours=1, seconds=10),
        "not reached before the step back": real + dt.timedelta(seconds=40),
        "skipped by 9 minutes": real + dt.timedelta(minutes=6),
        "skipped by 2 minutes": real + dt.timedelta(minutes=13),
    }
    lines = "".join(f"  - at: {t.strftime('%H:%M:%S')}\n    play: beep\n" for t in slots.values())
    (station / "playlists" / "steps.yaml").write_text(f"slots:\n{lines}", encoding="utf-8")
    recording = audio_lab.record("zone_a")
    log = (tmp_path / "station.log").open("w")
    command = [sys.executable, str(REPO / "tests" / "clockstation.py"), str(offset)]
    process = subprocess.Popen(command, cwd=station, env=audio_lab.env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: [r[3] for r in rows(station)] == ["completed"], 30)
        step(offset, "0")  # put right: an hour back
        wait_until(lambda: [r[3] for r in rows(station)] == ["completed"] * 2, 60)
        step(offset, "900")  # then 15 minutes forward
        wait_until(lambda: [r[3] for r in rows(station)] == ["completed"] * 2 + ["missed", "completed"], 30)
        status = json.loads(cli(station, audio_lab.env, "status", "--json").stdout)
    finally:
        process.terminate()
        process.wait(30)
        log.close()
        samples = recording.stop()
    played = rows(station)
    assert [r[0] for r in played] == ["beep"] * 4
    starts = [dt.datetime.fromisoformat(r[5]) if r[5] else None for r in played]
    assert "late" in played[2][4] and starts[2] is None, played[2]
    heard, due = starts, list(slots.values())
    assert abs((heard[0] - due[0]).total_seconds()) < 6  # the tick comes every 5 s
    assert abs((heard[1] - due[1]).total_seconds()) < 6
    assert 0 < (heard[3] - due[3]).total_seconds() < 300  # played late, within the misfire limit
    assert status["clock_steps"] == 2
    # Three plays reached the loudspeaker, and nothing else.
    rendered = next((station / "data" / "cache" / "announcements").glob("*.wav"))
    assert active_seconds(samples) == pytest.approx(3 * active_seconds(read_wav(rendered).samples), rel=0.15)


def step(offset, seconds: str) -> None:
    """Set the station's clock offset at once: a new file renamed over the old one."""
    staged = offset.with_suffix(".new")
    staged.write_text(seconds)
    staged.replace(offset)
