"""Cascaded second-order IIR filters (biquads) in numpy, 64 samples at a time as matrix products.

The loudness meter runs BS.1770's K-weighting (two biquads) over every sample of
an announcement, twice per render. The textbook form is a loop over samples;
here the same linear filter is computed exactly, a block of samples at once:

- the cascade is written in state-space form: ``s' = A s + B x``, ``y = C s + D x``;
- a block's output is the response to its own 64 samples (a product with a
  64x64 matrix of the impulse response) plus the response to the state it
  starts in;
- the state each block starts in follows from the previous block's by the same
  kind of linear recursion, over blocks instead of samples: solved the same
  way one level up, 64 blocks at a time.

So the work is a few matrix products, several times faster than a compiled
per-sample loop (scipy's ``sosfilt``), with numpy alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BLOCK = 64
Section = tuple[float, float, float, float, float]
"""One biquad: (b0, b1, b2, a1, a2) of (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²)."""


def _powers(matrix: np.ndarray, count: int) -> np.ndarray:
    """``matrix`` to the powers 0 … count-1, shape (count, n, n)."""
    out = np.empty((count, *matrix.shape))
    out[0] = np.eye(len(matrix))
    for i in range(1, count):
        out[i] = matrix @ out[i - 1]
    return out


class _Recurrence:
    """s[i+1] = step @ s[i] + inputs[i], solved 64 steps at a time."""

    def __init__(self, step: np.ndarray) -> None:
        self.step = step
        self.powers = _powers(step, BLOCK + 1)
        size = len(step) * BLOCK
        # From a zero state, s[j] = sum over i < j of step^(j-1-i) @ inputs[i]: one matrix.
        j, i = np.meshgrid(np.arange(BLOCK), np.arange(BLOCK), indexing="ij")
        within = self.powers[np.clip(j - 1 - i, 0, None)] * (j > i)[:, :, None, None]
        self.within = within.transpose(0, 2, 1, 3).reshape(size, size).T
        self._upper: _Recurrence | None = None  # the same one level up: 64 steps at once

    def solve(self, inputs: np.ndarray, start: np.ndarray) -> np.ndarray:
        """The states s[0..n-1] for s[0] = ``start``, shape (n, order)."""
        n, order = inputs.shape
        if n <= BLOCK:
            states = np.empty((n, order))
            state = start
            for i in range(n):
                states[i] = state
                state = self.step @ state + inputs[i]
            return states
        groups = -(-n // BLOCK)
        padded = np.zeros((groups, BLOCK, order))
        padded.reshape(-1, order)[:n] = inputs
        zero_start = (padded.reshape(groups, -1) @ self.within).reshape(groups, BLOCK, order)
        # Each group's own part of the state after it; then the state each group starts in.
        after = zero_start[:, -1] @ self.step.T + padded[:, -1]
        if self._upper is None:
            self._upper = _Recurrence(self.powers[BLOCK])
        group_starts = self._upper.solve(after, start)
        states = np.einsum("jab,gb->gja", self.powers[:BLOCK], group_starts) + zero_start
        return states.reshape(-1, order)[:n]


class Cascade:
    """Biquads one after the other, in float32, with their state carried between calls:
    ``filter`` fed a signal in pieces gives the same output as fed it whole."""

    def __init__(self, sections: Sequence[Section]) -> None:
        a, b, c, d = np.zeros((0, 0)), np.zeros(0), np.zeros(0), 1.0
        for b0, b1, b2, a1, a2 in sections:
            # One biquad (transposed direct form II: two delays), fed the cascade so far.
            a2_, b2_ = np.array([[-a1, 1.0], [-a2, 0.0]]), np.array([b1 - a1 * b0, b2 - a2 * b0])
            n = len(b)
            a = np.block([[a, np.zeros((n, 2))], [np.outer(b2_, c), a2_]])
            b, c, d = np.concatenate([b, b2_ * d]), np.concatenate([b0 * c, [1.0, 0.0]]), b0 * d
        self.a, self.b, self.c, self.d = a, b, c, d
        powers = _powers(a, BLOCK + 1)
        impulse = np.concatenate([[d], c @ powers[: BLOCK - 1] @ b])
        own = np.zeros((BLOCK, BLOCK))
        for k in range(BLOCK):
            own[k, k:] = impulse[: BLOCK - k]
        self._own = own.astype(np.float32)  # a block's response to its own samples: x @ own
        self._from_state = (c @ powers[:BLOCK]).T.astype(np.float32)  # (order, 64)
        self._to_state = (powers[BLOCK - 1 :: -1][:BLOCK] @ b).astype(np.float32)  # (64, order)
        self._blocks = _Recurrence(powers[BLOCK])  # the state after a block, from the one before
        self.state = np.zeros(len(b))

    def filter(self, x: np.ndarray) -> np.ndarray:
        """The filtered ``x`` (float32); the state moves on to the end of ``x``."""
        x = np.asarray(x, np.float32)
        whole = len(x) // BLOCK * BLOCK
        out = np.empty(len(x), np.float32)
        if whole:
            blocks = x[:whole].reshape(-1, BLOCK)
            into = (blocks @ self._to_state).astype(np.float64)  # each block's samples, into its end state
            starts = self._blocks.solve(into, self.state)
            filtered = out[:whole].reshape(-1, BLOCK)
            np.matmul(blocks, self._own, out=filtered)
            filtered += starts.astype(np.float32) @ self._from_state
            self.state = self._blocks.step @ starts[-1] + into[-1]
        for n in range(whole, len(x)):  # the last few samples one by one
            out[n] = self.c @ self.state + self.d * x[n]
            self.state = self.a @ self.state + self.b * x[n]
        return out
