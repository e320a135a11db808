"""Station benchmarks on the audio lab: a real ``broadcaster run`` in a process.

Run:  .venv/bin/python bench/bench_station.py [--slots 100]

1. Scheduled-start accuracy: a playlist with a slot every 2 s; the first
   sound of each play at zone_a's monitor against the slot's time (p50, p99),
   and the audio lab's floor measured in the same run: a click played by this
   process straight onto the card at a chosen time, heard at the monitor.
2. Emergency cut-in latency: from invoking ``broadcaster send alarm --priority
   emergency`` (a new process, imports included) while a long announcement
   plays, to the emergency's first sound (a 1 kHz clip) at the monitor.
3. RSS and idle CPU of a station with 200 announcements and 20 playlists,
   after a cold start (the station renders everything) and a warm one: CPU
   while the streams still run, and once they sleep (``IDLE_SLEEP_S``).
4. Start-up: from launching ``broadcaster run`` to the control socket
   answering (every announcement rendered, cards open), with a warm cache.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from broadcaster.audio.card import IDLE_SLEEP_S  # noqa: E402
from broadcaster.daemon.control import call  # noqa: E402
from broadcaster.pcm import Pcm, write_wav  # noqa: E402
from tests.audiolab import RATE, AudioLab  # noqa: E402

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def make_station(folder: Path, extra_announcements: int = 0, extra_playlists: int = 0) -> Path:
    for sub in ("announcements", "playlists", "clips"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(
        "timezone: Asia/Shanghai\nzones:\n  a: {device: zone_a}\n  b: {device: zone_b}\n", encoding="utf-8"
    )
    t = np.arange(RATE) / RATE
    write_wav(
        folder / "clips" / "alarm.wav", Pcm((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), RATE)
    )
    files = {
        "beep": "chime: no\ntext: 注意。",
        "long": "chime: no\nrepeat: 5\ntext: 各位村民请注意，出入戴口罩，勤洗手，莫聚集。",
        "alarm": "chime: no\npriority: emergency\nsegments:\n  - clip: clips/alarm.wav",
    }
    for i in range(extra_announcements):
        files[f"notice-{i:03d}"] = f"text: 第{i + 1}号通知：请大家注意防疫，出入戴口罩。"
    for name, body in files.items():
        (folder / "announcements" / f"{name}.yaml").write_text(
            f"language: mandarin\n{body}\n", encoding="utf-8"
        )
    for p in range(extra_playlists):
        plays = ", ".join(f"notice-{(p * 10 + k) % max(1, extra_announcements):03d}" for k in range(10))
        (folder / "playlists" / f"list-{p:02d}.yaml").write_text(
            f"slots:\n  - at: [03:0{p % 10}, 03:1{p % 10}]\n    play: [{plays}]\n", encoding="utf-8"
        )
    return folder


def start(station: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], float]:
    sock = station / "data" / "broadcaster.sock"
    sock.unlink(missing_ok=True)
    launched = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "broadcaster", "run"], cwd=station, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    while True:
        try:
            call(sock, {"command": "status"}, timeout=1)
            return process, time.monotonic() - launched
        except Exception:  # noqa: BLE001 - not up yet
            if process.poll() is not None:
                raise RuntimeError("the station did not start") from None
            time.sleep(0.02)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(30)


def onsets(samples: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    window = RATE // 200
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > threshold
    return (np.flatnonzero(np.diff(loud.astype(int)) == 1) + 1) * window / RATE


def slot_accuracy(lab: AudioLab, station: Path, count: int) -> list[float]:
    subprocess.run([sys.executable, "-m", "broadcaster", "render", "--all"], cwd=station, env=lab.env,
                   check=True, capture_output=True)  # fmt: skip
    first = (dt.datetime.now(SHANGHAI) + dt.timedelta(seconds=15)).replace(microsecond=0)
    whole = [first + dt.timedelta(seconds=2 * i) for i in range(count)]
    times = ", ".join(s.strftime("%H:%M:%S") for s in whole)
    (station / "playlists" / "bench.yaml").write_text(
        f"slots:\n  - at: [{times}]\n    play: beep\n    zones: [a]\n", encoding="utf-8"
    )
    recording = lab.record("zone_a")
    process, _ = start(station, lab.env)
    time.sleep(max(0.0, whole[-1].timestamp() - time.time()) + 3)
    stop(process)
    samples = recording.stop()
    (station / "playlists" / "bench.yaml").unlink()
    heard = recording.first_sample_at + onsets(samples) - _lead_in(station)
    return [float(min(heard, key=lambda t: abs(t - s.timestamp())) - s.timestamp()) for s in whole]


def lab_floor(lab: AudioLab, count: int = 10) -> list[float]:
    """Click → monitor with no station: a click placed on the card for a chosen wall time."""
    from broadcaster.audio.card import CardOutput
    from broadcaster.audio.devices import find_device, list_devices

    card = CardOutput(find_device("zone_a", list_devices()), channels=2).open()
    click = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(RATE // 10) / RATE)).astype(np.float32)
    recording = lab.record("zone_a")
    targets = []
    try:
        for _ in range(count):
            target = time.time() + 0.6
            playback = card.play(click, (0, 1), start_frame=card.frame_at(target))
            playback.wait(5)
            targets.append(target)
            time.sleep(0.3)
    finally:
        card.close()
    samples = recording.stop()
    heard = recording.first_sample_at + onsets(samples)
    return [float(min(heard, key=lambda t: abs(t - target)) - target) for target in targets]


def _lead_in(station: Path) -> float:
    import json

    from broadcaster.pcm import read_wav

    for meta in (station / "data" / "cache" / "announcements").glob("*.json"):
        if json.loads(meta.read_text())["announcement"] == "beep":
            samples = read_wav(meta.with_suffix(".wav")).samples
            return float(onsets(np.concatenate([np.zeros(RATE // 10), samples]))[0] - 0.1)
    return 0.0


def emergency_latency(lab: AudioLab, station: Path, rounds: int = 10) -> list[float]:
    process, _ = start(station, lab.env)
    sock = station / "data" / "broadcaster.sock"
    command = [str(Path(sys.executable).with_name("broadcaster")), "send", "alarm", "--priority", "emergency",
               "--zone", "b"]  # fmt: skip
    results = []
    try:
        for _ in range(rounds):
            call(sock, {"command": "send", "announcement": "long", "zones": ["b"]})
            time.sleep(2.0)
            recording = lab.record("zone_b")
            time.sleep(0.5)
            typed = time.time()  # the operator presses Enter
            subprocess.run(command, cwd=station, env=lab.env, check=True, capture_output=True)
            time.sleep(1.5)
            samples = recording.stop()
            window = RATE // 200
            frames = samples[: len(samples) // window * window].reshape(-1, window)
            t = np.arange(window) / RATE
            level = np.abs(frames @ np.exp(-2j * np.pi * 1000 * t)) / window
            first = np.flatnonzero(level > 0.03)[0] * window / RATE
            results.append(recording.first_sample_at + first - typed)
            call(sock, {"command": "stop"})
            time.sleep(1.0)
    finally:
        stop(process)
    return results


def footprint(lab: AudioLab, station: Path, cold: bool, idle_s: float = 60) -> dict[str, float]:
    """RSS after start-up and CPU while idle; ``cold``: nothing rendered, the station renders it all."""
    import shutil

    shutil.rmtree(station / "data" / "cache", ignore_errors=True)
    if not cold:
        subprocess.run([sys.executable, "-m", "broadcaster", "render", "--all"], cwd=station, env=lab.env,
                       check=True, capture_output=True)  # fmt: skip
    # Lab sinks were seen to take audio slowly while nobody reads their monitors; a real card does not.
    recordings = [lab.record(zone) for zone in ("zone_a", "zone_b")]
    process, startup = start(station, lab.env)
    try:
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks

        def cpu_over(seconds: float) -> float:
            before, wall = cpu(), time.monotonic()
            time.sleep(seconds)
            return (cpu() - before) / (time.monotonic() - wall)

        time.sleep(3)
        awake = cpu_over(20)  # nothing plays, the streams still run
        time.sleep(max(0.0, IDLE_SLEEP_S + 5 - 23))
        idle = cpu_over(idle_s)  # the streams sleep until the next item
        status = Path(f"/proc/{process.pid}/status").read_text().splitlines()
        rss = next(int(line.split()[1]) for line in status
                   if line.startswith("VmRSS")) / 1024  # fmt: skip
    finally:
        stop(process)
        for recording in recordings:
            recording.stop()
    return {"startup_s": startup, "awake_cpu": awake, "idle_cpu": idle, "rss_mib": rss}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slots", type=int, default=100)
    args = parser.parse_args()
    lab = AudioLab().start()
    lab.use_in_this_process()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            station = make_station(Path(tmp) / "small")
            errors = slot_accuracy(lab, station, args.slots)
            floor = statistics.median(lab_floor(lab))
            late = sorted(errors)
            off = sorted(abs(e - floor) for e in errors)
            print(
                f"scheduled start over {len(errors)} slots (slot → first sound at the monitor): "
                f"p50 {late[len(late) // 2] * 1000:+.1f} ms, "
                f"p99 {late[int(len(late) * 0.99)] * 1000:+.1f} ms; "
                f"audio-lab floor (click placed straight on the card) {floor * 1000:+.1f} ms; "
                f"against the floor: p50 {off[len(off) // 2] * 1000:.1f} ms, "
                f"p99 {off[int(len(off) * 0.99)] * 1000:.1f} ms, max {off[-1] * 1000:.1f} ms"
            )
            latency = sorted(emergency_latency(lab, station))
            print(
                f"emergency, `broadcaster send --priority emergency` typed → first sound at the monitor: "
                f"p50 {statistics.median(latency) * 1000:.0f} ms, max {latency[-1] * 1000:.0f} ms "
                f"over {len(latency)}"
            )
            big = make_station(Path(tmp) / "big", extra_announcements=200, extra_playlists=20)
            for cold in (True, False):
                figures = footprint(lab, big, cold)
                print(
                    f"200 announcements, 20 playlists, {'cold' if cold else 'warm'} cache: start-up to the "
                    f"control socket {figures['startup_s']:.1f} s; daemon RSS {figures['rss_mib']:.0f} MiB; "
                    f"CPU with nothing playing: {figures['awake_cpu'] * 100:.2f} % of one core in the first "
                    f"20 s, {figures['idle_cpu'] * 100:.2f} % over 60 s once the streams sleep"
                )
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
