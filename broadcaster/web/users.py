"""The web page's users, their roles, failed logins, and the audit trail: one SQLite file.

Roles, each with what the one before it may do:

- ``secretary``: write and check announcements, hear a preview, send normal
  announcements now to their zones;
- ``operator``: also send emergencies, stop and skip;
- ``admin``: also manage users.

Passwords are stored as Argon2id hashes (argon2-cffi). After ``MAX_FAILURES``
wrong passwords in a row a user is locked for ``LOCK_S``; the page also waits a
second after each wrong one. Every change, send, stop and login is a row in
``audit``: who, when, what, on what.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from broadcaster.errors import MessageError
from broadcaster.i18n import N_, Msg

ROLES = ("secretary", "operator", "admin")
ROLE_NAMES = {"secretary": N_("secretary"), "operator": N_("operator"), "admin": N_("admin")}
ACTIONS = {
    "login": N_("login"), "login refused": N_("login refused"), "save": N_("save"),
    "send now": N_("send now"), "send emergency": N_("send an emergency"),
    "send now failed": N_("send now: failed"), "send emergency failed": N_("send an emergency: failed"),
    "stop": N_("stop"), "skip": N_("skip"), "schedule": N_("schedule"), "unschedule": N_("unschedule"),
    "record": N_("record"), "user add": N_("add a user"), "user passwd": N_("new password"),
    "user remove": N_("remove a user"),
    "fleet announcement": N_("announcement from the town"), "fleet playlist": N_("playlist from the town"),
    "fleet send": N_("send from the town"), "fleet stop": N_("stop from the town"),
    "fleet cap": N_("CAP alert from the town"),
}  # fmt: skip
"""The audit trail's actions as stored, and as shown."""
MAX_FAILURES = 5
LOCK_S = 15 * 60
MIN_PASSWORD = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('secretary', 'operator', 'admin')),
    zones TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    started REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
"""


class UserError(MessageError):
    """A user that cannot be added, found or logged in."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    zones: tuple[str, ...] = ()
    """The zones a secretary may send to; empty means every zone."""

    def may(self, role: str) -> bool:
        """Whether this user has ``role`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class AuditRow:
    at: str
    user: str
    action: str
    target: str
    detail: str


def _hasher():  # argon2 is imported only when a password is hashed or checked
    from argon2 import PasswordHasher

    return PasswordHasher()


class UserStore:
    """Users and the audit trail in ``path`` (created ``rw-------`` on first use)."""

    def __init__(self, path: Path, clock: Callable[[], float] | None = None) -> None:
        import time

        self.path = path
        self.clock = clock or time.time
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.executescript("PRAGMA journal_mode=WAL;" + _SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    # --- users -------------------------------------------------------------------------------

    def add(self, name: str, password: str, role: str, zones: tuple[str, ...] = ()) -> User:
        if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            message = Msg.of("'{name}' is not a user name: use letters, digits, '-', '_' or '.'", name=name)
            raise UserError(message)
        if role not in ROLES:
            raise UserError(Msg.of("'{role}' is not a role: {roles}", role=role, roles=", ".join(ROLES)))
        with self._lock:
            if self._row(name) is not None:
                raise UserError(Msg.of("user '{name}' exists already", name=name))
            self._db.execute("INSERT INTO users (name, hash, role, zones) VALUES (?, ?, ?, ?)",
                             (name, _hash(password), role, ",".join(zones)))  # fmt: skip
        return User(name, role, zones)

    def set_password(self, name: str, password: str) -> None:
        with self._lock:
            self._get(name)
            self._db.execute("UPDATE users SET hash = ?, failures = 0, locked_until = 0 WHERE name = ?",
                             (_hash(password), name))  # fmt: skip
            self._end_sessions(name)

    def remove(self, name: str) -> None:
        with self._lock:
            self._get(name)
            self._db.execute("DELETE FROM users WHERE name = ?", (name,))
            self._end_sessions(name)

    def users(self) -> list[User]:
        rows = self._db.execute("SELECT name, role, zones FROM users ORDER BY name").fetchall()
        return [User(name, role, _zones(zones)) for name, role, zones in rows]

    def get(self, name: str) -> User | None:
        row = self._row(name)
        return None if row is None else User(row[0], row[2], _zones(row[3]))

    def login(self, name: str, password: str) -> User:
        """The user, if ``password`` is theirs and they are not locked; else :class:`UserError`."""
        from argon2.exceptions import InvalidHashError, VerificationError

        with self._lock:
            row = self._row(name)
            now = self.clock()
            if row is not None and row[5] > now:
                minutes = max(1, round((row[5] - now) / 60))
                message = Msg.of("too many wrong passwords: try again in {minutes} min", minutes=minutes)
                raise UserError(message)
            try:
                if row is None:
                    raise VerificationError
                _hasher().verify(row[1], password)
            except (VerificationError, InvalidHashError):
                if row is not None:
                    failures = row[4] + 1
                    locked = now + LOCK_S if failures >= MAX_FAILURES else 0
                    self._db.execute("UPDATE users SET failures = ?, locked_until = ? WHERE name = ?",
                                     (0 if locked else failures, locked, name))  # fmt: skip
                raise UserError(Msg.of("wrong user name or password")) from None
            self._db.execute("UPDATE users SET failures = 0 WHERE name = ?", (name,))
            return User(row[0], row[2], _zones(row[3]))

    # --- sessions: a logout, a new password or a removal ends them at once ---------------------

    def open_session(self, name: str) -> str:
        import secrets

        session = secrets.token_urlsafe(24)
        with self._lock:
            self._db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (session, name, self.clock()))
        return session

    def session_user(self, session: str, max_age_s: float) -> User | None:
        row = self._db.execute("SELECT user, started FROM sessions WHERE id = ?", (session,)).fetchone()
        if row is None or self.clock() - row[1] > max_age_s:
            return None
        return self.get(row[0])

    def close_session(self, session: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id = ?", (session,))

    def _end_sessions(self, name: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def _row(self, name: str) -> tuple | None:
        return self._db.execute("SELECT name, hash, role, zones, failures, locked_until FROM users"
                                " WHERE name = ?", (name,)).fetchone()  # fmt: skip

    def _get(self, name: str) -> tuple:
        row = self._row(name)
        if row is None:
            raise UserError(Msg.of("there is no user '{name}'", name=name))
        return row

    # --- the audit trail ---------------------------------------------------------------------

    def audit(self, user: str, action: str, target: str = "", detail: str = "") -> None:
        at = dt.datetime.fromtimestamp(self.clock(), dt.UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute("INSERT INTO audit (at, user, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                             (at, user, action, target, detail))  # fmt: skip

    def audit_rows(self, limit: int = 200) -> list[AuditRow]:
        rows = self._db.execute("SELECT at, user, action, target, detail FROM audit ORDER BY id DESC LIMIT ?",
                                (limit,)).fetchall()  # fmt: skip
        return [AuditRow(*row) for row in rows]


def _hash(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(Msg.of("a password needs at least {count} characters", count=MIN_PASSWORD))
    return str(_hasher().hash(password))


def _zones(text: str) -> tuple[str, ...]:
    return tuple(z for z in text.split(",") if z)
