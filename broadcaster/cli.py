"""The ``broadcaster`` command: sub-commands, and the one place errors reach the user.

Every :class:`BroadcasterError` becomes one line and exit code 1; any other
exception is a bug, shown as one line (a traceback only with ``--verbose``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from broadcaster import __version__
from broadcaster.errors import BroadcasterError, ContentError, SpeechError, UnknownAnnouncementError
from broadcaster.i18n import _, set_language

# Only light modules at the top: `send`, `stop`, `skip` and `status` must start
# fast, so config, content and YAML are imported by the commands that read them.
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~6 ms on `send`'s path

if TYPE_CHECKING:
    from broadcaster.config import Config, Language
    from broadcaster.content import Content
    from broadcaster.problems import Problem, Problems

DEFAULT_CONFIG = Path("config.yaml")
CONTROL_COMMANDS = ("status", "stop", "skip", "send")
"""Commands that only talk to a running station's socket; they log nothing, so skip logging's import."""
SEND_TIMEOUT_S = 120.0
"""How long ``send`` waits for the station's next line (progress or answer)."""

def _date_arg(text: str) -> dt.date:
    from broadcaster.fields import FieldError, parse_date

    try:
        return parse_date(text)
    except FieldError as exc:
        raise argparse.ArgumentTypeError(str(exc.message)) from exc


def _config_path(args: argparse.Namespace) -> Path | None:
    """The config file to use: ``--config``, else ./config.yaml, else the built-in defaults."""
    if args.config is not None:
        return args.config
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def _print_problems(problems: list[Problem], out=None) -> None:  # type: ignore[no-untyped-def]
    out = out or sys.stdout
    for problem in sorted(problems, key=lambda p: (str(p.path), p.line, p.column)):
        print(problem.render(Path.cwd()), file=out)


def load_station(args: argparse.Namespace, extra: tuple[Path, ...] = (),
                 warnings: bool = True) -> tuple[Content, Problems]:  # fmt: skip
    """Read the station's config and content; switch to the config's interface language."""
    from broadcaster.content import load_content
    from broadcaster.problems import Problems

    problems = Problems(warnings)
    config_path = _config_path(args)
    if config_path is not None and not config_path.is_file():
        raise BroadcasterError(_("config file {path} does not exist").format(path=config_path))
    today = getattr(args, "today", None)  # None: today in the station's time zone
    content = load_content(config_path, problems, today, extra=extra)
    if content.config.ui_language != "auto" and args.ui_language is None:
        set_language(content.config.ui_language)
    return content, problems


def find_announcement(content: Content, name: str):  # type: ignore[no-untyped-def]
    """An announcement by id or by file path."""
    if name in content.announcements:
        return content.announcements[name]
    path = Path(name)
    for announcement in content.announcements.values():
        if path.suffix and announcement.path.resolve() == path.resolve():
            return announcement
    from broadcaster.problems import did_you_mean

    hint = did_you_mean(path.stem, content.announcements)
    raise UnknownAnnouncementError(name, hint.args["suggestion"] if hint else None)


# --- check -------------------------------------------------------------------------------


def _expand(paths: list[Path]) -> tuple[list[Path], Path | None]:
    """Command-line paths → (content files, config file if one was named)."""
    files: list[Path] = []
    config = None
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in (".yaml", ".yml")))
        elif path.name in ("config.yaml", "config.yml"):
            config = path
        else:
            files.append(path)
    return files, config


def cmd_check(args: argparse.Namespace) -> int:
    files, named_config = _expand(args.paths)
    if named_config is not None and args.config is None:
        args.config = named_config
    missing = [p for p in files if not p.exists()]
    for path in args.paths:
        if not path.exists():
            print(_("{path}: no such file or folder").format(path=path), file=sys.stderr)
    files = [p for p in files if p not in missing]
    content, problems = load_station(args, extra=tuple(files))
    if args.paths:
        wanted = {p.resolve() for p in files}
        if named_config is not None:
            wanted.add(named_config.resolve())
        shown = [p for p in problems if p.path.resolve() in wanted]
    else:
        shown = list(problems)
    _print_problems(shown)
    errors = sum(p.is_error for p in shown)
    warnings = len(shown) - errors
    checked = len(content.announcements) + len(content.playlists)
    if errors or missing:
        print(_("{errors} error(s), {warnings} warning(s)").format(errors=errors, warnings=warnings),
              file=sys.stderr)  # fmt: skip
        return 1
    print(_("OK: {count} announcement(s) and playlist(s) are valid, {warnings} warning(s)").format(
        count=checked, warnings=warnings), file=sys.stderr)  # fmt: skip
    return 0


