"""A compressed day on the audio lab: a real station playing back to back on two zones.

Each zone has a loop of two announcements with a 1 s gap, so something plays
almost all the time; both monitors are recorded for the whole run and every
log row is checked against the recording: one stretch of sound per play, of
the logged length, at the logged time, without a hole. Optionally with CPU
hogs, also at a higher priority than the station (a lower ``nice``).

Used by the fault suite (a short run) and by ``bench/soak.py`` (30 minutes or more).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tests.audiolab import RATE, AudioLab

CHECK_TOLERANCE_S = 0.03
"""A hole longer than this inside a play shows as a heard span longer than the item's own."""


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status(station: Path, env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    done = subprocess.run([sys.executable, "-m", "broadcaster", "status", "--json"], cwd=station, env=env,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    return json.loads(done.stdout) if done.returncode == 0 else {}


def stretches(samples: np.ndarray, threshold: float = 0.01, window: int = 240,
              bridge_s: float = 0.8) -> list[tuple[float, float]]:  # fmt: skip
    """(start, end) seconds of each stretch of sound; pauses under ``bridge_s`` (in speech) are bridged."""
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > threshold
    changes = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
    found: list[tuple[float, float]] = []
    for a, b in zip(changes[::2], changes[1::2], strict=True):
        start, end = a * window / RATE, b * window / RATE
        if found and start - found[-1][1] < bridge_s:
            found[-1] = (found[-1][0], end)
        else:
            found.append((start, end))
    return found


def _hog(nice: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["nice", "-n", str(nice), sys.executable, "-c", "while 1: pass"])


def soak(folder: Path, minutes: float, hogs: int = 0, hog_nice: int = 0) -> dict[str, object]:
    lab = AudioLab().start()
    station = folder / "station"
    for sub in ("announcements", "playlists"):
        (station / sub).mkdir(parents=True, exist_ok=True)
    (station / "config.yaml").write_text(
        "timezone: Asia/Shanghai\nzones:\n  a: {device: zone_a}\n  b: {device: zone_b}\n", encoding="utf-8"
    )
    texts = {"one": "各位村民请注意。", "two": "请戴口罩，勤洗手。", "three": "街坊注意，唔好聚集。",
             "four": "出入请登记。"}  # fmt: skip
    for name, text in texts.items():
        language = "cantonese" if name == "three" else "mandarin"
        (station / "announcements" / f"{name}.yaml").write_text(
            f"language: {language}\nchime: no\ntext: {text}\n", encoding="utf-8"
        )
    (station / "playlists" / "a.yaml").write_text("zones: [a]\nloop:\n  play: [one, two]\n  gap: 1s\n")
    (station / "playlists" / "b.yaml").write_text("zones: [b]\nloop:\n  play: [three, four]\n  gap: 1s\n")
    subprocess.run([sys.executable, "-m", "broadcaster", "render", "--all"], cwd=station, env=lab.env,
                   capture_output=True, check=True)  # fmt: skip
    loads = [_hog(hog_nice) for _ in range(hogs)]
    recordings = {zone: lab.record(f"zone_{zone}") for zone in ("a", "b")}
    daemon = subprocess.Popen([sys.executable, "-m", "broadcaster", "run"], cwd=station, env=lab.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while not _status(station, lab.env):
            time.sleep(0.2)
        time.sleep(3)  # the loops start after their 1 s gap
        start_rss, start_fds = _rss_kib(daemon.pid), len(os.listdir(f"/proc/{daemon.pid}/fd"))
        start_cpu, start_wall = _cpu_s(daemon.pid), time.monotonic()
        time.sleep(minutes * 60)
        cpu = (_cpu_s(daemon.pid) - start_cpu) / (time.monotonic() - start_wall)
        end_rss, end_fds = _rss_kib(daemon.pid), len(os.listdir(f"/proc/{daemon.pid}/fd"))
        cards = _status(station, lab.env)["cards"]
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        for process in loads:
            process.kill()
        heard = {zone: (r.first_sample_at, r.stop()) for zone, r in recordings.items()}
        lab.stop()
    with sqlite3.connect(station / "data" / "playlog.sqlite") as db:
        rows = db.execute("SELECT zone, outcome, started_at, ended_at, announcement_id FROM plays"
                          " ORDER BY id").fetchall()  # fmt: skip
    mismatches = _check(rows, heard, _spans(station))
    outcomes: dict[str, int] = {}
    for row in rows:
        outcomes[row[1]] = outcomes.get(row[1], 0) + 1
    return {
        "plays": len(rows),
        "completed": outcomes.get("completed", 0),
        "dropout": outcomes.get("dropout", 0),
        "interrupted": outcomes.get("interrupted", 0),
        "missed": outcomes.get("missed", 0),
        "failed": outcomes.get("failed", 0),
        "underflows": sum(card["underflows"] for card in cards.values()),
        "gaps": sum(card.get("dropouts", 0) for card in cards.values()),
        "rows_not_matching_the_recording": mismatches,
        "cpu_percent": round(cpu * 100, 2),
        "rss_growth_kib": end_rss - start_rss,
        "rss_end_kib": end_rss,
        "fd_growth": end_fds - start_fds,
        "exit_code": daemon.returncode,
    }


def _spans(station: Path) -> dict[str, tuple[float, float, float]]:
    """Per announcement, from its rendered file: (sound starts at, sound ends at, file length) in seconds."""
    from broadcaster.pcm import read_wav

    spans = {}
    for meta in (station / "data" / "cache" / "announcements").glob("*.json"):
        samples = read_wav(meta.with_suffix(".wav")).samples
        (first, _), *_rest = stretches(samples)
        last = stretches(samples)[-1][1]
        spans[json.loads(meta.read_text())["announcement"]] = (first, last, len(samples) / RATE)
    return spans


def _check(rows: list[tuple], heard: dict[str, tuple[float, np.ndarray]],  # type: ignore[type-arg]
           spans: dict[str, tuple[float, float, float]]) -> list[str]:  # fmt: skip
    """Every finished play is one stretch of sound, where the log says, as long as the item's own."""
    from broadcaster.playlog import parse_iso

    problems = []
    for zone, (first_sample_at, samples) in heard.items():
        sound = [(first_sample_at + a, first_sample_at + b) for a, b in stretches(samples)]
        for row_zone, outcome, started, ended, announcement in rows:
            if row_zone != zone or outcome not in ("completed", "dropout") or not started or not ended:
                continue
            first, last, length = spans[announcement]
            start, end = parse_iso(started).timestamp(), parse_iso(ended).timestamp()
            match = [s for s in sound if abs(s[0] - (start + first)) < 0.5]
            if len(match) != 1:
                problems.append(f"{zone} {started}: {len(match)} stretches of sound near the logged start")
                continue
            heard_start, heard_end = match[0]
            if abs((heard_end - heard_start) - (last - first)) > CHECK_TOLERANCE_S:
                problems.append(f"{zone} {started} {announcement}: heard {heard_end - heard_start:.3f} s of "
                                f"sound, the item has {last - first:.3f} s")  # fmt: skip
            if abs((end - start) - length) > CHECK_TOLERANCE_S and outcome == "completed":
                problems.append(f"{zone} {started} {announcement}: logged {end - start:.3f} s, "
                                f"the item is {length:.3f} s")  # fmt: skip
    return problems
