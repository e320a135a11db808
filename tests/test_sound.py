"""Zones on real (virtual) sound cards: what the monitors recorded, and what the log says.

Runs on the audio lab: two PulseAudio null sinks, zone_a and zone_b, whose
monitors record exactly what each card played.
"""

from __future__ import annotations

import datetime as dt
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from broadcaster.audio.card import BLOCK_FRAMES, COMPLETED, DEVICE_BUFFER_S, FADE_S, INTERRUPTED
from broadcaster.config import Zone
from broadcaster.errors import AudioError
from broadcaster.pcm import Pcm, write_wav
from broadcaster.player.van import VanLoop
from broadcaster.player.zones import Item, Outputs, Player
from broadcaster.playlog import PlayLog
from tests.audiolab import RATE, active_seconds, best_correlation

pytestmark = pytest.mark.audio


def tone_item(folder: Path, name: str, hz: float, seconds: float) -> Item:
    t = np.arange(round(seconds * RATE)) / RATE
    edge = np.minimum(1.0, np.minimum(t, seconds - t) / 0.005)  # 5 ms ramps: no clicks
    pcm = Pcm((0.4 * np.sin(2 * np.pi * hz * t) * edge).astype(np.float32), RATE)
    path = folder / f"{name}.wav"
    write_wav(path, pcm)
    return Item(name, f"hash-{name}", path, seconds)


def edges(samples: np.ndarray, threshold: float = 0.05, window: int = 48) -> list[tuple[float, float]]:
    """(start, end) in seconds of each stretch of sound, from RMS over 1 ms windows."""
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > threshold
    changes = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
    return [(a * window / RATE, b * window / RATE) for a, b in zip(changes[::2], changes[1::2], strict=True)]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def station_outputs(lab_here, tmp_path):
    zones = {"a": Zone("a", "zone_a"), "b": Zone("b", "zone_b")}
    outputs = Outputs(zones).open()
    log = PlayLog(tmp_path / "log.sqlite")
    yield Player(outputs, log, now), log
    outputs.close()
    log.close()


def test_each_zone_plays_only_its_own_item_and_both_play_at_once(lab_here, station_outputs, tmp_path):
    player, log = station_outputs
    low, high = tone_item(tmp_path, "low", 500, 1.5), tone_item(tmp_path, "high", 1500, 1.0)
    rec_a, rec_b = lab_here.record("zone_a"), lab_here.record("zone_b")
    play_a = player.queue(low, "a", "manual")
    play_b = player.queue(high, "b", "manual")
    outcomes = [player.settle(play_a, 10), player.settle(play_b, 10)]
    a, b = rec_a.stop(), rec_b.stop()
    assert outcomes == [COMPLETED, COMPLETED]
    assert best_correlation(a, _samples(low)) > 0.95
    assert best_correlation(b, _samples(high)) > 0.95
    assert best_correlation(a, _samples(high)) < 0.3 and best_correlation(b, _samples(low)) < 0.3
    assert active_seconds(a) == pytest.approx(1.5, abs=0.05)
    assert active_seconds(b) == pytest.approx(1.0, abs=0.05)
    rows = list(log.plays())
    assert [(r.announcement_id, r.zone, r.outcome) for r in rows] == [
        ("low", "a", "completed"), ("high", "b", "completed")]  # fmt: skip


def _samples(item: Item) -> np.ndarray:
    from broadcaster.pcm import read_wav

    return read_wav(item.path).samples


