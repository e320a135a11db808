"""Loudness normalisation and the true-peak limiter on known signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import resample_poly

from broadcaster.pcm import Pcm
from broadcaster.render import loudness

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
    assert measured == -math.inf
    assert np.array_equal(out.samples, silent.samples)


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


def _cuts(length: int, seed: int) -> list[tuple[int, int]]:
    """``0:length`` cut at random places, some of them only a few samples apart."""
    rng = np.random.default_rng(seed)
    points = sorted({0, length, *rng.integers(0, length, 12).tolist(), 5, 7, 4807})
    return [(a, b) for a, b in zip(points, points[1:], strict=False) if a < length]


def test_the_meter_does_not_depend_on_how_the_stream_is_cut():
    pcm = speechlike(3.0, 0.9)
    meter = loudness.Meter(RATE)
    for first, last in _cuts(len(pcm.samples), 3):
        meter.feed(pcm.samples[first:last])
    assert meter.lufs() == pytest.approx(loudness.integrated_lufs(pcm), abs=1e-4)


def test_the_limiter_does_not_depend_on_the_block_size():
    pcm = speechlike(4.0, 1.0)
    n = len(pcm.samples)
    read = lambda first, count: pcm.samples[first : first + count]  # noqa: E731
    whole, whole_peak = loudness.limited_block(read, n, RATE, 2.0, -3.0, 0, n)
    cuts = _cuts(n, 11) + [(0, 3001)]
    blocks = [loudness.limited_block(read, n, RATE, 2.0, -3.0, first, last) for first, last in cuts[:-1]]
    assert np.allclose(np.concatenate([b for b, _ in blocks]), whole, atol=1e-7)  # peaks fall on edges
    assert max(p for _, p in blocks) == pytest.approx(whole_peak, abs=1e-6)
    assert 20 * math.log10(whole_peak) == pytest.approx(loudness.true_peak_dbfs(Pcm(whole, RATE)), abs=1e-4)
    assert loudness.true_peak_dbfs(Pcm(whole, RATE)) <= -3.0 + 0.1


def test_the_interpolator_is_the_windowed_sinc_bs1770_describes():
    from scipy.signal import firwin

    assert np.allclose(loudness._INTERPOLATOR, firwin(49, 1 / 4) * 4, atol=1e-12)


@pytest.mark.parametrize("window", [1, 5, 241])
def test_the_running_filters_agree_with_scipy(window):
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    rng = np.random.default_rng(window)
    values = np.ones(1000, np.float32)
    values[rng.integers(0, 1000, 20)] = rng.uniform(0.3, 1.0, 20).astype(np.float32)
    values[:3] = 0.5  # a peak at the very start: the edges are repeated, not mirrored
    expected_min = minimum_filter1d(values, window, mode="nearest")
    assert np.array_equal(loudness._running_min(values, window), expected_min)
    expected_mean = uniform_filter1d(expected_min.astype(np.float64), window, mode="nearest")
    assert np.allclose(loudness._running_mean(expected_min, window), expected_mean, atol=1e-6)


@pytest.mark.parametrize("rate", [48_000, 44_100, 22_050, 8_000])
def test_the_filters_filter_as_scipy_does_however_the_signal_is_cut(rate):
    from scipy.signal import sosfilt

    from broadcaster.render.iir import Cascade

    rng = np.random.default_rng(rate)
    samples = (0.3 * rng.standard_normal(2 * rate + 17)).astype(np.float32)
    sections = loudness._k_weighting(rate) + [(0.2, 0.3, -0.1, -1.6, 0.7)]  # and one that rings
    expected = sosfilt([[*s[:3], 1.0, *s[3:]] for s in sections], samples.astype(np.float64))
    cascade = Cascade(sections)
    pieces = [cascade.filter(samples[first:last]) for first, last in _cuts(len(samples), rate)]
    assert np.max(np.abs(np.concatenate(pieces) - expected)) < 1e-5


@pytest.mark.parametrize("seconds", [0.25, 45.0])
def test_what_master_reports_is_what_it_wrote(seconds):
    """Blocks are limited and measured side by side: the loudness and true peak reported are those
    of the whole file, as one meter sees it."""
    out, lufs, peak = loudness.normalize(speechlike(seconds, 1.0), -18.0, -1.5)
    assert len(out.samples) == round(seconds * RATE)
    assert lufs == pytest.approx(loudness.integrated_lufs(out), abs=1e-3)
    assert peak == pytest.approx(loudness.true_peak_dbfs(out), abs=1e-3)
    assert lufs == pytest.approx(-18.0, abs=loudness.LOUDNESS_TOLERANCE_DB) and peak <= -1.5
