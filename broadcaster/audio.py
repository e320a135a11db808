"""Sound output through PortAudio (sounddevice).

For now: playing one clip to completion on one device, used by
``broadcaster say``. Audio is converted to the device's own rate first.
"""

from __future__ import annotations

import logging

import numpy as np

from broadcaster.errors import AudioError
from broadcaster.pcm import Pcm

logger = logging.getLogger(__name__)


def play_blocking(pcm: Pcm, device: str | int | None = None) -> None:
    """Play ``pcm`` on ``device`` (default: the system's default output) and wait."""
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio library missing
        raise AudioError(f"sound output is not available: {exc}") from exc
    try:
        info = sd.query_devices(device, "output")
        rate = int(info["default_samplerate"])
        channels = min(2, int(info["max_output_channels"]))
        data = pcm.resampled(rate).samples
        frames = np.repeat(data[:, None], channels, axis=1)
        with sd.OutputStream(samplerate=rate, channels=channels, device=device,
                             dtype="float32") as stream:  # fmt: skip
            stream.write(frames)
    except (sd.PortAudioError, ValueError) as exc:
        raise AudioError(f"cannot play on {device or 'the default device'}: {exc}") from exc
