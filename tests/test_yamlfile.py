"""The hazards of hand-written YAML: typing, encodings, tags, bombs, size."""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
from pathlib import Path

from broadcaster.content.load import load_announcement, load_playlist
from broadcaster.schema.problems import Problems
from broadcaster.schema.yamlfile import MAX_FILE_BYTES, Scalar, parse_text, read


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_times_with_and_without_leading_zero_are_times_not_numbers(tmp_path):
    (tmp_path / "playlists").mkdir()
    path = write(tmp_path / "playlists" / "p.yaml",
                 "slots:\n  - at: [07:30, 7:30, 8:30, 12:30, 7：45]\n    play: x\n")  # fmt: skip
    problems = Problems()
    playlist = load_playlist(path, problems)
    assert not problems
    assert playlist.slots[0].times == (
        dt.time(7, 30), dt.time(7, 30), dt.time(8, 30), dt.time(12, 30), dt.time(7, 45),
    )  # fmt: skip


def test_no_in_a_text_field_stays_text(tmp_path):
    path = write(tmp_path / "a.yaml", "title: no\nlanguage: mandarin\ntext: no\nchime: no\n")
    problems = Problems()
    announcement = load_announcement(path, tmp_path, problems)
    assert not problems.has_errors  # (a warning: "no" will be read in English)
    assert announcement.title == "no"
    assert announcement.text == "no"
    assert announcement.chime is False


def test_octal_looking_and_float_looking_text_is_kept_as_written():
    node = parse_text("a: 0755\nb: 1e3\nc: 010-86123456\n", Path("x.yaml"), Problems())
    assert [value.value for _, value in node.items] == ["0755", "1e3", "010-86123456"]


def test_utf8_bom_is_accepted_silently(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + "title: 通知\nlanguage: mandarin\ntext: 各位村民\n".encode())
    problems = Problems()
    announcement = load_announcement(path, tmp_path, problems)
    assert not problems
    assert announcement.title == "通知"


def test_gbk_from_notepad_is_read_correctly_with_a_warning(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes("title: 勤洗手\nlanguage: mandarin\ntext: 各位村民请戴口罩\n".encode("gbk"))
    problems = Problems()
    announcement = load_announcement(path, tmp_path, problems)
    assert [p.severity for p in problems] == ["warning"]
    assert (problems[0].line, problems[0].column) == (1, 8)
    assert announcement.text == "各位村民请戴口罩"


def test_big5_is_refused_rather_than_garbled(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes("title: 衛生\nlanguage: cantonese\ntext: 唔好聚集\n".encode("big5"))
    problems = Problems()
    assert read(path, problems) is None
    assert [(p.severity, p.line) for p in problems] == [("error", 1)]
    assert "not UTF-8" in str(problems[0].message)


def test_alias_bomb_is_refused_quickly_in_bounded_memory(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    path = write(tmp_path / "bomb.yaml", "\n".join(lines) + "\n")
    problems = Problems()
    tracemalloc.start()
    started = time.perf_counter()
    assert read(path, problems) is None
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "aliases" in str(problems[0].message)
    assert (problems[0].line, problems[0].column) == (2, 8)
    assert elapsed < 1.0 and peak < 5_000_000


def test_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"text: " + b"x" * (MAX_FILE_BYTES + 1))
    problems = Problems()
    tracemalloc.start()
    assert read(path, problems) is None
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "too big" in str(problems[0].message)
    assert peak < MAX_FILE_BYTES


def test_many_small_values_are_bounded():
    text = "a: [" + ",".join(["1"] * 30_000) + "]\n"
    problems = Problems()
    assert parse_text(text, Path("x.yaml"), problems) is None
    assert "too many values" in str(problems[0].message)


def test_scalars_carry_one_based_positions():
    node = parse_text("title: 通知\ntext: |\n  各位村民\n", Path("x.yaml"), Problems())
    (k1, v1), (k2, v2) = node.items
    assert (k1.line, k1.column, v1.line, v1.column) == (1, 1, 1, 8)
    assert isinstance(v2, Scalar) and not v2.plain and v2.value == "各位村民\n"


def test_every_duplicate_key_is_reported(tmp_path):
    problems = Problems()
    parse_text("a: 1\nb: 2\na: 3\nb: 4\n", Path("x.yaml"), problems)
    assert [(p.line, p.column) for p in problems] == [(3, 1), (4, 1)]


def _problems_of(tmp_path, text: str) -> list[tuple[int, int, str]]:
    from broadcaster.content.load import load_announcement
    from broadcaster.schema.problems import Problems

    path = tmp_path / "notice.yaml"
    path.write_text(text, encoding="utf-8")
    problems = Problems()
    announcement = load_announcement(path, tmp_path, problems)
    assert announcement is None or problems.has_errors  # a file with errors is never used
    return [(p.line, p.column, str(p.message)) for p in problems if p.is_error]


def test_a_tab_does_not_hide_a_misspelt_key_on_another_line(tmp_path):
    found = _problems_of(tmp_path, "title: 通知\nlangauge: mandarin\nsegments:\n\t- text: 各位村民\n")
    assert (4, 1, "a tab is used for indentation") in found
    assert any(line == 2 and "unknown key 'langauge'" in message for line, _, message in found), found


def test_a_control_character_after_a_tab_is_reported_at_its_place(tmp_path):
    # found by the fuzz test: the tab was replaced before the control character was looked for
    found = _problems_of(tmp_path, "title: 通知\n\tlanguage: mandarin\x00\n")
    assert found == [(2, 20, "the file contains an invisible control character (code U+0000)")]


def test_a_chinese_colon_does_not_hide_other_mistakes(tmp_path):
    found = _problems_of(tmp_path, "title：通知\nlanguage: klingon\ntext:各位村民\n")
    lines = sorted(line for line, _, _ in found)
    assert lines == [1, 2, 3], found  # the colon, the language, the missing space: all at once
    assert "not one of" in next(message for line, _, message in found if line == 2)


def test_one_mistake_in_yaml_is_reported_once_at_its_place(tmp_path):
    found = _problems_of(tmp_path, 'title: 通知\nlanguage: mandarin\ntext: "各位村民\n')
    assert found == [(3, 7, "a quote is opened but never closed")]


def test_a_misspelt_key_is_not_also_reported_missing(tmp_path):
    found = _problems_of(tmp_path, "title: 通知\nlangauge: mandarin\ntext: 你好。\n")
    assert [(line, message) for line, _, message in found] == [(2, "unknown key 'langauge'")]


def test_a_hash_that_starts_a_comment_is_pointed_out(tmp_path):
    from broadcaster.schema.problems import Problems
    from broadcaster.schema.yamlfile import parse_text

    problems = Problems()
    text = "title: 通知\ntext: #3号楼停水\nsegments:  # the list below\n  - text: a\n"
    parse_text(text, tmp_path / "x.yaml", problems)
    assert [(p.line, p.column, p.severity) for p in problems] == [(2, 7, "warning")]
    assert "'#' starts a comment" in str(problems[0].message)
