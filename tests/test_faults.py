"""Faults a station meets in the field, and what it must do about them.

Marked ``faults``; part of the normal test run. docs/reliability.md lists each
case with its measured result.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from broadcaster.playlog import PlayLog

pytestmark = pytest.mark.faults

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB file system of our own, so that the disk can really run full."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:  # ENOSPC: the disk is full
            pass
    return filler


def test_a_full_disk_keeps_plays_in_memory_and_catches_up(small_disk):
    log = PlayLog(small_disk / "playlog.sqlite")
    now = dt.datetime(2026, 11, 29, 8, tzinfo=SHANGHAI)
    written = log.start("hygiene", "h", "square", "schedule", now, now)
    filler = fill(small_disk)
    kept = []
    for i in range(50):  # plays go on while nothing can be written
        play = log.start("hotline", "h", "square", "schedule", now + dt.timedelta(minutes=i))
        log.finish(play, "completed", now + dt.timedelta(minutes=i, seconds=30))
        kept.append(play)
    log.finish(written, "completed", now + dt.timedelta(seconds=40))
    assert log.problem is not None and "cannot write the play log" in log.problem
    assert all(play < 0 for play in kept[1:])
    filler.unlink()
    assert log.flush() is True
    assert log.problem is None
    plays = list(log.plays())
    assert [p.outcome for p in plays] == ["completed"] * 51
    assert plays[0].announcement_id == "hygiene" and plays[0].ended_at == "2026-11-29T00:00:40.000Z"
    assert log.integrity() == "ok"
    log.close()


def test_kill_9_at_20_random_moments_leaves_a_sound_database(tmp_path):
    """A writer killed at random points: the database is intact and every open play is reconciled."""
    db = tmp_path / "playlog.sqlite"
    writer = tmp_path / "writer.py"
    writer.write_text(
        "import datetime as dt, sys, time\n"
        "from broadcaster.playlog import PlayLog\n"
        f"log = PlayLog(__import__('pathlib').Path({str(db)!r}))\n"
        "now = dt.datetime.now(dt.UTC)\n"
        "while True:\n"
        "    play = log.start('hygiene', 'h', 'square', 'schedule', now, now)\n"
        "    time.sleep(0.001)\n"
        "    log.finish(play, 'completed', now)\n"
    )
    rng = random.Random(20)
    for _ in range(20):
        process = subprocess.Popen([sys.executable, str(writer)])
        time.sleep(0.3 + rng.random() * 0.4)
        process.send_signal(signal.SIGKILL)
        process.wait()
        log = PlayLog(db)
        assert log.integrity() == "ok"
        log.reconcile(dt.datetime.now(dt.UTC))
        open_plays = [p for p in log.plays() if p.outcome == "playing"]
        log.close()
        assert open_plays == []
    with sqlite3.connect(db) as connection:
        outcomes = dict(connection.execute("SELECT outcome, count(*) FROM plays GROUP BY outcome").fetchall())
    assert outcomes["completed"] > 100
    assert set(outcomes) <= {"completed", "interrupted"}


# --- the sound server dies under a running station, then comes back ------------------------------


def _cli(station: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=station, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def _wait(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    """Until ``predicate()``; an IndexError (no row yet) counts as not yet."""
    deadline = time.monotonic() + timeout
    while not _holds(predicate):
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def _holds(predicate) -> bool:  # type: ignore[no-untyped-def]
    try:
        return bool(predicate())
    except IndexError:
        return False


def pactl(lab, *args: str) -> str:  # type: ignore[no-untyped-def]
    done = subprocess.run(["pactl", *args], env=lab.env, capture_output=True, text=True, check=True)
    return done.stdout


def unload_sink(lab, name: str) -> None:  # type: ignore[no-untyped-def]
    """Take a sink away, as when its USB card is pulled."""
    module = next(line.split()[0] for line in pactl(lab, "list", "short", "modules").splitlines()
                  if f"sink_name={name}" in line)  # fmt: skip
    pactl(lab, "unload-module", module)


def load_sink(lab, name: str) -> None:  # type: ignore[no-untyped-def]
    pactl(lab, "load-module", "module-null-sink", f"sink_name={name}", "rate=48000", "channels=2")


def card_alive(station: Path, env: dict[str, str], card: str) -> bool:
    status = json.loads(_cli(station, env, "status", "--json").stdout)
    return bool(status["cards"][card]["alive"])


def _rows(station: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(station / "data" / "playlog.sqlite") as db:
        return db.execute("SELECT announcement_id, outcome, reason FROM plays ORDER BY id").fetchall()


def make_station(folder: Path, zones: tuple[str, ...], config_extra: str = "") -> Path:
    """A station with a long and a short announcement, one zone per sink."""
    station = folder / "station"
    (station / "announcements").mkdir(parents=True)
    config = "zones:\n" + "".join(f"  {z[-1]}: {{device: {z}}}\n" for z in zones) + config_extra
    (station / "config.yaml").write_text(config, encoding="utf-8")
    for name, body in (("long", "repeat: 4\ntext: 各位村民请注意，出入戴口罩，勤洗手。"),
                       ("short", "text: 各位村民请注意。")):  # fmt: skip
        (station / "announcements" / f"{name}.yaml").write_text(
            f"language: mandarin\nchime: no\n{body}\n", encoding="utf-8"
        )
    return station


def start_station(station: Path, env: dict[str, str],
                  prefix: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:  # fmt: skip
    """``broadcaster run`` (after ``prefix``), once it answers on its control socket."""
    daemon = subprocess.Popen([*prefix, sys.executable, "-m", "broadcaster", "run"], cwd=station, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    _wait(lambda: _cli(station, env, "status").returncode == 0, 60)
    return daemon


@contextlib.contextmanager
def running_station(folder: Path, zones: tuple[str, ...], before_start=None,  # type: ignore[no-untyped-def]
                    config_extra: str = "", env: dict[str, str] | None = None):  # fmt: skip
    """A lab of its own (its server may be killed), a station with a long and a short
    announcement on one zone per sink, and ``broadcaster run`` answering."""
    from tests.audiolab import AudioLab

    lab = AudioLab(zones=zones).start()
    station = make_station(folder, zones, config_extra)
    daemon = None
    try:
        if before_start:
            before_start(lab, station)
        daemon = start_station(station, {**lab.env, **(env or {})})
        yield lab, station, daemon
    finally:
        if daemon is not None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(20)
        lab.stop()


@pytest.mark.audio
def test_the_sound_server_dies_mid_play_and_the_station_recovers(tmp_path):
    with running_station(tmp_path, ("zone_a",)) as (lab, station, daemon):
        assert _cli(station, lab.env, "send", "long").returncode == 0
        _wait(lambda: _rows(station)[-1][1] == "playing", 10)
        time.sleep(1.0)
        lab.kill_server()
        _wait(lambda: _rows(station)[-1][1] != "playing", 10)
        assert _rows(station)[-1][:2] == ("long", "failed")  # never "completed"
        status = json.loads(_cli(station, lab.env, "status", "--json").stdout)
        assert not status["cards"]["zone_a"]["alive"]
        assert any("zone_a" in error for error in status["errors"])
        lab.start()  # the server comes back
        _wait(lambda: card_alive(station, lab.env, "zone_a"), 30)
        recording = lab.record("zone_a")
        assert _cli(station, lab.env, "send", "short").returncode == 0
        _wait(lambda: _rows(station)[-1][:2] == ("short", "completed"), 20)
        assert recording.stop().max() > 0.05  # really heard
    assert daemon.returncode == 0


# --- bad input ------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

YAML_BITS = st.sampled_from([
    "title: ", "language: ", "mandarin", "cantonese", "text: ", "segments:\n", "  - ", "pause: ",
    "clip: ", "../", "!!python/object:os.system ", "&a ", "*a", "slots:\n", "at: ", "7:30", "every: ",
    "between: ", "play: ", "[", "]", "{", "}", ":", "\n", "\t", "  ", "\"", "'", "各位村民", "no", "-",
    "2020-02-30", "30s", "zones: ", "loop:\n", "gap: ", "\ufeff", "#", "%YAML 1.1\n", "---\n", "...",
])  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(YAML_BITS, max_size=30), raw=st.binary(max_size=40), kind=st.sampled_from(
    ["announcements", "playlists", "config"]))  # fmt: skip
def test_check_never_shows_a_traceback(parts, raw, kind, tmp_path_factory):
    from broadcaster.cli import main as cli
    from broadcaster.i18n import set_language

    root = tmp_path_factory.mktemp("fuzz")
    for folder in ("announcements", "playlists"):
        (root / folder).mkdir()
    (root / "announcements" / "hotline.yaml").write_text("language: mandarin\ntext: 热线\n", encoding="utf-8")
    data = "".join(parts).encode() + raw
    target = root / "config.yaml" if kind == "config" else root / kind / "fuzz.yaml"
    target.write_bytes(data)
    code = cli.main(["--config", str(root / "config.yaml"), "check", str(target)])
    set_language("en")
    assert code in (0, 1)


@pytest.mark.audio
def test_a_short_soak_misses_nothing_and_does_not_grow(tmp_path):
    from tests.soaklib import soak

    result = soak(tmp_path, minutes=1.5)
    assert result["exit_code"] == 0
    assert (result["missed"], result["failed"], result["dropout"]) == (0, 0, 0)
    assert result["plays"] >= 30  # back to back on two zones
    assert result["completed"] + result["interrupted"] == result["plays"]  # SIGTERM cuts the last ones
    assert result["underflows"] == 0 and result["gaps"] == 0
    assert result["rows_not_matching_the_recording"] == []
    assert result["fd_growth"] <= 2
    assert result["rss_growth_kib"] < 10 * 1024


@pytest.mark.audio
def test_a_card_removed_mid_play_does_not_go_on_in_another_zone(tmp_path):
    from tests.audiolab import active_seconds

    with running_station(tmp_path, ("zone_a", "zone_b")) as (lab, station, daemon):
        other = lab.record("zone_b")
        assert _cli(station, lab.env, "send", "long", "--zone", "a").returncode == 0
        _wait(lambda: _rows(station)[-1][1] == "playing", 10)
        time.sleep(1.0)
        unload_sink(lab, "zone_a")  # the USB card is pulled
        _wait(lambda: _rows(station)[-1][1] != "playing", 10)
        time.sleep(2.0)
        leaked = active_seconds(other.stop())
        assert _rows(station)[-1] == ("long", "failed", "the sound card was removed")
        assert leaked < 0.2, f"{leaked:.2f} s of zone a's announcement played in zone b"
        load_sink(lab, "zone_a")
        _wait(lambda: card_alive(station, lab.env, "zone_a"), 30)
        assert _cli(station, lab.env, "send", "short", "--zone", "a").returncode == 0
        _wait(lambda: _rows(station)[-1][:2] == ("short", "completed"), 20)
    assert daemon.returncode == 0


@pytest.mark.audio
def test_a_card_missing_at_start_fails_its_plays_then_is_found(tmp_path):
    with running_station(tmp_path, ("zone_a", "zone_c"), lambda lab, _: unload_sink(lab, "zone_c")) as (
        lab, station, daemon,
    ):  # fmt: skip
        assert not card_alive(station, lab.env, "zone_c")
        assert _cli(station, lab.env, "send", "short", "--zone", "c").returncode == 0
        _wait(lambda: _rows(station) and _rows(station)[-1][1] == "failed", 10)
        assert _rows(station)[-1][2].startswith("sound card 'zone_c' is not available")
        assert _cli(station, lab.env, "send", "short", "--zone", "a").returncode == 0  # the rest plays
        _wait(lambda: _rows(station)[-1][:2] == ("short", "completed"), 20)
        load_sink(lab, "zone_c")  # the card is plugged in
        _wait(lambda: card_alive(station, lab.env, "zone_c"), 30)
        assert _cli(station, lab.env, "send", "short", "--zone", "c").returncode == 0
        _wait(lambda: len(_rows(station)) == 3 and _rows(station)[-1][1] == "completed", 20)
    assert daemon.returncode == 0


# --- the same faults on the real station (issue: faults found by independent testing) ---------


@pytest.mark.audio
def test_the_station_on_a_full_disk_catches_up_and_finishes_the_play_in_flight(small_disk, tmp_path):
    """The play log on a disk that runs full: plays go on; when there is room again every row is
    written, the one playing at that moment included, and none is left 'playing'."""
    path = small_disk / "playlog.sqlite"

    def rows() -> list[tuple[str, str]]:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT announcement_id, outcome FROM plays ORDER BY id").fetchall()

    with running_station(tmp_path, ("zone_a",), config_extra=f"play_log: {path}\n") as (lab, station, _):
        assert _cli(station, lab.env, "send", "short").returncode == 0
        _wait(lambda: rows()[-1] == ("short", "completed"), 60)  # a busy machine renders slowly
        filler = fill(small_disk)
        assert _cli(station, lab.env, "send", "short").returncode == 0
        _wait(lambda: "cannot write the play log" in " ".join(
            json.loads(_cli(station, lab.env, "status", "--json").stdout)["errors"]), 20)  # fmt: skip
        time.sleep(4.0)  # the second play ends while nothing can be written
        assert _cli(station, lab.env, "send", "long").returncode == 0
        time.sleep(1.0)
        filler.unlink()  # room again while "long" plays: the station catches up within 5 s
        _wait(lambda: rows()[-1] == ("long", "completed"), 60)
        assert rows() == [("short", "completed"), ("short", "completed"), ("long", "completed")]


@pytest.mark.audio
def test_a_station_whose_engine_hangs_starts_on_the_audio_it_has(tmp_path):
    """Rendered once; then espeak-ng hangs on everything (its version and voices too): the station
    starts on the cached audio at once and plays."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "espeak-ng").write_text("#!/bin/sh\nsleep 120\n")
    (fake / "espeak-ng").chmod(0o755)

    def render_first(lab, station):  # type: ignore[no-untyped-def]
        assert _cli(station, lab.env, "render", "--all").returncode == 0  # with the real espeak-ng

    hanging = {"PATH": f"{fake}:{os.environ['PATH']}"}
    with running_station(tmp_path, ("zone_a",), render_first, env=hanging) as (lab, station, _):
        status = json.loads(_cli(station, lab.env, "status", "--json").stdout)
        assert status["cache"] == {"rendered": 2, "announcements": 2}
        assert status["errors"] == []
        assert _cli(station, lab.env, "send", "short").returncode == 0
        _wait(lambda: _rows(station)[-1][:2] == ("short", "completed"), 20)


