"""The fleet's SQLite records: a station's inbox and receipt mark, the console's view of the fleet.

Station (``data/fleet.sqlite``): every message that came down is written here before
the broker is told it arrived, so a station that dies meanwhile acts on it after the
restart; the same id again is recognised. ``receipts_until`` is the play id up to
which every finished play has been confirmed by the broker.

Console (``data/fleet-console.sqlite``): what was sent, and the presence, answers
and receipts that came back, one row per (station, play): a receipt sent twice
is kept once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _

STATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, sender TEXT NOT NULL, received TEXT NOT NULL,
    payload BLOB NOT NULL, answer TEXT
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

CONSOLE_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, targets TEXT NOT NULL, sent TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS presence (station TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (
    message TEXT, station TEXT, body TEXT NOT NULL, PRIMARY KEY (message, station)
);
CREATE TABLE IF NOT EXISTS receipts (
    station TEXT, play INTEGER, message TEXT, body TEXT NOT NULL, PRIMARY KEY (station, play)
);
CREATE INDEX IF NOT EXISTS receipts_by_message ON receipts (message);
"""


class Store:
    """One SQLite file, used from several threads under a lock."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(schema)
        except (sqlite3.Error, OSError) as exc:
            raise BroadcasterError(_("cannot open {path}: {reason}").format(path=path, reason=exc)) from exc

    def execute(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self.db.close()


class StationStore(Store):
    def __init__(self, path: Path) -> None:
        super().__init__(path, STATION_SCHEMA)

    def receive(self, message_id: str, kind: str, sender: str, received: str, payload: bytes) -> bool:
        """Keep a message that came down; False when its id was seen before."""
        rows = self.execute("INSERT OR IGNORE INTO inbox (id, kind, sender, received, payload)"
                            " VALUES (?, ?, ?, ?, ?) RETURNING id",
                            (message_id, kind, sender, received, payload))  # fmt: skip
        return bool(rows)

    def unanswered(self) -> list[tuple[str, bytes]]:
        return [(row[0], row[1]) for row in self.execute("SELECT id, payload FROM inbox WHERE answer IS NULL"
                                                          " ORDER BY received")]  # fmt: skip

    def answer(self, message_id: str, answer: dict[str, object] | None = None) -> dict[str, object] | None:
        """Write the answer to a message, or read the one it got."""
        if answer is not None:
            self.execute("UPDATE inbox SET answer = ? WHERE id = ?", (json.dumps(answer, ensure_ascii=False),
                                                                      message_id))  # fmt: skip
            return answer
        rows = self.execute("SELECT answer FROM inbox WHERE id = ?", (message_id,))
        return json.loads(rows[0][0]) if rows and rows[0][0] else None

    def get(self, key: str, default: str = "") -> str:
        rows = self.execute("SELECT value FROM state WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set(self, key: str, value: str) -> None:
        self.execute("INSERT INTO state VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                     (key, value))  # fmt: skip


def inbox_rows(path: Path, limit: int = 200) -> list[tuple[str, str, str, str, str]]:
    """A station's messages from the town, newest first, for the audit trail: (received, sender,
    kind, what, answer). Read-only; an absent or unreadable inbox gives none."""
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT received, sender, kind, payload, answer FROM inbox"
                              " ORDER BY received DESC LIMIT ?", (limit,)).fetchall()  # fmt: skip
        finally:
            db.close()
    except sqlite3.Error:
        return []
    found = []
    for received, sender, kind, payload, answer in rows:
        body = json.loads(payload).get("body", {})
        what = str(body.get("name") or body.get("announcement") or "")
        reply = json.loads(answer) if answer else {}
        detail = "" if reply.get("accepted", True) else str(reply.get("reason", ""))
        found.append((received, sender, kind, what, detail))
    return found


class ConsoleStore(Store):
    def __init__(self, path: Path) -> None:
        super().__init__(path, CONSOLE_SCHEMA)
