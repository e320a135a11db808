"""The card's feeder and mixer on a fake card: what the card took, sample by sample."""

from __future__ import annotations

import numpy as np
import pytest

from broadcaster.audio.card import COMPLETED, DROPOUT, FADE_S, INTERRUPTED
from broadcaster.audio.fake import FakeCard

RATE = 48_000


class Clock:
    t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def card_and_clock() -> tuple[FakeCard, Clock]:
    clock = Clock()
    card = FakeCard("fake", 2, clock, block_frames=480)
    card.record = True
    return card, clock


def run(card: FakeCard, clock: Clock, seconds: float, feed: bool = True) -> None:
    for _ in range(round(seconds * RATE / card.block_frames)):
        clock.t += card.block_frames / RATE
        card.callback(feed=feed)


def heard(card: FakeCard) -> np.ndarray:
    return np.concatenate([block[:, 0] for _, block in card.heard])


def ramp(seconds: float) -> np.ndarray:
    """A signal whose every sample differs: any lost, doubled or moved sample shows."""
    return np.linspace(0.01, 0.5, round(seconds * RATE), dtype=np.float32)


def test_an_item_reaches_the_card_whole_and_in_order():
    card, clock = card_and_clock()
    item = ramp(0.5)
    playback = card.play(item, (0, 1))
    run(card, clock, 1.0)
    out = heard(card)
    start = playback.start_frame
    assert np.array_equal(out[start : start + len(item)], item)
    assert playback.outcome == COMPLETED


def test_a_pause_holds_the_item_and_loses_nothing():
    card, clock = card_and_clock()
    item = ramp(1.0)
    playback = card.play(item, (0, 1))
    run(card, clock, 0.4)
    card.set_paused(True)
    run(card, clock, 0.7)
    card.set_paused(False)
    run(card, clock, 1.5)
    out = heard(card)
    assert np.array_equal(out[out > 0], item)  # every sample once, in order, around a silence
    assert playback.outcome == COMPLETED


def test_a_cut_fades_out_and_the_newcomer_starts_where_the_fade_starts():
    card, clock = card_and_clock()
    first = ramp(2.0)
    playback = card.play(first, (0, 1))
    run(card, clock, 0.5)
    playback.stop("cut")
    alarm = np.full(RATE // 2, -0.25, dtype=np.float32)
    emergency = card.play(alarm, (0, 1))
    run(card, clock, 1.5)
    out = heard(card)
    cut_at = playback.stop_frame
    assert cut_at == emergency.start_frame
    start = playback.start_frame
    assert np.array_equal(out[start:cut_at], first[: cut_at - start])  # untouched before the cut
    fade = round(FADE_S * RATE)
    faded = out[cut_at : cut_at + fade] - alarm[:fade]
    assert np.all(np.diff(faded / first[cut_at - start : cut_at - start + fade]) <= 0)  # fading out
    assert np.allclose(out[cut_at + fade : cut_at + len(alarm)], -0.25)  # then only the alarm
    assert (playback.outcome, emergency.outcome) == (INTERRUPTED, COMPLETED)


def test_a_cut_is_heard_after_one_kept_block_not_after_the_lead():
    card, clock = card_and_clock()
    playback = card.play(ramp(3.0), (0, 1))
    run(card, clock, 0.5)
    taken = card.played_until
    playback.stop("cut")
    run(card, clock, 0.1)
    assert playback.stop_frame is not None
    # The lead is 0.2 s (20 blocks here); the stop lands right after the block kept for the card.
    assert playback.stop_frame - taken <= 2 * card.block_frames


def test_a_starved_feeder_makes_a_gap_and_the_rest_arrives_late_not_lost():
    card, clock = card_and_clock()
    item = ramp(1.0)
    playback = card.play(item, (0, 1))
    run(card, clock, 0.4)
    run(card, clock, 0.5, feed=False)  # 0.2 s of lead, then 0.3 s of silence
    run(card, clock, 1.5)
    out = heard(card)
    assert np.array_equal(out[out > 0], item)
    assert playback.outcome == DROPOUT
    assert playback.dropouts == 1
    assert playback.dropout_ms == pytest.approx(300, abs=card.block_frames * 1000 / RATE)


def test_a_stop_before_an_item_sounds_ends_it_without_sound():
    card, clock = card_and_clock()
    later = card.play(ramp(0.5), (0, 1), start_frame=RATE * 5)
    run(card, clock, 0.2)
    later.stop("skipped")
    run(card, clock, 0.2)
    assert (later.outcome, later.started) == (INTERRUPTED, False)
    assert not np.any(heard(card))


def test_an_item_queued_during_a_pause_keeps_its_place_after_the_one_before():
    card, clock = card_and_clock()
    first, second = ramp(0.5), ramp(0.5) + 0.5
    playing = card.play(first, (0, 1))
    run(card, clock, 0.2)
    card.set_paused(True)
    run(card, clock, 0.3)
    assert playing.end_frame is not None
    following = card.play(second, (0, 1), start_frame=playing.end_frame + RATE // 10)  # the van's gap
    run(card, clock, 0.3)
    card.set_paused(False)
    run(card, clock, 2.0)
    out = heard(card)
    assert np.array_equal(out[out > 0], np.concatenate([first, second]))
    assert following.start_frame - playing.end_frame == RATE // 10
    assert (playing.outcome, following.outcome) == (COMPLETED, COMPLETED)
