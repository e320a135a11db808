"""Loudness (ITU-R BS.1770 / EBU R128) and a true-peak limiter.

Announcements are brought to one integrated loudness so that every item
reaches the lanes at the same level, and limited so that no inter-sample
peak exceeds the ceiling (measured with 4x oversampling).
"""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

from broadcaster.pcm import Pcm

OVERSAMPLE = 4
MIN_MEASURE_S = 0.4  # pyloudnorm needs at least one 400 ms gating block
LIMITER_WINDOW_S = 0.005


def integrated_lufs(pcm: Pcm) -> float:
    samples = pcm.samples.astype(np.float64)
    shortfall = round(MIN_MEASURE_S * pcm.rate_hz) - len(samples)
    if shortfall > 0:  # silence is gated out, so padding does not change the result
        samples = np.concatenate([samples, np.zeros(shortfall + 1)])
    return float(pyloudnorm.Meter(pcm.rate_hz).integrated_loudness(samples))


def true_peak_dbfs(pcm: Pcm) -> float:
    peak = float(np.max(np.abs(_oversampled(pcm.samples)))) if len(pcm.samples) else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def _oversampled(samples: np.ndarray) -> np.ndarray:
    return resample_poly(samples.astype(np.float64), OVERSAMPLE, 1)


def limit(pcm: Pcm, ceiling_dbfs: float) -> Pcm:
    """Reduce gain smoothly around peaks above ``ceiling_dbfs`` (true peak)."""
    ceiling = 10 ** (ceiling_dbfs / 20)
    over = np.abs(_oversampled(pcm.samples))[: len(pcm.samples) * OVERSAMPLE]
    peaks = over.reshape(-1, OVERSAMPLE).max(axis=1)
    needed = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
    if needed.min() >= 1.0:
        return pcm
    window = 2 * round(LIMITER_WINDOW_S * pcm.rate_hz) + 1
    # The minimum over a window, then its average over the same window, is never
    # above what any sample in the window needs: smooth and still safe.
    gain = uniform_filter1d(minimum_filter1d(needed, window), window)
    return Pcm((pcm.samples * gain).astype(np.float32), pcm.rate_hz)


def normalize(pcm: Pcm, target_lufs: float, ceiling_dbfs: float = -1.5) -> Pcm:
    """``pcm`` at ``target_lufs`` integrated, true peak at most ``ceiling_dbfs``."""
    out = pcm
    for _ in range(4):
        loudness = integrated_lufs(out)
        if not math.isfinite(loudness):
            return out  # silence: nothing to normalize
        if abs(loudness - target_lufs) < 0.2 and true_peak_dbfs(out) <= ceiling_dbfs:
            break
        out = limit(out.gained(10 ** ((target_lufs - loudness) / 20)), ceiling_dbfs - 0.3)
    peak = true_peak_dbfs(out)
    if peak > ceiling_dbfs:  # last resort: the ceiling wins over the loudness target
        out = out.gained(10 ** ((ceiling_dbfs - peak) / 20))
    return out
