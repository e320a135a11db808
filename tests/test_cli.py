"""The command line: help, exit codes, languages."""

from __future__ import annotations

from tests.conftest import REPO


def test_help_lists_the_commands(run_cli, capsys):
    import argparse

    from broadcaster.cli.main import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for command in ("check", "voices", "say", "render", "devices", "play", "log", "report", "run", "send",
                    "stop", "skip", "status", "plan"):  # fmt: skip
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
