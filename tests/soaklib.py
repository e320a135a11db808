"""A compressed day on the audio lab: a real station playing a slot every few seconds.

Used by the fault suite (a short run) and by ``bench/soak.py`` (30 minutes or more).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.audiolab import AudioLab

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0


def _status(station: Path, env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    done = subprocess.run([sys.executable, "-m", "broadcaster", "status", "--json"], cwd=station, env=env,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    return json.loads(done.stdout) if done.returncode == 0 else {}


def soak(folder: Path, minutes: float, interval_s: int = 3) -> dict[str, float]:
    lab = AudioLab().start()
    station = folder / "station"
    for sub in ("announcements", "playlists"):
        (station / sub).mkdir(parents=True, exist_ok=True)
    (station / "config.yaml").write_text(
        "timezone: Asia/Shanghai\nzones:\n  a: {device: zone_a}\n  b: {device: zone_b}\n", encoding="utf-8"
    )
    for name, text in (("one", "各位村民请注意。"), ("two", "请戴口罩。")):
        (station / "announcements" / f"{name}.yaml").write_text(
            f"language: mandarin\nchime: no\ntext: {text}\n", encoding="utf-8"
        )
    subprocess.run([sys.executable, "-m", "broadcaster", "render", "--all"], cwd=station, env=lab.env,
                   capture_output=True, check=True)  # fmt: skip
    first = (dt.datetime.now(SHANGHAI) + dt.timedelta(seconds=20)).replace(microsecond=0)
    count = int(minutes * 60 / interval_s)
    slots = [first + dt.timedelta(seconds=interval_s * i) for i in range(count)]
    lines = ["slots:"]
    for zone, announcement, chosen in (("a", "one", slots[0::2]), ("b", "two", slots[1::2])):
        times = ", ".join(s.strftime("%H:%M:%S") for s in chosen)
        lines += [f"  - at: [{times}]", f"    play: {announcement}", f"    zones: [{zone}]"]
    (station / "playlists" / "day.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    daemon = subprocess.Popen([sys.executable, "-m", "broadcaster", "run"], cwd=station, env=lab.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while not _status(station, lab.env):
            time.sleep(0.2)
        time.sleep(max(0.0, first.timestamp() - time.time()) + 2 * interval_s)
        start_rss, start_fds = _rss_kib(daemon.pid), len(os.listdir(f"/proc/{daemon.pid}/fd"))
        start_under = {k: v["underflows"] for k, v in _status(station, lab.env)["cards"].items()}
        time.sleep(max(0.0, slots[-1].timestamp() - time.time()) + 4)
        end_rss, end_fds = _rss_kib(daemon.pid), len(os.listdir(f"/proc/{daemon.pid}/fd"))
        end_under = {k: v["underflows"] for k, v in _status(station, lab.env)["cards"].items()}
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        lab.stop()
    with sqlite3.connect(station / "data" / "playlog.sqlite") as db:
        outcomes = dict(db.execute("SELECT outcome, count(*) FROM plays GROUP BY outcome").fetchall())
    return {
        "slots": count,
        "completed": outcomes.get("completed", 0),
        "missed": outcomes.get("missed", 0),
        "failed": outcomes.get("failed", 0),
        "underflows": sum(end_under.values()) - sum(start_under.values()),
        "rss_growth_kib": end_rss - start_rss,
        "rss_end_kib": end_rss,
        "fd_growth": end_fds - start_fds,
        "exit_code": daemon.returncode,
    }
