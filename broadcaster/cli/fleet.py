"""``broadcaster fleet …`` (the town's console) and ``broadcaster cap`` (an alert to this station)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from broadcaster.cli.common import print_problems, print_table, station_config
from broadcaster.errors import BroadcasterError
from broadcaster.fleet.words import KINDS, STATES, local_time, outcomes
from broadcaster.i18n import _


def _console(args: argparse.Namespace):
    from broadcaster.fleet.console import CONSOLE_DB
    from broadcaster.fleet.store import ConsoleStore

    config = station_config(args)
    if config.fleet is None:
        message = _("config.yaml has no 'fleet:' section: the console needs the broker's address")
        raise BroadcasterError(message)
    return config, config.fleet, ConsoleStore(config.resolve(CONSOLE_DB))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise BroadcasterError(_("{path}: no such file or folder").format(path=path)) from exc
    except OSError as exc:
        message = _("cannot read {path}: {reason}")
        raise BroadcasterError(message.format(path=path, reason=exc.strerror or exc)) from exc


def _checked(path: Path, kind: str, root: Path) -> tuple[str, dict[str, str]]:
    """The file's text, once it passes the same checks as on a station (errors with line and column),
    and the clips it plays (``clips/NAME`` → base64), which go with it."""
    import base64

    from broadcaster.content.load import load_announcement, load_playlist
    from broadcaster.content.models import Clip
    from broadcaster.schema.problems import Problems

    problems = Problems()
    if kind == "playlist":
        announcement = load_playlist(path, problems)
    else:
        announcement = load_announcement(path, root, problems)  # type: ignore[assignment]  # either model
    if problems.has_errors:
        print_problems(list(problems))
        count = sum(p.is_error for p in problems)
        raise BroadcasterError(_("{path}: {count} error(s); nothing was sent").format(path=path, count=count))
    clips = {}
    for segment in getattr(announcement, "segments", ()):
        if isinstance(segment, Clip) and segment.path.parent.name == "clips":
            clips[f"clips/{segment.path.name}"] = base64.b64encode(_read(segment.path)).decode()
    return _read(path).decode("utf-8-sig"), clips


def cmd_fleet_send(args: argparse.Namespace) -> int:
    from broadcaster.fleet import console
    from broadcaster.fleet.messages import Message

    config, fleet, store = _console(args)
    until = dt.datetime.fromisoformat(args.until).astimezone(dt.UTC) if args.until else None
    path = Path(args.what)
    zones = args.zone or None
    if path.suffix == ".xml":
        from broadcaster.fleet.cap import read_alert

        data = _read(path)
        read_alert(data)  # refused here with the schema's reason, not at every station
        message = Message.new("cap", fleet.id, {"xml": data.decode("utf-8")}, until)
    elif path.suffix in (".yaml", ".yml"):
        kind = "playlist" if path.resolve().parent.name == "playlists" else "announcement"
        text, clips = _checked(path, kind, config.root)
        if kind == "playlist":
            message = Message.new("playlist", fleet.id, {"name": path.stem, "yaml": text}, until)
        else:
            body = {"name": path.stem, "yaml": text, "priority": args.priority, "zones": zones,
                    "clips": clips}
            message = Message.new("send", fleet.id, body, until)
    else:
        body = {"announcement": args.what, "priority": args.priority, "zones": zones}
        message = Message.new("send", fleet.id, body, until)
    topics = console.send(fleet, store, message, args.to)
    _sent(message.kind, message.id, topics)
    _expected(fleet, store, args.to, message.id)
    return 0


def _expected(fleet, store, to: str, ident: str) -> None:
    """Which stations should take a message just sent; a warning for those the broker cannot hold it for.

    The broker keeps a message only for a station that has connected once (its session subscribes
    to its topics): a town with no station seen, or a mistyped id, would otherwise be silence.
    """
    import sys

    from broadcaster.fleet import console

    try:
        console.collect(fleet, store, quiet_s=0.5, limit_s=5.0)  # presences, kept by the broker
    except BroadcasterError:
        return  # it is sent; the count is only a help
    known = console.known_stations(store)
    expected = console.stations_for(store, to)
    unseen = [station for station in expected if station not in known]
    if not expected:
        print(_("warning: no station of {to} has been seen by this console; a station that has never "
                "connected to the broker does not get this message (see broadcaster fleet status)").format(
            to=to), file=sys.stderr)  # fmt: skip
        return
    if unseen:
        print(_("warning: never seen by this console: {stations}; a station that has never connected to "
                "the broker does not get this message (see broadcaster fleet status)").format(
            stations=", ".join(unseen)), file=sys.stderr)  # fmt: skip
    print(_("expected at {count} station(s); follow it with: broadcaster fleet report {id}").format(
        count=len(expected), id=ident))  # fmt: skip


def _sent(kind: str, ident: str, topics: list[str]) -> None:
    print(_("sent {kind} {id} to {topics}").format(kind=_(KINDS.get(kind, kind)), id=ident,
                                                   topics=", ".join(topics)))  # fmt: skip


def cmd_fleet_stop(args: argparse.Namespace) -> int:
    from broadcaster.fleet import console
    from broadcaster.fleet.messages import Message

    _config, fleet, store = _console(args)
    message = Message.new("stop", fleet.id, {"zones": args.zone or None})
    _sent(message.kind, message.id, console.send(fleet, store, message, args.to))
    _expected(fleet, store, args.to, message.id)
    return 0


def cmd_fleet_status(args: argparse.Namespace) -> int:
    from broadcaster.fleet import console

    config, fleet, store = _console(args)
    console.collect(fleet, store)
    rows = [(_("station"), _("town"), _("state"), _("playing"), _("errors"), _("since"))]
    rows += [(line.station, line.town, _(STATES.get(line.state, line.state)), line.playing or "-",
              str(line.errors), local_time(line.at, config.tz))
             for line in console.status(store)]  # fmt: skip
    print_table(rows)
    return 0


def cmd_fleet_report(args: argparse.Namespace) -> int:
    from broadcaster.fleet import console

    config, fleet, store = _console(args)
    console.collect(fleet, store)
    title, lines = console.report(store, args.message)
    kind, _sep, rest = title.partition(" ")
    print(f"{_(KINDS.get(kind, kind))} {rest}")
    rows = [(_("station"), _("state"), _("when"), _("detail"))]
    from broadcaster.playwords import reason_text

    rows += [(line.station, _(STATES.get(line.state, line.state)), local_time(line.at, config.tz),
              outcomes(reason_text(line.detail), _)) for line in lines]  # fmt: skip
    print_table(rows)
    counts = console.tally(lines)
    print(_("{aired} of {total} aired, {pending} pending, {failed} failed or refused").format(
        aired=counts.aired, total=counts.total, pending=counts.pending, failed=counts.failed))  # fmt: skip
    return 0


def cmd_fleet_acl(args: argparse.Namespace) -> int:
    from broadcaster.fleet.acl import acl_text
    from broadcaster.fleet.messages import check_name
    from broadcaster.schema.problems import Problems
    from broadcaster.schema.yamlfile import Map, Seq, read

    problems = Problems()
    node = read(args.file, problems)
    towns: dict[str, list[str]] = {}
    consoles: list[str] = []
    if isinstance(node, Map):
        for key, value in node.items:
            if not isinstance(value, Seq):
                message = _("'{key}' should list names in brackets, like {key}: [a, b]")
                raise BroadcasterError(f"{args.file}:{key.line}: " + message.format(key=key.value))
            items = [getattr(item, "value", "") for item in value.items]
            if key.value == "consoles":
                consoles = [check_name(item, "console") for item in items]
            else:
                towns[check_name(key.value, "town")] = [check_name(item, "station") for item in items]
    if problems.has_errors or not isinstance(node, Map):
        print_problems(list(problems))
        raise BroadcasterError(_("write the towns as 'town: [station, station]' and 'consoles: [name]'"))
    print(acl_text(towns, consoles))
    return 0


def cmd_cap(args: argparse.Namespace) -> int:
    from broadcaster.cli.station import _control
    from broadcaster.fleet.cap import read_alert

    data = _read(args.file)
    read_alert(data)  # the schema's complaint, with its line, before the station is asked
    answer = _control(args, {"command": "cap", "xml": data.decode("utf-8")}, timeout=120.0)
    if answer.get("aired"):
        zones = ", ".join(answer["zones"])
        print(_("aired as {id} on {zones}").format(id=answer["announcement"], zones=zones))
    else:
        from broadcaster.playwords import reason_text

        print(_("not aired: {reason}").format(reason=reason_text(str(answer.get("reason", "")))))
    if answer.get("stopped"):
        print(_("stopped: {ids}").format(ids=", ".join(answer["stopped"])))
    return 0


def add_commands(commands) -> None:
    fleet = commands.add_parser("fleet", help=_("the town's console: send to stations, see what they aired"))
    sub = fleet.add_subparsers(dest="fleet_command", required=True, metavar=_("COMMAND"))
    send = sub.add_parser("send", help=_("send an announcement, a playlist or a CAP alert to stations"))
    send.add_argument("what", metavar=_("FILE|ID"),
                      help=_("an announcement or playlist file, a CAP .xml, or the id of an announcement "
                             "the stations have"))  # fmt: skip
    send.add_argument("--to", required=True, help=_("all, town:NAME, or station ids separated by commas"))
    send.add_argument("--priority", choices=("now", "emergency"), default="now",
                      help=_("emergency cuts whatever plays, even in quiet hours"))  # fmt: skip
    send.add_argument("--zone", action="append", help=_("only this zone (again for more)"))
    send.add_argument("--until", help=_("not played after this time (ISO, like 2026-12-01T18:00+08:00)"))
    send.set_defaults(func=cmd_fleet_send)
    stop = sub.add_parser("stop", help=_("stop what plays on stations"))
    stop.add_argument("--to", required=True, help=_("all, town:NAME, or station ids separated by commas"))
    stop.add_argument("--zone", action="append", help=_("only this zone (again for more)"))
    stop.set_defaults(func=cmd_fleet_stop)
    status = sub.add_parser("status", help=_("which stations are online, what each plays, errors"))
    status.set_defaults(func=cmd_fleet_status)
    report = sub.add_parser("report", help=_("for one message: which stations aired it, when, or why not"))
    report.add_argument("message", metavar=_("ID"),
                        help=_("the message id 'fleet send' printed (or its start)"))  # fmt: skip
    report.set_defaults(func=cmd_fleet_report)
    acl = sub.add_parser("acl", help=_("the broker's access list for a fleet"))
    acl.add_argument("file", type=Path, metavar=_("FILE"),
                     help=_("YAML: 'town: [station, …]' and 'consoles: [name]'"))  # fmt: skip
    acl.set_defaults(func=cmd_fleet_acl)
    cap = commands.add_parser("cap", help=_("give a CAP 1.2 alert to the running station"))
    cap.add_argument("file", type=Path, metavar=_("FILE.xml"))
    cap.set_defaults(func=cmd_cap)
