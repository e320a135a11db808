"""How big the device buffer and the feeder's lead must be on this machine.

Run:  .venv/bin/python bench/bench_buffers.py [--seconds 20] [--hogs 2]

Plays a tone on the audio lab's zone_a through a real card (the same
``CardOutput`` the station uses) for each device buffer size, while ``--hogs``
busy processes load the CPU, and counts the holes: the device's underflows and
the feeder's gaps. A larger buffer is safer; it also delays a cut or an
emergency by as much (see docs/reliability.md for the figures and the choice).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.audiolab import RATE, AudioLab  # noqa: E402


def hog() -> None:
    while True:
        pass


def trial(lab: AudioLab, buffer_s: float, lead_s: float, seconds: float) -> dict[str, float]:
    from broadcaster.audio.card import CardOutput
    from broadcaster.audio.devices import find_device, list_devices

    device = find_device("zone_a", list_devices())
    recording = lab.record("zone_a")  # lab sinks were seen to be slow with no reader
    card = CardOutput(device, channels=2, lead_s=lead_s, buffer_s=buffer_s).open()
    try:
        t = np.arange(round(seconds * RATE)) / RATE
        cpu = time.process_time()
        playback = card.play((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), (0, 1))
        playback.wait(seconds + 10)
        cpu = time.process_time() - cpu
        return {"gaps": card.gaps, "underflows": card.underflows, "dropout_ms": playback.dropout_ms,
                "outcome": playback.outcome, "cpu_pct": 100 * cpu / seconds}  # fmt: skip
    finally:
        card.close()
        recording.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("--buffers", default="0.03,0.05,0.1,0.2")
    parser.add_argument("--lead", type=float, default=0.2)
    parser.add_argument("--busy-thread", action="store_true",
                        help="also a thread in the same process doing pure-Python work (holds the GIL)")
    parser.add_argument("--switch-ms", type=float, default=None, help="sys.setswitchinterval, in ms")
    args = parser.parse_args()
    if args.switch_ms:
        sys.setswitchinterval(args.switch_ms / 1000)
    if args.busy_thread:
        import threading

        def spin() -> None:
            while True:
                sum(i * i for i in range(10_000))

        threading.Thread(target=spin, daemon=True).start()
    lab = AudioLab().start()
    lab.use_in_this_process()
    hogs = [multiprocessing.Process(target=hog, daemon=True) for _ in range(args.hogs)]
    for process in hogs:
        process.start()
    try:
        for buffer_s in (float(b) for b in args.buffers.split(",")):
            result = trial(lab, buffer_s, args.lead, args.seconds)
            print(f"device buffer {buffer_s * 1000:.0f} ms, lead {args.lead * 1000:.0f} ms, "
                  f"{args.hogs} hogs: "
                  f"{result['gaps']} gaps ({result['underflows']} device underflows), "
                  f"{result['dropout_ms']} ms of holes in {args.seconds:.0f} s, {result['outcome']}, "
                  f"feeder+callback CPU {result['cpu_pct']:.1f} %", flush=True)  # fmt: skip
    finally:
        for process in hogs:
            process.terminate()
        lab.stop()


if __name__ == "__main__":
    main()
