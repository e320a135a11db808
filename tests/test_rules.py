"""The station's rules on fake cards and a virtual clock: no sound server, no sleeping.

The real feeder and bookkeeping run (:class:`broadcaster.audio.card.FakeCard`); only
the device is simulated, one 100 ms block per step of the clock. What the rules
decide is read back from the real play log (SQLite in tmp_path).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pytest

from broadcaster.config import Zone
from broadcaster.content.load import load_content
from broadcaster.pcm import Pcm, write_wav
from broadcaster.player.station import ITEM_GAP_S, Priority, Request, Station
from broadcaster.player.zones import Item, Outputs, Player
from broadcaster.playlog import PlayLog, parse_iso
from broadcaster.scheduler.jobs import AHEAD_S, DueTracker, Scheduler, _SlotTrigger
from broadcaster.scheduler.timetable import next_due
from broadcaster.schema.problems import Problems
from tests.conftest import REPO

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 11, 30, 8, 0, tzinfo=SHANGHAI)
BLOCK_S = 0.1


class VirtualClock:
    def __init__(self, start: dt.datetime) -> None:
        self.t = start.timestamp()

    def time(self) -> float:
        return self.t

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.t, SHANGHAI)


class Rig:
    """A station with zones on fake cards, its play log, and a clock the test moves."""

    def __init__(self, folder: Path, zones: tuple[str, ...] = ("a",), quiet=lambda moment: False,
                 **zone_settings) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
        self.folder = folder
        self.clock = VirtualClock(START)
        self.zones = {name: Zone(name, f"card_{name}", **zone_settings) for name in zones}
        self.outputs = Outputs.fake(self.zones, self.clock.time)
        self.log = PlayLog(folder / "log.sqlite")
        self.player = Player(self.outputs, self.log, self.clock.now)
        self.station = Station(self.player, self.zones, self.clock.now, quiet)
        for card in self.outputs.cards.values():  # type: ignore[assignment]
            card.callback()  # the stream is open: audio flows before the first item
            card.feed()

    def item(self, name: str, seconds: float, frequency: float = 440.0) -> Item:
        t = np.arange(round(seconds * 48000)) / 48000
        path = self.folder / f"{name}.wav"
        write_wav(path, Pcm((0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), 48000))
        return Item(name, name, path, seconds)

    def request(self, items: Item | tuple[Item, ...], priority: Priority = Priority.NORMAL, zone: str = "a",
                due: dt.datetime | None = None) -> Request:  # fmt: skip
        items = items if isinstance(items, tuple) else (items,)
        trigger = {Priority.EMERGENCY: "emergency", Priority.NOW: "manual"}.get(priority, "schedule")
        return Request(items, zone, priority, trigger, due or self.clock.now(), items[0].announcement_id)

    def advance(self, seconds: float, starve: tuple[float, float] | None = None) -> None:
        """Play ``seconds``; with ``starve=(from_s, to_s)`` the feeders miss the blocks in that span."""
        for step in range(round(seconds / BLOCK_S)):
            self.clock.t += BLOCK_S
            hungry = starve is not None and starve[0] <= step * BLOCK_S < starve[1]
            for card in self.outputs.cards.values():
                card.callback(feed=not hungry)  # type: ignore[attr-defined]
            self.station.step()

    def advance_until(self, done, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
        """Advance until ``done()``, giving real threads (the amplifier hooks) real time too."""
        deadline = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < deadline, "timed out"
            self.advance(BLOCK_S)
            time.sleep(0.01)

    def rows(self) -> list[tuple[str, str, str]]:
        return [(p.announcement_id, p.outcome, p.reason) for p in self.log.plays()]


@pytest.fixture
def rig(tmp_path):
    rig = Rig(tmp_path)
    yield rig
    rig.log.close()


def test_a_request_plays_and_is_logged_completed(rig):
    rig.station.submit(rig.request(rig.item("notice", 2.0)))
    rig.advance(3.0)
    assert rig.rows() == [("notice", "completed", "")]
    play = next(rig.log.plays())
    length = (parse_iso(play.ended_at) - parse_iso(play.started_at)).total_seconds()
    assert length == pytest.approx(2.0, abs=0.01)


def test_a_request_due_in_the_future_is_heard_exactly_at_its_due_time(rig):
    due = rig.clock.now() + dt.timedelta(seconds=0.77)
    rig.station.submit(rig.request(rig.item("slot", 1.0), due=due))
    rig.advance(2.5)
    play = next(rig.log.plays())
    assert play.outcome == "completed"
    assert abs((parse_iso(play.started_at) - due).total_seconds()) <= 0.001  # the log keeps ms


def test_the_items_of_a_request_follow_each_other_with_the_gap(rig):
    one, two = rig.item("one", 1.0), rig.item("two", 1.0)
    rig.station.submit(rig.request((one, two)))
    rig.advance(5.0)
    first, second = rig.log.plays()
    gap = (parse_iso(second.started_at) - parse_iso(first.ended_at)).total_seconds()
    assert (first.outcome, second.outcome) == ("completed", "completed")
    assert gap == pytest.approx(ITEM_GAP_S, abs=0.001)


def test_an_emergency_cuts_in_and_the_cut_request_is_played_again_from_its_start(rig):
    rig.station.submit(rig.request(rig.item("notice", 3.0)))
    rig.advance(1.0)
    rig.station.submit(rig.request(rig.item("alarm", 1.0, 1000), Priority.EMERGENCY))
    rig.advance(6.0)
    assert rig.rows() == [("notice", "interrupted", "cut by emergency 'alarm'"), ("alarm", "completed", ""),
                          ("notice", "completed", "")]  # fmt: skip
    cut, alarm, _again = rig.log.plays()
    # The alarm is heard right after the cut (the kept block, the fade, the device buffer).
    assert (parse_iso(alarm.started_at) - parse_iso(cut.ended_at)).total_seconds() < 0.25


@pytest.mark.parametrize(
    ("low", "high", "cuts"),
    [
        (Priority.NORMAL, Priority.HIGH, True),
        (Priority.HIGH, Priority.NOW, True),
        (Priority.NOW, Priority.EMERGENCY, True),
        (Priority.NORMAL, Priority.NORMAL, False),
        (Priority.HIGH, Priority.NORMAL, False),
        (Priority.EMERGENCY, Priority.EMERGENCY, False),
        (Priority.EMERGENCY, Priority.NOW, False),
    ],
)
def test_a_higher_priority_cuts_a_lower_one_and_an_equal_or_lower_one_waits(rig, low, high, cuts):
    rig.station.submit(rig.request(rig.item("first", 2.0), low))
    rig.advance(0.5)
    rig.station.submit(rig.request(rig.item("second", 0.5), high))
    rig.advance(6.0)
    outcomes = [(name, outcome) for name, outcome, _ in rig.rows()]
    if cuts:
        assert outcomes == [("first", "interrupted"), ("second", "completed"), ("first", "completed")]
    else:
        assert outcomes == [("first", "completed"), ("second", "completed")]


def test_waiting_requests_go_by_priority_then_due_time(rig):
    now = rig.clock.now()
    rig.station.submit(rig.request(rig.item("first", 1.0), Priority.NORMAL, due=now))
    rig.advance(0.3)
    rig.station.submit(rig.request(rig.item("later", 0.3), due=now + dt.timedelta(seconds=0.1)))
    rig.station.submit(rig.request(rig.item("earlier", 0.3), due=now))
    important = rig.item("important", 0.3)
    rig.station.submit(rig.request(important, Priority.HIGH, due=now + dt.timedelta(seconds=0.2)))
    rig.advance(10.0)
    assert [r[:2] for r in rig.rows()] == [("first", "interrupted"), ("important", "completed"),
                                           ("first", "completed"), ("earlier", "completed"),
                                           ("later", "completed")]  # fmt: skip


def test_the_background_loop_plays_when_idle_and_a_cut_background_item_is_not_repeated(rig):
    loop = [rig.item("loop-1", 2.0), rig.item("loop-2", 2.0)]
    rig.station.set_background("a", loop, 5.0)
    rig.advance(5.5)  # idle for the gap: the loop starts
    rig.station.submit(rig.request(rig.item("notice", 1.0)))
    rig.advance(9.0)  # notice, then 5 s idle, then the loop goes on with its next item
    assert [r[:2] for r in rig.rows()] == [("loop-1", "interrupted"), ("notice", "completed"),
                                           ("loop-2", "completed")]  # fmt: skip
    assert rig.rows()[0][2] == "cut by normal 'notice'"


def test_quiet_hours_drop_all_but_emergencies(tmp_path):
    rig = Rig(tmp_path, quiet=lambda moment: True)
    rig.station.set_background("a", [rig.item("loop", 1.0)], 1.0)
    rig.station.submit(rig.request(rig.item("notice", 0.5)))
    rig.station.submit(rig.request(rig.item("alarm", 0.5), Priority.EMERGENCY))
    rig.advance(5.0)
    assert sorted(rig.rows()) == [("alarm", "completed", ""), ("notice", "missed", "quiet hours")]


def test_a_scheduled_emergency_plays_in_quiet_hours(tmp_path):
    rig = Rig(tmp_path, quiet=lambda moment: True)
    request = rig.request(rig.item("alarm", 0.5), Priority.EMERGENCY)
    rig.station.submit(Request(request.items, "a", Priority.EMERGENCY, "schedule", request.due, "daily#1"))
    rig.advance(2.0)
    assert rig.rows() == [("alarm", "completed", "")]


def test_a_request_more_than_5_minutes_late_is_logged_missed(rig):
    late = rig.clock.now() - dt.timedelta(minutes=10)
    rig.station.submit(rig.request(rig.item("late", 0.5), due=late))
    rig.advance(1.0)
    assert rig.rows() == [("late", "missed", "600 s late (the limit is 300 s)")]


def test_a_cut_request_that_would_resume_too_late_is_missed(rig):
    rig.station.submit(rig.request(rig.item("notice", 2.0)))
    rig.advance(0.5)
    rig.station.submit(rig.request(rig.item("long-alarm", 301.0), Priority.EMERGENCY))
    rig.advance(305.0)
    assert [r[:2] for r in rig.rows()] == [("notice", "interrupted"), ("long-alarm", "completed"),
                                           ("notice", "missed")]  # fmt: skip
    assert rig.rows()[2][2].endswith("s late (the limit is 300 s)")


def test_a_gap_in_the_feed_is_a_dropout_not_a_completed_play(rig):
    rig.station.submit(rig.request(rig.item("notice", 3.0)))
    rig.advance(1.0)
    # The feeder misses 0.6 s: the card takes the one block left, then plays 0.5 s of silence.
    rig.advance(1.0, starve=(0.0, 0.6))
    rig.advance(3.0)
    rig.station.submit(rig.request(rig.item("after", 1.0)))
    rig.advance(2.0)
    (notice, after) = rig.log.plays()
    assert (notice.outcome, notice.dropouts, notice.dropout_ms) == ("dropout", 1, 500)
    assert notice.reason == "1 gap(s), 500 ms in all"
    # The audio after the gap arrives late, not lost: the play lasted 3 s + the hole.
    length = (parse_iso(notice.ended_at) - parse_iso(notice.started_at)).total_seconds()
    assert length == pytest.approx(3.5, abs=0.01)
    assert (after.outcome, after.dropouts) == ("completed", 0)
    card = rig.outputs["a"].card
    assert card.gaps == 1


def test_an_underflow_reported_by_the_device_is_a_dropout(rig):
    rig.station.submit(rig.request(rig.item("notice", 2.0)))
    rig.advance(1.0)
    card = rig.outputs["a"].card
    rig.clock.t += BLOCK_S
    card.callback(underflow=True)  # type: ignore[attr-defined]
    rig.advance(2.0)
    play = next(rig.log.plays())
    assert (play.outcome, play.dropouts) == ("dropout", 1)
    assert card.underflows == 1


def test_a_gap_while_nothing_plays_touches_no_play(rig):
    rig.advance(1.0, starve=(0.0, 0.5))
    rig.station.submit(rig.request(rig.item("notice", 1.0)))
    rig.advance(2.0)
    assert rig.rows() == [("notice", "completed", "")]


def test_stop_interrupts_the_play_and_logs_what_waits_as_missed(rig):
    one, two, three = rig.item("one", 2.0), rig.item("two", 1.0), rig.item("three", 1.0)
    rig.station.submit(rig.request((one, two)))
    rig.station.submit(rig.request(three))
    rig.advance(0.5)
    assert rig.station.stop(["a"], "stopped by the operator") == ["a"]
    rig.advance(3.0)
    assert sorted(rig.rows()) == [("one", "interrupted", "stopped by the operator"),
                                  ("three", "missed", "stopped by the operator"),
                                  ("two", "missed", "stopped by the operator")]  # fmt: skip


def test_skip_goes_on_with_the_next_item_and_one_skipped_before_it_sounded_is_missed(rig):
    one, two = rig.item("one", 2.0), rig.item("two", 1.0)
    due = rig.clock.now() + dt.timedelta(seconds=0.8)
    rig.station.submit(rig.request((one, two), due=due))
    rig.advance(0.3)
    assert rig.station.skip(["a"]) == ["a"]  # "one" waits for its slot: skipped before it sounded
    rig.advance(0.3)
    assert rig.station.skip(["a"]) == ["a"]  # "two" followed at once and sounds: cut short
    rig.advance(3.0)
    assert rig.rows() == [("one", "missed", "skipped by the operator"),
                          ("two", "interrupted", "skipped by the operator")]  # fmt: skip


def test_shutdown_ends_every_request_as_a_row(rig):
    rig.station.submit(rig.request((rig.item("one", 5.0), rig.item("two", 1.0))))
    rig.station.submit(rig.request(rig.item("three", 1.0)))
    rig.advance(1.0)
    rig.station.shutdown()
    rig.station.submit(rig.request(rig.item("late-comer", 1.0)))
    outcomes = sorted(r[:2] for r in rig.rows())
    assert outcomes == [("late-comer", "missed"), ("one", "interrupted"), ("three", "missed"),
                        ("two", "missed")]  # fmt: skip


def test_two_zones_on_two_cards_play_at_once(tmp_path):
    rig = Rig(tmp_path, zones=("a", "b"))
    rig.station.submit(rig.request(rig.item("left", 1.0), zone="a"))
    rig.station.submit(rig.request(rig.item("right", 1.0), zone="b"))
    rig.station.submit(rig.request(rig.item("alarm", 0.5), Priority.EMERGENCY, zone="b"))
    rig.advance(3.0)
    rows = {(p.announcement_id, p.zone, p.outcome) for p in rig.log.plays()}
    assert ("left", "a", "completed") in rows and ("alarm", "b", "completed") in rows


def test_the_amplifier_is_switched_on_before_and_off_after_a_run_of_plays(tmp_path):
    marks = tmp_path / "relay.txt"
    rig = Rig(tmp_path, power_on=f"sh -c 'echo on >> {marks}'", power_off=f"sh -c 'echo off >> {marks}'",
              warm_up_s=0.5, power_off_after_s=2.0)  # fmt: skip
    rig.station.submit(rig.request(rig.item("one", 0.5)))
    rig.station.submit(rig.request(rig.item("two", 0.5)))
    rig.advance_until(marks.exists)  # the hooks run in their own threads, in real time
    rig.advance_until(lambda: "off" in marks.read_text())
    assert marks.read_text().split() == ["on", "off"]  # once for the run of two plays
    assert [r[:2] for r in rig.rows()] == [("one", "completed"), ("two", "completed")]
    rig.station.shutdown()


def test_a_failing_amplifier_command_does_not_stop_the_broadcast(tmp_path):
    rig = Rig(tmp_path, power_on="false", power_off="sleep 30", warm_up_s=0, power_timeout_s=0.5,
              power_off_after_s=0.2)  # fmt: skip
    rig.station.submit(rig.request(rig.item("one", 0.5)))
    rig.advance_until(lambda: rig.rows() and rig.rows()[0][1] != "playing")
    assert rig.rows() == [("one", "completed", "")]
    rig.advance_until(lambda: len(rig.station.snapshot[0]["hardware_errors"]) >= 2)
    errors = rig.station.snapshot[0]["hardware_errors"]
    assert any("power_on for zone 'a' failed with exit code 1" in e for e in errors), errors
    assert any("power_off for zone 'a' did not finish within 0.5 s" in e for e in errors), errors
    rig.station.shutdown()


def test_the_due_tracker_hands_each_slot_on_once_across_clock_steps():
    content = load_content(REPO / "config.yaml", Problems(), dt.date(2026, 11, 30))
    start = dt.datetime(2026, 11, 30, 7, 0, tzinfo=SHANGHAI)
    tracker = DueTracker(content, start)
    assert tracker.due(start + dt.timedelta(minutes=29)) == []
    assert [o.due.strftime("%H:%M") for o in tracker.due(start + dt.timedelta(minutes=31))] == ["07:30"]
    # The clock is stepped back an hour: nothing is handed on again.
    assert tracker.due(start - dt.timedelta(minutes=30)) == []
    assert tracker.due(start + dt.timedelta(minutes=31)) == []
    # Stepped forward three hours: every slot in between comes out once (the station misses the old ones).
    jumped = tracker.due(start + dt.timedelta(hours=4))
    assert [o.due.strftime("%H:%M") for o in jumped] == ["08:00", "09:00", "11:00"]


def test_slots_not_reached_before_the_clock_went_back_come_due_in_their_time():
    """Started while the clock ran an hour ahead, then corrected: the slots of the hour in between
    were never handed on, so they come due when their time comes; those handed on do not again."""
    content = load_content(REPO / "config.yaml", Problems(), dt.date(2026, 11, 30))
    ahead = dt.datetime(2026, 11, 30, 8, 10, tzinfo=SHANGHAI)
    tracker = DueTracker(content, ahead)
    assert [o.due.strftime("%H:%M") for o in tracker.due(ahead + dt.timedelta(minutes=55))] == ["09:00"]
    corrected = ahead - dt.timedelta(hours=1)  # 07:10, and the clock runs on from there
    assert tracker.due(corrected) == []

    def due(minutes: int) -> list[str]:
        return [o.due.strftime("%H:%M") for o in tracker.due(corrected + dt.timedelta(minutes=minutes))]

    assert due(15) == []
    assert due(21) == ["07:30"]
    assert due(51) == ["08:00"]
    assert due(140) == []  # 09:00 was handed on while the clock ran ahead


def test_a_slot_job_fires_ahead_of_its_slot_so_the_station_can_place_it():
    content = load_content(REPO / "config.yaml", Problems(), dt.date(2026, 11, 30))
    scheduler = Scheduler(content, lambda occurrence, late: None, lambda: START)
    playlist = next(p for p in content.playlists.values() if p.slots)
    trigger = _SlotTrigger(scheduler, playlist.id, 0)
    due = next_due(content, playlist, 0, START)
    fire = trigger.get_next_fire_time(None, START)
    assert due - fire == dt.timedelta(seconds=AHEAD_S)
    following = trigger.get_next_fire_time(fire, fire)
    assert following + dt.timedelta(seconds=AHEAD_S) == next_due(content, playlist, 0, due)


def test_the_next_request_starts_after_the_tail_of_the_previous_one_not_over_it(rig):
    rig.station.submit(rig.request(rig.item("first", 1.0)))
    rig.station.submit(rig.request(rig.item("second", 1.0)))
    rig.advance(4.0)
    first, second = rig.log.plays()
    assert (first.outcome, second.outcome) == ("completed", "completed")
    assert parse_iso(second.started_at) >= parse_iso(first.ended_at)


def test_a_stop_then_an_emergency_does_not_bring_the_stopped_request_back(rig):
    rig.station.submit(rig.request((rig.item("one", 2.0), rig.item("two", 1.0))))
    rig.advance(0.5)
    rig.station.stop(["a"], "stopped by the operator")
    rig.station.submit(rig.request(rig.item("alarm", 0.5), Priority.EMERGENCY))
    rig.advance(6.0)
    assert sorted(r[:2] for r in rig.rows()) == [("alarm", "completed"), ("one", "interrupted"),
                                                 ("two", "missed")]  # fmt: skip


def test_a_broken_amplifier_command_on_one_zone_does_not_stop_the_others(tmp_path):
    rig = Rig(tmp_path, zones=("a", "b"), power_on="relay 'on", warm_up_s=0)
    rig.station.submit(rig.request(rig.item("left", 0.5), zone="a"))
    rig.station.submit(rig.request(rig.item("right", 0.5), zone="b"))
    rig.advance_until(lambda: len([r for r in rig.rows() if r[1] == "completed"]) == 2)
    errors = rig.station.snapshot[0]["hardware_errors"]
    assert any("power_on for zone 'a' is not a valid command" in e for e in errors), errors
    rig.station.shutdown()


def test_rows_ended_by_a_shutdown_carry_the_time_of_the_shutdown(rig):
    rig.station.submit(rig.request(rig.item("long", 30.0)))
    rig.advance(1.0)
    rig.station.shutdown()
    (play,) = rig.log.plays()
    assert play.outcome == "interrupted"
    assert parse_iso(play.ended_at).year >= 2026


def test_an_empty_sound_file_is_logged_as_a_play_not_lost(rig):
    empty = rig.item("empty", 0.0)
    rig.station.submit(rig.request(empty))
    rig.advance(1.0)
    assert rig.rows() == [("empty", "completed", "")]


def test_a_request_posted_while_the_station_shuts_down_ends_as_a_row_or_is_refused(rig):
    from broadcaster.errors import BroadcasterError

    rig.station.start()  # its own thread, as in the daemon
    rig.station.shutdown()
    with pytest.raises(BroadcasterError, match="stopping"):
        rig.station.submit(rig.request(rig.item("late", 1.0)))
    assert rig.rows() == []


def test_a_card_that_refuses_audio_is_tried_again_after_growing_pauses(rig, caplog):
    """A background loop with no gap on a dead card: a failed row now and then, not a storm; one
    error line for the burst; an emergency is tried at once; the loop plays again when the card
    is back."""
    card = rig.outputs["a"].card
    rig.station.set_background("a", [rig.item("loop", 0.5)], 0.0)
    card.failure = "the card was pulled"
    rig.advance(20.0)
    failed = [r for r in rig.rows() if r[1] == "failed"]
    assert 4 <= len(failed) <= 6, failed  # at 0, 1, 3, 7 and 15 s
    assert sum("cannot play" in r.message for r in caplog.records) == 1
    rig.station.submit(rig.request(rig.item("alarm", 0.5), Priority.EMERGENCY))
    rig.advance(BLOCK_S * 2)
    assert rig.rows()[-1][:2] == ("alarm", "failed")  # tried at once, in the middle of a pause
    card.failure = None
    rig.advance(40.0)
    assert ("loop", "completed", "") in rig.rows()
    assert rig.station.zones["a"]._failures == 0
