"""The audio lab: a private PulseAudio server whose null sinks are sound cards.

Each sink's monitor records exactly what was played into it, so tests check
real output from the real path (sounddevice → PortAudio → ALSA → PulseAudio).
Programs under test run as subprocesses with :attr:`AudioLab.env`, so that
PortAudio reads this lab's device list when it starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

RATE = 48_000
ZONES = ("zone_a", "zone_b")
MICROPHONE = "mic"
"""A third null sink: what is played into it, its monitor gives as a microphone's input."""


class AudioLab:
    def __init__(self, zones: tuple[str, ...] = ZONES) -> None:
        self.zones = zones
        self.dir = Path(tempfile.mkdtemp(prefix="broadcaster-lab-"))
        self.socket = self.dir / "native"
        self.env = dict(os.environ)
        self.env.update(XDG_RUNTIME_DIR=str(self.dir / "run"), HOME=str(self.dir / "home"),
                        PULSE_SERVER=f"unix:{self.socket}")  # fmt: skip
        self.daemon: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return all(shutil.which(p) for p in ("pulseaudio", "pactl", "parec"))

    def start(self) -> AudioLab:
        for sub in ("run", "home"):
            (self.dir / sub).mkdir(mode=0o700, exist_ok=True)
        loads = [f"--load=module-native-protocol-unix socket={self.socket}"]
        loads += [f"--load=module-null-sink sink_name={z} rate={RATE} channels=2" for z in self.zones]
        loads += [f"--load=module-null-sink sink_name={MICROPHONE} rate={RATE} channels=1"]
        self.daemon = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
             "--log-target=stderr", "--log-level=error", *loads],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode:
            if time.monotonic() > deadline or self.daemon.poll() is not None:
                raise RuntimeError("the audio lab's PulseAudio did not start")
            time.sleep(0.1)
        pcms = "".join(f'pcm.{z} {{ type pulse; device "{z}"; hint.description "{z}" }}\n'
                       for z in self.zones)  # fmt: skip
        # The microphone: an input device reading the third sink's monitor.
        pcms += f'pcm.{MICROPHONE} {{ type pulse; device "{MICROPHONE}.monitor"; hint.description "mic" }}\n'
        default = "pcm.!default { type pulse }\nctl.!default { type pulse }\n"
        (self.dir / "home" / ".asoundrc").write_text(pcms + default)
        return self

    def kill_server(self) -> None:
        """The sound server dies (as when it crashes)."""
        assert self.daemon is not None
        self.daemon.kill()
        self.daemon.wait()

    def stop(self) -> None:
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def speak_into_microphone(self, samples: np.ndarray) -> subprocess.Popen[bytes]:
        """Play mono float ``samples`` (48 kHz) into the microphone's sink, in the background."""
        process = subprocess.Popen(
            ["pacat", "--playback", "-d", MICROPHONE, "--format=float32le", f"--rate={RATE}", "--channels=1",
             "--latency-msec=10"],
            env=self.env, stdin=subprocess.PIPE,
        )  # fmt: skip
        stdin = process.stdin
        assert stdin is not None

        def write() -> None:  # pacat takes it in real time: the pipe would block the test
            with contextlib.suppress(OSError):
                stdin.write(samples.astype("<f4").tobytes())
                stdin.close()

        threading.Thread(target=write, daemon=True).start()
        return process

    def record(self, zone: str, channels: int = 1) -> Recording:
        """Start recording what ``zone`` plays (48 kHz; mono mixes both sides) until ``stop()``."""
        return Recording(self, zone, channels)

    def use_in_this_process(self) -> None:
        """Point this process's PortAudio at the lab (re-reading the device list)."""
        for key in ("XDG_RUNTIME_DIR", "HOME", "PULSE_SERVER"):
            os.environ[key] = self.env[key]
        import sounddevice

        sounddevice._terminate()
        sounddevice._initialize()


