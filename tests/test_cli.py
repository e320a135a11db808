"""The command line: help, exit codes, languages."""

from __future__ import annotations

from tests.conftest import REPO


def test_help_lists_the_commands(run_cli, capsys):
    import argparse

    from broadcaster.cli.main import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for command in ("check", "list", "voices", "say", "render", "devices", "play", "log", "report", "run",
                    "send", "stop", "skip", "status", "plan"):  # fmt: skip
        assert command in commands, command  # a command, not a word of another one's help ("display")
        assert f"    {command}" in parser.format_help()


def test_check_on_the_sample_station_exits_0(run_cli):
    result = run_cli("check", cwd=REPO)
    assert result.code == 0, result.text
    assert result.out == ""


def test_check_a_single_file_sees_the_other_announcements(station, run_cli):
    result = run_cli("check", "playlists/daily.yaml", cwd=station)
    assert result.code == 0, result.text


def test_check_names_a_missing_path_and_fails(station, run_cli):
    result = run_cli("check", "announcements/nope.yaml", cwd=station)
    assert result.code == 1
    assert "announcements/nope.yaml: no such file or folder" in result.err


def test_chinese_locale_gives_chinese_summary(station, run_cli):
    (station / "playlists" / "x.yaml").write_text("title: x\n", encoding="utf-8")
    result = run_cli("check", cwd=station, lang="zh_CN.UTF-8")
    assert result.code == 1
    assert "playlists/x.yaml:1:1: 错误: 节目单需要“slots”（播放时间）或“loop”（循环播放）" in result.out
    assert "1 个错误" in result.err


def test_config_can_ask_for_chinese(station, run_cli):
    config = station / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("ui_language: auto", "ui_language: zh_CN"))
    (station / "playlists" / "x.yaml").write_text("title: x\n", encoding="utf-8")
    result = run_cli("check", cwd=station, lang="C.UTF-8")
    assert "错误" in result.out


def test_missing_config_file_is_one_line(station, run_cli):
    result = run_cli("--config", "nope.yaml", "check", cwd=station)
    assert result.code == 1
    assert result.err.strip() == "error: config file nope.yaml does not exist"


def test_plan_takes_a_start_without_an_offset_in_the_station_time(station, run_cli):
    for start in ("2026-12-03T06:00", "2026-12-03"):
        result = run_cli("plan", "--start", start, "--days", "1", cwd=station)
        assert result.code == 0, result.err
        times = [line.split()[1] for line in result.out.splitlines()[1:] if line.startswith("12-03")]
        assert times[:2] == ["07:30:00", "08:00:00"], result.out  # the sample's daily slots, Shanghai time


def test_log_into_a_pipe_closed_early_is_not_an_error(station):
    import datetime as dt
    import subprocess
    import sys

    from broadcaster.playlog import PlayLog

    log = PlayLog(station / "data" / "playlog.sqlite")
    now = dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)
    for _ in range(3000):
        log.finish(log.start("hygiene", "h", "village", "schedule", now, now), "completed", now)
    log.close()
    done = subprocess.run(f"{sys.executable} -m broadcaster log --since 2026-11-01 | head -1", shell=True,
                          cwd=station, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.stdout.count("\n") == 1
    assert done.stderr == ""


def test_list_shows_every_announcement_with_its_state_and_last_play(station, run_cli):
    import datetime as dt
    import json

    from broadcaster.playlog import PlayLog

    (station / "announcements" / "old.yaml").write_text(
        "title: 旧通知\nlanguage: mandarin\ntext: 已过期。\nvalid_until: 2020-02-01\n", encoding="utf-8")
    (station / "announcements" / "broken.yaml").write_text("title: 坏\nlanguage: klingon\ntext: x\n",
                                                           encoding="utf-8")  # fmt: skip
    log = PlayLog(station / "data" / "playlog.sqlite")
    moment = dt.datetime(2026, 11, 28, 7, 30, tzinfo=dt.UTC)
    log.finish(log.start("hotline", "h", "village", "schedule", moment, moment), "completed", moment)
    log.finish(log.start("hygiene", "h", "village", "schedule", moment), "missed", moment, "quiet hours")
    log.close()
    rows = {r["id"]: r for r in json.loads(run_cli("list", "--format", "json", cwd=station).out)}
    assert rows["old"]["state"] == "expired" and rows["old"]["title"] == "旧通知"
    assert rows["broken"]["state"] == "broken"
    assert rows["hotline"]["last_played"] == "2026-11-28 15:30:00" and rows["hotline"]["state"] == "ok"
    assert rows["stay-home-emergency"]["priority"] == "emergency"
    table = run_cli("list", cwd=station, lang="zh_CN.UTF-8")
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0].split()[:3] == ["编号", "标题", "语言"]
    assert "已过期" in next(line for line in lines if line.startswith("old "))
    assert "从未" in next(line for line in lines if line.startswith("hygiene "))


def test_tables_line_up_chinese_by_display_width(station, run_cli):
    from broadcaster.cli.common import display_width

    lines = run_cli("list", cwd=station, lang="zh_CN.UTF-8").out.splitlines()
    # the third column starts at the same terminal column on every line
    starts = set()
    for line in lines:
        head = line.split("  ")[0]
        rest = line[len(head):].lstrip()
        second = rest.split("  ")[0]
        starts.add(display_width(line[: line.index(second, len(head)) + len(second)]) - display_width(second))
    assert len(starts) == 1, lines
    assert display_width("防控热线") == 8 and display_width("hotline") == 7


def test_plan_shows_a_background_loop(station, run_cli):
    van = station / "playlists" / "van-loop.yaml"
    van.write_text(van.read_text(encoding="utf-8").replace("enabled: no", "enabled: yes"), encoding="utf-8")
    result = run_cli("plan", "--days", "1", "--start", "2026-12-03T06:00", cwd=station)
    assert result.code == 0, result.text
    loop = result.out.splitlines()[1]
    assert loop.startswith("(loop)") and "van-loop" in loop and "idle for 30 s" in loop
    sample = run_cli("plan", "--days", "1", "--start", "2026-12-03T06:00", cwd=REPO).out
    assert "(loop)" not in sample  # the sample station runs its daily schedule, not the van's loop
    assert "07:30:00  daily" in sample


def test_check_outside_a_station_says_there_is_none(tmp_path, run_cli):
    result = run_cli("check", cwd=tmp_path, lang="zh_CN.UTF-8")
    assert result.code == 1
    assert "这里没有广播站" in result.err


def test_a_missing_file_counts_as_an_error(station, run_cli):
    result = run_cli("check", "nope.yaml", cwd=station)
    assert result.code == 1
    assert "error: nope.yaml: no such file or folder" in result.err and "1 error(s)" in result.err


def test_plan_names_a_broken_playlist_instead_of_showing_nothing(station, run_cli):
    daily = station / "playlists" / "daily.yaml"
    daily.write_text(daily.read_text(encoding="utf-8").replace("hotline]", "hotlin]"), encoding="utf-8")
    result = run_cli("plan", "--days", "1", cwd=station, lang="zh_CN.UTF-8")
    assert result.code == 0
    assert any(line.split()[:2] == ["-", "daily"] and "有错误" in line for line in result.out.splitlines())
    assert "hotlin" in result.err  # the error itself, at its line
