"""The checks every engine's output must pass before it is cached or played.

An engine is untrusted: it may return early, or return silence, clipping or
noise. Imported only when something is spoken (numpy).
"""

from __future__ import annotations

import math

import numpy as np

from broadcaster.errors import EngineError
from broadcaster.i18n import _
from broadcaster.pcm import Pcm, rms_dbfs
from broadcaster.tts.base import spoken_chars

MIN_S_PER_CHAR = 0.05
MAX_S_PER_CHAR = 1.2
MAX_EXTRA_S = 2.0
SILENT_DBFS = -50.0
CLIPPED_FRACTION = 0.005
NOISE_FLATNESS = 0.5




def verify_speech(pcm: Pcm, text: str, engine: str) -> Pcm:
    """Return ``pcm`` if it is plausible speech for ``text``; else raise :class:`EngineError`."""
    samples = pcm.samples
    if pcm.rate_hz < 8000 or len(samples) == 0:
        raise EngineError(engine, _("returned no audio"))
    if not np.all(np.isfinite(samples)):
        raise EngineError(engine, _("returned invalid samples"))
    chars = max(1, spoken_chars(text))
    low = chars * MIN_S_PER_CHAR
    high = chars * MAX_S_PER_CHAR + MAX_EXTRA_S
    if not low <= pcm.duration_s <= high:
        message = _("returned {seconds:.2f} s for {chars} characters (expected {low:.1f} to {high:.1f} s)")
        raise EngineError(engine, message.format(seconds=pcm.duration_s, chars=chars, low=low, high=high))
    if rms_dbfs(samples) < SILENT_DBFS:
        raise EngineError(engine, _("returned silence"))
    if np.mean(np.abs(samples) >= 0.999) > CLIPPED_FRACTION:
        raise EngineError(engine, _("returned clipped audio"))
    if spectral_flatness(pcm) > NOISE_FLATNESS:
        raise EngineError(engine, _("returned noise, not speech"))
    return pcm


FLATNESS_SPAN_S = 2.0
FLATNESS_FRAME = 1024


def spectral_flatness(pcm: Pcm) -> float:
    """0 for a pure tone, near 1 for white noise; speech is well below 0.5.

    Welch's power spectrum (1024-sample Hann frames overlapping by half, each less its
    mean), on the first few seconds: enough to tell speech from noise.
    """
    samples = pcm.samples[: round(FLATNESS_SPAN_S * pcm.rate_hz)].astype(np.float64)
    size = min(FLATNESS_FRAME, len(samples))
    if size < 2:
        return 0.0
    frames = np.lib.stride_tricks.sliding_window_view(samples, size)[:: max(size // 2, 1)]
    frames = frames - frames.mean(axis=1, keepdims=True)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)  # periodic Hann
    power = np.mean(np.abs(np.fft.rfft(frames * window, axis=1)) ** 2, axis=0)
    power[1 : (size + 1) // 2] *= 2  # one-sided: every bin but DC (and Nyquist) counts twice
    power = power[power > 0]
    if len(power) == 0:
        return 0.0
    return float(math.exp(np.mean(np.log(power))) / np.mean(power))
