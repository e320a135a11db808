"""The play log: schema, outcomes, reconciliation, reports — on a real SQLite file."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys

import pytest

from broadcaster.playlog import MIGRATIONS, PlayLog

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def log(tmp_path):
    log = PlayLog(tmp_path / "log.sqlite", "Asia/Shanghai")
    yield log
    log.close()


def test_the_database_is_wal_full_sync_and_versioned(log, tmp_path):
    assert log.schema_version == len(MIGRATIONS)
    assert log._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert log._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    log.close()
    again = PlayLog(tmp_path / "log.sqlite")  # reopening migrates nothing and keeps rows
    assert again.schema_version == len(MIGRATIONS)
    again.close()


def test_a_play_goes_from_playing_to_its_outcome(log):
    row = log.start("hygiene", "abc", "square", "schedule", at(29, 7, 30), at(29, 7, 30))
    assert next(log.plays()).outcome == "playing"
    log.finish(row, "completed", at(29, 7, 31))
    play = next(log.plays())
    assert (play.outcome, play.started_at, play.ended_at) == (
        "completed", "2026-11-28T23:30:00.000Z", "2026-11-28T23:31:00.000Z")  # fmt: skip
    assert play.day == "2026-11-29"  # the station's day, not UTC's
    with pytest.raises(sqlite3.IntegrityError):
        log._db.execute("UPDATE plays SET outcome = 'maybe'")


def test_rows_of_a_dead_process_are_reconciled_and_a_live_one_is_left_alone(log):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    mine = log.start("hotline", "h", "square", "van", at(29, 9))
    theirs = log.start("hygiene", "h", "square", "van", at(29, 9))
    log._db.execute("UPDATE plays SET pid = ? WHERE id = ?", (int(dead.stdout), theirs))
    assert log.reconcile(at(29, 10)) == 1
    outcomes = {p.id: (p.outcome, p.reason) for p in log.plays()}
    assert outcomes[theirs] == ("interrupted", "the program stopped during the play")
    assert outcomes[mine] == ("playing", "")


def test_filters_and_report(log):
    for day, zone, outcome in [
        (27, "square", "completed"),
        (28, "square", "completed"),
        (28, "square", "failed"),
        (28, "lane", "completed"),
        (29, "square", "missed"),
    ]:
        row = log.start("hygiene", "h", zone, "schedule", at(day, 7, 30))
        log.finish(row, outcome, at(day, 7, 31), "" if outcome == "completed" else "a reason")
    log.finish(log.start("hotline", "h", "square", "van", at(28, 12)), "completed", at(28, 12, 1))
    assert [p.zone for p in log.plays(since=dt.date(2026, 11, 28), until=dt.date(2026, 11, 28),
                                      announcement="hygiene")] == ["square", "square", "lane"]  # fmt: skip
    assert len(list(log.plays(zone="lane"))) == 1
    report = log.report(dt.date(2026, 11, 28), dt.date(2026, 11, 29))
    by_key = {(r["day"], r["announcement"], r["zone"]): r for r in report}
    assert by_key[("2026-11-28", "hygiene", "square")]["completed"] == 1
    assert by_key[("2026-11-28", "hygiene", "square")]["failed"] == 1
    assert by_key[("2026-11-29", "hygiene", "square")]["missed"] == 1
    assert ("2026-11-27", "hygiene", "square") not in by_key
    assert len(report) == 4


def test_log_and_report_commands(station, run_cli):
    log = PlayLog(station / "data" / "playlog.sqlite")
    row = log.start("hygiene-cantonese", "h", "village", "schedule", at(28, 7, 30))
    log.finish(row, "completed", at(28, 7, 31))
    log.missed("hotline", "h", "village", "schedule", at(28, 9), "quiet hours")
    log.close()
    csv = run_cli("log", "--format", "csv", cwd=station)
    assert csv.code == 0
    assert csv.out.startswith("\ufeffid,requested,started,ended,announcement,zone,trigger,outcome")
    assert "2026-11-28 07:30:00" in csv.out and ",missed,quiet hours," in csv.out
    rows = json.loads(run_cli("log", "--format", "json", "--announcement", "hotline", cwd=station).out)
    assert [(r["announcement"], r["outcome"]) for r in rows] == [("hotline", "missed")]
    report = json.loads(run_cli("report", "--day", "2026-11-28", "--format", "json", cwd=station).out)
    assert {(r["announcement"], r["completed"], r["missed"]) for r in report} == {
        ("hygiene-cantonese", 1, 0), ("hotline", 0, 1)}  # fmt: skip
    week = run_cli("report", "--week", "--day", "2026-12-01", cwd=station)
    assert "hygiene-cantonese" in week.out


def test_log_without_a_database_says_so(station, run_cli):
    result = run_cli("log", cwd=station)
    assert result.code == 1
    assert "there is no play log at" in result.err


def test_an_old_database_is_migrated_and_keeps_its_counts(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
        old.execute(
            "INSERT INTO plays (announcement_id, content_hash, zone, trigger, requested_at, outcome,"
            " host, pid, day) VALUES ('hygiene', 'h', 'square', 'schedule', 'x', 'completed', 'h', 1,"
            " '2026-11-28')"
        )
    log = PlayLog(path)
    assert log.schema_version == len(MIGRATIONS)
    report = log.report(dt.date(2026, 11, 28), dt.date(2026, 11, 28))
    assert [(r["announcement"], r["completed"]) for r in report] == [("hygiene", 1)]
    log.close()