@pytest.mark.audio
def test_an_announcement_that_cannot_be_rendered_does_not_stop_the_station(tmp_path):
    """A clip that is not audio: that announcement fails, named in status; a text of 200 kB is an
    error at its line; the station starts and plays the rest. Its data folder is closed to others."""

    def bad_clip(lab, station):  # type: ignore[no-untyped-def]
        (station / "clips").mkdir()
        (station / "clips" / "bad.mp3").write_bytes(b"not audio at all " * 200)
        (station / "announcements" / "bad.yaml").write_text(
            "language: mandarin\nsegments:\n  - clip: clips/bad.mp3\n", encoding="utf-8")
        huge = "各位村民请注意，出入戴口罩，勤洗手，莫聚集。" * 3_000  # 200 kB: hours of speech
        (station / "announcements" / "huge.yaml").write_text(f"language: mandarin\ntext: {huge}\n",
                                                             encoding="utf-8")  # fmt: skip

    with running_station(tmp_path, ("zone_a",), bad_clip) as (lab, station, _):
        status = json.loads(_cli(station, lab.env, "status", "--json").stdout)
        assert status["cache"] == {"rendered": 2, "announcements": 3}
        clip = "bad: cannot read clip bad.mp3: Decoding failed. ffmpeg returned error code: 1"
        assert any(error.startswith(f"{clip} (since ") for error in status["errors"]), status["errors"]
        assert any("huge.yaml:2:7" in error and "10000" in error for error in status["errors"])
        assert _cli(station, lab.env, "send", "short").returncode == 0
        _wait(lambda: _rows(station)[-1][:2] == ("short", "completed"), 20)
        sent = _cli(station, lab.env, "send", "bad")
        assert sent.returncode == 1 and "bad" in sent.stderr and "Traceback" not in sent.stderr
        data = station / "data"
        assert stat.S_IMODE(data.stat().st_mode) & 0o007 == 0
        assert stat.S_IMODE((data / "playlog.sqlite").stat().st_mode) & 0o007 == 0


