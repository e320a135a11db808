"""The ``broadcaster`` command: sub-commands, and the one place errors reach the user.

Every :class:`BroadcasterError` becomes one line and exit code 1; any other
exception is a bug, shown as one line (a traceback only with ``--verbose``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from broadcaster import __version__, i18n
from broadcaster.cli.common import describe, print_problems
from broadcaster.cli.files import cmd_check, cmd_list
from broadcaster.cli.fleet import add_commands as add_fleet_commands
from broadcaster.cli.live import cmd_live
from broadcaster.cli.log import cmd_log, cmd_report
from broadcaster.cli.sound import cmd_devices, cmd_play
from broadcaster.cli.speech import cmd_render, cmd_say, cmd_voices
from broadcaster.cli.station import cmd_plan, cmd_run, cmd_send, cmd_skip, cmd_status, cmd_stop
from broadcaster.cli.web import cmd_user, cmd_web
from broadcaster.errors import BroadcasterError, ContentError
from broadcaster.i18n import N_, _, set_language

# Only light modules at the top: `send`, `stop`, `skip` and `status` must start
# fast, so config, content and YAML are imported by the commands that read them.
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~6 ms on `send`'s path

if TYPE_CHECKING:
    from broadcaster.language import Language

CONTROL_COMMANDS = ("status", "stop", "skip", "send")
"""Commands that only talk to a running station's socket; they log nothing, so skip logging's import."""

def _date_arg(text: str) -> dt.date:
    from broadcaster.schema.fields import FieldError, parse_date

    try:
        return parse_date(text)
    except FieldError as exc:
        raise argparse.ArgumentTypeError(str(exc.message)) from exc










# --- check -------------------------------------------------------------------------------






# --- speech: voices, say, render -------------------------------------------------------------




















# --- sound: devices, play, log, report -----------------------------------------------------










def _duration_arg(text: str) -> float:
    from broadcaster.schema.fields import FieldError, parse_duration

    try:
        return parse_duration(text)
    except FieldError as exc:
        raise argparse.ArgumentTypeError(str(exc.message)) from exc










# --- the station: run, status, stop, skip, send, plan ----------------------------------------
























def _days_arg(text: str) -> int:
    if text.isdigit() and 1 <= int(text) <= 366:
        return int(text)
    raise argparse.ArgumentTypeError(_("'{text}' is not a number of days from 1 to 366").format(text=text))


def _datetime_arg(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        message = _("'{text}' is not a date and time; write it like 2026-12-03T06:00 or 2026-12-03")
        raise argparse.ArgumentTypeError(message.format(text=text)) from exc


# --- the parser and main -----------------------------------------------------------------


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``only`` a control command, just that one (its start-up is what
    an operator waits on before an emergency is heard, and each sub-parser costs time)."""
    parser = argparse.ArgumentParser(
        prog="broadcaster",
        description=_("Village loudspeaker announcements in Mandarin and Cantonese."),
    )
    parser.add_argument("--version", action="version", version=f"broadcaster {__version__}",
                        help=_("show program's version number and exit"))  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true",
                        help=_("show details and tracebacks"))  # fmt: skip
    parser.add_argument("-c", "--config", type=Path, default=None,
                        help=_("the station's config file (default: ./config.yaml)"))  # fmt: skip
    parser.add_argument("--ui-language", choices=("zh_CN", "en"), default=None,
                        help=_("language of messages (default: from config or locale)"))  # fmt: skip
    commands = parser.add_subparsers(dest="command", metavar=_("COMMAND"))

    if only not in CONTROL_COMMANDS:
        _add_commands(commands)
    _add_control_commands(commands)
    add_fleet_commands(commands)
    return parser


def _language_arg(text: str) -> Language:
    from broadcaster.config import parse_language
    from broadcaster.schema.fields import FieldError

    try:
        return parse_language(text)
    except FieldError as exc:
        raise argparse.ArgumentTypeError(str(exc.message)) from exc


def _setup_logging(verbose: bool) -> None:
    import logging

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )




