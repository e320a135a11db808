"""``log`` and ``report``: what the station played, from its play log."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from broadcaster.cli.common import now, print_table, station_config
from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _


def _open_log(args: argparse.Namespace):
    from broadcaster.playlog import PlayLog

    config = station_config(args)
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
        print_table([tuple(str(k) for k in rows[0])] + [tuple(str(v) for v in r.values()) for r in rows])


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
    last = args.day or now(config).date()
    first = last - dt.timedelta(days=6) if args.week else last
    try:
        rows = log.report(first, last)
    finally:
        log.close()
    _emit(rows, args.format)
    return 0

