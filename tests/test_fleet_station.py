"""A real station on the audio lab, linked to a real broker, and the town's console as a person uses it:
``fleet send`` (an emergency, a CAP alert and its Cancel), ``fleet status``, ``fleet report``."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.broker import PASSWORD, Broker
from tests.test_cap import alert, info

pytestmark = pytest.mark.audio


def cli(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "broadcaster", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def rows(station: Path) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(station / "data" / "playlog.sqlite") as db:
        return db.execute("SELECT announcement_id, trigger, outcome, reason, started_by FROM plays"
                          " ORDER BY id").fetchall()  # fmt: skip


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def fleet_yaml(broker: Broker, user: str, extra: str = "") -> str:
    return (f"fleet:\n  broker: mqtt://127.0.0.1:{broker.port}\n  id: {user}\n  username: {user}\n"
            f"  password: {PASSWORD.format(user=user)}\n{extra}")  # fmt: skip


@pytest.fixture(scope="module")
def town(audio_lab, tmp_path_factory):
    if not Broker.available():
        pytest.fail("the fleet tests need mosquitto (scripts/install.sh --dev installs it)")
    broker = Broker({"jiujiang": ["s1"]}, consoles=("office",)).start()
    station = tmp_path_factory.mktemp("s1")
    for sub in ("announcements", "playlists"):
        (station / sub).mkdir()
    (station / "config.yaml").write_text(
        "timezone: Asia/Shanghai\nzones:\n  a: {device: zone_a}\n"
        + fleet_yaml(broker, "s1", "  town: jiujiang\n  geocodes: [440605]\n  language: mandarin\n"),
        encoding="utf-8")  # fmt: skip
    (station / "announcements" / "hygiene.yaml").write_text("language: mandarin\ntext: 勤洗手。\n",
                                                             encoding="utf-8")  # fmt: skip
    office = tmp_path_factory.mktemp("office")
    (office / "announcements").mkdir()
    (office / "config.yaml").write_text(fleet_yaml(broker, "office"), encoding="utf-8")
    (office / "clips").mkdir()
    _siren(office / "clips" / "siren.wav")
    (office / "announcements" / "flood.yaml").write_text(
        "title: 防汛紧急通知\nlanguage: mandarin\nchime: no\nsegments:\n  - clip: clips/siren.wav\n"
        "  - text: 各位村民请注意，河水上涨，请立即转移到高处。\n",
        encoding="utf-8")  # fmt: skip
    cli(office, audio_lab.env, "fleet", "status")  # the console's session exists before anything is sent
    output = (station / "daemon.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "broadcaster", "run"], cwd=station, env=audio_lab.env,
                               stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    wait_for(lambda: "Fleet link connected" in (station / "daemon.log").read_text())
    yield {"broker": broker, "station": station, "office": office, "env": audio_lab.env}
    process.terminate()
    process.wait(20)
    output.close()
    broker.remove()


def _siren(path: Path) -> None:
    import numpy as np

    from broadcaster.pcm import Pcm, write_wav

    t = np.arange(24_000) / 48_000
    write_wav(path, Pcm((0.3 * np.sin(2 * np.pi * (600 + 400 * t) * t)).astype(np.float32), 48_000))


def _report(town, message: str) -> str:  # type: ignore[no-untyped-def]
    result = cli(town["office"], town["env"], "fleet", "report", message)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_console_run_with_a_stations_settings_is_refused_and_does_not_knock_it_off(town):
    sent = cli(town["station"], town["env"], "fleet", "send", "hygiene", "--to", "s1")
    assert sent.returncode == 1 and "is 's1' a console's account?" in sent.stderr
    status = cli(town["station"], town["env"], "fleet", "status")
    assert status.returncode == 0
    time.sleep(1.0)
    assert "Fleet link lost the broker" not in (town["station"] / "daemon.log").read_text()


def test_the_console_sees_the_station_online(town):
    status = cli(town["office"], town["env"], "fleet", "status")
    assert status.returncode == 0, status.stderr
    assert re.search(r"s1\s+jiujiang\s+online", status.stdout)
    own = cli(town["station"], town["env"], "status")
    assert f"fleet: s1 on mqtt://127.0.0.1:{town['broker'].port}, connected" in own.stdout


def test_an_emergency_from_the_town_airs_and_the_report_says_so(town, audio_lab):
    recording = audio_lab.record("zone_a")
    sent = cli(town["office"], town["env"], "fleet", "send", "announcements/flood.yaml",
               "--to", "town:jiujiang", "--priority", "emergency")  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    message = re.search(r"sent send (\w+)", sent.stdout)[1]  # type: ignore[index]
    assert f"expected at 1 station(s); follow it with: broadcaster fleet report {message}" in sent.stdout
    assert "warning" not in sent.stderr
    wait_for(lambda: any(r[0] == "flood" and r[2] == "completed" for r in rows(town["station"])))
    heard = recording.stop()
    assert (heard**2).mean() > 1e-4  # it was heard on the zone
    flood = next(r for r in rows(town["station"]) if r[0] == "flood")
    assert flood[1] == "emergency" and flood[4] == f"fleet:{message}:office"
    written = (town["station"] / "announcements" / "flood.yaml").read_text(encoding="utf-8")
    assert written.startswith(f"# written by the fleet link: {message} from office")
    # The recording it plays came with it.
    sent_clip = (town["office"] / "clips" / "siren.wav").read_bytes()
    assert (town["station"] / "clips" / "siren.wav").read_bytes() == sent_clip
    wait_for(lambda: "1 of 1 aired" in _report(town, message[:8]), timeout=30)


def test_a_send_no_station_can_get_is_pointed_out(town):
    # The broker holds a message only for a station that has connected once: no silent nothing.
    sent = cli(town["office"], town["env"], "fleet", "stop", "--to", "town:nowhere")
    assert sent.returncode == 0, sent.stderr
    assert "no station of town:nowhere has been seen by this console" in sent.stderr
    sent = cli(town["office"], town["env"], "fleet", "stop", "--to", "s9,s8")
    assert "never seen by this console: s9, s8" in sent.stderr
    assert "expected at 2 station(s)" in sent.stdout


def test_the_stations_own_file_is_not_replaced_from_the_town(town):
    (town["office"] / "announcements" / "hygiene.yaml").write_text("language: mandarin\ntext: 别的内容。\n",
                                                                    encoding="utf-8")  # fmt: skip
    sent = cli(town["office"], town["env"], "fleet", "send", "announcements/hygiene.yaml", "--to", "s1")
    message = re.search(r"sent send (\w+)", sent.stdout)[1]  # type: ignore[index]
    wait_for(lambda: "refused" in _report(town, message), timeout=30)
    assert "the station's own file" in _report(town, message)
    assert "勤洗手" in (town["station"] / "announcements" / "hygiene.yaml").read_text(encoding="utf-8")


def test_a_cap_alert_airs_an_update_replaces_it_and_a_cancel_stops_it(town):
    long_instruction = "请立即转移到安全地带，" * 12
    office, station = town["office"], town["station"]

    def send(name: str, xml: bytes) -> None:
        (office / name).write_bytes(xml)
        result = cli(office, town["env"], "fleet", "send", str(office / name), "--to", "all")
        assert result.returncode == 0, result.stderr

    def state(prefix: str) -> str | None:
        return next((r[2] for r in reversed(rows(station)) if r[0].startswith(prefix)), None)

    send("alert.xml", alert("GD-FS-9", infos=info("zh-CN", "暴雨红色预警", long_instruction)))
    wait_for(lambda: state("cap-GD-FS-9") == "playing")
    first = "foshan-weather@example.cn,GD-FS-9,2026-11-30T16:00:00+08:00"
    send("update.xml", alert("GD-FS-10", msg_type="Update", references=first,
                             infos=info("zh-CN", "暴雨红色预警更新", long_instruction)))  # fmt: skip
    wait_for(lambda: state("cap-GD-FS-9") == "interrupted" and state("cap-GD-FS-10") == "playing")
    update = "foshan-weather@example.cn,GD-FS-10,2026-11-30T16:00:00+08:00"
    send("cancel.xml", alert("GD-FS-11", msg_type="Cancel", references=update))
    wait_for(lambda: state("cap-GD-FS-10") == "interrupted")
    cut = next(r for r in rows(station) if r[0].startswith("cap-GD-FS-10"))
    assert cut[1:4] == ("emergency", "interrupted", "replaced or cancelled by CAP GD-FS-11")
    assert state("cap-GD-FS-11") is None  # a Cancel is not aired


def test_a_broken_file_is_refused_at_the_console_with_its_line(town):
    bad = town["office"] / "announcements" / "bad.yaml"
    bad.write_text("language: mandarin\npriority: urgent\ntext: 通知。\n", encoding="utf-8")
    sent = cli(town["office"], town["env"], "fleet", "send", "announcements/bad.yaml", "--to", "s1")
    assert sent.returncode == 1 and "bad.yaml:2:" in sent.stdout + sent.stderr


def test_a_broken_file_sent_anyway_is_refused_by_the_station_with_its_line(town):
    from broadcaster.config import load_config
    from broadcaster.fleet import console
    from broadcaster.fleet.messages import Message
    from broadcaster.fleet.store import ConsoleStore
    from broadcaster.schema.problems import Problems

    settings = load_config(town["office"] / "config.yaml", Problems()).fleet
    store = ConsoleStore(town["office"] / "data" / "fleet-console.sqlite")
    body = {"name": "broken", "yaml": "language: mandarin\npriority: urgent\ntext: 通知。\n"}
    message = Message.new("announcement", "office", body)
    console.send(settings, store, message, "s1")
    store.close()
    wait_for(lambda: "refused" in _report(town, message.id), timeout=30)
    assert "broken.yaml:3:" in _report(town, message.id)  # line 1 is the fleet's mark
    assert not (town["station"] / "announcements" / "broken.yaml").exists()


def test_a_playlist_from_the_town_is_written_and_a_stop_is_taken(town):
    (town["office"] / "playlists").mkdir(exist_ok=True)
    (town["office"] / "playlists" / "town-evening.yaml").write_text(
        "slots:\n  - at: 23:59\n    play: hygiene\n", encoding="utf-8")  # fmt: skip
    sent = cli(town["office"], town["env"], "fleet", "send", "playlists/town-evening.yaml", "--to", "s1")
    assert sent.returncode == 0, sent.stderr
    wait_for(lambda: (town["station"] / "playlists" / "town-evening.yaml").exists(), timeout=30)
    stop = cli(town["office"], town["env"], "fleet", "stop", "--to", "s1")
    message = re.search(r"sent stop (\w+)", stop.stdout)[1]  # type: ignore[index]
    wait_for(lambda: "taken" in _report(town, message), timeout=30)


def test_the_same_alert_given_twice_is_aired_once(town):
    path = town["office"] / "twice.xml"
    path.write_bytes(alert("GD-FS-13"))
    first, again = (cli(town["station"], town["env"], "cap", str(path)) for _ in range(2))
    assert "aired as cap-GD-FS-13" in first.stdout
    assert "not aired: received before: aired once" in again.stdout


def test_a_test_alert_given_to_the_station_is_not_aired(town):
    path = town["office"] / "test.xml"
    path.write_bytes(alert("GD-FS-12", status="Test"))
    result = cli(town["station"], town["env"], "cap", str(path))
    assert result.returncode == 0, result.stderr
    assert "not aired: status Test: not aired to the public" in result.stdout
