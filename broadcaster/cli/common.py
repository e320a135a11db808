"""What the commands share: the station's files, tables, and one line per error."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from broadcaster.errors import BroadcasterError, ContentError, SpeechError, UnknownAnnouncementError
from broadcaster.i18n import _, set_language

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~6 ms on `send`'s path

if TYPE_CHECKING:
    from collections.abc import Sequence

    from broadcaster.config import Config
    from broadcaster.content.models import Content
    from broadcaster.schema.problems import Problem, Problems


DEFAULT_CONFIG = Path("config.yaml")


def config_file(args: argparse.Namespace) -> Path | None:
    """The config file to use: ``--config``, else ./config.yaml, else the built-in defaults."""
    if args.config is not None:
        return args.config
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def print_problems(problems: list[Problem], out=None) -> None:
    out = out or sys.stdout
    for problem in sorted(problems, key=lambda p: (str(p.path), p.line, p.column)):
        print(problem.render(Path.cwd()), file=out)


def load_station(args: argparse.Namespace, extra: tuple[Path, ...] = (),
                 warnings: bool = True) -> tuple[Content, Problems]:  # fmt: skip
    """Read the station's config and content; switch to the config's interface language."""
    from broadcaster.content.load import load_content
    from broadcaster.schema.problems import Problems

    problems = Problems(warnings)
    config_path = config_file(args)
    if config_path is not None and not config_path.is_file():
        raise BroadcasterError(_("config file {path} does not exist").format(path=config_path))
    today = getattr(args, "today", None)  # None: today in the station's time zone
    content = load_content(config_path, problems, today, extra=extra)
    if content.config.ui_language != "auto" and args.ui_language is None:
        set_language(content.config.ui_language)
    return content, problems


def find_announcement(content: Content, name: str):
    """An announcement by id or by file path."""
    if name in content.announcements:
        return content.announcements[name]
    path = Path(name)
    for announcement in content.announcements.values():
        if path.suffix and announcement.path.resolve() == path.resolve():
            return announcement
    from broadcaster.schema.problems import did_you_mean

    hint = did_you_mean(path.stem, content.announcements)
    raise UnknownAnnouncementError(name, hint.args["suggestion"] if hint else None)


def make_renderer(config: Config):
    """The speech pipeline for ``config``: engines, caches, renderer."""
    from broadcaster.render.renderer import make_renderer as make

    return make(config)


def station_config(args: argparse.Namespace) -> Config:
    return station_content(args).config


def station_content(args: argparse.Namespace, warnings: bool = False) -> Content:
    """The station's good content; only a broken config stops the command (other files' errors do not)."""
    content, problems = load_station(args, warnings=warnings)
    config_errors = [p for p in problems if p.is_error and content.config.path == p.path]
    if config_errors:
        raise ContentError(config_errors)
    return content


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: a Chinese character (wide or full-width) takes two."""
    import unicodedata

    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)  # fmt: skip


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Rows in columns, padded by display width; the first row is the header."""
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell + " " * (w - display_width(cell)) for cell, w in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())


def write_audio(pcm, out: Path) -> None:
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


def announcement_arg(args: argparse.Namespace, name: str):
    """An announcement by id, by a file in the station, or by a file anywhere."""
    from broadcaster.content.load import load_announcement
    from broadcaster.schema.problems import Problems

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


def now(config: Config) -> dt.datetime:
    return dt.datetime.now(config.tz)


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