# --- speech: voices, say, render -------------------------------------------------------------


def make_renderer(config: Config):  # type: ignore[no-untyped-def]
    """The speech pipeline for ``config``: engines, caches, renderer."""
    from broadcaster.render import make_renderer as make

    return make(config)


def _station_config(args: argparse.Namespace) -> Config:
    content, problems = load_station(args)
    config_errors = [p for p in problems if p.is_error and content.config.path == p.path]
    if config_errors:
        raise ContentError(config_errors)
    return content.config


def cmd_voices(args: argparse.Namespace) -> int:
    from broadcaster.tts import all_engines

    config = _station_config(args)
    rows = [(_("engine"), _("voice"), _("language"), _("usable"))]
    for engine in all_engines().values():
        if engine.name == "tone":
            continue
        for voice in engine.voices(config.speech):
            usable = _("yes") if voice.usable else _("no") + (f" ({voice.reason})" if voice.reason else "")
            rows.append((engine.name, voice.voice, voice.language.value if voice.language else "-", usable))
    _print_table(rows)
    return 0


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])


def _write_audio(pcm, out: Path) -> None:  # type: ignore[no-untyped-def]
    from broadcaster.pcm import encode_wav, write_wav

    if out.suffix.lower() == ".wav":
        write_wav(out, pcm)
        return
    import io
    import shutil

    if not shutil.which("ffmpeg"):
        raise BroadcasterError(_("writing {kind} needs ffmpeg; write a .wav file instead").format(
            kind=out.suffix))  # fmt: skip
    from pydub import AudioSegment

    segment = AudioSegment.from_file(io.BytesIO(encode_wav(pcm)), format="wav")
    segment.export(out, format=out.suffix.lstrip(".").lower()).close()


def cmd_say(args: argparse.Namespace) -> int:
    from broadcaster.textnorm import sentences

    config = _station_config(args)
    language = args.language
    if args.text_only:
        # The words as they will be said, then every word with its reading: a wrong reading
        # shows here and is fixed with one lexicon line (word: reading) in config.yaml.
        said = sentences(args.text, language, config.lexicon.get(language))
        print("".join(sentence.text for sentence in said))
        for sentence in said:
            print("  " + sentence.shown())
        return 0
    renderer = make_renderer(config)
    pcm = renderer.say(args.text, language, with_chime=args.chime)
    if args.output:
        _write_audio(pcm, args.output)
        print(_("wrote {path} ({seconds:.1f} s)").format(path=args.output, seconds=pcm.duration_s))
    else:
        from broadcaster.audio import play_blocking

        play_blocking(pcm.samples, pcm.rate_hz, args.device)
    return 0


def _announcement_arg(args: argparse.Namespace, name: str):  # type: ignore[no-untyped-def]
    """An announcement by id, by a file in the station, or by a file anywhere."""
    from broadcaster.content import load_announcement
    from broadcaster.problems import Problems

    path = Path(name)
    if path.suffix.lower() in (".yaml", ".yml") and path.is_file():
        content, _problems = load_station(args, warnings=False)
        problems = Problems(warnings=False)
        announcement = load_announcement(path, content.config.root, problems)
        if announcement is None or problems.has_errors:
            raise ContentError(list(problems))
        return content.config, announcement
    # Another file's mistake does not stop this one: only a broken config or this file's own errors do.
    content, problems = load_station(args, warnings=False)
    errors = [p for p in problems if p.is_error]
    if content.config.path is not None and any(p.path == content.config.path for p in errors):
        raise ContentError(errors)
    try:
        return content.config, find_announcement(content, name)
    except UnknownAnnouncementError:
        own = [p for p in errors if p.path.stem == path.stem]
        if own:
            raise ContentError(own) from None
        raise


def _progress(count: int, total: int, announcement, result) -> None:  # type: ignore[no-untyped-def]
    from broadcaster.errors import BroadcasterError as Failure

    if isinstance(result, Failure):
        status = _("failed: {reason}").format(reason=describe(result))
    else:
        status = f"{result.duration_s:5.1f} s  {result.loudness_lufs:6.1f} LUFS"
    width = 24
    filled = round(width * count / total)
    bar = "#" * filled + "." * (width - filled)
    print(f"[{bar}] {count}/{total}  {announcement.id}  {status}", file=sys.stderr)


