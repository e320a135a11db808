"""The station's link to the town: one MQTT v5 session, content and orders in, receipts out.

The station stays autonomous: the link only adds to what it does. When the
broker is away, the schedule goes on; what the town sent meanwhile is queued by
the broker for this station's persistent session (client id = station id, no
clean start, ``session_expiry``) and arrives when it is back; receipts wait in the
play log itself and go up from where the broker last confirmed them.

Threads: paho's network thread only writes a message to the inbox (SQLite) and
wakes the worker, so the broker's acknowledgement means the message is on disk;
the worker thread acts on messages (checking, writing files, asking the station)
and sends receipts and presence.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from broadcaster.config import FleetSettings
from broadcaster.errors import BroadcasterError
from broadcaster.fleet.messages import (
    Message,
    MessageError,
    Receipt,
    topic_all,
    topic_station,
    topic_town,
    topic_up,
)
from broadcaster.fleet.store import StationStore
from broadcaster.playlog import PlayLog

logger = logging.getLogger(__name__)

PRESENCE_EVERY_S = 30.0
WILL_DELAY_S = 15
"""A station that drops off is shown offline only after this long: a short drop does not flap."""
RECEIPTS_EVERY_S = 1.0
RECEIPT_BATCH = 200


class Station(Protocol):
    """What the link asks of the station (the daemon implements it)."""

    def fleet_apply(self, message: Message) -> dict[str, object]:
        """Act on a checked, unexpired message; the answer goes up as its ack."""
        ...

    def fleet_presence(self) -> dict[str, object]:
        """What plays, the zones, errors: the presence's body."""
        ...


