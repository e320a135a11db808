"""The zone worker's rules, on the audio lab: misfires, quiet hours, priorities; and the due tracker."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pytest

from broadcaster.config import Zone
from broadcaster.content import load_content
from broadcaster.pcm import Pcm, write_wav
from broadcaster.player import Item, Outputs, Player
from broadcaster.playlog import PlayLog
from broadcaster.problems import Problems
from broadcaster.scheduler import DueTracker
from broadcaster.station import Priority, Request, ZoneWorker
from tests.conftest import REPO

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def tone(folder: Path, name: str, seconds: float) -> Item:
    t = np.arange(round(seconds * 48000)) / 48000
    path = folder / f"{name}.wav"
    write_wav(path, Pcm((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000))
    return Item(name, name, path, seconds)


@contextlib.contextmanager
def zone_worker(folder: Path, zone: Zone, quiet=lambda moment: False):  # type: ignore[no-untyped-def]
    """A worker for ``zone`` on the audio lab, with its own play log."""
    outputs = Outputs({zone.name: zone}).open()
    log = PlayLog(folder / "log.sqlite")
    clock = lambda: dt.datetime.now(SHANGHAI)  # noqa: E731
    worker = ZoneWorker(zone.name, Player(outputs, log, clock), clock, quiet, hardware=zone).start()
    try:
        yield worker, log
    finally:
        worker.shutdown()
        outputs.close()
        log.close()


@pytest.fixture
def worker(lab_here, tmp_path):
    quiet_now = {"on": False}
    with zone_worker(tmp_path, Zone("a", "zone_a"), lambda moment: quiet_now["on"]) as (worker, log):
        yield worker, log, quiet_now


def request(item: Item, priority: Priority, due: dt.datetime | None = None) -> Request:
    due = due or dt.datetime.now(SHANGHAI)
    trigger = "emergency" if priority is Priority.EMERGENCY else "schedule"
    return Request((item,), "a", priority, trigger, due, item.announcement_id)


def settled(log: PlayLog, count: int) -> list[tuple[str, str, str]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        plays = [(p.announcement_id, p.outcome, p.reason) for p in log.plays()]
        if len(plays) >= count and all(p[1] != "playing" for p in plays):
            return plays
        time.sleep(0.05)
    raise AssertionError([(p.announcement_id, p.outcome) for p in log.plays()])


def test_a_request_more_than_5_minutes_late_is_logged_missed(worker, tmp_path):
    zone, log, _ = worker
    zone.submit(request(tone(tmp_path, "late", 0.5), Priority.SCHEDULED,
                        dt.datetime.now(SHANGHAI) - dt.timedelta(minutes=10)))  # fmt: skip
    assert settled(log, 1) == [("late", "missed", "600 s late (the limit is 300 s)")]


def test_quiet_hours_drop_all_but_emergencies(worker, tmp_path):
    zone, log, quiet = worker
    quiet["on"] = True
    zone.submit(request(tone(tmp_path, "notice", 0.5), Priority.SCHEDULED))
    zone.submit(request(tone(tmp_path, "alarm", 0.5), Priority.EMERGENCY))
    assert sorted(settled(log, 2)) == [("alarm", "completed", ""), ("notice", "missed", "quiet hours")]


def test_waiting_requests_go_by_priority_then_due_time(worker, tmp_path):
    zone, log, _ = worker
    now = dt.datetime.now(SHANGHAI)
    zone.submit(request(tone(tmp_path, "first", 1.0), Priority.SCHEDULED, now))
    time.sleep(0.2)
    zone.submit(request(tone(tmp_path, "later", 0.3), Priority.SCHEDULED, now + dt.timedelta(seconds=1)))
    zone.submit(request(tone(tmp_path, "earlier", 0.3), Priority.SCHEDULED, now))
    zone.submit(request(tone(tmp_path, "live", 0.3), Priority.LIVE, now + dt.timedelta(seconds=2)))
    plays = settled(log, 5)
    # "live" cut "first" (which is played again from its start afterwards).
    assert [p[:2] for p in plays] == [("first", "interrupted"), ("live", "completed"),
                                      ("first", "completed"), ("earlier", "completed"),
                                      ("later", "completed")]  # fmt: skip


def test_the_due_tracker_hands_each_slot_on_once_across_clock_steps():
    content = load_content(REPO / "config.yaml", Problems(), dt.date(2026, 11, 30))
    start = dt.datetime(2026, 11, 30, 7, 0, tzinfo=SHANGHAI)
    tracker = DueTracker(content, start)
    assert tracker.due(start + dt.timedelta(minutes=29)) == []
    assert [o.due.strftime("%H:%M") for o in tracker.due(start + dt.timedelta(minutes=31))] == ["07:30"]
    # The clock is stepped back an hour: nothing is handed on again.
    assert tracker.due(start - dt.timedelta(minutes=30)) == []
    assert tracker.due(start + dt.timedelta(minutes=31)) == []
    # Stepped forward three hours: every slot in between comes out once (the player misses the old ones).
    jumped = tracker.due(start + dt.timedelta(hours=4))
    assert [o.due.strftime("%H:%M") for o in jumped] == ["08:00", "09:00", "11:00"]


def test_the_amplifier_is_switched_on_before_and_off_after_a_run_of_plays(lab_here, tmp_path):
    marks = tmp_path / "relay.txt"
    script = tmp_path / "relay.sh"
    script.write_text(f'#!/bin/sh\necho "$1 $(date +%s.%N)" >> {marks}\n')
    script.chmod(0o755)
    zone = Zone("a", "zone_a", power_on=f"{script} on", power_off=f"{script} off", warm_up_s=0.5,
                power_off_after_s=1.0)  # fmt: skip
    with zone_worker(tmp_path, zone) as (worker, log):
        worker.submit(request(tone(tmp_path, "one", 0.5), Priority.SCHEDULED))
        worker.submit(request(tone(tmp_path, "two", 0.5), Priority.SCHEDULED))
        settled(log, 2)
        deadline = time.monotonic() + 10
        while "off" not in (marks.read_text() if marks.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.1)
    events = [line.split() for line in marks.read_text().splitlines()]
    assert [e[0] for e in events] == ["on", "off"]  # once for the run of two plays
    first = next(p for p in PlayLog(tmp_path / "log.sqlite").plays())
    from broadcaster.playlog import parse_iso

    assert parse_iso(first.started_at).timestamp() - float(events[0][1]) >= 0.5  # the warm-up


def test_a_failing_amplifier_command_does_not_stop_the_broadcast(lab_here, tmp_path):
    zone = Zone("a", "zone_a", power_on="false", power_off="sleep 30", warm_up_s=0, power_timeout_s=0.5,
                power_off_after_s=0.2)  # fmt: skip
    with zone_worker(tmp_path, zone) as (worker, log):
        worker.submit(request(tone(tmp_path, "one", 0.5), Priority.SCHEDULED))
        assert settled(log, 1) == [("one", "completed", "")]
        time.sleep(1.5)
        errors = worker.status()["hardware_errors"]
    assert any("power_on for zone 'a' failed with exit code 1" in e for e in errors), errors
    assert any("power_off for zone 'a' did not finish within 0.5 s" in e for e in errors), errors
