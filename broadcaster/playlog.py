"""The play log: one SQLite row per play per zone — the station's proof of what aired.

WAL with ``synchronous=FULL`` so that a committed row survives a power cut;
the schema is versioned (``PRAGMA user_version``) and migrated forward on open.
A row is written with outcome ``playing`` when a play starts and finished with
``completed``, ``dropout`` (the whole item reached the card, with audible gaps),
``interrupted``, ``failed`` or ``missed``; rows still ``playing`` from a process
that no longer runs are marked ``interrupted`` at the next start. ``dropouts`` and
``dropout_ms`` count the gaps of a play and their total length.
Times are UTC ISO 8601 (sortable); ``day`` is the station-local date, for reports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import logging
import os
import socket
import sqlite3
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from zoneinfo import ZoneInfo

from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _

logger = logging.getLogger(__name__)

RUN = uuid.uuid4().hex
"""This start of the program: rows it writes carry it."""

OUTCOMES = ("playing", "completed", "dropout", "interrupted", "failed", "missed")

# Made by migration 2 and again by migration 3 (which rebuilds ``plays``). A later
# change to them belongs in a new migration, not here.
_COUNTING_TRIGGERS = """
    CREATE TRIGGER plays_counted AFTER INSERT ON plays BEGIN
        INSERT INTO daily_counts VALUES (NEW.day, NEW.announcement_id, NEW.zone, NEW.outcome, 1)
            ON CONFLICT DO UPDATE SET plays = plays + 1;
    END;
    CREATE TRIGGER plays_recounted AFTER UPDATE OF outcome ON plays
        WHEN OLD.outcome <> NEW.outcome BEGIN
        UPDATE daily_counts SET plays = plays - 1 WHERE day = OLD.day
            AND announcement_id = OLD.announcement_id AND zone = OLD.zone AND outcome = OLD.outcome;
        INSERT INTO daily_counts VALUES (NEW.day, NEW.announcement_id, NEW.zone, NEW.outcome, 1)
            ON CONFLICT DO UPDATE SET plays = plays + 1;
    END;
