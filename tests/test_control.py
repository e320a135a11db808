"""The control commands: light to start, and the socket protocol's client side.

A fake station (a Unix socket answering scripted lines) stands in for the
daemon, so these tests need no sound card and no speech engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from broadcaster.daemon.control import call, socket_path
from broadcaster.errors import BroadcasterError

HEAVY = ("numpy", "scipy", "yaml", "sounddevice", "apscheduler",
         "broadcaster.config", "broadcaster.content.models", "broadcaster.daemon.run")  # fmt: skip


@contextlib.contextmanager
def fake_station(root: Path, lines: list[dict[str, object]] | None,
                 pause_s: float = 0.0) -> Iterator[list[dict[str, object]]]:  # fmt: skip
    """A station's control socket under ``root``: each request is answered with ``lines``.

    With ``lines=None`` it never answers (it waits until the client hangs up).
    Yields the requests received.
    """
    requests: list[dict[str, object]] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            requests.append(json.loads(self.rfile.readline()))
            if lines is None:
                self.rfile.read()
                return
            for line in lines:
                time.sleep(pause_s)
                self.wfile.write((json.dumps(line, ensure_ascii=False) + "\n").encode())
                self.wfile.flush()

    path = socket_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    server = socketserver.UnixStreamServer(str(path), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _imported(importtime_output: str) -> set[str]:
    """Module names from ``python -X importtime`` output (``import time: self | cumulative | name``)."""
    return {line.rpartition("|")[2].strip() for line in importtime_output.splitlines()
            if line.startswith("import time:")}  # fmt: skip


@pytest.mark.parametrize(
    "command", [["send", "x", "--priority", "emergency"], ["stop"], ["skip"], ["status"]]
)
@pytest.mark.parametrize("config", [False, True], ids=["no-config", "zh-config"])
def test_a_control_command_imports_nothing_heavy(tmp_path, command, config):
    if config:
        # the interface language comes from the config, found without parsing YAML
        (tmp_path / "config.yaml").write_text(
            "station: 测试村\nui_language: zh_CN  # 中文\n", encoding="utf-8"
        )
    env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env["LANG"] = "C.UTF-8"
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "broadcaster", *command], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    messages = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    assert done.returncode == 1, done.stderr
    sock = tmp_path.resolve() / "data" / "broadcaster.sock"
    expected = (
        f"错误：这里没有正在运行的广播站（没有 {sock}）"
        if config
        else f"error: no station is running here (no {sock})"
    )
    assert messages == [expected]
    imported = _imported(done.stderr)
    assert "broadcaster.daemon.control" in imported
    heavy = sorted(m for m in imported if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []


def test_call_passes_progress_on_and_returns_the_final_answer(tmp_path):
    lines = [{"progress": "rendering a"}, {"progress": "rendered a"}, {"sent": "a", "zones": ["z"]}]
    seen: list[str] = []
    with fake_station(tmp_path, lines) as requests:
        answer = call(
            socket_path(tmp_path), {"command": "send", "announcement": "a"}, on_progress=seen.append
        )
    assert requests == [{"command": "send", "announcement": "a"}]
    assert seen == ["rendering a", "rendered a"]
    assert answer == {"sent": "a", "zones": ["z"]}


def test_call_without_on_progress_skips_progress_lines(tmp_path):
    with fake_station(tmp_path, [{"progress": "rendering a"}, {"stopped": ["z"]}]):
        assert call(socket_path(tmp_path), {"command": "stop"}) == {"stopped": ["z"]}


def test_call_raises_the_station_error(tmp_path):
    seen: list[str] = []
    with fake_station(
        tmp_path, [{"progress": "rendering a"}, {"error": "cannot render a: espeak-ng failed"}]
    ):
        with pytest.raises(BroadcasterError, match="^cannot render a: espeak-ng failed$"):
            call(socket_path(tmp_path), {"command": "send", "announcement": "a"}, on_progress=seen.append)
    assert seen == ["rendering a"]


def test_each_progress_line_restarts_the_timeout(tmp_path):
    lines = [{"progress": "1"}, {"progress": "2"}, {"progress": "3"}, {"sent": "a"}]
    started = time.monotonic()
    with fake_station(tmp_path, lines, pause_s=0.3):
        answer = call(socket_path(tmp_path), {"command": "send"}, timeout=0.6)
    assert answer == {"sent": "a"}
    assert time.monotonic() - started > 1.0  # longer than the timeout, in all


def test_a_silent_station_times_out(tmp_path):
    path = socket_path(tmp_path)
    with fake_station(tmp_path, None):
        with pytest.raises(BroadcasterError, match=r"^the station did not answer within 0.3 s \("):
            call(path, {"command": "status"}, timeout=0.3)


def test_a_station_that_hangs_up_without_an_answer(tmp_path):
    with fake_station(tmp_path, [{"progress": "rendering a"}]):
        with pytest.raises(BroadcasterError, match="closed the connection without an answer"):
            call(socket_path(tmp_path), {"command": "send"})


def test_a_socket_left_behind_by_a_dead_station_is_stale(tmp_path):
    path = socket_path(tmp_path)
    path.parent.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))  # bound, never listening: what a killed station leaves
    with pytest.raises(BroadcasterError, match=r"^no station is running here \(.* is stale\)$"):
        call(path, {"command": "status"})


def test_send_prints_the_station_progress_and_the_result(tmp_path, run_cli):
    lines = [
        {"progress": "rendering notice"},
        {"sent": "notice", "zones": ["a", "b"], "priority": "emergency"},
    ]
    with fake_station(tmp_path, lines) as requests:
        result = run_cli("send", "notice", "--priority", "emergency", cwd=tmp_path)
    assert result.code == 0, result.text
    assert requests == [{"command": "send", "announcement": "notice", "priority": "emergency", "zones": None}]
    assert result.err == "station: rendering notice\n"
    assert result.out == "sent notice to a, b (emergency)\n"


def test_send_reports_the_station_error_in_one_line(tmp_path, run_cli):
    with fake_station(tmp_path, [{"error": "unknown announcement 'nope'"}]):
        result = run_cli("send", "nope", cwd=tmp_path)
    assert result.code == 1
    assert result.err == "error: unknown announcement 'nope'\n"


def test_the_socket_is_beside_the_named_config(tmp_path, run_cli):
    station = tmp_path / "village"
    station.mkdir()
    (station / "config.yaml").write_text("ui_language: zh_CN\n", encoding="utf-8")
    with fake_station(station, [{"skipped": ["a"]}]):
        result = run_cli("--config", "village/config.yaml", "skip", cwd=tmp_path)
    assert result.code == 0, result.text
    assert result.out == "已跳过：a\n"


def test_a_named_config_that_does_not_exist_is_an_error(tmp_path, run_cli):
    result = run_cli("--config", "nope.yaml", "stop", cwd=tmp_path)
    assert result.code == 1
    assert result.err == "error: config file nope.yaml does not exist\n"


STATUS = {
    "station": "东村", "now": "2026-03-01T08:00:00+08:00",
    "zones": [{"zone": "a", "playing": "notice", "waiting": [], "dropouts": 2},
              {"zone": "b", "playing": None, "waiting": ["daily#1"], "dropouts": 0}],
    "next": [], "errors": [],
    "cards": {"zone_a": {"alive": True, "underflows": 3, "dropouts": 5, "failure": None}},
}  # fmt: skip


def test_status_shows_the_dropouts_of_plays_and_cards(tmp_path, run_cli):
    with fake_station(tmp_path, [STATUS]):
        result = run_cli("status", cwd=tmp_path)
    assert result.code == 0, result.text
    assert result.out.splitlines() == [
        "东村  2026-03-01T08:00:00+08:00",
        "zone a: playing notice, waiting 0  (2 dropout(s) in this play)",
        "zone b: playing -, waiting 1",
        "sound card zone_a: 5 dropout(s) since start",
    ]


def test_status_from_a_station_without_dropout_counts(tmp_path, run_cli):
    old = {**STATUS, "zones": [{"zone": "a", "playing": None, "waiting": []}]}
    del old["cards"]
    with fake_station(tmp_path, [old]):
        result = run_cli("status", cwd=tmp_path, lang="zh_CN.UTF-8")
    assert result.code == 0, result.text
    assert result.out.splitlines()[1:] == ["广播区 a：正在播放 -，等待 0 条"]