def cmd_render(args: argparse.Namespace) -> int:
    from broadcaster.render import render_all

    if args.all:  # every good file is rendered; the broken ones are named, and the exit is 1
        content, problems = load_station(args, warnings=False)
        errors = [p for p in problems if p.is_error]
        if content.config.path is not None and any(p.path == content.config.path for p in errors):
            raise ContentError(errors)
        renderer = make_renderer(content.config)
        done, failed = render_all(renderer, content.announcements.values(), args.jobs, _progress)
        _print_problems(errors, out=sys.stderr)
        print(_("{done} rendered, {failed} failed").format(done=len(done), failed=len(failed)),
              file=sys.stderr)  # fmt: skip
        return 1 if failed or errors else 0
    if not args.announcement:
        raise BroadcasterError(_("name an announcement, or use --all"))
    config, announcement = _announcement_arg(args, args.announcement)
    rendered = make_renderer(config).render(announcement)
    if args.output and args.output.suffix.lower() == ".wav":
        import shutil

        shutil.copyfile(rendered.path, args.output)  # the rendered file is already what is wanted
    elif args.output:
        from broadcaster.pcm import read_wav

        _write_audio(read_wav(rendered.path), args.output)
    print(_("{id}: {seconds:.1f} s, {lufs:.1f} LUFS, true peak {peak:.1f} dBFS, {path}").format(
        id=announcement.id, seconds=rendered.duration_s, lufs=rendered.loudness_lufs,
        peak=rendered.true_peak_dbfs, path=args.output or rendered.path))  # fmt: skip
    return 0


# --- sound: devices, play, log, report -----------------------------------------------------


def cmd_devices(args: argparse.Namespace) -> int:
    from broadcaster.audio import find_device, list_devices

    config = _station_config(args)
    devices = list_devices()
    users: dict[int, list[str]] = {}
    problems = []
    for zone in config.zones.values():
        try:
            users.setdefault(find_device(zone.device, devices).index, []).append(zone.name)
        except BroadcasterError as exc:
            problems.append(_("zone '{zone}': {reason}").format(zone=zone.name, reason=exc))
    rows = [("#", _("sound card"), _("channels"), _("zones"))]
    for d in devices:
        rows.append((str(d.index), d.name, str(d.channels), ", ".join(users.get(d.index, [])) or "-"))
    _print_table(rows)
    for line in problems:
        print(_("error: {message}").format(message=line), file=sys.stderr)
    return 1 if problems else 0


def _items_to_play(args: argparse.Namespace, content: Content) -> tuple[list, float | None]:  # type: ignore[type-arg]
    """Announcements named on the command line; a loop playlist stands for its items."""
    from broadcaster.content import load_playlist
    from broadcaster.problems import Problems

    chosen, gap = [], None
    for name in args.items:
        path = Path(name)
        playlist = content.playlists.get(name)
        if playlist is None and path.suffix.lower() in (".yaml", ".yml") and path.parent.name == "playlists":
            problems = Problems()
            playlist = load_playlist(path, problems)
            if problems.has_errors:
                raise ContentError(list(problems))
        if playlist is not None:
            if playlist.loop is None:
                raise BroadcasterError(_("playlist '{id}' has no loop to play").format(id=playlist.id))
            chosen += [find_announcement(content, n) for n in playlist.loop.play]
            gap = playlist.loop.gap_s
            continue
        chosen.append(_announcement_arg(args, name)[1])
    return chosen, gap