"""

MIGRATIONS = [
    # 1: the first schema
    """
    CREATE TABLE plays (
        id INTEGER PRIMARY KEY,
        announcement_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        zone TEXT NOT NULL,
        trigger TEXT NOT NULL CHECK (trigger IN ('manual', 'van', 'schedule', 'emergency')),
        requested_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        outcome TEXT NOT NULL
            CHECK (outcome IN ('playing', 'completed', 'interrupted', 'failed', 'missed')),
        reason TEXT NOT NULL DEFAULT '',
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        day TEXT NOT NULL
    );
    CREATE INDEX plays_by_day ON plays (day, announcement_id, zone, outcome);
    CREATE INDEX plays_open ON plays (outcome) WHERE outcome = 'playing';
    """,
    # 2: counts per day kept up to date by triggers, so a month's report reads
    # a few thousand rows instead of every play
    """
    CREATE TABLE daily_counts (
        day TEXT NOT NULL,
        announcement_id TEXT NOT NULL,
        zone TEXT NOT NULL,
        outcome TEXT NOT NULL,
        plays INTEGER NOT NULL,
        PRIMARY KEY (day, announcement_id, zone, outcome)
    ) WITHOUT ROWID;
    INSERT INTO daily_counts
        SELECT day, announcement_id, zone, outcome, count(*) FROM plays
        GROUP BY day, announcement_id, zone, outcome;
    """
    + _COUNTING_TRIGGERS,
    # 3: the outcome 'dropout' and the gaps of each play. The outcome's CHECK is part of
    # CREATE TABLE, so the table is rebuilt (ids kept); dropping it drops its indexes
    # and triggers, which are made again. daily_counts is left as it is.
    """
    CREATE TABLE plays_new (
        id INTEGER PRIMARY KEY,
        announcement_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        zone TEXT NOT NULL,
        trigger TEXT NOT NULL CHECK (trigger IN ('manual', 'van', 'schedule', 'emergency')),
        requested_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN
            ('playing', 'completed', 'dropout', 'interrupted', 'failed', 'missed')),
        reason TEXT NOT NULL DEFAULT '',
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        day TEXT NOT NULL,
        dropouts INTEGER NOT NULL DEFAULT 0,
        dropout_ms INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO plays_new (id, announcement_id, content_hash, zone, trigger, requested_at,
            started_at, ended_at, outcome, reason, host, pid, day)
        SELECT id, announcement_id, content_hash, zone, trigger, requested_at,
            started_at, ended_at, outcome, reason, host, pid, day FROM plays;
    DROP TABLE plays;
    ALTER TABLE plays_new RENAME TO plays;
    CREATE INDEX plays_by_day ON plays (day, announcement_id, zone, outcome);
    CREATE INDEX plays_open ON plays (outcome) WHERE outcome = 'playing';
    -- only the few plays with gaps, so that the report's dropout_ms stays a small read
    CREATE INDEX plays_with_dropouts ON plays (day, announcement_id, zone, dropout_ms)
        WHERE dropouts > 0;
    """
    + _COUNTING_TRIGGERS,
    # 4: the start of the program that wrote a row, so that a process with a reused pid
    # (PID 1 in a container, every time) still reconciles the rows of its predecessor
    """
    ALTER TABLE plays ADD COLUMN run TEXT NOT NULL DEFAULT ''
    """,
    # 5: live voice: the trigger 'live' (the CHECK is part of CREATE TABLE, so the table is
    # rebuilt as in 3, ids kept) and who started a play, when a person did
    """
    CREATE TABLE plays_new (
        id INTEGER PRIMARY KEY,
        announcement_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        zone TEXT NOT NULL,
        trigger TEXT NOT NULL CHECK (trigger IN ('manual', 'van', 'schedule', 'emergency', 'live')),
        requested_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN
            ('playing', 'completed', 'dropout', 'interrupted', 'failed', 'missed')),
        reason TEXT NOT NULL DEFAULT '',
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        day TEXT NOT NULL,
        dropouts INTEGER NOT NULL DEFAULT 0,
        dropout_ms INTEGER NOT NULL DEFAULT 0,
        run TEXT NOT NULL DEFAULT '',
        started_by TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO plays_new (id, announcement_id, content_hash, zone, trigger, requested_at,
            started_at, ended_at, outcome, reason, host, pid, day, dropouts, dropout_ms, run)
        SELECT id, announcement_id, content_hash, zone, trigger, requested_at,
            started_at, ended_at, outcome, reason, host, pid, day, dropouts, dropout_ms, run FROM plays;
    DROP TABLE plays;
    ALTER TABLE plays_new RENAME TO plays;
    CREATE INDEX plays_by_day ON plays (day, announcement_id, zone, outcome);
    CREATE INDEX plays_open ON plays (outcome) WHERE outcome = 'playing';
    CREATE INDEX plays_with_dropouts ON plays (day, announcement_id, zone, dropout_ms)
        WHERE dropouts > 0;
    """
    + _COUNTING_TRIGGERS,
]


class PlayLogError(BroadcasterError):
    """Raised when the play log cannot be opened or written."""


@dataclass(frozen=True)
class Play:
    id: int
    announcement_id: str
    content_hash: str
    zone: str
    trigger: str
    requested_at: str
    started_at: str | None
    ended_at: str | None
    outcome: str
    reason: str
    host: str
    pid: int
    day: str
    dropouts: int
    """Audible gaps during the play."""
    dropout_ms: int
    """Their total length."""
    run: str = ""
    """Which start of the program wrote the row (pids are reused)."""
    started_by: str = ""
    """Who started it, when a person did (live voice)."""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


COLUMNS = [f.name for f in fields(Play)]
_WRITTEN = COLUMNS[1:]
_INSERT = f"INSERT INTO plays ({', '.join(_WRITTEN)}) VALUES ({', '.join('?' * len(_WRITTEN))})"
_UPDATE = ("UPDATE plays SET outcome = ?, ended_at = ?, reason = ?,"
           " started_at = coalesce(?, started_at), dropouts = ?, dropout_ms = ? WHERE id = ?")  # fmt: skip


def _row_values(row: dict[str, object]) -> tuple[object, ...]:
    return tuple(row[name] for name in _WRITTEN)


def iso(moment: dt.datetime) -> str:
    """UTC ISO 8601 with milliseconds: sortable as text."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class PlayLog:
    """The SQLite play log. One connection, used from any thread under a lock."""

    def __init__(self, path: Path, timezone: str = "Asia/Shanghai", read_only: bool = False) -> None:
        """``read_only``: for readers beside the station (the web page); nothing is migrated or written."""
        self.path = path
        self.tz = ZoneInfo(timezone)
        self.host = socket.gethostname()
        self._lock = threading.Lock()
        self.problem: str | None = None
        self._unsaved: dict[int, dict[str, object]] = {}
        self._saved: dict[int, int] = {}
        self._updates: list[tuple[int, tuple[object, ...]]] = []
        self._temp_ids = itertools.count(1)
        try:
            if read_only:
                uri = f"{path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA busy_timeout=5000")
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            message = _("cannot open the play log {path}: {reason}")
            raise PlayLogError(message.format(path=path, reason=exc)) from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            logger.info("Migrating the play log %s to version %d", self.path, number)
            self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    # --- writing -----------------------------------------------------------------------------
    #
    # A write that fails (disk full, folder unwritable, database locked) never stops
    # the broadcast: the row is kept in memory under a temporary (negative) id and
    # written with everything that happened to it at the next successful write.
    # ``problem`` says what is wrong meanwhile (shown by ``status``).

    def _execute(self, sql: str, params: tuple | list) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def _failed(self, exc: Exception) -> None:
        if self.problem is None:
            logger.error("Cannot write the play log %s: %s (keeping plays in memory)", self.path, exc)
        self.problem = f"cannot write the play log {self.path}: {exc}"

    def flush(self) -> bool:
        """Write what is kept in memory; True when nothing is left."""
        with self._lock:
            return self._flush()

    def _flush(self) -> bool:
        if not self._unsaved and not self._updates:
            return True
        try:
            self._execute("BEGIN", ())
            for temp, row in list(self._unsaved.items()):
                cursor = self._execute(_INSERT, _row_values(row))
                self._saved[temp] = int(cursor.lastrowid or 0)
            for play_id, changes in self._updates:
                self._execute(_UPDATE, (*changes, self._saved.get(play_id, play_id)))
            self._execute("COMMIT", ())
        except (sqlite3.Error, OSError) as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            for temp in self._unsaved:
                self._saved.pop(temp, None)
            self._failed(exc)
            return False
        logger.warning("The play log is writable again: %d play(s) caught up",
                       len(self._unsaved) + len(self._updates))  # fmt: skip
        self._unsaved.clear()
        self._updates.clear()
        self.problem = None
        return True

    def start(self, announcement_id: str, content_hash: str, zone: str, trigger: str,
              requested_at: dt.datetime, started_at: dt.datetime | None = None,
              started_by: str = "") -> int:  # fmt: skip
        """A play begins: a row with outcome ``playing``; returns its id."""
        row: dict[str, object] = {
            "announcement_id": announcement_id, "content_hash": content_hash, "zone": zone,
            "trigger": trigger, "requested_at": iso(requested_at),
            "started_at": iso(started_at) if started_at else None, "ended_at": None,
            "outcome": "playing", "reason": "", "host": self.host, "pid": os.getpid(),
            "day": requested_at.astimezone(self.tz).date().isoformat(),
            "dropouts": 0, "dropout_ms": 0, "run": RUN, "started_by": started_by,
        }  # fmt: skip
        with self._lock:
            if self._flush():
                try:
                    return int(self._execute(_INSERT, _row_values(row)).lastrowid or 0)
                except (sqlite3.Error, OSError) as exc:
                    self._failed(exc)
            temp = -next(self._temp_ids)
            self._unsaved[temp] = row
            return temp

    def finish(self, play_id: int, outcome: str, ended_at: dt.datetime, reason: str = "",
               started_at: dt.datetime | None = None, dropouts: int = 0,
               dropout_ms: int = 0) -> None:  # fmt: skip
        """A play ends: its outcome, and the gaps heard (``dropouts``, ``dropout_ms`` long)."""
        if outcome not in OUTCOMES[1:]:
            raise ValueError(f"not a final outcome: {outcome}")
        if dropouts < 0 or dropout_ms < 0:
            raise ValueError(f"negative dropouts: {dropouts} ({dropout_ms} ms)")
        if outcome == "completed" and dropouts:
            raise ValueError(f"a play with {dropouts} dropout(s) is not completed but 'dropout'")
        changes = (outcome, iso(ended_at), reason, iso(started_at) if started_at else None,
                   dropouts, dropout_ms)  # fmt: skip
        with self._lock:
            # A temporary id whose row has been written since: update the real row.
            play_id = self._saved.get(play_id, play_id)
            row = self._unsaved.get(play_id)
            if row is not None:
                row.update(outcome=outcome, ended_at=changes[1], reason=reason,
                           started_at=changes[3] or row["started_at"], dropouts=dropouts,
                           dropout_ms=dropout_ms)  # fmt: skip
                self._flush()
                return
            if self._flush():
                try:
                    self._execute(_UPDATE, (*changes, play_id))
                    return
                except (sqlite3.Error, OSError) as exc:
                    self._failed(exc)
            self._updates.append((play_id, changes))

    def missed(self, announcement_id: str, content_hash: str, zone: str, trigger: str,
               requested_at: dt.datetime, reason: str, started_by: str = "") -> int:  # fmt: skip
        play_id = self.start(announcement_id, content_hash, zone, trigger, requested_at,
                             started_by=started_by)  # fmt: skip
        self.finish(play_id, "missed", requested_at, reason)
        return play_id

    def reconcile(self, now: dt.datetime) -> int:
        """Mark plays left ``playing`` by a process that is gone as interrupted; how many."""
        try:
            rows = self._db.execute(
                "SELECT id, pid, run FROM plays WHERE outcome = 'playing' AND host = ?", (self.host,)
            ).fetchall()
        except sqlite3.Error as exc:
            self._failed(exc)
            return 0
        # Not this start's own, and its process is gone; a row with our pid but written by
        # another start is a predecessor's whose pid we were given again.
        ours = os.getpid()
        stale = [play_id for play_id, pid, run in rows
                 if (run, pid) != (RUN, ours) and (pid == ours or not _alive(pid))]  # fmt: skip
        for play_id in stale:
            self.finish(play_id, "interrupted", now, "the program stopped during the play")
        if stale:
            logger.warning("Marked %d play(s) left unfinished by a stopped program as interrupted",
                           len(stale))  # fmt: skip
        return len(stale)

    # --- reading -----------------------------------------------------------------------------

    def plays(self, since: dt.date | None = None, until: dt.date | None = None,
              announcement: str | None = None, zone: str | None = None) -> Iterator[Play]:  # fmt: skip
        """Rows in order, filtered by station-local day (inclusive), announcement and zone."""
        where, params = _filters(since, until, announcement, zone)
        query = f"SELECT {', '.join(COLUMNS)} FROM plays {where} ORDER BY id"
        for row in self._db.execute(query, params):
            yield Play(*row)

    def report(self, since: dt.date, until: dt.date) -> list[dict[str, object]]:
        """Per day, announcement and zone: how many plays ended each way, and ``dropout_ms``,
        the total length of the gaps heard in them (whatever their outcome)."""
        where, params = _filters(since, until, None, None)
        where += " AND" if where else "WHERE"
        counts = f"SELECT day, announcement_id, zone, outcome, plays FROM daily_counts {where} plays > 0"
        table: dict[tuple[str, str, str], dict[str, object]] = {}
        for day, announcement, zone, outcome, count in self._db.execute(counts, params):
            row = table.setdefault((day, announcement, zone), {
                "day": day, "announcement": announcement, "zone": zone,
                **{o: 0 for o in OUTCOMES[1:]}, "playing": 0, "dropout_ms": 0,
            })  # fmt: skip
            row[outcome] = count
        gaps = (f"SELECT day, announcement_id, zone, sum(dropout_ms) FROM plays {where} dropouts > 0"
                " GROUP BY day, announcement_id, zone")  # fmt: skip
        for day, announcement, zone, total_ms in self._db.execute(gaps, params):
            if (day, announcement, zone) in table:
                table[day, announcement, zone]["dropout_ms"] = total_ms
        return [table[key] for key in sorted(table)]

    def export(self, since: dt.date | None = None, until: dt.date | None = None,
               announcement: str | None = None, zone: str | None = None,
               titles: Mapping[str, str] | None = None, newest: int | None = None,
               ) -> Iterator[tuple[object, ...]]:  # fmt: skip
        """Rows of :data:`EXPORT_COLUMNS`, times in the station's zone, streamed from SQLite;
        with ``newest``, only that many of the latest, newest first."""
        columns = self._export_columns(since, until, announcement, zone, titles)
        if columns is None:
            return iter(())
        return self._export(", ".join(columns), since, until, announcement, zone, newest)

    def export_csv(self, since: dt.date | None = None, until: dt.date | None = None,
                   announcement: str | None = None, zone: str | None = None,
                   titles: Mapping[str, str] | None = None, batch: int = 5000) -> Iterator[str]:  # fmt: skip
        """The rows of :meth:`export` as CSV text (RFC 4180, CRLF), a batch of rows at a time.

        SQLite makes each line, so a month of a million plays reaches the output
        without a Python object per field.
        """
        columns = self._export_columns(since, until, announcement, zone, titles)
        if columns is None:
            return
        # One printf per row: text in quotes with its quotes doubled (%w); times, codes and numbers bare.
        template = '%d,%s,%s,%s,"%w","%w","%w",%s,%s,"%w",%d,%d,%s,"%w"'
        line = f"printf('{template}', {', '.join(columns)})"
        cursor = self._export(line, since, until, announcement, zone)
        while rows := cursor.fetchmany(batch):
            yield "\r\n".join([row[0] for row in rows]) + "\r\n"

    def export_json(self, since: dt.date | None = None, until: dt.date | None = None,
                    announcement: str | None = None, zone: str | None = None,
                    titles: Mapping[str, str] | None = None, batch: int = 5000) -> Iterator[str]:  # fmt: skip
        """The rows of :meth:`export` as a JSON array of objects, made by SQLite a batch at a time."""
        columns = self._export_columns(since, until, announcement, zone, titles)
        if columns is None:
            yield "[]\n"
            return
        pairs = ", ".join(f"'{name}', {sql}" for name, sql in zip(EXPORT_COLUMNS, columns, strict=True))
        cursor = self._export(f"json_object({pairs})", since, until, announcement, zone)
        separator = "[\n "
        while rows := cursor.fetchmany(batch):
            yield separator + ",\n ".join([row[0] for row in rows])
            separator = ",\n "
        yield "\n]\n" if separator != "[\n " else "[]\n"

    def _export_columns(self, since: dt.date | None, until: dt.date | None, announcement: str | None,
                        zone: str | None, titles: Mapping[str, str] | None) -> list[str] | None:  # fmt: skip
        """SQL for each of :data:`EXPORT_COLUMNS`; None when no row matches.

        Times are shifted in SQLite by the zone's offsets, found once for the days asked;
        titles come from a temporary table joined by announcement id.
        """
        first, last = since, until
        if first is None or last is None:
            where, params = _filters(since, until, announcement, zone)
            # two subqueries, not min() and max() in one: then each is one step down the day index
            span = f"SELECT (SELECT min(day) FROM plays {where}), (SELECT max(day) FROM plays {where})"
            low, high = self._db.execute(span, params * 2).fetchone()
            if low is None:
                return None
            first = first or dt.date.fromisoformat(low)
            last = last or dt.date.fromisoformat(high)
        shifts = utc_offsets(self.tz, first - dt.timedelta(days=1), last + dt.timedelta(days=1))
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS titles (id TEXT PRIMARY KEY, title TEXT)")
        self._db.execute("DELETE FROM temp.titles")
        self._db.executemany("INSERT INTO temp.titles VALUES (?, ?)", (titles or {}).items())
        times = [_local_sql(c, shifts) for c in ("requested_at", "started_at", "ended_at")]
        # A live voice's title is who spoke.
        return ["p.id", *times, "p.announcement_id", "coalesce(t.title, p.started_by)", "p.zone", "p.trigger",
                "p.outcome", "p.reason", "p.dropouts", "p.dropout_ms", "substr(p.content_hash, 1, 12)",
                "p.host"]  # fmt: skip

    def _export(self, select: str, since: dt.date | None, until: dt.date | None, announcement: str | None,
                zone: str | None, newest: int | None = None) -> sqlite3.Cursor:  # fmt: skip
        where, params = _filters(since, until, announcement, zone, "p.")
        if where:  # the rows' id range first: then SQLite reads them in id order, with nothing to sort
            span = f"SELECT min(p.id), max(p.id) FROM plays AS p {where}"
            first, last = self._db.execute(span, params).fetchone()
            where += " AND p.id BETWEEN ? AND ?"
            params += [first or 0, last or 0]
        order = f"ORDER BY p.id DESC LIMIT {int(newest)}" if newest is not None else "ORDER BY p.id"
        return self._db.execute(f"SELECT {select} FROM plays AS p LEFT JOIN temp.titles AS t"
                                f" ON t.id = p.announcement_id {where} {order}", params)  # fmt: skip

    def last_id(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT coalesce(max(id), 0) FROM plays").fetchone()[0])

    def after(self, play_id: int, limit: int) -> list[Play]:
        """The plays after ``play_id``, in id order (the fleet link's receipts)."""
        with self._lock:
            query = f"SELECT {', '.join(COLUMNS)} FROM plays WHERE id > ? ORDER BY id LIMIT ?"
            rows = self._db.execute(query, (play_id, limit)).fetchall()
        return [Play(*row) for row in rows]

    def last_played(self) -> dict[str, str]:
        """Each announcement's last start that reached a loudspeaker, in the station's zone."""
        played = "outcome IN ('completed', 'dropout', 'interrupted')"
        days = self._db.execute("SELECT announcement_id, max(day) FROM daily_counts"
                                f" WHERE {played} AND plays > 0 GROUP BY announcement_id")  # fmt: skip
        last = {}
        for announcement, day in days.fetchall():
            (started,) = self._db.execute(
                f"SELECT max(started_at) FROM plays WHERE day = ? AND announcement_id = ? AND {played}",
                (day, announcement)).fetchone()  # fmt: skip
            if started:
                last[announcement] = self.local(started)
        return last

    def integrity(self) -> str:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0]

    def local(self, text: str | None) -> str:
        """A stored UTC time shown in the station's time zone."""
        if not text:
            return ""
        return parse_iso(text).astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def dumps(self, play: Play) -> str:
        return json.dumps(play.as_dict(), ensure_ascii=False)


