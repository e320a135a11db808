"""A sound card on a virtual clock, for the station's rules in tests: same feeder, no sound server."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from broadcaster.audio.card import LEAD_S, PREFERRED_RATE_HZ, Card


class FakeCard(Card):
    """A card on a virtual clock: each callback plays a block; ``callback(feed=False)`` makes a gap.

    The same feeder and bookkeeping as a real card, with no sound server and no
    sleeping; ``latency_s`` is the device buffer between the callback and the converter.
    """

    def __init__(self, name: str, channels: int, clock: Callable[[], float], latency_s: float = 0.1,
                 block_frames: int = 4800, lead_s: float = LEAD_S) -> None:  # fmt: skip
        super().__init__(name, channels, PREFERRED_RATE_HZ, block_frames, lead_s, clock)
        self.latency_s = latency_s
        self.heard: list[tuple[int, np.ndarray]] = []
        """What the card took: (card frame, block), gaps as silence, for tests to inspect."""
        self.record = False

    def callback(self, feed: bool = True, underflow: bool = False) -> None:
        """One block: the feeder runs (unless starved), then the device takes a block."""
        if feed:
            self.feed()
        out = np.empty((self.block_frames, self.channels), dtype=np.float32)
        self.take(out, self.clock() + self.latency_s, underflow)
        if self.record:
            self.heard.append((self.played_until, out))

