"""A voice message recorded in the page: decoded, trimmed, brought to the station's loudness,
kept as a clip, and wrapped in an announcement that can be scheduled or played at once.

The browser sends what its MediaRecorder made (WebM/Opus in Chromium, MP4/AAC in
Safari, Ogg in Firefox). Nothing is trusted: the upload is limited in size, decoded
by ffmpeg with a time limit into 48 kHz mono, and refused if it is not audio, too
long, or silent.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from broadcaster.content.models import ANNOUNCEMENTS_DIR, CLIPS_DIR
from broadcaster.i18n import Msg
from broadcaster.pcm import Pcm, write_wav
from broadcaster.web.forms import ID, FormError, save, version

MAX_BYTES = 20 * 1024 * 1024
MAX_SECONDS = 600.0
RATE_HZ = 48_000
DECODE_TIMEOUT_S = 60.0


def decode(data: bytes) -> Pcm:
    """Any audio ffmpeg reads → 48 kHz mono float samples; :class:`FormError` if it is not audio."""
    if len(data) > MAX_BYTES:
        raise FormError(Msg.of("the recording is too big (at most {mib} MiB)", mib=MAX_BYTES // 2**20))
    command = ["ffmpeg", "-v", "error", "-nostdin", "-i", "pipe:0", "-t", str(MAX_SECONDS + 1), "-vn", "-ac",
               "1", "-ar", str(RATE_HZ), "-f", "s16le", "pipe:1"]  # fmt: skip
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=DECODE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        raise FormError(Msg.of("the recording cannot be read")) from None
    samples = np.frombuffer(done.stdout, "<i2").astype(np.float32) / 32768
    if done.returncode != 0 or len(samples) < RATE_HZ // 2:
        raise FormError(Msg.of("the recording cannot be read"))
    if len(samples) > MAX_SECONDS * RATE_HZ:
        minutes = round(MAX_SECONDS / 60)
        raise FormError(Msg.of("the recording is longer than {minutes} minutes", minutes=minutes))
    return Pcm(samples, RATE_HZ)


def trimmed(pcm: Pcm, start_s: float, end_s: float | None) -> Pcm:
    first = max(0, round(start_s * pcm.rate_hz))
    last = len(pcm.samples) if end_s is None else min(len(pcm.samples), round(end_s * pcm.rate_hz))
    if last - first < pcm.rate_hz // 2:
        raise FormError(Msg.of("less than half a second is left after trimming"))
    return Pcm(pcm.samples[first:last].copy(), pcm.rate_hz)


def keep(root: Path, name: str, pcm: Pcm, target_lufs: float, title: str) -> Path:
    """The clip at the station's loudness in ``clips/NAME.wav`` and ``announcements/NAME.yaml``
    that plays it; returns the announcement's path. An existing name is not overwritten."""
    from broadcaster.render.loudness import integrated_lufs, normalize

    if not ID.fullmatch(name):
        raise FormError(Msg.of("'{name}' is not a file name: use a-z, 0-9 and '-'", name=name))
    if integrated_lufs(pcm) < -70:
        raise FormError(Msg.of("the recording is silent"))
    announcement = root / ANNOUNCEMENTS_DIR / f"{name}.yaml"
    clip = root / CLIPS_DIR / f"{name}.wav"
    if announcement.exists() or clip.exists():
        raise FormError(Msg.of("'{name}' exists already: choose another name", name=name))
    loud, _lufs, _peak = normalize(pcm, target_lufs)
    clip.parent.mkdir(parents=True, exist_ok=True)
    write_wav(clip, loud)
    text = (f"title: {json.dumps(title, ensure_ascii=False)}\nlanguage: mandarin\nchime: yes\nsegments:\n"
            f"  - clip: {CLIPS_DIR}/{name}.wav\n")  # fmt: skip
    save(announcement, text, version(announcement))
    return announcement
