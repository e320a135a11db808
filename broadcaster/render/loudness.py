"""Loudness (ITU-R BS.1770 / EBU R128) and a true-peak limiter, a block at a time.

Announcements are brought to one integrated loudness so that every item
reaches the lanes at the same level, and limited so that no inter-sample
peak exceeds the ceiling (measured with 4x oversampling).

Everything here works on blocks of a stream, so an hour of audio is never held
in memory at once: :class:`Meter` is fed block by block, and :func:`master`
reads its source a block at a time (limiting and measuring the true peak of each
with a margin around it) and writes one pass per sink. :func:`normalize` does
the same for audio already in memory.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np

from broadcaster.pcm import Pcm
from broadcaster.render.iir import Cascade
from broadcaster.render.ordered import ordered_map

OVERSAMPLE = 4
LIMITER_WINDOW_S = 0.005
LIMITER_MARGIN_DB = 0.2  # limit this far below the ceiling: room for the interpolator's own error
LOUDNESS_TOLERANCE_DB = 0.3
MAX_PASSES = 4
LOSS_SAMPLE_EVERY = 8  # blocks: the limiter's loss of loudness is estimated on every 8th
_STRETCH_STEPS = 200  # 100 ms steps filtered at a time


def _k_weighting(rate_hz: int) -> list[tuple[float, float, float, float, float]]:
    """BS.1770's K-weighting at ``rate_hz``: a high shelf (+4 dB above ~1.7 kHz), then a high pass;
    each as (b0, b1, b2, a1, a2)."""
    k = math.tan(math.pi * 1681.974450955533 / rate_hz)
    q, vh = 0.7071752369554196, 10 ** (3.999843853973347 / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = ((vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)  # fmt: skip
    k, q = math.tan(math.pi * 38.13547087602444 / rate_hz), 0.5003270373238773
    a0 = 1 + k / q + k * k
    high_pass = (1.0, -2.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)
    return [shelf, high_pass]


class Meter:
    """Integrated loudness (BS.1770-4, gated) of a mono signal fed a block at a time.

    K-weighted in float32 with the filters' state carried from block to block, and
    summed in 100 ms steps: the result does not depend on how the signal was cut.
    """

    def __init__(self, rate_hz: int) -> None:
        self.rate_hz = rate_hz
        self._step = rate_hz // 10
        self._filter = copy.copy(_k_filter(rate_hz))
        self._rest = np.zeros(0, np.float32)  # less than a step, waiting for the next block
        self._energy: list[np.ndarray] = []
        self._steps = 0

    def _weighted(self, samples: np.ndarray, k_filter: Cascade) -> np.ndarray:
        """Energy per 100 ms step of the K-weighted ``samples`` (whole steps)."""
        weighted = k_filter.filter(samples).reshape(-1, self._step)
        return np.einsum("ij,ij->i", weighted, weighted).astype(np.float64)

    def feed(self, samples: np.ndarray) -> None:
        data = np.concatenate([self._rest, samples]) if len(self._rest) else samples
        usable = len(data) // self._step * self._step
        stretch = _STRETCH_STEPS * self._step
        for first in range(0, usable, stretch):
            self._energy.append(self._weighted(data[first : min(first + stretch, usable)], self._filter))
        self._steps += usable // self._step
        self._rest = np.array(data[usable:], np.float32)

    def lufs(self) -> float:
        """The integrated loudness of everything fed so far (-inf for silence).

        A signal shorter than one 400 ms block is measured as if followed by silence
        (silence is gated out, so this does not change a longer signal's result).
        """
        steps = list(self._energy)
        if self._steps < 4:
            missing = (4 - self._steps) * self._step
            padded = np.concatenate([self._rest, np.zeros(missing - len(self._rest), np.float32)])
            steps.append(self._weighted(padded, copy.copy(self._filter)))  # the state stays as it was
        return gated_lufs(np.concatenate(steps), self._step)


@functools.cache
def _k_filter(rate_hz: int) -> Cascade:
    return Cascade(_k_weighting(rate_hz))


def step_energies(samples: np.ndarray, rate_hz: int) -> np.ndarray:
    """The K-weighted energy of each whole 100 ms step of ``samples``, from a silent start."""
    weighted = copy.copy(_k_filter(rate_hz)).filter(samples)  # a copy: its own state, from silence
    steps = weighted[: len(weighted) // (rate_hz // 10) * (rate_hz // 10)].reshape(-1, rate_hz // 10)
    return np.einsum("ij,ij->i", steps, steps).astype(np.float64)


def gated_lufs(energy: np.ndarray, step: int) -> float:
    """Integrated loudness from the K-weighted energy of each 100 ms step (``step`` samples)."""
    if len(energy) < 4:
        energy = np.concatenate([energy, np.zeros(4 - len(energy))])
    # 400 ms blocks, overlapping by 75 %: four steps each.
    power = (energy[:-3] + energy[1:-2] + energy[2:-1] + energy[3:]) / (4 * step)
    with np.errstate(divide="ignore"):
        blocks = -0.691 + 10 * np.log10(power)
    loud = power[blocks > -70.0]
    if len(loud) == 0:
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(loud.mean())) - 10.0
    gated = power[(blocks > -70.0) & (blocks > relative)]
    return -0.691 + 10 * math.log10(float(gated.mean()))


def integrated_lufs(pcm: Pcm) -> float:
    meter = Meter(pcm.rate_hz)
    meter.feed(pcm.samples)
    return meter.lufs()


def _interpolator() -> np.ndarray:
    """A 4x interpolation filter of 12 taps per phase, as BS.1770-4 Annex 2 describes: a windowed
    sinc (Hamming) with its cutoff at the original Nyquist frequency, unity gain per phase."""
    taps = 12 * OVERSAMPLE + 1
    m = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(m / OVERSAMPLE) * np.hamming(taps)
    return h / h.sum() * OVERSAMPLE


# The interpolator split into its four phases, as weights on the 13 samples around i:
# phase p of sample i is the signal's value at i + p/4.
_INTERPOLATOR = _interpolator()
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


def _oversampled(samples: np.ndarray, positions: np.ndarray, first: int, last: int) -> np.ndarray:
    """For each position (relative to ``first``, within ``first:last``) the largest absolute value
    of the 4x oversampled signal from it up to the next sample. Outside ``samples``: silence."""
    n = len(samples)
    low, high = first - _HALF, last + _HALF
    context = samples[max(low, 0) : min(high, n)]
    if low < 0 or high > n:
        context = np.concatenate([np.zeros(max(-low, 0), np.float32), context,
                                  np.zeros(max(high - n, 0), np.float32)])  # fmt: skip
    windows = np.lib.stride_tricks.sliding_window_view(context, 2 * _HALF + 1)[positions]
    between = np.abs(windows @ _PHASES_F32).max(axis=1)
    return np.maximum(np.abs(windows[:, _HALF]), between)


def _candidates(samples: np.ndarray, level: float, first: int = 0,
                last: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Positions in ``first:last`` near a sample of at least ``level``, and for each the largest
    absolute value of the 4x oversampled signal from it up to the next sample.

    Elsewhere an inter-sample peak cannot come close to ``level`` x 2 (6 dB), so only
    loud samples and the ones just before them are looked at, a batch at a time in
    float32. Samples outside ``samples`` count as silence.
    """
    n = len(samples)
    last = n if last is None else last
    found: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for start in range(first, last, _BATCH):
        end = min(start + _BATCH, last)
        loud = np.abs(samples[start : min(end + 1, n)]) >= level  # one more: the next position's sample
        loud[:-1] |= loud[1:]  # the stretch up to a loud sample too
        near = np.flatnonzero(loud[: end - start])
        if len(near):
            found.append(near + start)
            values.append(_oversampled(samples, near, start, end))
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(found), np.concatenate(values)


def true_peak_dbfs(pcm: Pcm) -> float:
    """The true peak (4x oversampled, BS.1770-4 Annex 2), in dBFS."""
    return _dbfs(_true_peak(pcm.samples, 0, len(pcm.samples)))


def _dbfs(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -math.inf


def _true_peak(samples: np.ndarray, first: int, last: int) -> float:
    largest = _largest(samples[first:last])
    _, peaks = _candidates(samples, largest * 10 ** (-CANDIDATE_MARGIN_DB / 20), first, last)
    return max(largest, float(peaks.max(initial=0.0)))


def _running_min(values: np.ndarray, window: int) -> np.ndarray:
    """The minimum over a centred window of odd length (edges repeated), in O(n) (van Herk)."""
    n, half = len(values), window // 2
    padded = np.pad(values, (half, half + (-(n + 2 * half)) % window), mode="edge").reshape(-1, window)
    prefix = np.minimum.accumulate(padded, axis=1).ravel()
    suffix = np.minimum.accumulate(padded[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(suffix[:n], prefix[window - 1 : window - 1 + n])


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """The mean over a centred window of odd length (edges repeated)."""
    half = window // 2
    sums = np.concatenate([[0.0], np.cumsum(np.pad(values, half, mode="edge"), dtype=np.float64)])
    return ((sums[window:] - sums[:-window]) / window).astype(np.float32)


def _limit(samples: np.ndarray, at: np.ndarray, needed: np.ndarray, rate_hz: int) -> np.ndarray:
    """Lower ``samples`` in place to at most ``needed`` of themselves at each position ``at``, with
    a gain that is smooth around each; the stretches (start, end) it worked on.

    Worked out only around those positions, stretch by stretch.
    """
    window = 2 * round(LIMITER_WINDOW_S * rate_hz) + 1
    breaks = np.flatnonzero(np.diff(at) > 2 * window) + 1
    spans = []
    for stretch, need in zip(np.split(at, breaks), np.split(needed, breaks), strict=True):
        start = max(int(stretch[0]) - 2 * window, 0)
        end = min(int(stretch[-1]) + 2 * window + 1, len(samples))
        local = np.ones(end - start, np.float32)
        local[stretch - start] = need
        # The minimum over a window, then its average over the same window, is never
        # above what any sample in the window needs: smooth and still safe.
        samples[start:end] *= _running_mean(_running_min(local, window), window)
        spans.append((start, end))
    return np.array(spans, np.int64).reshape(-1, 2)


Read = Callable[[int, int], np.ndarray]
"""``read(first, count)``: ``count`` samples of the source from ``first`` (float32); thread-safe."""


def limited_block(read: Read, length: int, rate_hz: int, gain: float, ceiling_dbfs: float,
                  first: int, last: int) -> tuple[np.ndarray, float]:  # fmt: skip
    """Samples ``first:last`` of the source times ``gain``, limited to ``ceiling_dbfs`` (true
    peak); and their true peak (linear).

    The block is read with a margin on both sides, so the gain around a peak near its
    edge, and the peak itself, are the same as if the whole signal were done at once.
    The peaks the limiter looked at are measured again only where it changed the signal.
    """
    window = 2 * round(LIMITER_WINDOW_S * rate_hz) + 1
    margin = 2 * window + 2 * _HALF
    low, high = max(first - margin, 0), min(last + margin, length)
    samples = np.multiply(read(low, high - low), np.float32(gain), dtype=np.float32)
    ceiling = 10 ** (ceiling_dbfs / 20)
    at, peaks = _candidates(samples, ceiling * 10 ** (-CANDIDATE_MARGIN_DB / 20))
    over = peaks > ceiling
    if over.any():
        spans = _limit(samples, at[over], (ceiling / peaks[over]).astype(np.float32), rate_hz)
        # The candidates whose 13 samples around them meet a stretch the limiter worked on.
        span = np.searchsorted(spans[:, 0], at + _HALF + 1, side="right") - 1
        changed = (span >= 0) & (at - _HALF - 1 < spans[np.maximum(span, 0), 1])
        peaks = peaks.copy()
        peaks[changed] = _oversampled(samples, at[changed], 0, len(samples))
    inside = (at >= first - low) & (at < last - low)
    if inside.any():
        peak = float(peaks[inside].max())
    else:  # nothing near the ceiling: measure this quiet block on its own
        peak = _true_peak(samples, first - low, last - low)
    return samples[first - low : last - low], peak


BLOCK_STEPS = 200  # 100 ms steps per block mastered at a time (20 s)
SETTLE_STEPS = 3  # steps filtered before a block, so its K-weighting starts as if from the start


def _mastered(read: Read, length: int, rate_hz: int, gain: float, ceiling_dbfs: float,
              block: tuple[int, int]) -> tuple[np.ndarray, float, np.ndarray]:  # fmt: skip
    """Block ``first:last`` limited; its true peak; the K-weighted energy of each of its steps.

    The K-weighting forgets where it started within ~50 ms (to float32 precision), so
    each block is weighted on its own from 0.3 s before it: blocks can be done side by side.
    """
    first, last = block
    step = rate_hz // 10
    settle = min(first, SETTLE_STEPS * step)
    samples, peak = limited_block(read, length, rate_hz, gain, ceiling_dbfs, first - settle, last)
    return samples[settle:], peak, step_energies(samples, rate_hz)[settle // step :]


def _limiting_loss(read: Read, length: int, rate_hz: int, gain_db: float, ceiling_dbfs: float,
                   blocks: list[tuple[int, int]]) -> float:  # fmt: skip
    """How much limiting at ``gain_db`` lowers the loudness (dB), measured on ``blocks``."""
    before, after = Meter(rate_hz), Meter(rate_hz)
    gain = 10 ** (gain_db / 20)
    for first, last in blocks:
        before.feed(np.multiply(read(first, last - first), np.float32(gain), dtype=np.float32))
        after.feed(limited_block(read, length, rate_hz, gain, ceiling_dbfs, first, last)[0])
    loss = before.lufs() - after.lufs()
    return loss if math.isfinite(loss) else 0.0


Sink = Callable[[], AbstractContextManager[Callable[[np.ndarray], None]]]
"""``open()`` → a context whose value takes the output a block at a time; one per pass."""


def master(read: Read, length: int, rate_hz: int, measured_lufs: float, target_lufs: float,
           ceiling_dbfs: float, sink: Sink, workers: int = 2) -> tuple[float, float]:  # fmt: skip
    """Write the source (of loudness ``measured_lufs``) at ``target_lufs`` integrated and a true
    peak of at most ``ceiling_dbfs``; the loudness and true peak written.

    Blocks are limited and measured by ``workers`` threads while this one writes them
    in order. Limiting lowers the loudness a little: the gain makes up for what limiting
    takes on a sample of the blocks, and if the result still misses the target by more
    than :data:`LOUDNESS_TOLERANCE_DB`, the gain is raised by what is missing and the
    source is written again (the sink is opened anew), at most :data:`MAX_PASSES` times.
    If the interpolator's error lets a peak through, the limiter goes lower on the next
    pass: the ceiling wins over the loudness target. Silence is written as it is.
    """
    step = rate_hz // 10
    size = BLOCK_STEPS * step
    blocks = [(first, min(first + size, length)) for first in range(0, length, size)]
    limit_dbfs = ceiling_dbfs - LIMITER_MARGIN_DB
    gain_db = target_lufs - measured_lufs if math.isfinite(measured_lufs) else 0.0
    if math.isfinite(measured_lufs):
        gain_db += _limiting_loss(read, length, rate_hz, gain_db, limit_dbfs, blocks[::LOSS_SAMPLE_EVERY])
    for _ in range(MAX_PASSES):
        work = functools.partial(_mastered, read, length, rate_hz, 10 ** (gain_db / 20), limit_dbfs)
        energies, peak, short = [], 0.0, Meter(rate_hz)
        with sink() as write:
            for samples, block_peak, energy in ordered_map(work, blocks, workers):
                write(samples)
                energies.append(energy)
                peak = max(peak, block_peak)
                if length < 4 * step:  # shorter than a gating block: measured as Meter does
                    short.feed(samples)
        lufs = short.lufs() if length < 4 * step else gated_lufs(np.concatenate(energies), step)
        peak_dbfs = _dbfs(peak)
        if peak_dbfs > ceiling_dbfs:
            limit_dbfs -= peak_dbfs - ceiling_dbfs + 0.1
        elif not math.isfinite(lufs) or abs(lufs - target_lufs) <= LOUDNESS_TOLERANCE_DB:
            break
        else:
            gain_db += target_lufs - lufs
    return lufs, peak_dbfs


class _Collect(AbstractContextManager):
    """A sink that keeps the blocks of the last pass in memory."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []

    def __call__(self) -> _Collect:
        self.blocks = []
        return self

    def __enter__(self) -> Callable[[np.ndarray], None]:
        return self.blocks.append

    def __exit__(self, *exc: object) -> None:
        return None


def normalize(pcm: Pcm, target_lufs: float, ceiling_dbfs: float = -1.5) -> tuple[Pcm, float, float]:
    """``pcm`` at ``target_lufs`` integrated, true peak at most ``ceiling_dbfs``; its loudness and
    true peak (dBFS). In memory: for short audio (``broadcaster say``)."""
    samples = np.asarray(pcm.samples, np.float32)
    collect = _Collect()
    lufs, peak = master(lambda first, count: samples[first : first + count], len(samples), pcm.rate_hz,
                        integrated_lufs(pcm), target_lufs, ceiling_dbfs, collect)  # fmt: skip
    out = np.concatenate(collect.blocks) if collect.blocks else np.zeros(0, np.float32)
    return Pcm(out, pcm.rate_hz), lufs, peak
