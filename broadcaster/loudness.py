"""Loudness (ITU-R BS.1770 / EBU R128) and a true-peak limiter.

Announcements are brought to one integrated loudness so that every item
reaches the lanes at the same level, and limited so that no inter-sample
peak exceeds the ceiling (measured with 4x oversampling).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import firwin, sosfilt

from broadcaster.pcm import Pcm

OVERSAMPLE = 4
# A 4x interpolation filter of 12 taps per phase, as BS.1770-4 Annex 2 describes.
_INTERPOLATOR = firwin(12 * OVERSAMPLE + 1, 1 / OVERSAMPLE) * OVERSAMPLE
MIN_MEASURE_S = 0.4  # one 400 ms gating block
LIMITER_WINDOW_S = 0.005


def _k_weighting(rate_hz: int) -> np.ndarray:
    """BS.1770's K-weighting at ``rate_hz``: a high shelf (+4 dB above ~1.7 kHz), then a high pass."""
    k = math.tan(math.pi * 1681.974450955533 / rate_hz)
    q, vh = 0.7071752369554196, 10 ** (3.999843853973347 / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]  # fmt: skip
    k, q = math.tan(math.pi * 38.13547087602444 / rate_hz), 0.5003270373238773
    a0 = 1 + k / q + k * k
    high_pass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.array([shelf, high_pass])


def integrated_lufs(pcm: Pcm) -> float:
    """Integrated loudness (BS.1770-4, gated) of a mono signal, in float32 and 100 ms steps.

    Filtered a stretch at a time (the filter's state carried over), never the whole
    signal at once. A tiny offset (-120 dBFS, removed by the filter's high pass) keeps
    the filter's state out of denormal numbers in silence, which are ~7x slower.
    """
    step = pcm.rate_hz // 10
    samples = pcm.samples
    if len(samples) < 4 * step:  # silence is gated out, so padding does not change the result
        samples = np.concatenate([samples, np.zeros(4 * step - len(samples), np.float32)])
    sos = _k_weighting(pcm.rate_hz).astype(np.float32)
    state = np.zeros((len(sos), 2), np.float32)
    stretch = 200 * step
    energy = []
    for first in range(0, len(samples) // step * step, stretch):
        chunk = samples[first : min(first + stretch, len(samples) // step * step)] + np.float32(1e-6)
        weighted, state = sosfilt(sos, chunk, zi=state)
        weighted *= weighted
        energy.append(weighted.reshape(-1, step).sum(axis=1, dtype=np.float64))
    steps = np.concatenate(energy)
    # 400 ms blocks, overlapping by 75 %: four steps each.
    power = (steps[:-3] + steps[1:-2] + steps[2:-1] + steps[3:]) / (4 * step)
    with np.errstate(divide="ignore"):
        blocks = -0.691 + 10 * np.log10(power)
    loud = power[blocks > -70.0]
    if len(loud) == 0:
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(loud.mean())) - 10.0
    gated = power[(blocks > -70.0) & (blocks > relative)]
    return -0.691 + 10 * math.log10(float(gated.mean()))


def true_peak_dbfs(pcm: Pcm) -> float:
    if len(pcm.samples) == 0:
        return -math.inf
    _, peaks = _candidates(pcm.samples)
    peak = max(_largest(pcm.samples), float(peaks.max(initial=0.0)))
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
_PHASES_F32 = _PHASES.T.astype(np.float32)
_OFFSETS = np.arange(-_HALF, _HALF + 1)
CANDIDATE_MARGIN_DB = 6.0
_BATCH = 1 << 18


def _largest(samples: np.ndarray) -> float:
    return max(float(samples.max(initial=0.0)), -float(samples.min(initial=0.0)))


def _candidates(samples: np.ndarray, floor: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Samples near a loud one, and for each the largest absolute value of the 4x oversampled
    signal from it up to the next sample.

    Only samples within 6 dB of the loudest one (or of ``floor``) and the ones just before
    them are looked at: elsewhere an inter-sample peak cannot come close. A batch at a time,
    in float32: a long announcement is never copied whole.
    """
    n = len(samples)
    level = max(_largest(samples), floor) * 10 ** (-CANDIDATE_MARGIN_DB / 20)
    found: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for first in range(0, n, _BATCH):
        magnitude = np.abs(samples[first : first + _BATCH + 1])  # one more: the next batch's first
        loud = magnitude >= level
        loud[:-1] |= loud[1:]  # the stretch up to a loud sample too
        near = np.flatnonzero(loud[: _BATCH])
        if len(near) == 0:
            continue
        at = near + first
        positions = at[:, None] + _OFFSETS
        inside = (positions >= 0) & (positions < n)
        windows = np.where(inside, samples[positions.clip(0, n - 1)], np.float32(0))
        between = np.abs(windows.astype(np.float32, copy=False) @ _PHASES_F32).max(axis=1)
        found.append(at)
        values.append(np.maximum(magnitude[near], between))
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(found), np.concatenate(values)


def limit(pcm: Pcm, ceiling_dbfs: float) -> tuple[Pcm, bool]:
    """Reduce gain smoothly around peaks above ``ceiling_dbfs`` (true peak); and whether it did.

    The gain is worked out only around the peaks that need it, stretch by stretch.
    """
    ceiling = 10 ** (ceiling_dbfs / 20)
    at, peaks = _candidates(pcm.samples, ceiling)
    over = peaks > ceiling
    if not over.any():
        return pcm, False
    at, needed = at[over], (ceiling / peaks[over]).astype(np.float32)
    window = 2 * round(LIMITER_WINDOW_S * pcm.rate_hz) + 1
    out = pcm.samples.astype(np.float32, copy=True)
    breaks = np.flatnonzero(np.diff(at) > 2 * window) + 1
    for stretch, need in zip(np.split(at, breaks), np.split(needed, breaks), strict=True):
        start, end = max(int(stretch[0]) - 2 * window, 0), min(int(stretch[-1]) + 2 * window + 1, len(out))
        local = np.ones(end - start, np.float32)
        local[stretch - start] = need
        # The minimum over a window, then its average over the same window, is never
        # above what any sample in the window needs: smooth and still safe.
        out[start:end] *= uniform_filter1d(minimum_filter1d(local, window), window)
    return Pcm(out, pcm.rate_hz), True


def normalize(pcm: Pcm, target_lufs: float, ceiling_dbfs: float = -1.5) -> tuple[Pcm, float, float]:
    """``pcm`` at ``target_lufs`` integrated, true peak at most ``ceiling_dbfs``; its loudness and
    true peak (dBFS)."""
    out = pcm
    loudness = integrated_lufs(out)
    for _ in range(3):  # limiting lowers the loudness a little: gain again, limit again
        if not math.isfinite(loudness):
            return out, loudness, true_peak_dbfs(out)  # silence: nothing to normalize
        # Limiting a little below the ceiling leaves room for the filter's own error.
        gain_db = target_lufs - loudness
        out, limited = limit(out.gained(10 ** (gain_db / 20)), ceiling_dbfs - 0.2)
        # Gain alone moves the loudness by exactly the gain: measure again only after limiting.
        loudness = integrated_lufs(out) if limited else loudness + gain_db
        if abs(loudness - target_lufs) <= 0.3:
            break
    peak = true_peak_dbfs(out)
    if peak > ceiling_dbfs:  # last resort: the ceiling wins over the loudness target
        out = out.gained(10 ** ((ceiling_dbfs - peak) / 20))
        loudness += ceiling_dbfs - peak
        peak = ceiling_dbfs
    return out, loudness, peak
