"""The town's console: send to stations, and see what they are and what they aired.

The console keeps a persistent session on the broker (client id ``console-`` and its
``fleet: id``),
subscribed to every station's presence, answers and receipts, so what comes back
while no console runs is kept by the broker and collected the next time
(:func:`collect`) into ``data/fleet-console.sqlite``; ``status`` and ``report`` read
that.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from broadcaster.config import FleetSettings
from broadcaster.errors import BroadcasterError
from broadcaster.fleet.link import connect_properties, mqtt_client
from broadcaster.fleet.messages import (
    PREFIX,
    Message,
    check_name,
    topic_all,
    topic_station,
    topic_town,
)
from broadcaster.fleet.store import ConsoleStore
from broadcaster.i18n import _

CONSOLE_DB = Path("data") / "fleet-console.sqlite"
"""The console's store, in the folder of the config it runs with."""
CONNECT_TIMEOUT_S = 10.0
CONSOLE_SESSION_S = 30 * 86400.0


def targets(spec: str) -> list[str]:
    """``all``, ``town:NAME`` or ``id,id,…`` → the topics to publish on."""
    if spec == "all":
        return [topic_all()]
    if spec.startswith("town:"):
        return [topic_town(check_name(spec[5:], "town"))]
    return [topic_station(check_name(part.strip(), "station")) for part in spec.split(",") if part.strip()]


def network_reason(exc: OSError) -> str:
    """Why a connection failed, in words (the system's ``[Errno 111]`` is no help to a town office)."""
    import socket
    import ssl

    if isinstance(exc, ConnectionRefusedError):
        return _("nothing answers at that address and port: is the broker running, is the port right?")
    if isinstance(exc, socket.gaierror):
        return _("the host name is not known: check the address, or the network")
    if isinstance(exc, TimeoutError):
        return _("no answer in time: check the address, the network or a firewall")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _("the broker's TLS certificate cannot be verified ({detail}): check ca_file").format(
            detail=exc.verify_message)  # fmt: skip
    if isinstance(exc, ssl.SSLError):
        return _("the TLS handshake failed ({detail})").format(detail=exc.reason or exc)
    return exc.strerror or str(exc)