def cmd_play(args: argparse.Namespace) -> int:
    from broadcaster.config import Zone
    from broadcaster.player import Item, Outputs, Player
    from broadcaster.playlog import PlayLog
    from broadcaster.terminal import run_interactive
    from broadcaster.van import VanLoop

    content, problems = load_station(args)
    config = content.config
    config_errors = [p for p in problems if p.is_error and p.path == config.path]
    if config_errors:
        raise ContentError(config_errors)
    announcements, playlist_gap = _items_to_play(args, content)
    if args.device:
        zone = Zone(args.device, args.device)
        zones = {zone.name: zone}
    else:
        name = args.zone or next(iter(config.zones))
        if name not in config.zones:
            from broadcaster.problems import did_you_mean

            hint = did_you_mean(name, config.zones)
            raise BroadcasterError(
                _("unknown zone '{name}'").format(name=name) + (f"; {hint}" if hint else "")
            )
        zones = {name: config.zones[name]}
    renderer = make_renderer(config)
    items = []
    for announcement in announcements:
        rendered = renderer.render(announcement)
        items.append(Item(announcement.id, rendered.path.stem, rendered.path, rendered.duration_s))
    log = PlayLog(config.resolve(config.play_log), config.timezone)
    log.reconcile(_now(config))
    outputs = Outputs(zones, lead_s=config.output_lead_s, buffer_s=config.output_buffer_s).open()
    try:
        player = Player(outputs, log, lambda: _now(config))
        loops = None if args.forever else args.loop
        gap = args.gap if args.gap is not None else (playlist_gap if playlist_gap is not None else 3.0)
        loop = VanLoop(player, next(iter(zones)), items, loops, gap)
        # Ctrl-C asks the loop to stop (fade, log the play as interrupted) instead of
        # raising wherever the main thread happens to be.
        import signal

        previous = signal.signal(signal.SIGINT, lambda *_: loop.quit("stopped with Ctrl-C"))
        try:
            outcomes = run_interactive(loop)
        except KeyboardInterrupt:
            outcomes = loop.outcomes
            print(_("stopped"), file=sys.stderr)
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        outputs.close()
        log.close()
    failed = [a for a, outcome in outcomes if outcome == "failed"]
    print(_("{count} played, {failed} failed").format(count=len(outcomes), failed=len(failed)),
          file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


def _now(config: Config) -> dt.datetime:
    return dt.datetime.now(config.tz)


def _duration_arg(text: str) -> float:
    from broadcaster.fields import FieldError, parse_duration

    try:
        return parse_duration(text)
    except FieldError as exc:
        raise argparse.ArgumentTypeError(str(exc.message)) from exc


def _open_log(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from broadcaster.playlog import PlayLog

    config = _station_config(args)
    path = config.resolve(config.play_log)
    if not path.is_file():
        raise BroadcasterError(_("there is no play log at {path} yet").format(path=path))
    return config, PlayLog(path, config.timezone)


def _emit(rows: list[dict[str, object]], fmt: str) -> None:
    import csv
    import json

    if fmt == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    elif fmt == "csv":
        import io

        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        writer.writerows(rows)
        # UTF-8 with a BOM, whatever the console's encoding: Excel then opens the Chinese text right.
        data = ("\ufeff" + text.getvalue()).encode("utf-8")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        if not rows:
            print(_("nothing to show"))
            return
        _print_table([tuple(str(k) for k in rows[0])] + [tuple(str(v) for v in r.values()) for r in rows])


def cmd_log(args: argparse.Namespace) -> int:
    config, log = _open_log(args)
    try:
        rows = []
        for play in log.plays(args.since, args.until, args.announcement, args.zone):
            # a person reads "2 (340 ms)" (numbers and an SI unit: nothing to translate);
            # a spreadsheet or a script gets two plain numbers
            gaps: dict[str, object] = {"dropouts": play.dropouts, "dropout_ms": play.dropout_ms}
            if args.format == "table":
                gaps = {"dropouts": f"{play.dropouts} ({play.dropout_ms} ms)" if play.dropouts else ""}
            rows.append({
                "id": play.id, "requested": log.local(play.requested_at),
                "started": log.local(play.started_at), "ended": log.local(play.ended_at),
                "announcement": play.announcement_id, "zone": play.zone, "trigger": play.trigger,
                "outcome": play.outcome, "reason": play.reason, **gaps,
                "content": play.content_hash[:12], "host": play.host,
            })  # fmt: skip
    finally:
        log.close()
    _emit(rows, args.format)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    config, log = _open_log(args)
    last = args.day or _now(config).date()
    first = last - dt.timedelta(days=6) if args.week else last
    try:
        rows = log.report(first, last)
    finally:
        log.close()
    _emit(rows, args.format)
    return 0


# --- the station: run, status, stop, skip, send, plan ----------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    import logging

    from broadcaster.daemon import Daemon

    if not args.verbose:
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return Daemon(_config_path(args)).run()


# The config's interface language, read with a line match: a control command parses no YAML.
_UI_LANGUAGE = re.compile(r"""^ui_language[ \t]*:[ \t]*["']?([A-Za-z_]+)["']?[ \t]*(?:#.*)?$""", re.MULTILINE)


def _control_root(args: argparse.Namespace) -> Path:
    """The station's folder, as ``Config.root`` has it, without loading the config.

    Also follows the config's ``ui_language``, as :func:`load_station` does.
    """
    config_path = _config_path(args)
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
) -> dict[str, object]:
    from broadcaster.control import call, socket_path

    return call(socket_path(_control_root(args)), request, timeout, on_progress)


def cmd_status(args: argparse.Namespace) -> int:
    import json

    answer = _control(args, {"command": "status"})
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=1))
        return 0
    print(f"{answer['station']}  {answer['now']}")
    for zone in answer["zones"]:  # type: ignore[attr-defined]
        playing = zone["playing"] or "-"
        line = _("zone {zone}: playing {item}, waiting {waiting}").format(
            zone=zone["zone"], item=playing, waiting=len(zone["waiting"]))  # fmt: skip
        if zone.get("dropouts"):
            line += "  " + _("({count} dropout(s) in this play)").format(count=zone["dropouts"])
        print(line)
    for card, state in (answer.get("cards") or {}).items():  # type: ignore[attr-defined]
        if "dropouts" in state:
            text = _("sound card {card}: {count} dropout(s) since start")
            print(text.format(card=card, count=state["dropouts"]))
    for slot in answer["next"][:5]:  # type: ignore[index]
        print(_("next: {due} {playlist} {items}").format(due=slot["due"], playlist=slot["playlist"],
                                                         items=", ".join(slot["announcements"])))  # fmt: skip
    for error in answer["errors"]:  # type: ignore[attr-defined]
        print(_("problem: {message}").format(message=error))  # a file's line says "error:" itself
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    answer = _control(args, {"command": "stop", "zones": [args.zone] if args.zone else None})
    print(_("stopped: {zones}").format(zones=", ".join(answer["stopped"])))  # type: ignore[arg-type]
    return 0


