"""Live voice without a sound server: the drift buffer, the voice processing, the station's rules.

The rules run on fake cards and a virtual clock (tests/test_rules.py's rig) with a
microphone stand-in; tests/test_live_lab.py plays a real one on the audio lab.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from broadcaster.audio.live import CAPACITY_S, DriftBuffer, VoiceProcessor
from broadcaster.config import load_config
from broadcaster.daemon.live import LiveSwitch, switch_word
from broadcaster.pcm import Pcm
from broadcaster.player.station import Priority, Request
from broadcaster.player.zones import LiveItem
from broadcaster.schema.problems import Problems
from tests.test_rules import Rig

RATE = 48_000


def _clocks(buffer: DriftBuffer, mic_hz: float, card_hz: float, seconds: float,
            signal=None):  # type: ignore[no-untyped-def]  # fmt: skip
    """Run a microphone (240-frame blocks) and a card (1024-frame reads) on their own clocks.

    Returns what the card read, and the buffer's depth before each read (the delay it adds).
    """
    mic_block, card_block = 240, 1024
    t_mic = t_card = 0.0
    written = 0
    out, depths = [], []
    while t_card < seconds:
        if t_mic <= t_card:
            n = np.arange(written, written + mic_block)
            block = signal(n) if signal else np.zeros(mic_block, np.float32)
            buffer.write(block.astype(np.float32))
            written += mic_block
            t_mic += mic_block / mic_hz
        else:
            depths.append(buffer.depth_s)
            out.append(buffer.read(card_block))
            t_card += card_block / card_hz
    return np.concatenate(out), np.array(depths)


@pytest.mark.parametrize("ppm", [-300, 300])
def test_the_depth_stays_near_its_target_when_the_clocks_disagree(ppm):
    """Uncorrected, 300 ppm is 18 ms more (or less) delay a minute; the buffer holds its depth."""
    buffer = DriftBuffer(RATE, RATE, target_s=0.06)
    _out, depths = _clocks(buffer, RATE * (1 + ppm / 1e6), RATE, seconds=600)
    settled = depths[len(depths) // 10 :]
    assert buffer.underruns == 0 and buffer.trims == 0 and buffer.overruns == 0
    assert abs(np.mean(depths[-500:]) - 0.06) < 0.015  # no growing delay after 10 minutes
    assert settled.max() < 0.06 + 0.025 and settled.min() > 0.06 - 0.025


def test_the_correction_is_smooth_no_sample_dropped_or_doubled_audibly():
    def sine(n):  # type: ignore[no-untyped-def]
        return 0.5 * np.sin(2 * np.pi * 440 * n / RATE)

    buffer = DriftBuffer(RATE, RATE, target_s=0.06)
    out, _depths = _clocks(buffer, RATE * 1.0003, RATE, seconds=60, signal=sine)
    voiced = out[RATE:]  # after the priming
    # A sine's second difference is tiny (0.0017 here); a dropped or doubled sample makes a step ~0.03.
    assert np.max(np.abs(np.diff(voiced, 2))) < 0.005


def test_a_microphone_at_44_1_khz_feeds_a_48_khz_card():
    def sine(n):  # type: ignore[no-untyped-def]
        return 0.5 * np.sin(2 * np.pi * 1000 * n / 44_100)

    buffer = DriftBuffer(44_100, RATE, target_s=0.06)
    out, depths = _clocks(buffer, 44_100, RATE, seconds=30, signal=sine)
    assert buffer.underruns == 0 and abs(depths[-1] - 0.06) < 0.02
    spectrum = np.abs(np.fft.rfft(out[-RATE:]))
    assert np.argmax(spectrum) == pytest.approx(1000, abs=2)  # still 1 kHz at the card's rate


def test_a_card_that_stalls_does_not_leave_a_long_delay_behind():
    buffer = DriftBuffer(RATE, RATE, target_s=0.06)
    _clocks(buffer, RATE, RATE, seconds=5)
    for _ in range(200):  # the card takes nothing for a second; the microphone goes on
        buffer.write(np.zeros(240, np.float32))
    assert buffer.depth_s <= CAPACITY_S
    buffer.read(1024)
    assert buffer.trims == 1
    assert buffer.depth_s == pytest.approx(0.06 - 1024 / RATE, abs=0.002)


def test_a_microphone_that_stops_is_counted_as_holes():
    buffer = DriftBuffer(RATE, RATE, target_s=0.06)
    _clocks(buffer, RATE, RATE, seconds=2)
    silence = [buffer.read(1024) for _ in range(10)]
    assert buffer.underruns >= 1
    assert all(not block.any() for block in silence[-5:])


def test_the_gate_keeps_an_open_microphones_hum_off_the_air():
    processor = VoiceProcessor(RATE, target_dbfs=-18)
    rng = np.random.default_rng(1)
    hum = (10 ** (-60 / 20) * rng.standard_normal(RATE * 3)).astype(np.float32)
    out = np.concatenate([processor.process(hum[i : i + 240]) for i in range(0, len(hum), 240)])
    assert np.max(np.abs(out[RATE:])) == 0.0


def test_a_quiet_voice_is_brought_to_the_announcements_level():
    processor = VoiceProcessor(RATE, target_dbfs=-18)
    t = np.arange(RATE * 10) / RATE
    quiet = (10 ** (-30 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 300 * t)).astype(np.float32)  # -30 dBFS RMS
    out = np.concatenate([processor.process(quiet[i : i + 240]) for i in range(0, len(quiet), 240)])
    level = 20 * np.log10(np.sqrt(np.mean(out[-RATE:] ** 2)))
    assert level == pytest.approx(-18, abs=1.0)


def test_a_shout_does_not_clip_the_horns():
    processor = VoiceProcessor(RATE, target_dbfs=-18)
    t = np.arange(RATE * 2) / RATE
    shout = (0.99 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    out = np.concatenate([processor.process(shout[i : i + 240]) for i in range(0, len(shout), 240)])
    assert np.max(np.abs(out)) <= 10 ** (-1 / 20) + 1e-6


@pytest.mark.parametrize(("line", "word"), [("on", True), ("OFF\n", False), ("1", True), ("0", False),
                                            ("event: RISING EDGE offset: 17", True), ("pressed", True),
                                            ("event: FALLING EDGE offset: 1 timestamp: [0.000120]", False),
                                            ("released", False), ("hello", None)])  # fmt: skip
def test_the_switch_lines(line, word):
    assert switch_word(line) is word


def test_live_settings_in_config_yaml(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("zones:\n  a: x\n  b: y\nlive:\n  input: USB Mic\n  zones: [a]\n  buffer: 80ms\n"
                      "  record: yes\n  keep_days: 7\n  switch: gpiomon gpiochip0 17\n"
                      "  max_duration: 5m\n")  # fmt: skip
    problems = Problems()
    live = load_config(config, problems).live
    assert not problems.has_errors
    got = (live.input, live.zones, live.buffer_s, live.record, live.keep_days, live.switch,
           live.max_duration_s)
    assert got == ("USB Mic", ("a",), 0.08, True, 7.0, "gpiomon gpiochip0 17", 300.0)


def test_a_live_zone_that_does_not_exist_is_named(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("zones:\n  a: x\nlive:\n  zones: [square]\n")
    problems = Problems()
    load_config(config, problems)
    [problem] = [p for p in problems if p.is_error]
    assert "square" in problem.render() and problem.line == 4


# --- the station's rules ----------------------------------------------------------------------------


class ToneMicrophone:
    """A microphone stand-in: every card reads a continuing 1 kHz tone (or holes, when told)."""

    def __init__(self) -> None:
        self.position = 0
        self.underruns = 0
        self.holes = False

    def buffer_for(self, card: str, card_rate_hz: int):  # type: ignore[no-untyped-def]
        return self

    def read(self, frames: int) -> np.ndarray:
        if self.holes:
            self.underruns += 1
            return np.zeros(frames, np.float32)
        n = np.arange(self.position, self.position + frames)
        self.position += frames
        return (0.25 * np.sin(2 * np.pi * 1000 * n / RATE)).astype(np.float32)

    def flush(self) -> None:
        pass


def _live(rig: Rig, zone: str = "a", chime_s: float = 0.5) -> LiveItem:
    item = LiveItem(ToneMicrophone(), Pcm(np.full(round(chime_s * RATE), 0.1, np.float32), RATE), "张书记")
    rig.station.submit(Request((item,), zone, Priority.LIVE, "live", rig.clock.now(), "live"))
    return item


def _rows(rig: Rig) -> list[tuple[str, str, str, str]]:
    return [(p.announcement_id, p.trigger, p.outcome, p.reason) for p in rig.log.plays()]


def _tone_in(blocks, channel: int) -> float:  # type: ignore[no-untyped-def]
    """How much of the 1 kHz tone the card played on ``channel`` (RMS)."""
    audio = np.concatenate([block[:, channel] for _frame, block in blocks]) if blocks else np.zeros(1)
    spectrum = np.abs(np.fft.rfft(audio))
    bin_1k = round(1000 * len(audio) / RATE)
    return float(spectrum[bin_1k - 2 : bin_1k + 3].max() / len(audio) * 2)


@pytest.fixture
def rig(tmp_path):
    rig = Rig(tmp_path, zones=("a", "b"))
    for card in rig.outputs.cards.values():
        card.record = True  # type: ignore[attr-defined]
    yield rig
    rig.log.close()


def test_live_voice_cuts_a_scheduled_item_which_is_played_again_after_it(rig):
    rig.station.submit(rig.request(rig.item("notice", 4.0)))
    rig.advance(1.0)
    item = _live(rig)
    rig.advance(3.0)
    rig.station.end_live(item, "")
    rig.advance(6.0)
    assert _rows(rig) == [("notice", "schedule", "interrupted", "cut by live 'live'"),
                          ("live", "live", "completed", ""),
                          ("notice", "schedule", "completed", "")]  # fmt: skip
    live = next(p for p in rig.log.plays() if p.trigger == "live")
    assert live.started_by == "张书记"


def test_the_voice_is_heard_on_its_zone_only_after_its_chime(rig):
    item = _live(rig, "a", chime_s=0.5)
    rig.advance(3.0)
    a, b = (rig.outputs.zones[z].card for z in ("a", "b"))
    heard = a.heard  # type: ignore[attr-defined]
    assert _tone_in(heard, 0) > 0.2 and _tone_in(heard, 1) > 0.2
    assert _tone_in(b.heard, 0) == 0.0  # type: ignore[attr-defined]
    playback = item.playbacks["a"]
    first_tone = min(frame - len(block) for frame, block in heard if np.abs(block[:, 0]).max() > 0.15)
    assert playback.start_frame is not None
    assert first_tone - playback.start_frame == pytest.approx(0.5 * RATE, abs=4800)  # the chime comes first
    rig.station.end_live(item, "")
    rig.advance(1.0)
    assert playback.outcome == "completed"


def test_an_emergency_cuts_live_voice_which_does_not_come_back(rig):
    _live(rig)
    rig.advance(2.0)
    rig.station.submit(rig.request(rig.item("alarm", 1.0), Priority.EMERGENCY))
    rig.advance(5.0)
    assert _rows(rig) == [("live", "live", "interrupted", "cut by emergency 'alarm'"),
                          ("alarm", "emergency", "completed", "")]  # fmt: skip
    assert rig.station.snapshot[0]["playing"] is None


def test_scheduled_items_and_sends_wait_for_live_voice(rig):
    item = _live(rig)
    rig.advance(1.0)
    rig.station.submit(rig.request(rig.item("notice", 1.0)))
    rig.station.submit(rig.request(rig.item("sent", 1.0), Priority.NOW))
    rig.advance(3.0)
    assert [r[0] for r in _rows(rig)] == ["live"]
    assert rig.station.snapshot[0]["waiting"] == ["sent", "notice"]
    rig.station.end_live(item, "")
    rig.advance(6.0)
    assert [r[:3] for r in _rows(rig)] == [("live", "live", "completed"), ("sent", "manual", "completed"),
                                          ("notice", "schedule", "completed")]  # fmt: skip


def test_a_second_talk_waits_for_the_first(rig):
    first = _live(rig)
    rig.advance(1.0)
    second = _live(rig)
    rig.advance(2.0)
    assert "a" not in second.playbacks
    rig.station.end_live(first, "")
    rig.advance(2.0)
    assert second.playbacks["a"].started


def test_a_talk_ended_while_it_waited_is_logged_missed(rig):
    rig.station.submit(rig.request(rig.item("alarm", 3.0), Priority.EMERGENCY))
    rig.advance(1.0)
    item = _live(rig)
    rig.advance(1.0)
    rig.station.end_live(item, "the talk ended before it was on the air")
    rig.advance(4.0)
    assert _rows(rig) == [("alarm", "emergency", "completed", ""),
                          ("live", "live", "missed", "the talk ended before it was on the air")]  # fmt: skip
    assert [p.started_by for p in rig.log.plays()][-1] == "张书记"  # who tried to speak, also when missed


def test_holes_from_the_microphone_make_a_dropout_not_a_completed_play(rig):
    item = _live(rig, chime_s=0.0)
    rig.advance(1.0)
    item.microphone.holes = True  # type: ignore[attr-defined]
    rig.advance(0.3)
    item.microphone.holes = False  # type: ignore[attr-defined]
    rig.advance(1.0)
    rig.station.end_live(item, "")
    rig.advance(1.0)
    [live] = rig.log.plays()
    assert live.outcome == "dropout" and live.dropouts >= 1


def test_the_operators_stop_ends_live_voice(rig):
    item = _live(rig)
    rig.advance(1.0)
    rig.station.stop(["a"], "stopped by the operator")
    rig.advance(1.0)
    assert item.playbacks["a"].outcome == "interrupted"
    assert _rows(rig) == [("live", "live", "interrupted", "stopped by the operator")]


def test_a_talk_ended_while_its_cut_fades_stays_interrupted(rig):
    """The speaker lets go of the key just as an emergency cuts in: the row says it was cut."""
    item = _live(rig)
    rig.advance(1.0)
    rig.station.submit(rig.request(rig.item("alarm", 1.0), Priority.EMERGENCY))
    rig.station.end_live(item, "")  # before the cut's fade has been played
    rig.advance(3.0)
    assert _rows(rig)[0] == ("live", "live", "interrupted", "cut by emergency 'alarm'")


class _Desk:
    """What the switch sees of the station's microphone desk."""

    def __init__(self) -> None:
        self.talk = None
        self.events: list[str] = []

    def start(self, zones, by):  # type: ignore[no-untyped-def]
        desk = self

        class Talk:
            item = type("Item", (), {"started_by": by})

            def end(self, reason: str) -> None:
                desk.events.append(f"end {reason}".strip())
                desk.talk = None

        self.talk = Talk()
        self.events.append(f"start {by}")