def test_a_stereo_card_serves_two_zones(lab_here, tmp_path):
    zones = {"left": Zone("left", "zone_a", (1,)), "right": Zone("right", "zone_a", (2,))}
    outputs = Outputs(zones).open()
    log = PlayLog(tmp_path / "log.sqlite")
    try:
        assert len(outputs.cards) == 1
        player = Player(outputs, log, now)
        low, high = tone_item(tmp_path, "low", 500, 1.0), tone_item(tmp_path, "high", 1500, 1.0)
        recording = lab_here.record("zone_a", channels=2)
        plays = [player.queue(low, "left", "manual"), player.queue(high, "right", "manual")]
        assert [player.settle(p, 10) for p in plays] == [COMPLETED, COMPLETED]
        stereo = recording.stop()
    finally:
        outputs.close()
        log.close()
    assert best_correlation(stereo[:, 0], _samples(low)) > 0.95
    assert best_correlation(stereo[:, 1], _samples(high)) > 0.95
    assert best_correlation(stereo[:, 0], _samples(high)) < 0.3


@pytest.mark.parametrize("gap_s", [0.0, 0.5])
def test_items_follow_back_to_back_or_with_the_gap_within_20_ms(lab_here, station_outputs, tmp_path, gap_s):
    player, log = station_outputs
    items = [tone_item(tmp_path, "one", 700, 1.0), tone_item(tmp_path, "two", 1100, 1.0)]
    recording = lab_here.record("zone_a")
    outcomes = VanLoop(player, "a", items, loops=1, gap_s=gap_s).run()
    samples = recording.stop()
    assert outcomes == [("one", COMPLETED), ("two", COMPLETED)]
    # Where the first tone ends and the second begins: by frequency, not by level.
    spectrum_split = _frequency_change(samples, 700, 1100)
    first_end, second_start = spectrum_split
    assert second_start - first_end == pytest.approx(gap_s, abs=0.02)
    rows = list(log.plays())
    assert [r.outcome for r in rows] == ["completed", "completed"]


def _frequency_change(samples: np.ndarray, f1: float, f2: float) -> tuple[float, float]:
    """End of the f1 tone and start of the f2 tone, in seconds, by 5 ms windows."""
    window = 240
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    t = np.arange(window) / RATE

    def level(f: float) -> np.ndarray:
        return np.abs(frames @ np.exp(-2j * np.pi * f * t)) / window

    one, two = level(f1) > 0.05, level(f2) > 0.05
    end_one = (np.flatnonzero(one)[-1] + 1) * window / RATE
    start_two = np.flatnonzero(two)[0] * window / RATE
    return end_one, start_two


def test_a_stop_takes_effect_after_the_device_buffer_not_after_the_lead(lab_here, station_outputs, tmp_path):
    player, log = station_outputs
    item = tone_item(tmp_path, "long", 800, 5.0)
    recording = lab_here.record("zone_a")
    play = player.queue(item, "a", "manual")
    while not play.started:
        time.sleep(0.005)
    time.sleep(1.0)
    stopped_at = time.time()
    play.stop("cut for a test")
    outcome = player.settle(play, 5)
    samples = recording.stop()
    assert outcome == INTERRUPTED
    (start, end), *rest = edges(samples)
    assert rest == []
    heard = end - start
    expected = stopped_at - play.playback.started_at
    # What was queued ahead (the lead, 0.2 s) is taken back and mixed again with the fade:
    # only the device's own buffer, the one block kept and the fade still sound.
    limit = DEVICE_BUFFER_S + BLOCK_FRAMES / RATE + FADE_S
    assert heard - expected < limit + 0.05  # room for a busy machine
    row = next(log.plays())
    assert (row.outcome, row.reason) == ("interrupted", "cut for a test")


def test_log_rows_agree_with_the_recording(lab_here, station_outputs, tmp_path):
    player, log = station_outputs
    items = [tone_item(tmp_path, "one", 600, 1.2), tone_item(tmp_path, "two", 900, 0.8)]
    recording = lab_here.record("zone_a")
    VanLoop(player, "a", items, loops=1, gap_s=0.7).run()
    samples = recording.stop()
    heard = edges(samples)
    rows = list(log.plays())
    assert len(heard) == len(rows) == 2
    for (start, end), row in zip(heard, rows, strict=True):
        logged = _seconds(row.ended_at) - _seconds(row.started_at)
        assert logged == pytest.approx(end - start, abs=0.03)
    gap_logged = _seconds(rows[1].started_at) - _seconds(rows[0].ended_at)
    assert gap_logged == pytest.approx(heard[1][0] - heard[0][1], abs=0.03)