def cmd_skip(args: argparse.Namespace) -> int:
    answer = _control(args, {"command": "skip", "zones": [args.zone] if args.zone else None})
    print(_("skipped: {zones}").format(zones=", ".join(answer["skipped"]) or "-"))  # type: ignore[arg-type]
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
    print(_("sent {id} to {zones} ({priority})").format(
        id=answer["sent"], zones=", ".join(answer["zones"]), priority=answer["priority"]))  # type: ignore[arg-type]  # fmt: skip
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from broadcaster.content import Priority as AnnouncementPriority
    from broadcaster.timetable import in_quiet_hours, occurrences

    content, problems = load_station(args)
    _print_problems([p for p in problems if p.is_error], out=sys.stderr)
    config = content.config
    start = args.start or _now(config)
    if start.tzinfo is None:  # a time written without an offset is the station's own
        start = start.replace(tzinfo=config.tz)
    found = occurrences(content, start, start + dt.timedelta(days=args.days))
    busy_until: dict[str, dt.datetime] = {}
    rows = [(_("time"), _("playlist"), _("zones"), _("announcements"), _("note"))]
    for occurrence in found:
        notes = []
        local = occurrence.due.astimezone(config.tz)
        names = list(occurrence.announcements)
        anns = [content.announcements.get(n) for n in names]
        missing = [n for n, a in zip(names, anns, strict=True) if a is None]
        if missing:
            notes.append(_("unknown or broken: {names}").format(names=", ".join(missing)))
        expired = [a.id for a in anns if a and not a.is_valid_on(local.date())]
        if expired:
            notes.append(_("not valid that day: {names}").format(names=", ".join(expired)))
        urgent = any(a and a.priority is AnnouncementPriority.EMERGENCY for a in anns)
        if not urgent and in_quiet_hours(occurrence.due, config.quiet_hours, config.tz):
            notes.append(_("dropped: quiet hours"))
        length = dt.timedelta(seconds=sum(_estimate_s(a) for a in anns if a) * occurrence.repeat)
        for zone in occurrence.zones:
            if zone in busy_until and busy_until[zone] > occurrence.due:
                wait = (busy_until[zone] - occurrence.due).total_seconds()
                notes.append(_("conflict on {zone}: waits {seconds:.0f} s").format(zone=zone, seconds=wait))
            busy_until[zone] = max(busy_until.get(zone, occurrence.due), occurrence.due) + length
        rows.append((local.strftime("%m-%d %H:%M:%S"), occurrence.playlist, ",".join(occurrence.zones),
                     ",".join(names), "; ".join(notes) or "-"))  # fmt: skip
    _print_table(rows)
    return 0


