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
from scipy.signal import firwin

from broadcaster.pcm import Pcm

OVERSAMPLE = 4
# A 4x interpolation filter of 12 taps per phase, as BS.1770-4 Annex 2 describes.
_INTERPOLATOR = firwin(12 * OVERSAMPLE + 1, 1 / OVERSAMPLE) * OVERSAMPLE
MIN_MEASURE_S = 0.4  # pyloudnorm needs at least one 400 ms gating block
LIMITER_WINDOW_S = 0.005


def integrated_lufs(pcm: Pcm) -> float:
    samples = pcm.samples.astype(np.float64)
    shortfall = round(MIN_MEASURE_S * pcm.rate_hz) - len(samples)
    if shortfall > 0:  # silence is gated out, so padding does not change the result
        samples = np.concatenate([samples, np.zeros(shortfall + 1)])
    return float(pyloudnorm.Meter(pcm.rate_hz).integrated_loudness(samples))


def true_peak_dbfs(pcm: Pcm) -> float:
    if len(pcm.samples) == 0:
        return -math.inf
    peak = float(np.max(_peaks(pcm.samples)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


# The interpolator split into its four phases, as weights on the 13 samples around i:
# phase p of sample i is the signal's value at i + p/4.
_HALF = 6
_PHASES = np.zeros((OVERSAMPLE, 2 * _HALF + 1))
for _p in range(OVERSAMPLE):
    for _m in range(-_HALF, _HALF + 1):
        _k = _p - OVERSAMPLE * _m + (len(_INTERPOLATOR) - 1) // 2
        if 0 <= _k < len(_INTERPOLATOR):
            _PHASES[_p, _m + _HALF] = _INTERPOLATOR[_k]
CANDIDATE_MARGIN_DB = 6.0


def _peaks(samples: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Per sample, the largest absolute value of the 4x oversampled signal up to the next sample.

    Interpolation is only done near samples within 6 dB of the loudest one (or
    above ``floor``'s margin): elsewhere an inter-sample peak cannot come close.
    """
    peaks = np.abs(samples).astype(np.float32)
    level = max(float(peaks.max(initial=0.0)), floor) * 10 ** (-CANDIDATE_MARGIN_DB / 20)
    near = np.flatnonzero(peaks >= level)
    if len(near) == 0:
        return peaks
    near = np.unique(np.concatenate([near - 1, near]).clip(0, len(samples) - 1))
    padded = np.pad(samples.astype(np.float64), _HALF)
    windows = padded[near[:, None] + np.arange(2 * _HALF + 1)]
    between = np.abs(windows @ _PHASES.T).max(axis=1)
    peaks[near] = np.maximum(peaks[near], between)
    return peaks


def limit(pcm: Pcm, ceiling_dbfs: float) -> Pcm:
    """Reduce gain smoothly around peaks above ``ceiling_dbfs`` (true peak)."""
    ceiling = 10 ** (ceiling_dbfs / 20)
    needed = np.minimum(1.0, ceiling / np.maximum(_peaks(pcm.samples, ceiling), 1e-12))
    if needed.min() >= 1.0:
        return pcm
    window = 2 * round(LIMITER_WINDOW_S * pcm.rate_hz) + 1
    # The minimum over a window, then its average over the same window, is never
    # above what any sample in the window needs: smooth and still safe.
    gain = uniform_filter1d(minimum_filter1d(needed, window), window)
    return Pcm((pcm.samples * gain).astype(np.float32), pcm.rate_hz)


def normalize(pcm: Pcm, target_lufs: float, ceiling_dbfs: float = -1.5) -> tuple[Pcm, float]:
    """``pcm`` at ``target_lufs`` integrated, true peak at most ``ceiling_dbfs``; and its loudness."""
    out = pcm
    loudness = integrated_lufs(out)
    for _ in range(3):  # limiting lowers the loudness a little: gain again, limit again
        if not math.isfinite(loudness):
            return out, loudness  # silence: nothing to normalize
        # Limiting a little below the ceiling leaves room for the filter's own error.
        out = limit(out.gained(10 ** ((target_lufs - loudness) / 20)), ceiling_dbfs - 0.2)
        loudness = integrated_lufs(out)
        if abs(loudness - target_lufs) <= 0.3:
            break
    peak = true_peak_dbfs(out)
    if peak > ceiling_dbfs:  # last resort: the ceiling wins over the loudness target
        out = out.gained(10 ** ((ceiling_dbfs - peak) / 20))
        loudness += ceiling_dbfs - peak
    return out, loudness
