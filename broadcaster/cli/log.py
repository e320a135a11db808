"""``log`` and ``report``: what the station played, from its play log.

A person gets a table in their language: translated headings, outcomes and the
common reasons, titles beside ids. CSV and JSON are for spreadsheets and
scripts: stable English column names and codes (documented in the README),
titles included, streamed row by row so a year of plays needs no more memory
than a day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from broadcaster.cli.common import now, print_table, station_content
from broadcaster.errors import BroadcasterError
from broadcaster.i18n import N_, _
from broadcaster.playwords import WORDS, reason_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from broadcaster.content.models import Content
    from broadcaster.playlog import PlayLog

HEADINGS = {
    "id": N_("no."), "requested": N_("due"), "started": N_("started"), "ended": N_("ended"),
    "announcement": N_("announcement"), "title": N_("title"), "zone": N_("zone"), "trigger": N_("trigger"),
    "outcome": N_("outcome"), "reason": N_("reason"), "dropouts": N_("dropouts"),
    "day": N_("day"), "completed": N_("completed"), "dropout": N_("with dropouts"),
    "interrupted": N_("interrupted"), "failed": N_("failed"), "missed": N_("missed"),
    "playing": N_("playing"), "dropout_ms": N_("dropout ms"),
}  # fmt: skip
def _open_log(args: argparse.Namespace) -> tuple[Content, PlayLog]:
    from broadcaster.playlog import PlayLog

    content = station_content(args)
    config = content.config
    path = config.resolve(config.play_log)
    if not path.is_file():
        raise BroadcasterError(_("there is no play log at {path} yet").format(path=path))
    return content, PlayLog(path, config.timezone)


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[object]] | None = None,
              text: Iterable[str] = ()) -> None:
    """CSV in UTF-8 with a BOM, whatever the console's encoding: Excel then opens the Chinese right.

    ``rows`` are quoted here; ``text`` is CSV already (the play log makes its own).
    """
    import csv
    import io

    sys.stdout.flush()
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8-sig", newline="")
    try:
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows or ())
        for chunk in text:
            out.write(chunk)
        out.flush()
    finally:
        out.detach()


def write_json(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A JSON array of objects, written as the rows come."""
    import json

    write = sys.stdout.write
    write("[")
    for count, row in enumerate(rows):
        write(("\n " if count == 0 else ",\n ") + json.dumps(dict(zip(columns, row, strict=True)),
                                                            ensure_ascii=False))  # fmt: skip
    write("\n]\n")


def _show(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    table = [tuple(_(HEADINGS[c]) for c in columns)] + [tuple(str(v) for v in row) for row in rows]
    if len(table) == 1:
        print(_("nothing to show"))
        return
    print_table(table)


def cmd_log(args: argparse.Namespace) -> int:
    from broadcaster.playlog import EXPORT_COLUMNS

    content, log = _open_log(args)
    titles = {a.id: a.title for a in content.announcements.values()}
    try:
        if args.format == "csv":
            lines = log.export_csv(args.since, args.until, args.announcement, args.zone, titles)
            write_csv(EXPORT_COLUMNS, text=lines)
            return 0
        if args.format == "json":
            for chunk in log.export_json(args.since, args.until, args.announcement, args.zone, titles):
                sys.stdout.write(chunk)
            return 0
        rows = log.export(args.since, args.until, args.announcement, args.zone, titles)
        _show(EXPORT_COLUMNS[:-3], (_for_people(row) for row in rows))
    finally:
        log.close()
    return 0


def _for_people(row: Sequence[object]) -> tuple[object, ...]:
    """A log row for the table: words translated, gaps as "2 (340 ms)", no hash or host."""
    (play_id, requested, started, ended, announcement, title, zone, trigger, outcome, reason,
     dropouts, dropout_ms) = row[:12]  # fmt: skip
    gaps = f"{dropouts} ({dropout_ms} ms)" if dropouts else ""
    trigger, outcome = _(WORDS.get(str(trigger), str(trigger))), _(WORDS.get(str(outcome), str(outcome)))
    return (play_id, requested, started, ended, announcement, title, zone, trigger, outcome,
            reason_text(str(reason)), gaps)  # fmt: skip


def cmd_report(args: argparse.Namespace) -> int:
    content, log = _open_log(args)
    last = args.day or now(content.config).date()
    if args.month:
        first = last.replace(day=1)
        last = (first + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
    else:
        first = last - dt.timedelta(days=6) if args.week else last
    try:
        report = log.report(first, last)
    finally:
        log.close()
    titles = {a.id: a.title for a in content.announcements.values()}
    columns = ("day", "announcement", "title", "zone", "completed", "dropout", "interrupted", "failed",
               "missed", "playing", "dropout_ms")  # fmt: skip
    rows = [tuple(titles.get(str(r["announcement"]), "") if c == "title" else r[c] for c in columns)
            for r in report]  # fmt: skip
    if args.format == "csv":
        write_csv(columns, rows)
    elif args.format == "json":
        write_json(columns, rows)
    else:
        _show(columns, rows)
    return 0