def _estimate_s(announcement) -> float:  # type: ignore[no-untyped-def]
    """A rough length for the plan: 0.25 s per character, chime and repeats included."""
    from broadcaster.content import Pause

    spoken = len(announcement.text) * 0.25 + sum(s.seconds for s in announcement.segments
                                                 if isinstance(s, Pause))  # fmt: skip
    total = spoken * announcement.repeat + announcement.gap_s * (announcement.repeat - 1)
    return total + (2.3 if announcement.chime else 0.0)


def _datetime_arg(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


# --- the parser and main -----------------------------------------------------------------


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``only`` a control command, just that one (its start-up is what
    an operator waits on before an emergency is heard, and each sub-parser costs time)."""
    parser = argparse.ArgumentParser(
        prog="broadcaster",
        description=_("Village loudspeaker announcements in Mandarin and Cantonese."),
    )
    parser.add_argument("--version", action="version", version=f"broadcaster {__version__}")
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
    return parser


def _language_arg(text: str) -> Language:
    from broadcaster.config import parse_language
    from broadcaster.fields import FieldError

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


def describe(exc: BroadcasterError) -> str:
    """One line for the user about ``exc``."""
    if isinstance(exc, UnknownAnnouncementError):
        text = _("unknown announcement '{name}'").format(name=exc.name)
        if exc.suggestion:
            text += "; " + _("did you mean '{suggestion}'?").format(suggestion=exc.suggestion)
        return text
    if isinstance(exc, SpeechError):
        return _("cannot speak '{what}'; engines tried: {tried}").format(
            what=exc.what, tried="; ".join(exc.tried)
        )
    if isinstance(exc, ContentError):
        errors = sum(p.is_error for p in exc.problems)
        return _("{errors} error(s) in the station's files; run 'broadcaster check'").format(errors=errors)
    return str(exc)


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


def main(argv: list[str] | None = None) -> int:
    # Messages follow the locale until a config file says otherwise.
    argv = sys.argv[1:] if argv is None else argv
    set_language(_ui_language_in(argv) or "auto")
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
        _print_problems([p for p in exc.problems], out=sys.stderr)
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


def _add_commands(commands) -> None:  # type: ignore[no-untyped-def]
    check = commands.add_parser(
        "check", help=_("check config, announcements and playlists for mistakes"),
        description=_("Check files and print every problem as PATH:LINE:COL."),
    )  # fmt: skip
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help=_("files or folders (default: the whole station)"))  # fmt: skip
    check.add_argument("--today", type=_date_arg, default=None,
                       help=_("check as if today were this date"))  # fmt: skip
    check.set_defaults(func=cmd_check)

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
    log.add_argument("--format", choices=("table", "csv", "json"), default="table")
    log.set_defaults(func=cmd_log)

    report = commands.add_parser("report", help=_("plays per announcement, zone and day"))
    report.add_argument("--day", type=_date_arg, help=_("the day (default: today)"))
    report.add_argument("--week", action="store_true", help=_("the seven days up to the day"))
    report.add_argument("--format", choices=("table", "csv", "json"), default="table")
    report.set_defaults(func=cmd_report)

    run = commands.add_parser("run", help=_("run the station (in the foreground, for systemd)"))
    run.set_defaults(func=cmd_run)
    plan = commands.add_parser("plan", help=_("what will play when, with conflicts and drops"))
    plan.add_argument("--days", type=int, default=2, help=_("how many days ahead (default: 2)"))
    plan.add_argument("--start", type=_datetime_arg, default=None, help=_("start here instead of now"))
    plan.set_defaults(func=cmd_plan)


def _add_control_commands(commands) -> None:  # type: ignore[no-untyped-def]
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
    send.add_argument("--priority", choices=("live", "emergency"), default="live",
                      help=_("emergency cuts whatever plays, even in quiet hours"))  # fmt: skip
    send.set_defaults(func=cmd_send)
