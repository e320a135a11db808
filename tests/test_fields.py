"""Values as people write them."""

from __future__ import annotations

import datetime as dt

import pytest

from broadcaster.schema.fields import (
    FieldError,
    parse_bool,
    parse_date,
    parse_days,
    parse_duration,
    parse_time,
    parse_window,
    split_list,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("2m", 120), ("1m30s", 90), ("1.5h", 5400), ("45", 45), ("30秒", 30),
    ("2分钟", 120), ("1小时", 3600), ("500ms", 0.5), ("３０ｓ", 30), ("1h 30m", 5400), ("2 min", 120),
])  # fmt: skip
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "soon", "-3s", "3x"])
def test_bad_durations(text):
    with pytest.raises(FieldError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("07:30", dt.time(7, 30)), ("7:30", dt.time(7, 30)), ("7：30", dt.time(7, 30)),
    ("０７：３０", dt.time(7, 30)), ("18:05:30", dt.time(18, 5, 30)), ("0:00", dt.time(0, 0)),
    ("23:59", dt.time(23, 59)), ("7.30", dt.time(7, 30)),
])  # fmt: skip
def test_times(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "7", "7:5", "450", "12:60", "noon"])
def test_bad_times(text):
    with pytest.raises(FieldError, match="is not a time of day"):
        parse_time(text)


@pytest.mark.parametrize("text", ["2020-01-28", "2020/1/28", "2020.01.28", "2020年1月28日"])
def test_dates(text):
    assert parse_date(text) == dt.date(2020, 1, 28)


def test_window_across_midnight_is_parsed_as_written():
    assert parse_window("22:00-06:30") == (dt.time(22), dt.time(6, 30))
    assert parse_window("8:00 至 20:00") == (dt.time(8), dt.time(20))


@pytest.mark.parametrize(("text", "days"), [
    ("mon", (0,)), ("周日", (6,)), ("星期三", (2,)), ("weekdays", (0, 1, 2, 3, 4)),
    ("工作日", (0, 1, 2, 3, 4)), ("周末", (5, 6)), ("每天", tuple(range(7))), ("mon-wed", (0, 1, 2)),
])  # fmt: skip
def test_days(text, days):
    assert parse_days(text) == days


@pytest.mark.parametrize(("text", "value"), [
    ("yes", True), ("no", False), ("on", True), ("off", False), ("是", True), ("否", False),
    ("True", True),
])  # fmt: skip
def test_switches(text, value):
    assert parse_bool(text) is value


def test_lists_typed_with_chinese_punctuation():
    assert split_list("hygiene，hotline、fever, x") == ["hygiene", "hotline", "fever", "x"]


def test_a_date_without_a_year_says_to_add_it():
    with pytest.raises(FieldError) as caught:
        parse_date("1月28日")
    assert str(caught.value.message) == "'1月28日' has no year"
    hint = str(caught.value.hint)
    assert hint.startswith("write the year too, like ") and hint.endswith("年1月28日")


def test_a_window_that_ends_at_24_00_says_why_it_is_refused():
    with pytest.raises(FieldError) as caught:
        parse_window("09:00-24:00")
    assert "which is 00:00 of the next day" in str(caught.value.message)
    assert "22:00-06:30" in str(caught.value.hint)
