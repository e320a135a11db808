"""``broadcaster live``: push-to-talk on a running station's microphone.

In a terminal, Space or Enter starts a talk and ends it; q or Ctrl-C quits (a talk
on the air ends first). Without a terminal (a script, a foot-switch wrapper), the
talk starts at once and ends when standard input ends or gives a line.
"""

from __future__ import annotations

import argparse
import getpass
import queue
import sys
import threading

from broadcaster.cli.station import _control_root
from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _
from broadcaster.playwords import TALK_STATES

TALK_KEYS = (" ", "\n", "\r")


def _line(zones: dict[str, str]) -> str:
    by_state: dict[str, list[str]] = {}
    for zone, state in zones.items():
        by_state.setdefault(state, []).append(zone)
    return "  ".join(f"{_(TALK_STATES.get(state, state))}: {', '.join(names)}"
                     for state, names in by_state.items())  # fmt: skip


def _talk(args: argparse.Namespace, wants_end) -> tuple[dict, bool]:
    """One talk; ``wants_end(timeout)`` says whether the speaker is done (True) or quits ("quit")."""
    from broadcaster.daemon.control import Talk, socket_path

    request = {"zones": args.zone or None, "input": args.input, "by": args.by or _user()}
    talk = Talk(socket_path(_control_root(args)), request)
    quitting = ending = False
    try:
        while True:
            try:
                event = talk.events.get(timeout=0.05)
            except queue.Empty:
                event = None
            if isinstance(event, BroadcasterError):
                raise event
            if event is not None and "progress" in event:
                print(_("live: {states}").format(states=_line(event.get("zones", {}))), flush=True)
                for zone, playing in (event.get("behind") or {}).items():
                    print(_("  {zone} waits for '{item}', which is more important or came first").format(
                        zone=zone, item=playing), flush=True)  # fmt: skip
            elif event is not None:
                return event, quitting
            if not ending:
                answer = wants_end(0.0)
                if answer:
                    ending, quitting = True, answer == "quit"
                    talk.end()
    except KeyboardInterrupt:
        talk.end()
        return _final(talk), True
    finally:
        talk.close()


def _final(talk) -> dict:
    while True:
        event = talk.events.get(timeout=15)
        if isinstance(event, BroadcasterError):
            raise event
        if "progress" not in event:
            return event


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def _show(summary: dict) -> bool:
    from broadcaster.playwords import WORDS

    zones = ", ".join(f"{zone} {_(WORDS.get(outcome, outcome))}"
                      for zone, outcome in summary["zones"].items())  # fmt: skip
    print(_("live voice ended after {seconds} s: {zones}").format(seconds=summary["seconds"], zones=zones))
    if summary.get("reason"):
        from broadcaster.playwords import reason_text

        print(_("reason: {reason}").format(reason=reason_text(str(summary["reason"]))), file=sys.stderr)
    return bool(summary["ok"])


def cmd_live(args: argparse.Namespace) -> int:
    from broadcaster.cli.terminal import _keys

    with _keys() as read_key:
        if read_key is None:
            return 0 if _show(_talk(args, _stdin_ended())[0]) else 1
        print(_("Space or Enter: talk, and again to end. q or Ctrl-C: quit."), flush=True)
        ok = True
        while True:
            try:
                key = read_key(0.2)
            except KeyboardInterrupt:
                return 0 if ok else 1
            if key == "q":
                return 0 if ok else 1
            if key not in TALK_KEYS:
                continue

            def wants_end(_timeout: float) -> bool | str:
                pressed = read_key(0.0)
                return "quit" if pressed == "q" else pressed in TALK_KEYS

            summary, quitting = _talk(args, wants_end)
            ok = _show(summary) and ok
            if quitting:
                return 0 if ok else 1


def _stdin_ended():
    """Without a terminal: the talk ends when standard input gives a line or ends."""
    ended = threading.Event()

    def wait() -> None:
        try:
            sys.stdin.readline()
        except (OSError, ValueError):
            pass
        ended.set()

    if sys.stdin is None:
        ended.set()
    else:
        threading.Thread(target=wait, name="stdin", daemon=True).start()
    return lambda _timeout: ended.is_set()
