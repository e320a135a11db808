"""The play log: schema, outcomes, reconciliation, reports — on a real SQLite file."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import subprocess
import sys
from zoneinfo import ZoneInfo

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
    assert csv.out.startswith("\ufeffid,requested,started,ended,announcement,title,zone,trigger,outcome")
    assert "2026-11-28 07:30:00" in csv.out and ',missed,"quiet hours",' in csv.out
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


def test_a_version_2_database_gets_dropouts_and_keeps_its_rows_and_counts(tmp_path):
    path = tmp_path / "v2.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.executescript("".join(MIGRATIONS[:2]) + "PRAGMA user_version = 2;")
        old.execute(
            "INSERT INTO plays (id, announcement_id, content_hash, zone, trigger, requested_at, outcome,"
            " host, pid, day) VALUES (7, 'hygiene', 'h', 'square', 'schedule', 'x', 'completed', 'h', 1,"
            " '2026-11-28')"
        )
    log = PlayLog(path)
    assert log.schema_version == len(MIGRATIONS)
    (kept,) = log.plays()
    assert (kept.id, kept.announcement_id, kept.outcome, kept.dropouts, kept.dropout_ms) == (
        7, "hygiene", "completed", 0, 0)  # fmt: skip
    schema = {name for (name,) in log._db.execute("SELECT name FROM sqlite_master")}
    assert {"plays", "daily_counts", "plays_by_day", "plays_open", "plays_counted",
            "plays_recounted"} <= schema and "plays_new" not in schema  # fmt: skip
    row = log.start("hotline", "h", "square", "van", at(28, 9), at(28, 9))
    assert row > 7
    log.finish(row, "dropout", at(28, 9, 1), dropouts=2, dropout_ms=340)
    play = list(log.plays())[-1]
    assert (play.outcome, play.dropouts, play.dropout_ms) == ("dropout", 2, 340)
    report = {r["announcement"]: r for r in log.report(dt.date(2026, 11, 28), dt.date(2026, 11, 28))}
    assert report["hotline"] == {
        "day": "2026-11-28", "announcement": "hotline", "zone": "square", "completed": 0, "dropout": 1,
        "interrupted": 0, "failed": 0, "missed": 0, "playing": 0, "dropout_ms": 340}  # fmt: skip
    assert list(report["hotline"]) == [
        "day", "announcement", "zone", "completed", "dropout", "interrupted", "failed", "missed",
        "playing", "dropout_ms"]  # fmt: skip
    assert (report["hygiene"]["completed"], report["hygiene"]["dropout_ms"]) == (1, 0)
    log._db.execute("UPDATE plays SET outcome = 'interrupted' WHERE id = 7")  # the triggers still count
    (hygiene,) = [r for r in log.report(dt.date(2026, 11, 28), dt.date(2026, 11, 28))
                  if r["announcement"] == "hygiene"]  # fmt: skip
    assert (hygiene["completed"], hygiene["interrupted"]) == (0, 1)
    assert log.integrity() == "ok"
    log.close()


def test_the_report_sums_dropout_ms_of_plays_with_gaps_only_in_its_days(log):
    for day, outcome, dropouts, ms in [(27, "dropout", 1, 999), (28, "dropout", 2, 340),
                                       (28, "interrupted", 1, 60), (28, "completed", 0, 0)]:  # fmt: skip
        row = log.start("hygiene", "h", "square", "schedule", at(day, 7))
        log.finish(row, outcome, at(day, 7, 1), dropouts=dropouts, dropout_ms=ms)
    (report,) = log.report(dt.date(2026, 11, 28), dt.date(2026, 11, 28))
    assert (report["completed"], report["dropout"], report["interrupted"], report["dropout_ms"]) == (
        1, 1, 1, 400)  # fmt: skip


def test_a_play_with_dropouts_is_never_completed(log):
    row = log.start("hygiene", "h", "square", "schedule", at(29, 7))
    with pytest.raises(ValueError, match=r"^a play with 1 dropout\(s\) is not completed but 'dropout'$"):
        log.finish(row, "completed", at(29, 7, 1), dropouts=1, dropout_ms=80)
    with pytest.raises(ValueError, match=r"^negative dropouts: 0 \(-5 ms\)$"):
        log.finish(row, "dropout", at(29, 7, 1), dropout_ms=-5)
    assert next(log.plays()).outcome == "playing"


def test_plays_kept_in_memory_are_finished_by_their_temporary_id_after_being_written(log, monkeypatch):
    """A full disk at start gives a temporary id; finishing it once the row is written must
    update the real row, not leave it ``playing`` forever."""
    execute, disk_full = log._execute, [True]

    def flaky(sql, params):  # type: ignore[no-untyped-def]
        if disk_full[0]:
            raise sqlite3.OperationalError("database or disk is full")
        return execute(sql, params)

    monkeypatch.setattr(log, "_execute", flaky)
    first = log.start("hygiene", "h", "square", "schedule", at(29, 7), at(29, 7))
    second = log.start("hotline", "h", "square", "van", at(29, 7, 1), at(29, 7, 1))
    third = log.start("hygiene", "h", "lane", "schedule", at(29, 7, 2), at(29, 7, 2))
    assert first < 0 and second < 0 and third < 0
    assert log.problem is not None and "disk is full" in log.problem
    log.finish(third, "dropout", at(29, 7, 3), dropouts=2, dropout_ms=340)  # still in memory
    disk_full[0] = False
    fourth = log.start("hotline", "h", "lane", "van", at(29, 7, 4))  # writes the three kept rows first
    assert fourth > 0 and log.problem is None
    log.finish(first, "completed", at(29, 7, 5))  # written straight away
    disk_full[0] = True
    log.finish(second, "dropout", at(29, 7, 6), dropouts=1, dropout_ms=120)  # queued
    disk_full[0] = False
    assert log.flush() is True
    assert [(p.announcement_id, p.zone, p.outcome, p.dropouts, p.dropout_ms) for p in log.plays()] == [
        ("hygiene", "square", "completed", 0, 0),
        ("hotline", "square", "dropout", 1, 120),
        ("hygiene", "lane", "dropout", 2, 340),
        ("hotline", "lane", "playing", 0, 0),
    ]


def test_log_shows_dropouts(station, run_cli):
    log = PlayLog(station / "data" / "playlog.sqlite")
    row = log.start("hygiene-cantonese", "h", "village", "schedule", at(28, 7, 30))
    log.finish(row, "dropout", at(28, 7, 31), dropouts=2, dropout_ms=340)
    log.finish(log.start("hotline", "h", "village", "van", at(28, 9)), "completed", at(28, 9, 1))
    log.close()
    table = run_cli("log", cwd=station)
    assert table.code == 0
    header, gaps, none = table.out.splitlines()[:3]
    assert "dropouts" in header and "dropout_ms" not in header
    assert "2 (340 ms)" in gaps and "ms)" not in none
    rows = json.loads(run_cli("log", "--format", "json", cwd=station).out)
    assert [(r["outcome"], r["dropouts"], r["dropout_ms"]) for r in rows] == [
        ("dropout", 2, 340), ("completed", 0, 0)]  # fmt: skip
    csv = run_cli("log", "--format", "csv", cwd=station).out
    assert ",outcome,reason,dropouts,dropout_ms,content," in csv.splitlines()[0]
    report = json.loads(run_cli("report", "--day", "2026-11-28", "--format", "json", cwd=station).out)
    assert {(r["announcement"], r["dropout"], r["dropout_ms"]) for r in report} == {
        ("hygiene-cantonese", 1, 340), ("hotline", 0, 0)}  # fmt: skip


def test_rows_of_an_earlier_start_with_the_same_pid_are_reconciled(log):
    """PID 1 in a container is the same pid at every start: rows are told apart by the start."""
    earlier = log.start("hygiene", "h", "square", "schedule", at(29, 9))
    log._db.execute("UPDATE plays SET run = 'an-earlier-start' WHERE id = ?", (earlier,))  # same pid as ours
    mine = log.start("hotline", "h", "square", "schedule", at(29, 9))
    assert log.reconcile(at(29, 10)) == 1
    outcomes = {p.id: p.outcome for p in log.plays()}
    assert outcomes == {earlier: "interrupted", mine: "playing"}


def _csv(text: str) -> list[dict[str, str]]:
    import csv
    import io

    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def test_the_csv_export_is_valid_csv_with_titles_local_times_and_quoted_text(station, run_cli):
    (station / "announcements" / "hotline.yaml").write_text(
        'title: 热线, "24 小时"\nlanguage: mandarin\ntext: 防控热线。\n', encoding="utf-8")  # fmt: skip
    log = PlayLog(station / "data" / "playlog.sqlite")
    row = log.start("hotline", "h", "village", "schedule", at(28, 7, 30))
    log.finish(row, "interrupted", at(28, 7, 31), 'cut by emergency "alarm", then\nresumed')
    log.missed("no-such-file", "h", "village", "schedule", at(28, 23), "quiet hours")
    log.close()
    result = run_cli("log", "--format", "csv", cwd=station)
    assert result.code == 0
    rows = _csv(result.out)
    assert [r["title"] for r in rows] == ['热线, "24 小时"', ""]
    assert rows[0]["reason"] == 'cut by emergency "alarm", then\nresumed'
    assert (rows[0]["requested"], rows[0]["ended"]) == ("2026-11-28 07:30:00", "2026-11-28 07:31:00")
    assert (rows[1]["started"], rows[1]["outcome"]) == ("", "missed")
    assert [r["id"] for r in rows] == ["1", "2"]


def test_exported_times_follow_daylight_saving_changes(tmp_path):
    """Berlin: clocks go forward on 2026-03-29 at 01:00 UTC and back on 2026-10-25 at 01:00 UTC."""
    from broadcaster.playlog import EXPORT_COLUMNS

    berlin = ZoneInfo("Europe/Berlin")
    log = PlayLog(tmp_path / "log.sqlite", "Europe/Berlin")
    utc = [(2026, 3, 29, 0, 59, 59), (2026, 3, 29, 1, 0), (2026, 10, 25, 0, 30), (2026, 10, 25, 1, 30),
           (2026, 7, 1, 12, 0)]  # fmt: skip
    moments = [dt.datetime(*parts, tzinfo=dt.UTC) for parts in utc]
    for moment in moments:
        play = log.start("a", "h", "z", "schedule", moment)
        log.finish(play, "completed", moment + dt.timedelta(seconds=5))
    rows = [dict(zip(EXPORT_COLUMNS, r, strict=True)) for r in log.export()]
    csv_rows = _csv("\ufeff" + ",".join(EXPORT_COLUMNS) + "\r\n" + "".join(log.export_csv()))
    log.close()
    expected = [m.astimezone(berlin).strftime("%Y-%m-%d %H:%M:%S") for m in moments]
    assert [r["requested"] for r in rows] == expected
    assert [r["requested"] for r in csv_rows] == expected
    assert expected[:2] == ["2026-03-29 01:59:59", "2026-03-29 03:00:00"]


def test_the_csv_export_streams_and_filters_by_day_announcement_and_zone(log):
    for day in (27, 28, 29):
        for zone in ("square", "market"):
            log.finish(log.start("hygiene", "h", zone, "schedule", at(day, 9)), "completed", at(day, 9, 1))
    chunks = list(log.export_csv(dt.date(2026, 11, 28), dt.date(2026, 11, 29), zone="market", batch=1))
    assert len(chunks) == 2  # one batch of one row each: rows are fetched as they are written
    assert all(",\"market\"," in chunk for chunk in chunks)
    assert list(log.export(announcement="nothing")) == []
    assert json.loads("".join(log.export_json(announcement="nothing"))) == []
    rows = json.loads("".join(log.export_json(zone="market", batch=2)))
    expected = [(f"2026-11-{d} 09:00:00", "market") for d in (27, 28, 29)]
    assert [(r["requested"], r["zone"]) for r in rows] == expected


def test_report_for_a_month_and_titles_in_the_table(station, run_cli):
    log = PlayLog(station / "data" / "playlog.sqlite")
    for day in (1, 15, 30):
        row = log.start("hotline", "h", "village", "schedule", at(day, 9))
        log.finish(row, "completed", at(day, 9, 1))
    log.finish(log.start("hotline", "h", "village", "schedule", dt.datetime(2026, 12, 1, 9, tzinfo=SHANGHAI)),
               "completed", dt.datetime(2026, 12, 1, 9, 1, tzinfo=SHANGHAI))  # fmt: skip
    log.close()
    month = run_cli("report", "--month", "--day", "2026-11-15", "--format", "json", cwd=station).out
    assert [(r["day"], r["title"], r["completed"]) for r in json.loads(month)] == [
        ("2026-11-01", "防控热线", 1), ("2026-11-15", "防控热线", 1),
        ("2026-11-30", "防控热线", 1)]  # fmt: skip
    table = run_cli("report", "--month", "--day", "2026-11-15", cwd=station, lang="zh_CN.UTF-8").out
    assert "防控热线" in table.splitlines()[1] and "完整播出" in table.splitlines()[0]


def test_the_log_table_speaks_the_users_language(station, run_cli):
    log = PlayLog(station / "data" / "playlog.sqlite")
    log.missed("hotline", "h", "village", "schedule", at(28, 23), "quiet hours")
    row = log.start("hygiene", "h", "village", "schedule", at(28, 9))
    log.finish(row, "dropout", at(28, 9, 1), "2 gap(s), 340 ms in all", dropouts=2, dropout_ms=340)
    log.close()
    table = run_cli("log", cwd=station, lang="zh_CN.UTF-8").out
    assert "静音时段" in table and "未播" in table and "2 处断音，共 340 毫秒" in table and "有断音" in table
    assert "quiet hours" not in table and "missed" not in table
