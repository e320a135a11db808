"""Loudness normalisation and the true-peak limiter on known signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import resample_poly

from broadcaster import loudness
from broadcaster.pcm import Pcm

RATE = 48_000


def speechlike(seconds: float, peak: float) -> Pcm:
    """Bursts of a harmonic tone with sharp peaks, like stressed syllables."""
    t = np.arange(round(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * 180 * k * t) / k for k in range(1, 8))
    envelope = np.sin(np.pi * (t * 4 % 1)) ** 4
    signal = tone * envelope
    return Pcm((peak * signal / np.max(np.abs(signal))).astype(np.float32), RATE)


@pytest.mark.parametrize("peak", [0.05, 0.5, 1.0])
def test_reaches_the_target_with_true_peak_below_the_ceiling(peak):
    out, measured, true_peak = loudness.normalize(speechlike(10, peak), -18.0, -1.5)
    assert measured == pytest.approx(-18.0, abs=0.3)
    assert loudness.integrated_lufs(out) == pytest.approx(measured, abs=0.01)
    assert true_peak == pytest.approx(loudness.true_peak_dbfs(out), abs=0.01)
    independent = 20 * math.log10(np.max(np.abs(resample_poly(out.samples.astype(np.float64), 4, 1))))
    assert independent <= -1.5 + 0.1


def test_silence_is_left_alone():
    silent = Pcm.silence(2.0)
    out, measured, _ = loudness.normalize(silent, -18.0)
    assert out is silent and measured == -math.inf


def test_a_clip_shorter_than_a_gating_block_is_measured():
    assert math.isfinite(loudness.integrated_lufs(speechlike(0.2, 0.5)))


def test_inter_sample_peaks_are_found():
    # A sine at a quarter of the rate, sampled at ±45°: samples peak at 0.707 of the true peak.
    t = np.arange(RATE)
    samples = np.sin(2 * np.pi * t / 4 + np.pi / 4).astype(np.float32)
    assert 20 * math.log10(np.max(np.abs(samples))) == pytest.approx(-3.01, abs=0.01)
    assert loudness.true_peak_dbfs(Pcm(samples, RATE)) == pytest.approx(0.0, abs=0.3)


@pytest.mark.parametrize("seconds", [0.5, 3.0, 20.0])
def test_the_loudness_agrees_with_pyloudnorm(seconds):
    """The station's own float32 meter against an independent BS.1770 implementation."""
    import pyloudnorm

    rng = np.random.default_rng(7)
    noise = Pcm((0.1 * rng.standard_normal(round(seconds * RATE))).astype(np.float32), RATE)
    for pcm in (speechlike(seconds, 0.5), noise):
        reference = pyloudnorm.Meter(RATE).integrated_loudness(pcm.samples.astype(np.float64))
        assert loudness.integrated_lufs(pcm) == pytest.approx(reference, abs=0.1)