class _Session:
    """A connected client, for the length of one command."""

    def __init__(self, settings: FleetSettings, client_id: str, persistent: bool,
                 on_message=None) -> None:  # fmt: skip
        self.client = mqtt_client(settings, client_id)
        self.connected = threading.Event()
        self.refused: str | None = None
        self.client.on_connect = self._on_connect
        self.client.on_message = on_message  # before connecting: a kept session delivers at once
        host, port, _tls = settings.host_port_tls
        try:
            expiry = connect_properties(CONSOLE_SESSION_S if persistent else 0)
            self.client.connect(host, port, keepalive=30, clean_start=not persistent, properties=expiry)
        except OSError as exc:
            message = _("cannot reach the broker {broker}: {reason}").format(broker=settings.broker,
                                                                              reason=network_reason(exc))
            raise BroadcasterError(message) from exc
        self.client.loop_start()
        if not self.connected.wait(CONNECT_TIMEOUT_S) or self.refused:
            self.close()
            message = _("the broker {broker} refused the console: {reason}")
            reason = self.refused or _("no answer")
            raise BroadcasterError(message.format(broker=settings.broker, reason=reason))

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
        self.connected.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def send(settings: FleetSettings, store: ConsoleStore, message: Message, to: str) -> list[str]:
    """Publish ``message`` (QoS 1, expiring with it) to ``to``; returns the topics, once the broker has it."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    topics = targets(to)
    session = _Session(settings, f"console-{settings.id}-send-{message.id[:8]}", persistent=False)
    refused: dict[int, str] = {}

    def on_publish(client, userdata, mid, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused[mid] = str(reason_code)

    session.client.on_publish = on_publish
    try:
        properties = None
        if message.expires is not None:
            properties = Properties(PacketTypes.PUBLISH)
            seconds = (message.expires - dt.datetime.now(dt.UTC)).total_seconds()
            properties.MessageExpiryInterval = max(1, int(seconds))
        for topic in topics:
            info = session.client.publish(topic, message.to_json(), qos=1, properties=properties)
            info.wait_for_publish(CONNECT_TIMEOUT_S)
            if not info.is_published():
                message_text = _("the broker did not take the message on {topic}")
                raise BroadcasterError(message_text.format(topic=topic))
            if info.mid in refused:  # the access list: these settings are not a console's
                message_text = _("the broker refused the message on {topic} ({reason}): is '{user}' "
                                 "a console's account? A station's settings cannot send to stations")
                user = settings.username or settings.id
                raise BroadcasterError(message_text.format(topic=topic, reason=refused[info.mid], user=user))
    finally:
        session.close()
    summary = str(message.body.get("name") or message.body.get("announcement") or message.kind)
    store.execute("INSERT OR REPLACE INTO sent VALUES (?, ?, ?, ?, ?)",
                  (message.id, message.kind, to, message.sent.isoformat(), summary))  # fmt: skip
    return topics


def collect(settings: FleetSettings, store: ConsoleStore, quiet_s: float = 1.0, limit_s: float = 20.0) -> int:
    """Take what the stations sent (kept by the broker for this console) into the store; how many."""
    got: list[tuple[str, bytes]] = []
    last = [time.monotonic()]
    lock = threading.Lock()

    def on_message(client, userdata, message) -> None:
        with lock:
            got.append((message.topic, message.payload))
            last[0] = time.monotonic()

    # Not the bare id: a console started by mistake with a station's settings must not take over
    # that station's session (the broker lets one client per id in).
    session = _Session(settings, f"console-{settings.id}", persistent=True, on_message=on_message)
    try:
        subscribed = threading.Event()
        session.client.on_subscribe = lambda *args: subscribed.set()
        session.client.subscribe([(f"{PREFIX}/{what}/+", 1) for what in ("presence", "ack", "receipt")])
        subscribed.wait(CONNECT_TIMEOUT_S)
        last[0] = time.monotonic()
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and time.monotonic() - last[0] < quiet_s:
            time.sleep(0.05)
    finally:
        session.close()
    with lock:
        messages = list(got)
    for topic, payload in messages:
        _keep(store, topic, payload)
    return len(messages)


def _keep(store: ConsoleStore, topic: str, payload: bytes) -> None:
    what, _sep, station = topic.removeprefix(f"{PREFIX}/").partition("/")
    try:
        body = json.loads(payload) if payload else {}
    except ValueError:
        return
    text = json.dumps(body, ensure_ascii=False)
    if what == "presence" and body:
        store.execute("INSERT OR REPLACE INTO presence VALUES (?, ?)", (station, text))
    elif what == "ack":
        store.execute("INSERT OR REPLACE INTO acks VALUES (?, ?, ?)", (body.get("message"), station, text))
    elif what == "receipt":
        store.execute("INSERT OR IGNORE INTO receipts VALUES (?, ?, ?, ?)",
                      (station, body.get("play"), body.get("message"), text))  # fmt: skip


@dataclass(frozen=True)
class StationLine:
    station: str
    town: str
    state: str
    playing: str
    errors: int
    at: str


def status(store: ConsoleStore) -> list[StationLine]:
    lines = []
    for station, text in store.execute("SELECT station, body FROM presence ORDER BY station"):
        body = json.loads(text)
        playing = ", ".join(f"{zone}: {what}" for zone, what in (body.get("playing") or {}).items())
        lines.append(StationLine(station, body.get("town", ""), body.get("state", "?"), playing,
                                 len(body.get("errors") or []), body.get("at", "")))  # fmt: skip
    return lines


@dataclass(frozen=True)
class ReportLine:
    station: str
    state: str
    """``aired``, ``failed``, ``refused``, ``not aired``, ``taken`` (no play yet) or ``pending``."""
    detail: str
    at: str


def report(store: ConsoleStore, message_id: str) -> tuple[str, list[ReportLine]]:
    """For one message: every station it was for, and what became of it there."""
    sent = store.execute("SELECT id, kind, targets, summary FROM sent WHERE id = ? OR id LIKE ? LIMIT 1",
                         (message_id, f"{message_id}%"))  # fmt: skip
    if not sent:
        raise BroadcasterError(_("no message {id} was sent from this console").format(id=message_id))
    full, kind, to, summary = sent[0]
    stations = stations_for(store, to)
    acks = {station: json.loads(body) for station, body in
            store.execute("SELECT station, body FROM acks WHERE message = ?", (full,))}  # fmt: skip
    plays: dict[str, list[dict]] = {}
    for station, body in store.execute("SELECT station, body FROM receipts WHERE message = ? ORDER BY play",
                                       (full,)):  # fmt: skip
        plays.setdefault(station, []).append(json.loads(body))
    lines = []
    for station in sorted(set(stations) | set(acks) | set(plays)):
        ack, rows = acks.get(station), plays.get(station, [])
        aired = [r for r in rows if r.get("outcome") in ("completed", "dropout")]
        if aired:
            zones = ", ".join(f"{r['zone']} {r['outcome']}" for r in rows)
            lines.append(ReportLine(station, "aired", zones, str(aired[0].get("started") or "")))
        elif rows:
            why = "; ".join(f"{r['zone']} {r['outcome']} {r.get('reason') or ''}".strip() for r in rows)
            lines.append(ReportLine(station, "failed", why, str(rows[0].get("ended") or "")))
        elif ack is not None and not ack.get("accepted"):
            lines.append(ReportLine(station, "refused", str(ack.get("reason", "")), str(ack.get("at", ""))))
        elif ack is not None and ack.get("aired") is False:
            lines.append(ReportLine(station, "not aired", str(ack.get("reason", "")), str(ack.get("at", ""))))
        elif ack is not None:
            lines.append(ReportLine(station, "taken", "", str(ack.get("at", ""))))
        else:
            lines.append(ReportLine(station, "pending", "", ""))
    return f"{kind} {summary} → {to}", lines


@dataclass(frozen=True)
class Tally:
    aired: int
    total: int
    pending: int
    """Not played yet: not taken, or taken and waiting for its slot."""
    failed: int
    """Failed, or refused by the station."""


def tally(lines: list[ReportLine]) -> Tally:
    states = [line.state for line in lines]
    return Tally(states.count("aired"), len(states), states.count("pending") + states.count("taken"),
                 sum(state in ("failed", "refused") for state in states))  # fmt: skip


@dataclass(frozen=True)
class SentLine:
    id: str
    kind: str
    to: str
    sent: str
    summary: str
    tally: Tally


def sent_messages(store: ConsoleStore, limit: int = 50) -> list[SentLine]:
    """The newest messages sent from this console, with what became of each."""
    rows = store.execute("SELECT id, kind, targets, sent, summary FROM sent ORDER BY sent DESC LIMIT ?",
                         (limit,))  # fmt: skip
    return [SentLine(ident, kind, to, at, summary, tally(report(store, ident)[1]))
            for ident, kind, to, at, summary in rows]  # fmt: skip


def known_stations(store: ConsoleStore) -> dict[str, dict]:
    """Every station whose presence this console has seen: id → its last presence."""
    rows = store.execute("SELECT station, body FROM presence")
    return {station: json.loads(body) for station, body in rows}


def stations_for(store: ConsoleStore, to: str) -> list[str]:
    """The stations ``to`` (``all``, ``town:NAME`` or ``id,id,…``) reaches, as far as this console knows."""
    known = known_stations(store)
    if to == "all":
        return list(known)
    if to.startswith("town:"):
        return [station for station, body in known.items() if body.get("town") == to[5:]]
    return [part.strip() for part in to.split(",") if part.strip()]
