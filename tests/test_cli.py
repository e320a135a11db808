"""The command line: help, exit codes, languages."""

from __future__ import annotations

from tests.conftest import REPO


def test_help_lists_the_commands(run_cli, capsys):
    from broadcaster.cli import build_parser

    text = build_parser().format_help()
    for command in ("check", "voices", "say", "render", "devices", "play", "log", "report"):
        assert command in text


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