def _seconds(text: str | None) -> float:
    from broadcaster.playlog import parse_iso

    assert text is not None
    return parse_iso(text).timestamp()


def test_a_missing_card_names_the_cards_there_are(lab_here):
    with pytest.raises(AudioError) as caught:
        Outputs({"square": Zone("square", "USB Audio")})
    message = str(caught.value)
    assert message.startswith("zone 'square': sound card 'USB Audio' not found; available: ")
    assert "'zone_a'" in message and "'zone_b'" in message


# --- the command line, in real processes ----------------------------------------------------------


@pytest.fixture
def short_station(station):
    (station / "announcements" / "short.yaml").write_text(
        "title: 短通知\nlanguage: mandarin\nchime: no\ntext: 各位村民请注意。\n", encoding="utf-8"
    )
    long_text = "各位村民请注意，出入戴口罩，勤洗手。"
    (station / "announcements" / "long.yaml").write_text(
        f"title: 长通知\nlanguage: mandarin\nchime: no\nrepeat: 3\ntext: {long_text}\n", encoding="utf-8"
    )
    return station


def broadcaster(*args: str, cwd: Path, env: dict[str, str], **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, **kw)  # fmt: skip


def test_van_play_twice_on_zone_a_logs_two_completed_rows(audio_lab, short_station):
    rec_a, rec_b = audio_lab.record("zone_a"), audio_lab.record("zone_b")
    done = broadcaster("play", "announcements/short.yaml", "--device", "zone_a", "--loop", "2",
                       "--gap", "1s", cwd=short_station, env=audio_lab.env)  # fmt: skip
    a, b = rec_a.stop(), rec_b.stop()
    assert done.returncode == 0, done.stderr
    assert len(edges(a, threshold=0.01, window=480)) >= 2
    assert np.max(np.abs(b)) < 0.001
    csv = broadcaster("log", "--format", "csv", cwd=short_station, env=audio_lab.env)
    lines = csv.stdout.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id,requested,started,ended,announcement,title,zone,trigger,outcome")
    expected = ['"short"', '"短通知"', '"zone_a"', "van", "completed"]
    assert [line.split(",")[4:9] for line in lines[1:]] == [expected] * 2