def test_a_foot_switch_command_starts_and_ends_a_talk(tmp_path):
    script = tmp_path / "switch.py"
    script.write_text("import sys, time\nfor word in ('pressed', 'noise', 'released', 'on'):\n"
                      "    print(word, flush=True)\n    time.sleep(0.2)\ntime.sleep(30)\n")  # fmt: skip
    desk = _Desk()
    switch = LiveSwitch(f"{sys.executable} {script}", desk).start()  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + 10
        while len(desk.events) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        switch.stop()
    # A switch that goes away ends the talk it started (a cut cable does not leave the microphone on).
    assert desk.events == ["start switch", "end", "start switch", "end the switch stopped"]


def test_zones_not_in_the_talk_keep_their_schedule(rig):
    item = _live(rig, "a")
    rig.advance(0.5)
    rig.station.submit(rig.request(rig.item("notice", 1.0), zone="b"))
    rig.advance(2.0)
    assert ("notice", "schedule", "completed", "") in _rows(rig)
    rig.station.end_live(item, "")
    rig.advance(1.0)


class _Station:
    """Enough of a station for the desk's checks."""

    zones = {"a": None}

    def __init__(self) -> None:
        self.ended: list[str] = []

    def end_live(self, item, reason: str) -> None:  # type: ignore[no-untyped-def]
        self.ended.append(reason)


