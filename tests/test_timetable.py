"""Schedule semantics over simulated weeks, with and without daylight saving time. No sleeping."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

from broadcaster.content.load import load_content
from broadcaster.scheduler.timetable import in_quiet_hours, local, next_due, occurrences
from broadcaster.schema.problems import Problems
from tests.conftest import REPO

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def station(tmp_path: Path, timezone: str, playlist: str):  # type: ignore[no-untyped-def]
    (tmp_path / "announcements").mkdir()
    (tmp_path / "playlists").mkdir()
    (tmp_path / "config.yaml").write_text(f"timezone: {timezone}\n", encoding="utf-8")
    for name in ("a", "b"):
        (tmp_path / "announcements" / f"{name}.yaml").write_text("language: mandarin\ntext: 各位村民\n",
                                                                 encoding="utf-8")  # fmt: skip
    (tmp_path / "playlists" / "p.yaml").write_text(playlist, encoding="utf-8")
    problems = Problems()
    content = load_content(tmp_path / "config.yaml", problems, dt.date(2026, 3, 1))
    assert not problems.has_errors, [p.render() for p in problems]
    return content


def test_a_week_of_the_sample_daily_playlist_in_shanghai():
    content = load_content(REPO / "config.yaml", Problems(), dt.date(2026, 11, 30))
    monday = dt.datetime(2026, 11, 30, tzinfo=SHANGHAI)  # a Monday
    found = occurrences(content, monday - dt.timedelta(microseconds=1), monday + dt.timedelta(days=7))
    per_day = Counter(o.due.date() for o in found)
    # 3 fixed times + 5 every-2h (09..17) + 19:00 = 9 a day, and 8:00 on weekdays.
    assert [per_day[monday.date() + dt.timedelta(days=d)] for d in range(7)] == [10] * 5 + [9] * 2
    first = found[0]
    assert (first.due.hour, first.due.minute, first.playlist, first.announcements) == (
        7, 30, "daily", ("hygiene", "hygiene-cantonese"))  # fmt: skip
    assert all(o.zones == ("village",) for o in found)


def test_the_night_clocks_go_forward_in_berlin(tmp_path):
    content = station(tmp_path, "Europe/Berlin",
                      "slots:\n  - at: [01:30, 02:30, 03:30]\n    play: a\n")  # fmt: skip
    week = occurrences(
        content, dt.datetime(2026, 3, 26, tzinfo=BERLIN), dt.datetime(2026, 4, 2, tzinfo=BERLIN)
    )
    sunday = [o.due for o in week if o.due.date() == dt.date(2026, 3, 29)]
    # 02:30 does not exist that night: it plays at 03:30 CEST, together with the 03:30 slot time,
    # so that day has two occurrences at distinct instants 01:30 CET and 03:30 CEST.
    assert [d.strftime("%H:%M %Z") for d in sunday] == ["01:30 CET", "03:30 CEST"]
    assert len(week) == 6 * 3 + 2
    assert len({o.due for o in week}) == len(week)


def test_the_night_clocks_go_back_in_berlin(tmp_path):
    content = station(tmp_path, "Europe/Berlin",
                      "slots:\n  - every: 30m\n    between: 01:00-04:00\n    play: a\n")  # fmt: skip
    day = occurrences(content, dt.datetime(2026, 10, 25, tzinfo=BERLIN),
                      dt.datetime(2026, 10, 25, 23, tzinfo=BERLIN))  # fmt: skip
    utc = [o.due.astimezone(dt.UTC).strftime("%H:%M") for o in day]
    # Wall times 01:00 … 04:00 once each; 02:00 and 02:30 are the first (summer-time) ones.
    assert utc == ["23:00", "23:30", "00:00", "00:30", "02:00", "02:30", "03:00"]
    assert utc == sorted(utc, key=lambda t: (t < "12:00", t))


def test_days_dates_and_validity(tmp_path):
    content = station(tmp_path, "Asia/Shanghai", (
        "valid_from: 2026-12-02\nslots:\n"
        "  - at: 08:00\n    days: [周六, sun]\n    play: a\n"
        "  - at: 09:00\n    dates: [2026-12-05, 2026-12-25]\n    play: b\n"
        "  - at: 10:00\n    valid_until: 2026-12-03\n    play: [a, b]\n    zones: [default]\n"
    ))  # fmt: skip
    found = occurrences(content, dt.datetime(2026, 11, 30, tzinfo=SHANGHAI),
                        dt.datetime(2026, 12, 31, tzinfo=SHANGHAI))  # fmt: skip
    assert [(o.due.strftime("%m-%d %H:%M"), o.announcements) for o in found[:6]] == [
        ("12-02 10:00", ("a", "b")), ("12-03 10:00", ("a", "b")), ("12-05 08:00", ("a",)),
        ("12-05 09:00", ("b",)), ("12-06 08:00", ("a",)), ("12-12 08:00", ("a",)),
    ]  # fmt: skip
    assert [o for o in found if o.due.day == 25 and o.due.hour == 9]


def test_next_due_agrees_with_occurrences(tmp_path):
    content = station(
        tmp_path, "Europe/Berlin", "slots:\n  - every: 45m\n    between: 22:00-23:59\n    play: a\n"
    )
    playlist = content.playlists["p"]
    moment = dt.datetime(2026, 10, 24, 12, tzinfo=BERLIN)
    expected = occurrences(content, moment, moment + dt.timedelta(days=3))
    walked = []
    for _ in expected:
        moment = next_due(content, playlist, 0, moment)
        walked.append(moment)
    assert walked == [o.due for o in expected]


def test_quiet_hours_across_midnight():
    quiet = (dt.time(22), dt.time(6, 30))
    assert in_quiet_hours(local(dt.date(2026, 1, 1), dt.time(23), SHANGHAI), quiet, SHANGHAI)
    assert in_quiet_hours(local(dt.date(2026, 1, 1), dt.time(6, 29), SHANGHAI), quiet, SHANGHAI)
    assert not in_quiet_hours(local(dt.date(2026, 1, 1), dt.time(6, 30), SHANGHAI), quiet, SHANGHAI)
    assert not in_quiet_hours(local(dt.date(2026, 1, 1), dt.time(12), SHANGHAI), None, SHANGHAI)