def _wait_for_row(db: Path, outcome: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            with sqlite3.connect(db) as connection:
                try:
                    if connection.execute("SELECT 1 FROM plays WHERE outcome = ?", (outcome,)).fetchone():
                        return
                except sqlite3.OperationalError:
                    pass
        time.sleep(0.05)
    raise AssertionError(f"no '{outcome}' row appeared")


def test_kill_9_during_a_play_then_a_restart_marks_it_interrupted(audio_lab, short_station):
    db = short_station / "data" / "playlog.sqlite"
    broadcaster("render", "long", cwd=short_station, env=audio_lab.env)
    process = subprocess.Popen([sys.executable, "-m", "broadcaster", "play", "long", "--device", "zone_a"],
                               cwd=short_station, env=audio_lab.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    _wait_for_row(db, "playing")
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    again = broadcaster("play", "short", "--device", "zone_a", cwd=short_station, env=audio_lab.env)
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = connection.execute("SELECT announcement_id, outcome, reason FROM plays ORDER BY id").fetchall()
    assert rows == [("long", "interrupted", "the program stopped during the play"),
                    ("short", "completed", "")]  # fmt: skip


def test_ctrl_c_stops_cleanly_and_logs_the_play_as_interrupted(audio_lab, short_station):
    db = short_station / "data" / "playlog.sqlite"
    broadcaster("render", "long", cwd=short_station, env=audio_lab.env)
    process = subprocess.Popen([sys.executable, "-m", "broadcaster", "play", "long", "--device", "zone_a"],
                               cwd=short_station, env=audio_lab.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    _wait_for_row(db, "playing")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert "Traceback" not in err
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT outcome, reason FROM plays").fetchall()
    assert rows == [("interrupted", "stopped with Ctrl-C")]


def test_devices_lists_cards_and_the_zones_on_them(audio_lab, station):
    config = station / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("device: default", "device: zone_b"),
                      encoding="utf-8")  # fmt: skip
    result = broadcaster("devices", cwd=station, env=audio_lab.env)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert any(row[1:] == ["zone_b", "32", "village"] for row in rows)
    assert any(row[1:] == ["zone_a", "32", "-"] for row in rows)
    config.write_text(config.read_text(encoding="utf-8").replace("device: zone_b", "device: USB"),
                      encoding="utf-8")  # fmt: skip
    missing = broadcaster("devices", cwd=station, env=audio_lab.env)
    assert missing.returncode == 1
    assert "error: zone 'village': sound card 'USB' not found; available: " in missing.stderr


def _asleep(zones, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Outputs opened with a 0.5 s idle sleep, once their card sleeps; and a play log."""
    from broadcaster.audio import card as audio

    monkeypatch.setattr(audio, "IDLE_SLEEP_S", 0.5)
    outputs = Outputs(zones).open()
    card = outputs["a"].card
    deadline = time.monotonic() + 5
    while not card.asleep and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)
    return outputs, PlayLog(tmp_path / "log.sqlite")


def test_an_idle_card_sleeps_and_wakes_for_the_next_item_without_losing_its_start(lab_here, tmp_path,
                                                                                  monkeypatch):  # fmt: skip
    from broadcaster.audio import card as audio

    zones = {"a": Zone("a", "zone_a")}
    outputs, log = _asleep(zones, tmp_path, monkeypatch)
    try:
        card = outputs["a"].card
        assert card.asleep and card.alive  # type: ignore[attr-defined]
        time.sleep(0.3)  # the stream drains its last buffers
        quiet_since = card.last_callback
        time.sleep(0.5)
        assert card.last_callback == quiet_since  # no callbacks while asleep: no CPU
        item = tone_item(tmp_path, "after-sleep", 900, 1.0)
        recording = lab_here.record("zone_a")
        taken = card.played_until
        play = Player(outputs, log, now).queue(item, "a", "manual")
        assert Player(outputs, log, now).settle(play, 10) == COMPLETED
        samples = recording.stop()
    finally:
        outputs.close()
        log.close()
    assert best_correlation(samples, _samples(item)) > 0.95  # the whole tone, its start included
    # Placed after the warm-up of the woken stream: 0.2 s of silence reach the card first.
    assert play.playback.start_frame is not None
    assert play.playback.start_frame - taken >= round(audio.WARM_UP_S * RATE)


def test_a_slot_due_while_the_card_sleeps_still_starts_on_time(lab_here, tmp_path, monkeypatch):
    from broadcaster.player.station import Priority, Request, Station
    from broadcaster.playlog import parse_iso

    zones = {"a": Zone("a", "zone_a")}
    outputs, log = _asleep(zones, tmp_path, monkeypatch)
    try:
        deadline = time.monotonic() + 5
        station = Station(Player(outputs, log, now), zones, now, lambda moment: False)
        item = tone_item(tmp_path, "slot", 700, 0.5)
        recording = lab_here.record("zone_a")  # lab sinks were seen to be slow with no reader
        due = now() + dt.timedelta(seconds=1)  # handed on early, as the scheduler does
        station.submit(Request((item,), "a", Priority.NORMAL, "schedule", due, "daily#1"))
        while not any(p.outcome == "completed" for p in log.plays()) and time.monotonic() < deadline + 5:
            station.step()
            time.sleep(0.01)
        play = next(log.plays())
        recording.stop()
    finally:
        outputs.close()
        log.close()
    assert play.outcome == "completed"
    assert abs((parse_iso(play.started_at) - due).total_seconds()) < 0.02