def _filters(since, until, announcement, zone, table: str = "") -> tuple[str, list[object]]:
    """A WHERE clause and its parameters; ``table`` is a prefix such as ``p.``."""
    clauses, params = [], []
    if since:
        clauses.append(f"{table}day >= ?")
        params.append(since.isoformat())
    if until:
        clauses.append(f"{table}day <= ?")
        params.append(until.isoformat())
    if announcement:
        clauses.append(f"{table}announcement_id = ?")
        params.append(announcement)
    if zone:
        clauses.append(f"{table}zone = ?")
        params.append(zone)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


EXPORT_COLUMNS = ("id", "requested", "started", "ended", "announcement", "title", "zone", "trigger",
                  "outcome", "reason", "dropouts", "dropout_ms", "content", "host")  # fmt: skip
"""What ``broadcaster log`` shows of a play, in this order."""


def utc_offsets(tz: dt.tzinfo, first: dt.date, last: dt.date) -> list[tuple[str, int]]:
    """The zone's UTC offsets (minutes) over the days, each from the UTC time (stored form) it starts.

    Found by looking at every hour and, where the offset changed, at every minute of that
    hour; the first entry starts at ``""`` (before everything).
    """
    def offset(moment: dt.datetime) -> int:
        return round((moment.astimezone(tz).utcoffset() or dt.timedelta()).total_seconds() / 60)

    hour = dt.datetime.combine(first, dt.time(), dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
    shifts = [("", offset(hour))]
    while hour < end:
        following = hour + dt.timedelta(hours=1)
        if offset(following) != shifts[-1][1]:
            minute = next(hour + dt.timedelta(minutes=m) for m in range(1, 61)
                          if offset(hour + dt.timedelta(minutes=m)) != shifts[-1][1])  # fmt: skip
            shifts.append((iso(minute), offset(minute)))
        hour = following
    return shifts


def _local_sql(column: str, shifts: list[tuple[str, int]]) -> str:
    """SQL for a stored UTC time shown as local ``YYYY-MM-DD HH:MM:SS`` ('' when NULL)."""
    def shifted(minutes: int) -> str:
        return f"datetime(p.{column}, '{minutes:+d} minutes')"

    if len(shifts) == 1:
        return f"coalesce({shifted(shifts[0][1])}, '')"
    cases = " ".join(f"WHEN p.{column} < '{start}' THEN {shifted(before)}"
                     for (_, before), (start, _) in zip(shifts, shifts[1:], strict=False))  # fmt: skip
    return f"coalesce(CASE {cases} ELSE {shifted(shifts[-1][1])} END, '')"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (without signalling it)."""
    if sys.platform == "win32":
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x100000, False, pid)  # SYNCHRONIZE
        if not handle:
            return False
        still = ctypes.windll.kernel32.WaitForSingleObject(handle, 0) == 0x102  # WAIT_TIMEOUT
        ctypes.windll.kernel32.CloseHandle(handle)
        return bool(still)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
