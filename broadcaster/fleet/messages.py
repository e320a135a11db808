"""What travels between the town's console and the stations, and on which MQTT topics.

Down (the console publishes, QoS 1, with a message expiry when the message has one):

==========================  =====================================================
``bc/all``                  every station
``bc/town/<town>``          the stations of one town
``bc/station/<id>``         one station
==========================  =====================================================

Up (each station publishes under its own id, which the broker's ACL enforces):

==========================  =====================================================
``bc/presence/<id>``        retained: online (version, zones, what plays, errors)
                            or offline (the last will, sent after a delay)
``bc/ack/<id>``             one per message: taken, or refused with the reasons
``bc/receipt/<id>``         one per play row (at least once; a play id is unique
                            per station, so a repeat is recognised)
==========================  =====================================================

A down message is one JSON object, :class:`Message`. Its ``id`` makes it
idempotent: a station that sees an id again (QoS 1 may deliver twice) answers the
same and does nothing more.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field

from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _

PREFIX = "bc"
KINDS = ("announcement", "playlist", "send", "stop", "cap")
NAME = re.compile(r"^[A-Za-z0-9][\w-]{0,63}$")
"""Station ids, towns, announcement and playlist names: safe in topics and file names."""


def topic_all() -> str:
    return f"{PREFIX}/all"


def topic_town(town: str) -> str:
    return f"{PREFIX}/town/{town}"


def topic_station(station: str) -> str:
    return f"{PREFIX}/station/{station}"


def topic_up(what: str, station: str) -> str:
    """``presence``, ``ack`` or ``receipt`` of ``station``."""
    return f"{PREFIX}/{what}/{station}"


class MessageError(BroadcasterError):
    """A down message that cannot be read: answered with a refusal, never acted on."""


@dataclass(frozen=True)
class Message:
    id: str
    kind: str
    sender: str
    sent: dt.datetime
    body: dict[str, object] = field(default_factory=dict)
    expires: dt.datetime | None = None

    @classmethod
    def new(cls, kind: str, sender: str, body: dict[str, object], expires: dt.datetime | None = None,
            now: dt.datetime | None = None) -> Message:  # fmt: skip
        return cls(uuid.uuid4().hex, kind, sender, now or dt.datetime.now(dt.UTC), body, expires)

    def expired(self, now: dt.datetime) -> bool:
        return self.expires is not None and now >= self.expires

    def to_json(self) -> bytes:
        data = {"id": self.id, "kind": self.kind, "sender": self.sender, "sent": self.sent.isoformat(),
                "expires": self.expires.isoformat() if self.expires else None, "body": self.body}  # fmt: skip
        return json.dumps(data, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> Message:
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MessageError(_("the message is not JSON: {reason}").format(reason=exc)) from exc
        if not isinstance(data, dict):
            raise MessageError(_("the message is not a JSON object"))
        missing = [key for key in ("id", "kind", "sender", "sent") if not isinstance(data.get(key), str)]
        if missing:
            raise MessageError(_("the message has no {field}").format(field=missing[0]))
        if data["kind"] not in KINDS:
            message = _("unknown kind of message '{kind}' (known: {kinds})")
            raise MessageError(message.format(kind=data["kind"], kinds=", ".join(KINDS)))
        body = data.get("body") or {}
        if not isinstance(body, dict):
            raise MessageError(_("the message's body is not a JSON object"))
        return cls(data["id"][:64], data["kind"], data["sender"][:64], _time(data["sent"]), body,
                   _time(data["expires"]) if data.get("expires") else None)  # fmt: skip


def _time(text: object) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError as exc:
        raise MessageError(_("'{value}' is not a time").format(value=text)) from exc
    if moment.tzinfo is None:
        raise MessageError(_("'{value}' has no time zone").format(value=text))
    return moment


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        message = _("'{name}' is not a valid {what} name (letters, digits, - and _)")
        raise MessageError(message.format(name=name, what=what))
    return name


@dataclass(frozen=True)
class Receipt:
    """One play row of one station, as it goes up."""

    station: str
    play: int
    announcement: str
    zone: str
    trigger: str
    outcome: str
    requested: str
    started: str | None
    ended: str | None
    reason: str
    dropouts: int
    message: str | None
    """The fleet message that asked for the play, if one did."""

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> Receipt:
        data = json.loads(payload)
        return cls(**{key: data.get(key) for key in cls.__dataclass_fields__})
