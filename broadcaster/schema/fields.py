"""Values as people write them: durations, times, dates, weekdays, switches.

Each ``parse_*`` function turns one written value into a typed one or raises
:class:`FieldError` with a message that says what was expected. :class:`Fields`
applies them to the keys of one YAML mapping and records every problem at the
line and column of the value that caused it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from broadcaster.i18n import Msg
from broadcaster.schema.problems import Problems, did_you_mean
from broadcaster.schema.yamlfile import Map, Node, Scalar, Seq

T = TypeVar("T")


class FieldError(ValueError):
    """A written value that does not mean what its key needs."""

    def __init__(self, message: Msg, hint: Msg | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.hint = hint


def _plain(text: str) -> str:
    # NFKC folds full-width digits and colons typed with a Chinese IME (７：３０).
    return unicodedata.normalize("NFKC", text).strip()


_DURATION_UNITS = {
    "h": 3600, "hr": 3600, "小时": 3600, "小時": 3600, "时": 3600, "時": 3600,
    "m": 60, "min": 60, "分钟": 60, "分鐘": 60, "分": 60,
    "s": 1, "sec": 1, "秒": 1, "秒钟": 1, "秒鐘": 1,
    "ms": 0.001, "毫秒": 0.001,
}  # fmt: skip
_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*("
    + "|".join(sorted(map(re.escape, _DURATION_UNITS), key=len, reverse=True))
    + r")?\s*"
)


def parse_duration(text: str) -> float:
    """``30s``, ``2m``, ``1m30s``, ``1.5h``, ``30秒``, ``2分钟``, ``45`` (seconds) → seconds."""
    value = _plain(text).lower()
    total, pos = 0.0, 0
    while pos < len(value):
        match = _DURATION_PART.match(value, pos)
        if not match or match.end() == pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
        pos = match.end()
    if not value or pos != len(value):
        raise FieldError(
            Msg.of("'{value}' is not a duration", value=text),
            Msg.of("write it like 30s, 2m, 1m30s or 1h"),
        )
    return total


_TIME = re.compile(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?")


def parse_time(text: str) -> dt.time:
    """``07:30``, ``7:30``, ``7：30``, ``18:05:30`` → a time of day."""
    match = _TIME.fullmatch(_plain(text))
    if match:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if hour < 24 and minute < 60 and second < 60:
            return dt.time(hour, minute, second)
    raise FieldError(
        Msg.of("'{value}' is not a time of day", value=text),
        Msg.of("write it like 07:30 or 18:00 (24-hour clock)"),
    )


_DATE = re.compile(r"(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})\s*日?")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]?")


def parse_date(text: str) -> dt.date:
    """``2020-01-28``, ``2020/1/28``, ``2020年1月28日`` → a date."""
    match = _DATE.fullmatch(_plain(text))
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            month, day = int(match[2]), int(match[3])
            if not 1 <= month <= 12:
                raise FieldError(Msg.of("'{value}': there is no month {month}", value=text,
                                        month=month)) from None  # fmt: skip
            message = Msg.of("'{value}': month {month} has no day {day}", value=text, month=month, day=day)
            raise FieldError(message, Msg.of("check the day of the month")) from None
    without_year = _MONTH_DAY.fullmatch(_plain(text))
    if without_year:  # 1月28日: which year?
        example = f"{dt.date.today().year}年{int(without_year[1])}月{int(without_year[2])}日"
        raise FieldError(Msg.of("'{value}' has no year", value=text),
                         Msg.of("write the year too, like {example}", example=example))  # fmt: skip
    raise FieldError(
        Msg.of("'{value}' is not a date", value=text),
        Msg.of("write it like 2020-01-28 or 2020年1月28日"),
    )


def parse_window(text: str) -> tuple[dt.time, dt.time]:
    """``08:00-20:00`` (also ``~``, ``至``, ``到``) → (start, end)."""
    parts = re.split(r"\s*(?:-|~|至|到|—|–)\s*", _plain(text))
    if len(parts) == 2 and re.fullmatch(r"24[:.]00", parts[1]):
        raise FieldError(Msg.of("'{value}' ends at 24:00, which is 00:00 of the next day", value=text),
                         Msg.of("end it at 23:59, or let it cross midnight, like 22:00-06:30"))  # fmt: skip
    try:
        if len(parts) == 2:
            return parse_time(parts[0]), parse_time(parts[1])
    except FieldError:
        pass
    raise FieldError(
        Msg.of("'{value}' is not a time window", value=text),
        Msg.of("write it like 08:00-20:00"),
    )


_TRUE = {"true", "yes", "on", "y", "1", "是", "开", "開", "有"}
_FALSE = {"false", "no", "off", "n", "0", "否", "关", "關", "无", "無", "不"}


def parse_bool(text: str) -> bool:
    value = _plain(text).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise FieldError(Msg.of("'{value}' is not on or off", value=text), Msg.of("write yes or no"))


def parse_count(text: str, low: int = 1, high: int = 100) -> int:
    value = _plain(text)
    if value.isdigit() and low <= int(value) <= high:
        return int(value)
    raise FieldError(
        Msg.of("'{value}' is not a whole number from {low} to {high}", value=text, low=low, high=high)
    )


_DAY_NAMES = {
    0: ("mon", "monday", "周一", "星期一", "礼拜一", "禮拜一", "週一"),
    1: ("tue", "tuesday", "周二", "星期二", "礼拜二", "禮拜二", "週二"),
    2: ("wed", "wednesday", "周三", "星期三", "礼拜三", "禮拜三", "週三"),
    3: ("thu", "thursday", "周四", "星期四", "礼拜四", "禮拜四", "週四"),
    4: ("fri", "friday", "周五", "星期五", "礼拜五", "禮拜五", "週五"),
    5: ("sat", "saturday", "周六", "星期六", "礼拜六", "禮拜六", "週六"),
    6: ("sun", "sunday", "周日", "星期日", "星期天", "礼拜日", "禮拜日", "週日", "周天"),
}
_DAY_GROUPS = {
    ("daily", "everyday", "every day", "每天", "每日"): range(7),
    ("weekdays", "workdays", "工作日", "周一至周五"): range(5),
    ("weekends", "weekend", "周末", "週末"): range(5, 7),
}
DAYS: dict[str, tuple[int, ...]] = {name: (number,) for number, names in _DAY_NAMES.items() for name in names}
DAYS.update({name: tuple(days) for names, days in _DAY_GROUPS.items() for name in names})


def parse_days(text: str) -> tuple[int, ...]:
    """``mon``, ``周一``, ``weekdays``, ``每天``, ``mon-fri`` → weekday numbers (Monday = 0)."""
    value = _plain(text).lower()
    if value in DAYS:
        return DAYS[value]
    first, sep, last = value.partition("-")
    if sep and first in DAYS and last in DAYS and len(DAYS[first]) == len(DAYS[last]) == 1:
        start, end = DAYS[first][0], DAYS[last][0]
        return tuple(range(start, end + 1)) if start <= end else ()
    raise FieldError(Msg.of("'{value}' is not a day of the week", value=text), did_you_mean(value, DAYS))


def parse_choice(choices: dict[str, T]) -> Callable[[str], T]:
    """A parser accepting one of ``choices`` (keys compared case-insensitively)."""

    def parse(text: str) -> T:
        value = _plain(text).lower()
        if value in choices:
            return choices[value]
        names = [k for k in choices if k.isascii()]
        raise FieldError(
            Msg.of("'{value}' is not one of: {choices}", value=text, choices=", ".join(names)),
            did_you_mean(value, choices),
        )

    return parse


def split_list(text: str) -> list[str]:
    """``a, b``, ``a，b``, ``a、b`` → items: forgiving about how a list is typed."""
    return [part.strip() for part in re.split(r"[,，、;；]", text) if part.strip()]


class Fields:
    """Typed reading of one mapping's keys; problems recorded where they are."""

    def __init__(
        self, node: Node | None, path: Path, problems: Problems, known: Iterable[str], what: Msg
    ) -> None:
        self.path, self.problems = path, problems
        self.values: dict[str, Node] = {}
        self.misspelt: set[str] = set()
        """Known keys that an unknown one looks like a misspelling of."""
        self.node = node
        if node is None:
            return
        if not isinstance(node, Map):
            self.error(node, Msg.of("expected {what} as 'key: value' lines", what=what))
            return
        known = list(known)
        for key, value in node.items:
            if key.value not in known:
                guess = did_you_mean(key.value, known)
                if guess is not None:  # that key is then not also reported missing
                    self.misspelt.add(str(guess.args["suggestion"]))
                self.error(key, Msg.of("unknown key '{key}'", key=key.value),
                           guess or Msg.of("known keys: {keys}", keys=", ".join(known)))  # fmt: skip
            elif not (isinstance(value, Scalar) and value.is_null):
                self.values[key.value] = value

    def error(self, node: Node, message: Msg, hint: Msg | None = None) -> None:
        self.problems.error(self.path, node.line, node.column, message, hint)

    def warning(self, node: Node, message: Msg, hint: Msg | None = None) -> None:
        self.problems.warning(self.path, node.line, node.column, message, hint)

    def missing(self, key: str) -> None:
        if key in self.misspelt:
            return  # "unknown key 'langauge'; did you mean 'language'?" says it already
        line, column = (self.node.line, self.node.column) if self.node else (1, 1)
        self.problems.error(
            self.path,
            line,
            column,
            Msg.of("'{key}' is missing", key=key),
            Msg.of("add a line '{key}: …'", key=key),
        )

    def has(self, key: str) -> bool:
        return key in self.values

    def scalar(self, key: str, parse: Callable[[str], T], default: T, required: bool = False) -> T:
        node = self.values.get(key)
        if node is None:
            if required:
                self.missing(key)
            return default
        if not isinstance(node, Scalar):
            self.error(node, Msg.of("'{key}' should be a single value, not a list", key=key))
            return default
        return self.convert(node, parse, default)

    def convert(self, node: Scalar, parse: Callable[[str], T], default: T) -> T:
        try:
            return parse(node.value)
        except FieldError as exc:
            self.error(node, exc.message, exc.hint)
            return default

    def text(self, key: str, required: bool = False) -> str | None:
        def parse(value: str) -> str:
            if not value.strip():
                raise FieldError(Msg.of("'{key}' is empty", key=key))
            return value.strip()

        return self.scalar(key, parse, None, required)

    def scalars(self, key: str, required: bool = False) -> list[Scalar]:
        """A list given as YAML list or as one comma-separated line, as scalars with places."""
        node = self.values.get(key)
        if node is None:
            if required:
                self.missing(key)
            return []
        if isinstance(node, Scalar):
            return [Scalar(part, node.plain, node.line, node.column) for part in split_list(node.value)]
        if isinstance(node, Seq):
            out = []
            for item in node.items:
                if isinstance(item, Scalar) and not item.is_null:
                    out.append(item)
                else:
                    self.error(item, Msg.of("'{key}' should list single values", key=key))
            return out
        self.error(node, Msg.of("'{key}' should be a list", key=key))
        return []

    def many(self, key: str, parse: Callable[[str], T], required: bool = False) -> list[T]:
        values = []
        for item in self.scalars(key, required):
            try:
                values.append(parse(item.value))
            except FieldError as exc:
                self.error(item, exc.message, exc.hint)
        return values