class Recording:
    def __init__(self, lab: AudioLab, zone: str, channels: int = 1) -> None:
        self.channels = channels
        self.path = lab.dir / f"{zone}-{time.monotonic_ns()}.raw"
        self._file = self.path.open("wb")
        self.process = subprocess.Popen(
            ["parec", "-d", f"{zone}.monitor", "--format=s16le", f"--rate={RATE}",
             f"--channels={channels}", "--latency-msec=10"],
            env=lab.env, stdout=self._file,
        )  # fmt: skip
        # parec connects asynchronously: wait until the monitor's samples flow.
        deadline = time.monotonic() + 10
        while self.path.stat().st_size < RATE // 10:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"could not record {zone}.monitor")
            time.sleep(0.01)
        self.flowing_since = time.monotonic() - self.path.stat().st_size / (2 * channels * RATE)
        """Estimated monotonic time of the first recorded sample."""
        self.first_sample_at = time.time() - (time.monotonic() - self.flowing_since)
        """The same, as wall-clock time."""

    def stop(self) -> np.ndarray:
        """The recording as float samples (stopping it the first time)."""
        if not self._file.closed:
            time.sleep(0.3)  # the monitor lags what was played: let the tail arrive
            self.process.terminate()
            self.process.wait(10)
            self._file.close()
        data = self.path.read_bytes()
        data = data[: len(data) // (2 * self.channels) * 2 * self.channels]
        samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768
        return samples if self.channels == 1 else samples.reshape(-1, self.channels)


def active_seconds(samples: np.ndarray, threshold: float = 0.01, window_s: float = 0.01) -> float:
    """How long the signal is above ``threshold`` (RMS over 10 ms windows)."""
    n = int(RATE * window_s)
    frames = samples[: len(samples) // n * n].reshape(-1, n)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return float(np.sum(rms > threshold) * window_s)


def best_correlation(recorded: np.ndarray, expected: np.ndarray) -> float:
    """Peak normalised cross-correlation of ``expected`` within ``recorded`` (1.0 = identical)."""
    from scipy.signal import correlate

    if len(recorded) < len(expected):
        recorded = np.concatenate([recorded, np.zeros(len(expected) - len(recorded), np.float32)])
    recorded = recorded.astype(np.float64)
    expected = expected.astype(np.float64)
    corr = correlate(recorded, expected, mode="valid", method="fft")
    power = np.concatenate([[0.0], np.cumsum(recorded**2)])
    energy = np.sqrt(np.maximum(power[len(expected) :] - power[: len(power) - len(expected)], 0))
    reference = np.linalg.norm(expected)
    # Windows much quieter than the reference cannot match it; skip them (and rounding noise).
    score = np.where(energy > 0.1 * reference, corr / (reference * np.maximum(energy, 1e-12)), 0.0)
    return float(np.max(score))


def tone_bursts(seconds: float, every_s: float = 0.5, length_s: float = 0.1, frequency: float = 1000.0,
                amplitude: float = 0.3) -> np.ndarray:  # fmt: skip
    """A burst of tone every ``every_s``: markers whose onsets can be found on both sides of a path."""
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t) * ((t % every_s) < length_s)).astype(np.float32)


def onsets(samples: np.ndarray, first_sample_at: float, threshold: float = 0.02) -> np.ndarray:
    """Wall-clock times where the signal rises above ``threshold`` (RMS over 5 ms windows)."""
    n = RATE // 200
    windows = samples[: len(samples) // n * n].reshape(-1, n)
    rms = np.sqrt(np.mean(windows**2, axis=1))
    loud = rms > threshold
    rising = np.where(loud[1:] & ~loud[:-1])[0] + 1
    found = []
    for window in rising:
        part = np.abs(samples[(window - 1) * n : (window + 1) * n])
        found.append(first_sample_at + ((window - 1) * n + int(np.argmax(part > threshold))) / RATE)
    return np.array(found)


def latencies(sent: np.ndarray, heard: np.ndarray, within_s: float = 1.0) -> np.ndarray:
    """For each onset ``sent``, the delay to the first onset ``heard`` after it (within ``within_s``)."""
    found = []
    for moment in sent:
        later = heard[(heard > moment) & (heard < moment + within_s)]
        if len(later):
            found.append(later[0] - moment)
    return np.array(found)
