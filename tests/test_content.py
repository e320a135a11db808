"""The bundled sample station, and what the models make of it."""

from __future__ import annotations

import datetime as dt

from broadcaster.content.load import load_content
from broadcaster.content.models import Pause, Priority, Speech
from broadcaster.language import Language
from broadcaster.schema.problems import Problems
from tests.conftest import REPO

TODAY = dt.date(2026, 11, 29)


def test_sample_station_is_valid_with_enough_announcements_in_both_languages():
    problems = Problems()
    content = load_content(REPO / "config.yaml", problems, TODAY)
    assert [p.render() for p in problems] == []
    languages = [a.language for a in content.announcements.values()]
    assert languages.count(Language.MANDARIN) >= 6
    assert languages.count(Language.CANTONESE) >= 4
    assert {"daily", "van-loop"} <= set(content.playlists)
    assert content.playlists["van-loop"].loop.gap_s == 30


def test_sample_announcement_fields():
    content = load_content(REPO / "config.yaml", Problems(), TODAY)
    registration = content.announcements["returnee-registration"]
    assert registration.priority is Priority.HIGH
    assert registration.repeat == 2 and registration.gap_s == 10
    assert isinstance(registration.segments[0], Speech)
    assert registration.segments[1] == Pause(1.0)
    assert content.config.quiet_hours == (dt.time(22), dt.time(6, 30))
    assert content.config.zones["village"].channels == (1, 2)


def test_a_broken_file_is_left_out_and_the_rest_is_kept(station):
    (station / "announcements" / "hygiene.yaml").write_text("title: [\n", encoding="utf-8")
    problems = Problems()
    content = load_content(station / "config.yaml", problems, TODAY)
    assert problems.has_errors
    assert "hygiene" not in content.announcements
    assert "hotline" in content.announcements
    # The playlist naming the broken announcement is not blamed for it.
    assert not [p for p in problems if p.path.name == "daily.yaml"]


def test_expired_announcement_is_a_warning_only(station):
    path = station / "announcements" / "hotline.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "valid_until: 2020-02-29\n", encoding="utf-8")
    problems = Problems()
    load_content(station / "config.yaml", problems, TODAY)
    assert not problems.has_errors
    assert {p.path.name for p in problems} == {"hotline.yaml", "daily.yaml", "van-loop.yaml"}


def test_a_text_too_long_to_render_is_an_error_at_its_line_with_the_limit(station, run_cli):
    """A 200 kB notice once took the station off the air (MemoryError while rendering)."""
    notice = "各位村民请注意，出入戴口罩。" * 900  # 10,800 characters to speak
    folder = station / "announcements"
    (folder / "huge.yaml").write_text(f"language: mandarin\ntext: {notice}\n", encoding="utf-8")
    (folder / "twice.yaml").write_text(
        f"language: mandarin\nrepeat: 2\ntext: {notice[:6000]}\n", encoding="utf-8")
    result = run_cli("check", cwd=station)
    assert result.code == 1 and "Traceback" not in result.text
    too_long = "error: the text is too long to broadcast"
    assert f"announcements/huge.yaml:2:7: {too_long}: 10800 characters" in result.out
    assert "at most 10000 (about 50 minutes)" in result.out
    assert f"announcements/twice.yaml:3:7: {too_long}: 10286 characters" in result.out
    rendered = run_cli("render", "huge", cwd=station)
    assert rendered.code == 1 and "too long to broadcast" in rendered.err
    chinese = run_cli("check", cwd=station, lang="zh_CN.UTF-8")
    assert "播报内容太长" in chinese.out
