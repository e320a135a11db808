"""``run``, ``plan``, and the commands that talk to a running station: status, stop, skip, send."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from broadcaster.cli.common import config_file, load_station, now, print_problems, print_table
from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _, set_language

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~6 ms on `send`'s path

if TYPE_CHECKING:
    from typing import Any

SEND_TIMEOUT_S = 120.0
"""How long ``send`` waits for the station's next line (progress or answer)."""


def cmd_run(args: argparse.Namespace) -> int:
    import logging

    from broadcaster.daemon.run import Daemon

    if not args.verbose:
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return Daemon(config_file(args)).run()


# The config's interface language, read with a line match: a control command parses no YAML.
_UI_LANGUAGE = re.compile(r"""^ui_language[ \t]*:[ \t]*["']?([A-Za-z_]+)["']?[ \t]*(?:#.*)?$""", re.MULTILINE)


def _control_root(args: argparse.Namespace) -> Path:
    """The station's folder, as ``Config.root`` has it, without loading the config.

    Also follows the config's ``ui_language``, as :func:`load_station` does.
    """
    config_path = config_file(args)
    if config_path is None:
        return Path.cwd().resolve()
    if not config_path.is_file():
        raise BroadcasterError(_("config file {path} does not exist").format(path=config_path))
    if args.ui_language is None:
        try:
            match = _UI_LANGUAGE.search(config_path.read_text(encoding="utf-8-sig", errors="replace"))
        except OSError:
            match = None
        if match and match[1].lower() in ("zh_cn", "en"):
            set_language(match[1])
    return config_path.parent.resolve()


def _control(
    args: argparse.Namespace,
    request: dict[str, object],
    timeout: float = 10.0,
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    from broadcaster.daemon.control import call, socket_path

    return call(socket_path(_control_root(args)), request, timeout, on_progress)


def cmd_status(args: argparse.Namespace) -> int:
    import json

    answer = _control(args, {"command": "status"})
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=1))
        return 0
    print(f"{answer['station']}  {answer['now']}")
    for zone in answer["zones"]:
        playing = _("live voice") if zone["playing"] == "live" else zone["playing"] or "-"
        line = _("zone {zone}: playing {item}, waiting {waiting}").format(
            zone=zone["zone"], item=playing, waiting=len(zone["waiting"]))  # fmt: skip
        if zone.get("dropouts"):
            line += "  " + _("({count} dropout(s) in this play)").format(count=zone["dropouts"])
        print(line)
    live = answer.get("live")
    if live:
        from broadcaster.playwords import TALK_STATES

        zones = ", ".join(f"{zone} {_(TALK_STATES.get(state, state))}"
                          for zone, state in live["zones"].items())  # fmt: skip
        print(_("live voice by {name} for {seconds} s: {zones} ({holes} hole(s))").format(
            name=live["by"] or "-", seconds=live["seconds"], zones=zones, holes=live["holes"]))  # fmt: skip
    fleet = answer.get("fleet")
    if fleet:
        text = _("fleet: {id} on {broker}, connected") if fleet["connected"] else _(
            "fleet: {id} on {broker}, not connected (the station goes on; it keeps trying)")
        print(text.format(id=fleet["id"], broker=fleet["broker"]))
    for card, state in (answer.get("cards") or {}).items():
        if "dropouts" in state:
            text = _("sound card {card}: {count} dropout(s) since start")
            print(text.format(card=card, count=state["dropouts"]))
    for slot in answer["next"][:5]:
        print(_("next: {due} {playlist} {items}").format(due=slot["due"], playlist=slot["playlist"],
                                                         items=", ".join(slot["announcements"])))  # fmt: skip
    for error in answer["errors"]:
        print(_("problem: {message}").format(message=error))  # a file's line says "error:" itself
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    answer = _control(args, {"command": "stop", "zones": [args.zone] if args.zone else None})
    print(_("stopped: {zones}").format(zones=", ".join(answer["stopped"])))
    return 0


def cmd_skip(args: argparse.Namespace) -> int:
    answer = _control(args, {"command": "skip", "zones": [args.zone] if args.zone else None})
    print(_("skipped: {zones}").format(zones=", ".join(answer["skipped"]) or "-"))
    return 0


def _show_progress(text: str) -> None:
    print(_("station: {message}").format(message=text), file=sys.stderr, flush=True)


def cmd_send(args: argparse.Namespace) -> int:
    name = args.announcement
    if Path(name).suffix in (".yaml", ".yml"):
        name = str(Path(name).resolve())
    request = {"command": "send", "announcement": name, "priority": args.priority,
               "zones": [args.zone] if args.zone else None}  # fmt: skip
    # A render may take a while; each progress line proves the station is alive and restarts the timeout.
    answer = _control(args, request, timeout=SEND_TIMEOUT_S, on_progress=_show_progress)
    from broadcaster.playwords import WORDS

    priority = _(WORDS.get(answer["priority"], answer["priority"]))
    print(_("sent {id} to {zones} ({priority})").format(
        id=answer["sent"], zones=", ".join(answer["zones"]), priority=priority))  # fmt: skip
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from broadcaster.scheduler.plan import plan

    content, problems = load_station(args)
    print_problems([p for p in problems if p.is_error], out=sys.stderr)
    config = content.config
    start = args.start or now(config)
    if start.tzinfo is None:  # a time written without an offset is the station's own
        start = start.replace(tzinfo=config.tz)
    rows = [(_("time"), _("playlist"), _("zones"), _("announcements"), _("note"))]
    broken = sorted({p.path.stem for p in problems if p.is_error and p.path.parent.name == "playlists"})
    for name in broken:  # kept out of the plan: say so where the slots would be
        rows.append(("-", name, "-", "-", _("has errors, so nothing of it plays; run 'broadcaster check'")))
    for entry in plan(content, start, args.days):
        when = entry.due.strftime("%m-%d %H:%M:%S") if entry.due else _("(loop)")
        notes = "; ".join(str(note) for note in entry.notes) or "-"
        rows.append((when, entry.playlist, ",".join(entry.zones), ",".join(entry.announcements), notes))
    print_table(rows)
    return 0


