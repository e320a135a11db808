"""``check`` and ``list``: the station's files, with every problem at its line; the announcements."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from broadcaster.cli.common import load_station, now, print_problems, print_table
from broadcaster.errors import BroadcasterError
from broadcaster.i18n import N_, _


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


def _looks_like_a_station(args: argparse.Namespace) -> bool:
    from broadcaster.cli.common import config_file

    folder = Path.cwd()
    folders = ("announcements", "playlists")
    return config_file(args) is not None or any((folder / name).is_dir() for name in folders)


def cmd_check(args: argparse.Namespace) -> int:
    files, named_config = _expand(args.paths)
    if named_config is not None and args.config is None:
        args.config = named_config
    missing = [p for p in files if not p.exists()]
    for path in args.paths:
        if not path.exists():
            message = _("{path}: no such file or folder").format(path=path)
            print(_("error: {message}").format(message=message), file=sys.stderr)
    files = [p for p in files if p not in missing]
    if not args.paths and not _looks_like_a_station(args):
        message = _("there is no station here: no config.yaml, announcements/ or playlists/ in {folder}; "
                    "run this in the station's folder, or name files to check")
        raise BroadcasterError(message.format(folder=Path.cwd()))
    content, problems = load_station(args, extra=tuple(files))
    if args.paths:
        wanted = {p.resolve() for p in files}
        if named_config is not None:
            wanted.add(named_config.resolve())
        shown = [p for p in problems if p.path.resolve() in wanted]
    else:
        shown = list(problems)
    print_problems(shown)
    errors = sum(p.is_error for p in shown) + len([p for p in args.paths if not p.exists()])
    warnings = len(shown) - sum(p.is_error for p in shown)
    checked = len(content.announcements) + len(content.playlists)
    if errors or missing:
        print(_("{errors} error(s), {warnings} warning(s)").format(errors=errors, warnings=warnings),
              file=sys.stderr)  # fmt: skip
        return 1
    print(_("OK: {count} announcement(s) and playlist(s) are valid, {warnings} warning(s)").format(
        count=checked, warnings=warnings), file=sys.stderr)  # fmt: skip
    return 0



LANGUAGE_WORDS = {"mandarin": N_("Mandarin"), "cantonese": N_("Cantonese")}


def _listing(args: argparse.Namespace) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """(columns, rows) of ``list``: every announcement file, good or broken, with its state today."""
    from dataclasses import astuple, fields

    from broadcaster.content.listing import Listed, listing

    content, problems = load_station(args, warnings=False)
    rows = listing(content, problems, now(content.config).date())
    return tuple(f.name for f in fields(Listed)), [astuple(row) for row in rows]


def cmd_list(args: argparse.Namespace) -> int:
    from broadcaster.cli.log import WORDS, write_csv, write_json

    columns, rows = _listing(args)
    if args.format == "csv":
        write_csv(columns, rows)
        return 0
    if args.format == "json":
        write_json(columns, rows)
        return 0
    if not rows:
        print(_("nothing to show"))
        return 0
    states = {"ok": _("valid"), "expired": _("expired"), "not yet valid": _("not yet valid"),
              "broken": _("broken: run 'broadcaster check'")}  # fmt: skip
    table = [(_("id"), _("title"), _("language"), _("priority"), _("valid from"), _("valid until"),
              _("state"), _("last played"))]  # fmt: skip
    for name, title, language, priority, start, end, state, last in rows:
        table.append((name, title or "-", _(LANGUAGE_WORDS[language]) if language else "-",
                      _(WORDS[priority]) if priority else "-", start or "-", end or "-", states[state],
                      last or _("never")))  # fmt: skip
    print_table(table)
    return 0