@pytest.mark.audio
def test_a_station_that_is_pid_1_reconciles_the_rows_of_its_earlier_start(tmp_path):
    """In a container the station is PID 1 at every start: rows left 'playing' by a killed start
    are still told from its own (by the start that wrote them, not the pid)."""
    from tests.audiolab import AudioLab

    as_pid_1 = ("unshare", "--pid", "--fork", "--kill-child")
    lab = AudioLab(zones=("zone_a",)).start()
    station = make_station(tmp_path, ("zone_a",))
    daemon = None
    try:
        daemon = start_station(station, lab.env, as_pid_1)
        assert _cli(station, lab.env, "send", "long").returncode == 0
        _wait(lambda: _rows(station)[-1][1] == "playing", 20)
        daemon.kill()  # unshare dies, and takes the station (PID 1 in there) with it
        daemon.wait(10)
        with sqlite3.connect(station / "data" / "playlog.sqlite") as db:
            assert db.execute("SELECT pid, outcome FROM plays").fetchall() == [(1, "playing")]
        daemon = start_station(station, lab.env, as_pid_1)
        _wait(lambda: _rows(station)[0][1] != "playing", 10)
        assert _rows(station)[0][:2] == ("long", "interrupted")
    finally:
        if daemon is not None and daemon.poll() is None:
            # The station itself (unshare's child) stops cleanly; unshare then ends too.
            subprocess.run(["pkill", "-TERM", "-P", str(daemon.pid)], check=False)
            daemon.wait(20)
        lab.stop()


