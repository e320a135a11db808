"""Live voice on the audio lab: microphone → zone delay over a long talk, holes, CPU.

Run:  .venv/bin/python bench/bench_live.py [--minutes 30]
      scripts/busy.sh .venv/bin/python bench/bench_live.py --minutes 30   # beside two CPU hogs

A real ``broadcaster run`` (zones zone_a and zone_b, the lab's third sink as the
microphone) and a real ``broadcaster live --zone a``. For the whole talk a 1 kHz
burst of 100 ms is played into the microphone every 0.5 s; the microphone's
monitor and zone_a's monitor are recorded, and each burst's onset is matched on
both. Reported: from launching ``broadcaster live`` to the chime at the zone
(whole process, imports included), the delay's p50/p99 in the first and the last minute (a delay
that grows shows as a difference), bursts lost, the play row's dropouts and the
station's CPU during the talk against before it.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.audiolab import RATE, AudioLab, latencies, onsets, tone_bursts  # noqa: E402

EVERY_S = 0.5


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def onsets_of(path: Path, first_sample_at: float) -> np.ndarray:
    """Onsets in a long recording, read a minute at a time (the file is not loaded whole)."""
    raw = np.memmap(path, dtype="<i2", mode="r")
    found = []
    step = 60 * RATE
    for start in range(0, len(raw), step):
        part = raw[start : start + step + RATE // 10].astype(np.float32) / 32768
        times = onsets(part, first_sample_at + start / RATE)
        found.extend(t for t in times if t < first_sample_at + (start + step) / RATE)
    return np.array(sorted(set(np.round(found, 4))))


def shifts(name: str, found: np.ndarray) -> str:
    """Where one recording's bursts are not 0.5 s apart: a step in the delay, placed on its side.

    The bursts go into the microphone exactly ``EVERY_S`` apart, so a step seen in the microphone's
    recording is the recorder's (lost samples), one seen only in the zone's is the station path's.
    """
    gaps = np.diff(found)
    off = gaps[np.abs(gaps - EVERY_S) > 0.002] - EVERY_S
    off = off[np.abs(off) < EVERY_S / 2]  # a lost burst is not a shift
    steps = ", ".join(f"{x * 1000:+.1f}" for x in off[:10])
    total = off.sum() * 1000
    return f"{name:<14} {len(off)} intervals off by more than 2 ms, {total:+.1f} ms in all ({steps})"


def summary(name: str, delays: np.ndarray) -> str:
    ms = delays * 1000
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    return f"{name:<14} n={len(ms):5d}  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  max {ms.max():6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()
    lab = AudioLab().start()
    process = talk = speaking = None
    try:
        station = Path(tempfile.mkdtemp(prefix="bench-live-"))
        for sub in ("announcements", "playlists"):
            (station / sub).mkdir()
        (station / "config.yaml").write_text(
            "zones:\n  a: {device: zone_a}\n  b: {device: zone_b}\nlive:\n  input: mic\n  max_duration: 2h\n",
            encoding="utf-8",
        )  # fmt: skip
        log = (station / "daemon.log").open("w")
        process = subprocess.Popen([sys.executable, "-m", "broadcaster", "run"], cwd=station, env=lab.env,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        while subprocess.run([sys.executable, "-m", "broadcaster", "status"], cwd=station, env=lab.env,
                             capture_output=True).returncode:  # fmt: skip
            assert process.poll() is None, (station / "daemon.log").read_text()
            time.sleep(0.2)
        time.sleep(2.0)
        idle_cpu = cpu_seconds(process.pid)
        time.sleep(10.0)
        idle = (cpu_seconds(process.pid) - idle_cpu) / 10.0

        zone_a, mic = lab.record("zone_a"), lab.record("mic")
        launched = time.time()
        talk = subprocess.Popen([sys.executable, "-m", "broadcaster", "live", "--zone", "a", "--by", "bench"],
                                cwd=station, env=lab.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)  # fmt: skip
        assert talk.stdout is not None and talk.stdin is not None
        for line in talk.stdout:
            if "ON AIR" in line:
                break
        seconds = args.minutes * 60
        cpu_before, wall_before = cpu_seconds(process.pid), time.monotonic()
        speaking = lab.speak_into_microphone(tone_bursts(seconds, every_s=EVERY_S))
        states = []  # the station's own view of its buffer, every 10 s
        while speaking.poll() is None:
            answer = subprocess.run([sys.executable, "-m", "broadcaster", "status", "--json"], cwd=station,
                                    env=lab.env, capture_output=True, text=True)  # fmt: skip
            if answer.returncode == 0 and json.loads(answer.stdout).get("live"):
                states.append((time.monotonic() - wall_before, json.loads(answer.stdout)["live"]))
            time.sleep(10)
        busy = (cpu_seconds(process.pid) - cpu_before) / (time.monotonic() - wall_before)
        talk.stdin.write("\n")
        talk.stdin.flush()
        ending = talk.communicate(timeout=30)[0]
        zone_a.stop()
        mic.stop()

        sent = onsets_of(mic.path, mic.first_sample_at)
        heard = onsets_of(zone_a.path, zone_a.first_sample_at)
        chime = heard[heard > launched][0] - launched
        delays = latencies(sent, heard)
        first = latencies(sent[sent < sent[0] + 60], heard)
        last = latencies(sent[sent > sent[-1] - 60], heard)
        with sqlite3.connect(station / "data" / "playlog.sqlite") as db:
            query = "SELECT outcome, dropouts, dropout_ms FROM plays WHERE trigger = 'live'"
            row = db.execute(query).fetchone()
        print(f"talk of {args.minutes:g} min, a burst every {EVERY_S} s into the microphone")
        print(f"from launching 'broadcaster live' to the chime at the zone: {chime * 1000:.0f} ms")
        print(summary("first minute", first))
        print(summary("last minute", last))
        print(summary("whole talk", delays))
        print(f"bursts sent {len(sent)}, heard {len(delays)} ({len(sent) - len(delays)} lost)")
        print(shifts("microphone", sent))
        print(shifts("zone a", heard[heard > sent[0]]))
        window = 300.0 if args.minutes > 10 else 60.0
        for start in np.arange(sent[0], sent[-1], window):
            part = latencies(sent[(sent >= start) & (sent < start + window)], heard)
            if len(part):
                print(summary(f"from {(start - sent[0]) / 60:.0f} min", part))
        for at, state in states[:: max(1, len(states) // 8)]:
            print(f"  at {at / 60:5.1f} min the station's buffer: {state['buffer_ms']} ms,"
                  f" speed {state['speed']}, holes {state['holes']}, trims {state['trims']}; the devices"
                  f" say: input {state['input_ms']} ms, output {state['output_ms']} ms")  # fmt: skip
        (station / "states.json").write_text(json.dumps(states))
        print(f"every 10 s of the station's view: {station / 'states.json'}")
        print(f"play row: outcome {row[0]}, dropouts {row[1]} ({row[2]} ms)")
        print(f"station CPU: idle {idle * 100:.1f} % of a core, during the talk {busy * 100:.1f} %")
        print(ending.strip().splitlines()[-1])
    finally:
        for child in (speaking, talk, process):
            if child is not None and child.poll() is None:
                child.terminate()
                child.wait(20)
        lab.stop()


if __name__ == "__main__":
    main()