def _ui_language_in(argv: list[str]) -> str | None:
    """``--ui-language`` read before the parser exists, so that ``--help`` is translated too."""
    for i, arg in enumerate(argv):
        if arg.startswith("--ui-language="):
            return arg.partition("=")[2]
        if arg == "--ui-language" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def _command_in(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (after the global options), read before parsing."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-c", "--config", "--ui-language"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


ARGPARSE_WORDS = (
    N_("usage: "), N_("options"), N_("positional arguments"), N_("show this help message and exit"),
    N_("show program's version number and exit"), N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"), N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("argument %(argument_name)s: %(message)s"), N_("%(prog)s: error: %(message)s\n"),
    N_("expected one argument"), N_("expected at least one argument"), N_("expected at most one argument"),
    N_("not allowed with argument %s"), N_("invalid %(type)s value: %(value)r"),
    N_("ambiguous option: %(option)s could match %(matches)s"), N_("one of the arguments %s is required"),
)  # fmt: skip
"""argparse's own words, in our catalog: argparse looks its ``_`` up each time it speaks, so
pointing that at ours translates usage lines, headings and parse errors with everything else."""


def main(argv: list[str] | None = None) -> int:
    # Messages follow the locale until a config file says otherwise.
    argv = sys.argv[1:] if argv is None else argv
    set_language(_ui_language_in(argv) or "auto")
    import argparse

    argparse._ = i18n._  # type: ignore[attr-defined]  # argparse's module-level gettext, see ARGPARSE_WORDS
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    if args.ui_language:
        set_language(args.ui_language)
    if args.verbose or args.command not in CONTROL_COMMANDS:
        _setup_logging(args.verbose)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except ContentError as exc:
        print_problems([p for p in exc.problems], out=sys.stderr)
        print(_("error: {message}").format(message=describe(exc)), file=sys.stderr)
        return 1
    except BroadcasterError as exc:
        if args.verbose:
            import traceback

            traceback.print_exc()
        print(_("error: {message}").format(message=describe(exc)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `broadcaster log | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except Exception as exc:  # a bug: say so in one line unless asked for details
        if args.verbose:
            import traceback

            traceback.print_exc()
        print(_("internal error: {message} (run with --verbose for details)").format(
            message=f"{type(exc).__name__}: {exc}"), file=sys.stderr)  # fmt: skip
        return 2


def _add_commands(commands) -> None:
    check = commands.add_parser(
        "check", help=_("check config, announcements and playlists for mistakes"),
        description=_("Check files and print every problem as PATH:LINE:COL."),
    )  # fmt: skip
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help=_("files or folders (default: the whole station)"))  # fmt: skip
    check.add_argument("--today", type=_date_arg, default=None,
                       help=_("check as if today were this date"))  # fmt: skip
    check.set_defaults(func=cmd_check)

    listing = commands.add_parser("list", help=_("the station's announcements: title, language, validity, "
                                                 "broken or expired, last played"))  # fmt: skip
    listing.add_argument("--format", choices=("table", "csv", "json"), default="table",
                         help=_("table for people; csv or json for spreadsheets and scripts"))  # fmt: skip
    listing.set_defaults(func=cmd_list)

    voices = commands.add_parser("voices", help=_("list speech engines and voices, and whether each works"))
    voices.set_defaults(func=cmd_voices)

    say = commands.add_parser("say", help=_("speak a text now, or write it to a file"))
    say.add_argument("text", metavar=_("TEXT"))
    # a string default goes through _language_arg only when `say` runs: no config import here
    say.add_argument("-l", "--language", type=_language_arg, default="mandarin",
                     help=_("mandarin or cantonese (default: mandarin)"))  # fmt: skip
    say.add_argument("--text-only", action="store_true",
                     help=_("print the text as it will be spoken, and stop"))  # fmt: skip
    say.add_argument("-o", "--output", type=Path, help=_("write a .wav (or .mp3) file instead of playing"))
    say.add_argument("--chime", action="store_true", help=_("play the chime first"))
    say.add_argument("--device", default=None, help=_("sound card to play on (default: the system's)"))
    say.set_defaults(func=cmd_say)

    render = commands.add_parser("render", help=_("turn announcements into audio ahead of time"))
    render.add_argument("announcement", nargs="?", metavar=_("FILE|ID"))
    render.add_argument("-o", "--output", type=Path, help=_("also write the audio to this file"))
    render.add_argument("--all", action="store_true", help=_("render every announcement of the station"))
    render.add_argument("-j", "--jobs", type=int, default=None,
                        help=_("how many at once (default: one per processor core)"))  # fmt: skip
    render.set_defaults(func=cmd_render)

    devices = commands.add_parser("devices", help=_("list sound cards and the zones that use them"))
    devices.set_defaults(func=cmd_devices)

    play = commands.add_parser("play", help=_("play announcements now, once or in a loop (the van)"))
    play.add_argument("items", nargs="+", metavar=_("FILE|ID"),
                      help=_("announcements, or a playlist with a loop"))  # fmt: skip
    where = play.add_mutually_exclusive_group()
    where.add_argument("--zone", help=_("a zone from config.yaml (default: the first)"))
    where.add_argument("--device", help=_("a sound card by name (instead of a zone)"))
    times = play.add_mutually_exclusive_group()
    times.add_argument("--loop", type=int, default=1, metavar="N", help=_("play the list N times"))
    times.add_argument("--forever", action="store_true", help=_("play the list until stopped"))
    play.add_argument("--gap", type=_duration_arg, default=None, help=_("silence between items, like 30s"))
    play.set_defaults(func=cmd_play)

    log = commands.add_parser("log", help=_("show what was played"))
    log.add_argument("--since", type=_date_arg, help=_("first day"))
    log.add_argument("--until", type=_date_arg, help=_("last day"))
    log.add_argument("--announcement", help=_("only this announcement"))
    log.add_argument("--zone", help=_("only this zone"))
    log.add_argument("--format", choices=("table", "csv", "json"), default="table",
                     help=_("table for people; csv or json for spreadsheets and scripts"))  # fmt: skip
    log.set_defaults(func=cmd_log)

    report = commands.add_parser("report", help=_("plays per announcement, zone and day"))
    report.add_argument("--day", type=_date_arg, help=_("the day (default: today)"))
    span = report.add_mutually_exclusive_group()
    span.add_argument("--week", action="store_true", help=_("the seven days up to the day"))
    span.add_argument("--month", action="store_true", help=_("the calendar month of the day"))
    report.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help=_("table for people; csv or json for spreadsheets and scripts"))  # fmt: skip
    report.set_defaults(func=cmd_report)

    run = commands.add_parser("run", help=_("run the station (in the foreground, for systemd)"))
    run.set_defaults(func=cmd_run)
    web = commands.add_parser("web", help=_("the secretary's web page (beside 'broadcaster run')"))
    web.add_argument("--host", default="127.0.0.1",
                     help=_("address to listen on (default: 127.0.0.1, this computer only)"))  # fmt: skip
    web.add_argument("--port", type=int, default=8080, help=_("port (default: 8080)"))
    web.add_argument("--https-only", action="store_true",
                     help=_("send the login cookie over HTTPS only (behind a TLS proxy)"))  # fmt: skip
    web.set_defaults(func=cmd_web)
    user = commands.add_parser("user", help=_("who may use the web page: add, passwd, remove, list"))
    user.add_argument("action", choices=("add", "passwd", "remove", "list"))
    user.add_argument("name", nargs="?", default="")
    user.add_argument("--role", choices=("secretary", "operator", "admin"), default="secretary",
                      help=_("secretary: write and send; operator: also emergencies, stop, skip; "
                             "admin: also users"))  # fmt: skip
    user.add_argument("--zones", help=_("the zones a secretary may send to, like a,b (default: all)"))
    user.add_argument("--password-stdin", action="store_true",
                      help=_("read the password from standard input"))  # fmt: skip
    user.set_defaults(func=cmd_user)
    plan = commands.add_parser("plan", help=_("what will play when, with conflicts and drops"))
    plan.add_argument("--days", type=_days_arg, default=2, help=_("how many days ahead (default: 2)"))
    plan.add_argument("--start", type=_datetime_arg, default=None, help=_("start here instead of now"))
    plan.set_defaults(func=cmd_plan)


def _add_control_commands(commands) -> None:
    status = commands.add_parser("status", help=_("what a running station plays, what comes next, errors"))
    status.add_argument("--json", action="store_true", help=_("print the full answer as JSON"))
    status.set_defaults(func=cmd_status)
    for name, func, text in (("stop", cmd_stop, _("stop what plays now (and what waits)")),
                             ("skip", cmd_skip, _("skip the item that plays now"))):  # fmt: skip
        command = commands.add_parser(name, help=text)
        command.add_argument("--zone", help=_("only this zone"))
        command.set_defaults(func=func)
    send = commands.add_parser("send", help=_("play an announcement now on a running station"))
    send.add_argument("announcement", metavar=_("FILE|ID"))
    send.add_argument("--zone", help=_("only this zone (default: every zone)"))
    send.add_argument("--priority", choices=("now", "emergency"), default="now",
                      help=_("emergency cuts whatever plays, even in quiet hours"))  # fmt: skip
    send.set_defaults(func=cmd_send)
    about = _("Talk on the loudspeakers through the running station's microphone. In a terminal: Space "
              "or Enter starts a talk and ends it, q or Ctrl-C quits. Without a terminal the talk starts "
              "at once and ends when standard input gives a line or ends.")  # fmt: skip
    live = commands.add_parser("live", help=_("talk on the loudspeakers through the station's microphone"),
                               description=about)  # fmt: skip
    live.add_argument("--zone", action="append", help=_("only this zone (again for more; default: the "
                                                        "config's live zones, or every zone)"))  # fmt: skip
    live.add_argument("--input", help=_("the microphone (default: the config's live input)"))
    live.add_argument("--by", help=_("who speaks, for the play log (default: your user name)"))
    live.set_defaults(func=cmd_live)