@pytest.mark.audio
def test_a_loop_on_a_missing_card_fails_now_and_then_not_in_a_storm(tmp_path):
    """A background loop with no gap on a card that is not there: a failed row after 1, 2, 4 …
    seconds, not hundreds a second."""

    def loop_on_missing_card(lab, station):  # type: ignore[no-untyped-def]
        unload_sink(lab, "zone_c")
        (station / "playlists").mkdir()
        (station / "playlists" / "loop.yaml").write_text("zones: [c]\nloop:\n  play: [short]\n  gap: 0s\n",
                                                         encoding="utf-8")  # fmt: skip

    with running_station(tmp_path, ("zone_a", "zone_c"), loop_on_missing_card) as (lab, station, _):
        time.sleep(12.0)
        failed = [row for row in _rows(station) if row[1] == "failed"]
    assert 3 <= len(failed) <= 6, failed  # at 0, 1, 3 and 7 s (and 15)


@pytest.mark.audio
def test_send_in_quiet_hours_is_refused_with_the_reason_unless_it_is_an_emergency(tmp_path):
    """Pressing send means it: never 'sent' and then logged missed."""
    now = dt.datetime.now(SHANGHAI)
    start, end = now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)
    quiet = f'quiet_hours: "{start:%H:%M}-{end:%H:%M}"\n'
    with running_station(tmp_path, ("zone_a",), config_extra=quiet) as (lab, station, _):
        sent = _cli(station, lab.env, "send", "short")
        assert sent.returncode == 1
        assert f"quiet hours until {end:%H:%M}: only emergencies play now" in sent.stderr
        assert _rows(station) == []
        assert _cli(station, lab.env, "send", "short", "--priority", "emergency").returncode == 0
        _wait(lambda: _rows(station)[-1][:2] == ("short", "completed"), 20)
