"""The play log's words for people: outcomes, triggers, priorities, and the station's reasons.

The play log stores codes and the station's reasons in English (a record, the same on
every station); ``log``, ``report`` and the web page show them in the reader's language.
"""

from __future__ import annotations

import re

from broadcaster.i18n import N_, Msg

WORDS = {
    "playing": N_("playing"), "completed": N_("completed"), "dropout": N_("with dropouts"),
    "interrupted": N_("interrupted"), "failed": N_("failed"), "missed": N_("missed"),
    "manual": N_("manual"), "van": N_("van"), "schedule": N_("schedule"), "emergency": N_("emergency"),
    "live": N_("live"), "now": N_("now"), "high": N_("high"), "normal": N_("normal"),
    "background": N_("background"),
}  # fmt: skip
"""Outcomes, triggers and priorities as the play log stores them."""
TALK_STATES = {"waiting": N_("waiting"), "chime": N_("chime"), "on air": N_("ON AIR"), "over": N_("over")}
"""Where a live talk is on each zone (``live`` and ``status`` show them)."""
REASONS = [(re.compile(pattern), template) for pattern, template in (
    (r"quiet hours", N_("quiet hours")),
    (r"the station stopped", N_("the station stopped")),
    (r"skipped by the operator", N_("skipped by the operator")),
    (r"stopped by the operator", N_("stopped by the operator")),
    (r"stopped with Ctrl-C", N_("stopped with Ctrl-C")),
    (r"rescheduled", N_("rescheduled")),
    (r"the talk ended before it was on the air", N_("the talk ended before it was on the air")),
    (r"the longest talk allowed was reached", N_("the longest talk allowed was reached")),
    (r"the terminal went away", N_("the terminal went away")),
    (r"the switch stopped", N_("the switch stopped")),
    (r"status (?P<status>\w+): not aired to the public", N_("status {status}: not aired to the public")),
    (r"message type (?P<type>\w+): nothing to air", N_("message type {type}: nothing to air")),
    (r"cancelled", N_("cancelled")),
    (r"received before: aired once", N_("received before: aired once")),
    (r"no Chinese info block", N_("no Chinese info block")),
    (r"expired at (?P<time>\S+)", N_("expired at {time}")),
    (r"expired", N_("expired")),
    (r"not for this station's area", N_("not for this station's area")),
    (r"the alert has no headline or instruction to read",
     N_("the alert has no headline or instruction to read")),
    (r"replaced or cancelled by CAP (?P<id>.*)", N_("replaced or cancelled by CAP {id}")),
    (r"stopped by the town \((?P<sender>.*)\)", N_("stopped by the town ({sender})")),
    (r"did not finish in time", N_("did not finish in time")),
    (r"the program stopped during the play", N_("the program stopped during the play")),
    (r"not available \(see the errors\)", N_("not available (see the errors)")),
    (r"(?P<gaps>\d+) gap\(s\), (?P<ms>\d+) ms in all", N_("{gaps} gap(s), {ms} ms in all")),
    (r"(?P<late>\d+) s late \(the limit is (?P<limit>\d+) s\)", N_("{late} s late (the limit is {limit} s)")),
    (r"not valid on (?P<day>[-\d]+)", N_("not valid on {day}")),
    (r"cut by (?P<priority>\w+) '(?P<label>.*)'", N_("cut by {priority} '{label}'")),
    (r"the output was closed", N_("the output was closed")),
    (r"reopening the sound card", N_("reopening the sound card")),
    (r"the sound card was removed", N_("the sound card was removed")),
    (r"the sound card's stream stopped", N_("the sound card's stream stopped")),
    (r"the sound card took no audio for (?P<seconds>[\d.]+) s",
     N_("the sound card took no audio for {seconds} s")),
    (r"the sound card's stream did not start again: (?P<reason>.*)",
     N_("the sound card's stream did not start again: {reason}")),
    (r"sound card '(?P<name>.*)' not found", N_("sound card '{name}' not found")),
)]  # fmt: skip
"""The reasons the station writes, as patterns; anything else (a sound card's own words) is shown as is."""


def reason_message(reason: str) -> Msg | str:
    """A stored reason as a message to translate; a reason it does not know (a sound card's own
    words) stays as it is."""
    for pattern, template in REASONS:
        match = pattern.fullmatch(reason)
        if match:
            values: dict[str, object] = {k: Msg(WORDS.get(v, v)) if k == "priority" else v
                                         for k, v in match.groupdict().items()}  # fmt: skip
            return Msg(template, values)
    return reason


def reason_text(reason: str) -> str:
    """A stored reason in the current language."""
    return str(reason_message(reason))
