"""Sound and play-log benchmarks, on the audio lab (PulseAudio null sinks).

Run:  .venv/bin/python bench/bench_sound.py

1. Start latency: from launching ``broadcaster play`` (cached audio) to the
   first sound recorded at the card's monitor.
2. Gap accuracy: 20 transitions of the van loop with a 0.5 s gap, measured
   on the recording.
3. CPU of the output engine: two zones playing for 10 s; and of the van
   operator's ``broadcaster play`` started without a terminal (stdin from
   /dev/null, as from a desktop shortcut), over 20 s of playing.
4. The play log: per-play write cost with synchronous=FULL, then 1M rows and
   a month's report over them.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.audiolab import RATE, AudioLab  # noqa: E402


def start_latency(lab: AudioLab, station: Path) -> list[float]:
    cmd = [sys.executable, "-m", "broadcaster", "play", "short", "--device", "zone_a"]
    subprocess.run([sys.executable, "-m", "broadcaster", "render", "short"], cwd=station, env=lab.env,
                   check=True, capture_output=True)  # fmt: skip
    results = []
    for _ in range(5):
        recording = lab.record("zone_a")
        # The recorder's first sample was taken about when its data began to flow.
        first_sample_at = recording.flowing_since
        launched = time.monotonic()
        subprocess.run(cmd, cwd=station, env=lab.env, check=True, capture_output=True)
        samples = recording.stop()
        onset = np.flatnonzero(np.abs(samples) > 0.01)[0] / RATE
        results.append(onset - (launched - first_sample_at))
    return results


def gap_accuracy(lab: AudioLab, folder: Path) -> list[float]:
    lab.use_in_this_process()
    from broadcaster.config import Zone
    from broadcaster.pcm import Pcm, write_wav
    from broadcaster.player.van import VanLoop
    from broadcaster.player.zones import Item, Outputs, Player
    from broadcaster.playlog import PlayLog

    items = []
    for i, hz in enumerate((600, 900)):
        t = np.arange(RATE) / RATE
        edge = np.minimum(1.0, np.minimum(t, 1 - t) / 0.005)
        path = folder / f"tone{i}.wav"
        write_wav(path, Pcm((0.4 * np.sin(2 * np.pi * hz * t) * edge).astype(np.float32), RATE))
        items.append(Item(f"tone{i}", "x", path, 1.0))
    outputs = Outputs({"a": Zone("a", "zone_a")}).open()
    log = PlayLog(folder / "gap.sqlite")
    recording = lab.record("zone_a")
    VanLoop(Player(outputs, log, lambda: dt.datetime.now(dt.UTC)), "a", items, loops=10, gap_s=0.5).run()
    samples = recording.stop()
    outputs.close()
    log.close()
    window = 48
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > 0.05
    changes = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]]))) * window / RATE
    starts, ends = changes[::2], changes[1::2]
    return [float(starts[i + 1] - ends[i] - 0.5) for i in range(len(starts) - 1)]


def output_cpu(lab: AudioLab, folder: Path) -> float:
    from broadcaster.audio.card import CardOutput
    from broadcaster.audio.devices import find_device, list_devices
    from broadcaster.pcm import Pcm

    devices = list_devices()
    cards = [CardOutput(find_device(name, devices), 2).open() for name in ("zone_a", "zone_b")]
    noise = Pcm((np.random.default_rng(0).uniform(-0.2, 0.2, RATE * 10)).astype(np.float32), RATE)
    started_cpu, started = time.process_time(), time.monotonic()
    plays = [card.play(noise.samples, (0, 1)) for card in cards]
    for play in plays:
        play.wait(20)
    cpu = (time.process_time() - started_cpu) / (time.monotonic() - started)
    for card in cards:
        card.close()
    return cpu


def play_log(folder: Path) -> dict[str, float]:
    from broadcaster.playlog import PlayLog, iso

    log = PlayLog(folder / "log.sqlite")
    moment = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    started = time.perf_counter()
    for _ in range(200):
        row = log.start("hygiene", "h", "square", "schedule", moment, moment)
        log.finish(row, "completed", moment + dt.timedelta(seconds=30))
    per_play_ms = (time.perf_counter() - started) / 200 * 1000
    rng = random.Random(1)
    announcements = [f"announcement-{i}" for i in range(200)]
    zones = ["square", "east", "west", "school"]
    outcomes = ["completed"] * 17 + ["failed", "missed", "interrupted"]
    rows = []
    for i in range(1_000_000):
        when = moment + dt.timedelta(seconds=i * 2.6)  # a month of plays every few seconds
        text = iso(when)
        rows.append((rng.choice(announcements), "h", rng.choice(zones), "schedule", text, text, text,
                     rng.choice(outcomes), "", "bench", 1, when.date().isoformat()))  # fmt: skip
    started = time.perf_counter()
    with log._lock:
        log._db.execute("BEGIN")
        log._db.executemany(
            "INSERT INTO plays (announcement_id, content_hash, zone, trigger, requested_at, started_at,"
            " ended_at, outcome, reason, host, pid, day) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        log._db.execute("COMMIT")
    bulk_s = time.perf_counter() - started
    first, last = rows[0][-1], rows[-1][-1]
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        report = log.report(dt.date.fromisoformat(first), dt.date.fromisoformat(last))
        timings.append(time.perf_counter() - started)
    log.close()
    days = (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days + 1
    return {
        "per_play_ms": per_play_ms, "bulk_1m_s": bulk_s, "report_ms": min(timings) * 1000,
        "report_rows": len(report), "days": days,
    }  # fmt: skip


def van_cpu(lab: AudioLab, station: Path, seconds: float = 20) -> float:
    """CPU of ``broadcaster play … </dev/null`` while it plays (start-up excluded)."""
    import os

    cmd = [sys.executable, "-m", "broadcaster", "play", "short", "--device", "zone_a", "--loop", "100",
           "--gap", "0.5s"]  # fmt: skip
    process = subprocess.Popen(cmd, cwd=station, env=lab.env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def cpu() -> float:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    try:
        time.sleep(6)  # imports, render check, card open: then it plays
        before, wall = cpu(), time.monotonic()
        time.sleep(seconds)
        return (cpu() - before) / (time.monotonic() - wall)
    finally:
        process.terminate()
        process.wait(20)


def main() -> None:
    lab = AudioLab().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            station = Path(tmp) / "station"
            station.mkdir()
            (station / "announcements").mkdir()
            (station / "announcements" / "short.yaml").write_text(
                "language: mandarin\nchime: no\ntext: 各位村民请注意。\n", encoding="utf-8"
            )
            latency = start_latency(lab, station)
            print(
                f"start latency, play command → first sound at the monitor: median "
                f"{statistics.median(latency) * 1000:.0f} ms, max {max(latency) * 1000:.0f} ms"
            )
            errors = gap_accuracy(lab, Path(tmp))
            print(
                f"gap accuracy over {len(errors)} transitions (0.5 s gap): median error "
                f"{statistics.median(np.abs(errors)) * 1000:.1f} ms, max {max(np.abs(errors)) * 1000:.1f} ms"
            )
            print(
                f"output engine CPU, two zones playing: {output_cpu(lab, Path(tmp)) * 100:.1f} % of one core"
            )
            print(f"van `play` with stdin from /dev/null, while playing: "
                  f"{van_cpu(lab, station) * 100:.1f} % of one core")  # fmt: skip
            figures = play_log(Path(tmp))
            print(
                f"play log: {figures['per_play_ms']:.1f} ms per play (start + finish, synchronous=FULL); "
                f"1M rows loaded in {figures['bulk_1m_s']:.1f} s; report over {figures['days']} days "
                f"({figures['report_rows']} lines) in {figures['report_ms']:.0f} ms"
            )
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