def mqtt_client(settings: FleetSettings, client_id: str):
    """A paho MQTT v5 client with the settings' credentials and TLS."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    _host, _port, tls = settings.host_port_tls
    if tls:
        client.tls_set(ca_certs=str(settings.ca_file) if settings.ca_file else None,
                       certfile=str(settings.cert_file) if settings.cert_file else None,
                       keyfile=str(settings.key_file) if settings.key_file else None,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)  # fmt: skip
    client.reconnect_delay_set(1, 30)
    return client


def connect_properties(session_expiry_s: float):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = int(session_expiry_s)
    return properties


class FleetLink:
    def __init__(self, settings: FleetSettings, station: Station, log_path: Path, store_path: Path,
                 clock: Callable[[], dt.datetime], version: str = "") -> None:  # fmt: skip
        self.settings, self.station, self.clock, self.version = settings, station, clock, version
        self.store = StationStore(store_path)
        self.log = PlayLog(log_path, read_only=True)
        self.connected = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._acked: set[int] = set()
        self._again: set[str] = set()
        """Messages delivered again before their first delivery was answered."""
        self._inflight: dict[int, int] = {}
        """MQTT message id → play id of receipts the broker has not confirmed yet."""
        self._lock = threading.Lock()
        self._presence_at = 0.0
        self._last_presence: dict[str, object] | None = None
        self.client = mqtt_client(settings, settings.id)
        self.client.will_set(topic_up("presence", settings.id), self._presence_body({"state": "offline"}),
                             qos=1, retain=True, properties=self._will_properties())  # fmt: skip
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self._worker = threading.Thread(target=self._work, name="fleet", daemon=True)

    @staticmethod
    def _will_properties():
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        properties = Properties(PacketTypes.WILLMESSAGE)
        properties.WillDelayInterval = WILL_DELAY_S
        return properties

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> FleetLink:
        if not self.store.get("receipts_until"):  # joining the fleet: receipts for plays from now on
            self.store.set("receipts_until", str(self.log.last_id()))
        host, port, _tls = self.settings.host_port_tls
        # clean_start=False on the first connect too (paho's default starts clean once), or a
        # station restarted while offline would lose what the broker kept for it.
        self.client.connect_async(host, port, keepalive=30, clean_start=False,
                                  properties=connect_properties(self.settings.session_expiry_s))  # fmt: skip
        self.client.loop_start()
        self._worker.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._worker.join(5)
        if self.connected.is_set():
            offline = self._presence_body({"state": "offline"})
            info = self.client.publish(topic_up("presence", self.settings.id), offline, qos=1, retain=True)
            info.wait_for_publish(2)
        self.connected.clear()  # a stop, not a lost broker
        self.client.disconnect()
        self.client.loop_stop()
        self.log.close()
        self.store.close()

    # --- paho's thread -----------------------------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.error("The broker refused the fleet link: %s", reason_code)
            return
        settings = self.settings
        topics = [topic_all(), topic_station(settings.id)]
        topics += [topic_town(settings.town)] if settings.town else []
        client.subscribe([(topic, 1) for topic in topics])
        logger.info("Fleet link connected to %s as %s (session kept: %s)", settings.broker, settings.id,
                    bool(flags.session_present))  # fmt: skip
        with self._lock:
            self._inflight.clear()  # unconfirmed receipts are sent again from the play log
        self.connected.set()
        self._presence_at = 0.0
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set():
            logger.warning("Fleet link lost the broker (%s); the station goes on and tries again",
                           reason_code)  # fmt: skip
        self.connected.clear()

    def _on_message(self, client, userdata, message) -> None:
        """Only keep it: the acknowledgement paho sends after this means it is on disk."""
        try:
            parsed = Message.from_json(message.payload)
        except MessageError as exc:
            logger.error("Fleet: a message on %s cannot be read: %s", message.topic, exc)
            return
        fresh = self.store.receive(parsed.id, parsed.kind, parsed.sender, self.clock().isoformat(),
                                   message.payload)  # fmt: skip
        if not fresh:
            answer = self.store.answer(parsed.id)
            logger.info("Fleet: %s %s again (already %s)", parsed.kind, parsed.id,
                        "answered" if answer else "waiting")  # fmt: skip
            if answer is not None:
                self._publish_ack(answer)
            else:  # still being acted on: answered again once it is
                with self._lock:
                    self._again.add(parsed.id)
        self._wake.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            play = self._inflight.pop(mid, None)
            if play is not None and not reason_code.is_failure:
                self._acked.add(play)
        if play is not None:
            self._wake.set()

    # --- the worker --------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(RECEIPTS_EVERY_S)
            self._wake.clear()
            try:
                self._answer_inbox()
                if self.connected.is_set():
                    self._send_receipts()
                    self._send_presence()
            except Exception:  # noqa: BLE001 - the link must go on; the station is not touched
                logger.exception("fleet link error")

    def _answer_inbox(self) -> None:
        for message_id, payload in self.store.unanswered():
            message = Message.from_json(payload)
            answer: dict[str, object] = {"message": message.id, "station": self.settings.id,
                                         "at": self.clock().isoformat()}  # fmt: skip
            if message.expired(self.clock()):
                answer.update(accepted=False, reason="expired")
            else:
                try:
                    answer.update(accepted=True, **self.station.fleet_apply(message))
                except BroadcasterError as exc:
                    answer.update(accepted=False, reason=str(exc))
            logger.info("Fleet: %s %s from %s: %s", message.kind, message.id, message.sender,
                        "taken" if answer["accepted"] else f"refused ({answer.get('reason')})")  # fmt: skip
            self.store.answer(message_id, answer)
            self._publish_ack(answer)
            with self._lock:
                again = message_id in self._again
                self._again.discard(message_id)
            if again:
                self._publish_ack(answer)

    def _publish_ack(self, answer: dict[str, object]) -> None:
        if self.connected.is_set():
            payload = json.dumps(answer, ensure_ascii=False)
            self.client.publish(topic_up("ack", self.settings.id), payload, qos=1)

    def _send_receipts(self) -> None:
        """Every finished play goes up, at least once: from the mark the broker confirmed, on."""
        mark = int(self.store.get("receipts_until", "0"))
        plays = self.log.after(mark, RECEIPT_BATCH * 5)
        with self._lock:
            inflight, acked = set(self._inflight.values()), set(self._acked)
        advance = mark
        for play in plays:  # the mark moves over confirmed rows only, and stops at one still playing
            if play.outcome == "playing" or play.id not in acked:
                break
            advance = play.id
        sent = 0
        for play in plays:
            if play.outcome == "playing" or play.id in acked or play.id in inflight or sent >= RECEIPT_BATCH:
                continue
            by = play.started_by
            message = by.split(":", 2)[1] if by.startswith("fleet:") else None
            receipt = Receipt(self.settings.id, play.id, play.announcement_id, play.zone, play.trigger,
                              play.outcome, play.requested_at, play.started_at, play.ended_at, play.reason,
                              play.dropouts, message)  # fmt: skip
            info = self.client.publish(topic_up("receipt", self.settings.id), receipt.to_json(), qos=1)
            with self._lock:
                self._inflight[info.mid] = play.id
            sent += 1
        if advance > mark:
            self.store.set("receipts_until", str(advance))
            with self._lock:
                self._acked = {play for play in self._acked if play > advance}

    def _presence_body(self, body: dict[str, object]) -> str:
        whole = {"station": self.settings.id, "town": self.settings.town, **body}
        return json.dumps(whole, ensure_ascii=False)

    def _send_presence(self) -> None:
        body = {"state": "online", "version": self.version, **self.station.fleet_presence()}
        if body == self._last_presence and time.monotonic() - self._presence_at < PRESENCE_EVERY_S:
            return
        self._last_presence, self._presence_at = body, time.monotonic()
        payload = self._presence_body({**body, "at": self.clock().isoformat()})
        self.client.publish(topic_up("presence", self.settings.id), payload, qos=1, retain=True)