def test_a_talk_is_refused_in_quiet_hours(tmp_path):
    import datetime as dt

    from broadcaster.config import Config
    from broadcaster.daemon.live import LiveDesk
    from broadcaster.errors import BroadcasterError

    config = Config(root=tmp_path, quiet_hours=(dt.time(22), dt.time(6, 30)))
    desk = LiveDesk(_Station(), lambda: config, dt.datetime.now, lambda moment: True)  # type: ignore[arg-type]
    with pytest.raises(BroadcasterError, match="06:30"):
        desk.start(["a"], "tester")
    assert desk.talk is None


def test_a_talk_ends_by_itself_after_the_longest_talk_allowed(tmp_path):
    import dataclasses
    import datetime as dt

    from broadcaster.config import Config, LiveSettings
    from broadcaster.daemon.live import LiveDesk, Talk

    config = Config(root=tmp_path, live=dataclasses.replace(LiveSettings(), max_duration_s=0.0))
    station = _Station()
    desk = LiveDesk(station, lambda: config, dt.datetime.now, lambda moment: False)  # type: ignore[arg-type]

    class Microphone:
        closed = False

        def close(self) -> None:
            self.closed = True

    microphone = Microphone()
    item = LiveItem(ToneMicrophone(), Pcm(np.zeros(0, np.float32), RATE), "tester")
    talk = Talk(desk, item, ["a"], microphone)  # type: ignore[arg-type]
    talk.watch()
    assert talk.over.wait(5) and microphone.closed
    assert station.ended == ["the longest talk allowed was reached"]


def test_recordings_older_than_their_days_are_removed(tmp_path):
    import os

    from broadcaster.audio.live import remove_old_recordings

    old, new = tmp_path / "20261001-080000-tester.wav", tmp_path / "20261129-080000-tester.wav"
    for path in (old, new):
        path.write_bytes(b"RIFF")
    now = new.stat().st_mtime
    os.utime(old, (now - 31 * 86400, now - 31 * 86400))
    assert remove_old_recordings(tmp_path, 30, now) == 1
    assert not old.exists() and new.exists()
