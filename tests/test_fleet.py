"""The fleet over a real Mosquitto broker (tests/broker.py): delivery to an offline station, a
broker restart with queued messages, duplicates, receipts across restarts, the ACL.

The station side is the real :class:`FleetLink` with a stand-in for the daemon (what it
is asked to do is recorded) and a real play log; tests/test_fleet_station.py runs a
real station.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import pytest

from broadcaster.errors import BroadcasterError
from broadcaster.fleet import console
from broadcaster.fleet.link import FleetLink, connect_properties, mqtt_client
from broadcaster.fleet.messages import Message, topic_station, topic_up
from broadcaster.fleet.store import ConsoleStore
from broadcaster.playlog import PlayLog
from tests.broker import Broker

TOWNS = {"jiujiang": ["s1", "s2"], "lecong": ["s3"]}
NOW = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)


def wait_until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def broker():
    if not Broker.available():
        pytest.fail("the fleet tests need mosquitto (scripts/install.sh --dev installs it)")
    broker = Broker(TOWNS).start()
    yield broker
    broker.remove()


class Desk:
    """What the link asks of the station, recorded."""

    def __init__(self) -> None:
        self.applied: list[Message] = []

    def fleet_apply(self, message: Message) -> dict[str, object]:
        self.applied.append(message)
        return {"done": message.kind}

    def fleet_presence(self) -> dict[str, object]:
        return {"zones": ["square"], "playing": {}, "errors": []}


class Station:
    """A station's link, its play log and its data folder; started and stopped by the test."""

    def __init__(self, broker: Broker, folder: Path, name: str, town: str) -> None:
        self.broker, self.folder, self.name, self.town = broker, folder / name, name, town
        self.folder.mkdir(exist_ok=True)
        self.log = PlayLog(self.folder / "playlog.sqlite")
        self.desk = Desk()
        self.link: FleetLink | None = None

    def start(self) -> Station:
        settings = self.broker.settings(self.name, self.town)
        self.link = FleetLink(settings, self.desk, self.log.path, self.folder / "fleet.sqlite",
                              lambda: dt.datetime.now(dt.UTC)).start()  # fmt: skip
        assert self.link.connected.wait(10), self.broker.log()
        return self

    def stop(self) -> None:
        if self.link is not None:
            self.link.stop()
            self.link = None

    def play(self, announcement: str, outcome: str = "completed", by: str = "") -> int:
        row = self.log.start(announcement, "h", "square", "schedule", NOW, NOW, started_by=by)
        self.log.finish(row, outcome, NOW)
        return row


@pytest.fixture
def stations(broker, tmp_path):
    made: list[Station] = []

    def make(name: str, town: str = "jiujiang") -> Station:
        station = Station(broker, tmp_path, name, town)
        made.append(station)
        return station

    yield make
    for station in made:
        station.stop()
        station.log.close()


@pytest.fixture
def desk(broker, tmp_path):
    """The town's console: its settings and its store."""
    return broker.settings("console"), ConsoleStore(tmp_path / "console.sqlite")


def _send(desk, kind: str, to: str, body: dict, expires: dt.datetime | None = None) -> Message:  # type: ignore[no-untyped-def]
    settings, store = desk
    message = Message.new(kind, "town-office", body, expires)
    console.send(settings, store, message, to)
    return message


def test_a_message_for_an_offline_station_arrives_when_it_is_back(stations, desk):
    station = stations("s1").start()  # known to the broker: its session and subscriptions are kept
    station.stop()
    message = _send(desk, "send", "s1", {"announcement": "hygiene"})
    station.start()
    wait_until(lambda: station.desk.applied)
    assert [m.id for m in station.desk.applied] == [message.id]


def test_a_broker_restart_keeps_what_it_queued(broker, stations, desk):
    station = stations("s1").start()
    station.stop()
    message = _send(desk, "send", "town:jiujiang", {"announcement": "hygiene"})
    broker.stop()
    broker.start()
    station.start()
    wait_until(lambda: station.desk.applied)
    assert [m.id for m in station.desk.applied] == [message.id]


def test_a_message_delivered_twice_is_acted_on_once_and_answered_twice(stations, desk, broker):
    station = stations("s1").start()
    acks: list[dict] = []  # type: ignore[type-arg]
    watcher = _subscriber(broker, "console", topic_up("ack", "s1"),
                          lambda payload: acks.append(json.loads(payload)))  # fmt: skip
    message = Message.new("send", "town-office", {"announcement": "hygiene"})
    for _ in range(2):  # QoS 1 may deliver again; a console may send again
        console_client = mqtt_client(broker.settings("console"), "again")
        console_client.connect("127.0.0.1", broker.port, properties=connect_properties(0))
        console_client.loop_start()
        console_client.publish(topic_station("s1"), message.to_json(), qos=1).wait_for_publish(5)
        console_client.disconnect()
        console_client.loop_stop()
    wait_until(lambda: len(acks) == 2)
    watcher.loop_stop()
    assert len(station.desk.applied) == 1
    assert acks[0] == acks[1] and acks[0]["accepted"] is True


def test_an_expired_message_is_not_played(stations, desk):
    station = stations("s1").start()
    station.stop()
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    _send(desk, "send", "s1", {"announcement": "hygiene"}, expires=soon)
    time.sleep(2.0)
    station.start()
    time.sleep(2.0)
    assert station.desk.applied == []


def test_receipts_go_up_once_each_and_none_is_lost_across_restarts(stations, desk):
    settings, store = desk
    console.collect(settings, store, quiet_s=0.3)  # the console's session exists from now on
    station = stations("s1")
    history = station.play("before the fleet")  # played before the station joined: not sent
    station.start()
    first = [station.play("hygiene") for _ in range(3)]
    wait_until(lambda: _confirmed(station) == first[-1])
    station.stop()
    later = [station.play("masks", "interrupted") for _ in range(2)]  # played while the link was down
    station.start()
    wait_until(lambda: _confirmed(station) == later[-1])
    console.collect(settings, store, quiet_s=0.5)
    plays = store.execute("SELECT play, body FROM receipts WHERE station = 's1' ORDER BY play")
    assert [play for play, _body in plays] == first + later and history not in first
    assert json.loads(plays[-1][1])["outcome"] == "interrupted"


def test_a_receipt_names_the_message_that_asked_for_the_play(stations, desk):
    settings, store = desk
    console.collect(settings, store, quiet_s=0.3)
    station = stations("s2").start()
    message = _send(desk, "send", "s2", {"announcement": "hygiene"})
    wait_until(lambda: station.desk.applied)
    station.play("hygiene", by=f"fleet:{message.id}:town-office")

    def aired() -> bool:
        console.collect(settings, store, quiet_s=0.3)
        return any(line.state == "aired" for line in console.report(store, message.id[:8])[1])

    wait_until(aired)
    title, lines = console.report(store, message.id[:8])
    assert [(line.station, line.state) for line in lines] == [("s2", "aired")]
    assert "hygiene" in title


def test_presence_is_retained_and_the_will_says_offline(stations, desk, broker):
    settings, store = desk
    station = stations("s3", town="lecong").start()
    console.collect(settings, store, quiet_s=0.5)
    lines = console.status(store)
    assert [(line.station, line.town, line.state) for line in lines] == [("s3", "lecong", "online")]
    station.stop()  # a clean stop says offline at once
    console.collect(settings, store, quiet_s=0.5)
    assert console.status(store)[0].state == "offline"


def test_a_station_can_only_publish_its_own_topics_and_read_its_own_and_its_towns(stations, broker):
    seen: list[str] = []
    watcher = _subscriber(broker, "console", "bc/#", lambda payload: None, topics=seen)
    received: list[str] = []
    forger = _subscriber(broker, "s1", "bc/#", lambda payload: None, topics=received)
    forger.publish(topic_up("presence", "s2"), b'{"state": "online"}', qos=1).wait_for_publish(5)
    forger.publish(topic_up("receipt", "s2"), b"{}", qos=1).wait_for_publish(5)
    forger.publish(topic_station("s3"), b"{}", qos=1).wait_for_publish(5)
    forger.publish(topic_up("presence", "s1"), b'{"state": "test"}', qos=1).wait_for_publish(5)
    town_office = _subscriber(broker, "console", "bc/none", lambda payload: None)
    for topic in ("bc/station/s2", "bc/town/lecong", "bc/station/s1", "bc/town/jiujiang", "bc/all"):
        town_office.publish(topic, b"{}", qos=1).wait_for_publish(5)
    time.sleep(1.0)
    for client in (forger, watcher, town_office):
        client.disconnect()
        client.loop_stop()
    # What s1 wrote under another station's name never reached anyone; its own presence did.
    assert [t for t in seen if t.startswith(("bc/presence", "bc/receipt", "bc/station/s3"))] == [
        topic_up("presence", "s1")]
    # It reads its own, its town's and the county's topics, not another station's or town's.
    assert sorted(t for t in received if not t.startswith("bc/presence")) == [
        "bc/all", "bc/station/s1", "bc/town/jiujiang"]


def _confirmed(station: Station) -> int:
    """The play id up to which the broker has confirmed the station's receipts."""
    return int(station.link.store.get("receipts_until", "0")) if station.link is not None else -1


def _subscriber(broker, user: str, topic: str, on_payload, topics: list[str] | None = None):  # type: ignore[no-untyped-def]
    client = mqtt_client(broker.settings(user), f"{user}-watch-{time.monotonic_ns()}")
    ready = threading.Event()

    def on_message(client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        if topics is not None:
            topics.append(message.topic)
        on_payload(message.payload)

    client.on_message = on_message
    client.on_subscribe = lambda *args: ready.set()
    client.on_connect = lambda client, *args: client.subscribe(topic, 1)
    client.connect("127.0.0.1", broker.port, properties=connect_properties(0))
    client.loop_start()
    ready.wait(10)
    return client


def test_a_message_that_arrived_just_before_a_crash_is_acted_on_after_the_restart(stations):
    station = stations("s1")
    from broadcaster.fleet.store import StationStore

    message = Message.new("send", "town-office", {"announcement": "hygiene"})
    inbox = StationStore(station.folder / "fleet.sqlite")  # on disk, acknowledged, not yet acted on
    inbox.receive(message.id, message.kind, message.sender, NOW.isoformat(), message.to_json())
    inbox.close()
    station.start()
    wait_until(lambda: station.desk.applied)
    assert [m.id for m in station.desk.applied] == [message.id]


def test_a_station_that_drops_off_is_shown_offline_by_its_last_will(stations, desk):
    settings, store = desk
    station = stations("s2").start()
    console.collect(settings, store, quiet_s=0.5)
    assert console.status(store)[0].state == "online"
    link = station.link
    assert link is not None
    link.client.loop_stop()  # the station's network goes away: no goodbye
    link.client.socket().close()
    time.sleep(2.0)
    console.collect(settings, store, quiet_s=0.5)
    assert console.status(store)[0].state == "online"  # a short drop does not flap
    wait_until(lambda: console.collect(settings, store, quiet_s=0.3) >= 0
               and console.status(store)[0].state == "offline", timeout=40)  # fmt: skip
    station.link = None
    link._stopping.set()  # what remains of the "crashed" link: its worker, then its files
    link._wake.set()
    link._worker.join(5)
    link.log.close()
    link.store.close()


# paho leaves the socket of a refused TLS handshake to the garbage collector (a ResourceWarning).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_station_talks_to_a_tls_broker_and_refuses_one_it_cannot_verify(tmp_path):
    broker = Broker(TOWNS, tls=True).start()
    try:
        station = Station(broker, tmp_path, "s1", "jiujiang").start()  # verified with the town's CA
        message = Message.new("send", "town-office", {"announcement": "hygiene"})
        console.send(broker.settings("console"), ConsoleStore(tmp_path / "console.sqlite"), message, "s1")
        wait_until(lambda: station.desk.applied)
        station.stop()
        # Without the town's CA the broker's certificate is not trusted: no connection.
        doubtful = FleetLink(broker.settings("s2", "jiujiang", ca_file=None), Desk(), station.log.path,
                             tmp_path / "s2.sqlite", lambda: dt.datetime.now(dt.UTC)).start()  # fmt: skip
        time.sleep(2.0)
        assert not doubtful.connected.is_set()
        doubtful.stop()
        station.log.close()
    finally:
        broker.remove()


def test_the_web_page_shows_the_stations_and_what_became_of_each_message(stations, broker, tmp_path):
    """The console's face in the web page: what ``fleet status`` and ``fleet report`` say, for an operator."""
    import re

    from starlette.testclient import TestClient

    from broadcaster.i18n import set_language
    from broadcaster.web.app import make_app
    from broadcaster.web.users import UserStore
    from tests.broker import PASSWORD

    office = tmp_path / "office"
    (office / "announcements").mkdir(parents=True)
    secret = PASSWORD.format(user="console")
    (office / "config.yaml").write_text(
        f"timezone: Asia/Shanghai\nfleet:\n  broker: mqtt://127.0.0.1:{broker.port}\n  id: console\n"
        f"  username: console\n  password: {secret}\n", encoding="utf-8")  # fmt: skip
    settings, store = broker.settings("console"), ConsoleStore(office / console.CONSOLE_DB)
    console.collect(settings, store, quiet_s=0.3)  # the console's session exists from now on
    s1, s3 = stations("s1").start(), stations("s3", town="lecong").start()
    message = Message.new("send", "console", {"announcement": "hygiene"})
    console.send(settings, store, message, "all")
    wait_until(lambda: s1.desk.applied and s3.desk.applied)
    s1.play("hygiene", by=f"fleet:{message.id}:console")
    wait_until(lambda: _confirmed(s1) > 0)
    s3.stop()  # a clean stop: offline at once

    def answered() -> bool:
        console.collect(settings, store, quiet_s=0.3)
        return [line.state for line in console.report(store, message.id)[1]] == ["aired", "taken"]

    wait_until(answered)
    store.close()
    users = UserStore(office / "data" / "users.sqlite")
    users.add("wang", "village-2020", "operator")
    users.add("li", "village-2020", "secretary")
    set_language("zh_CN")
    try:
        app = make_app(office / "config.yaml", users, secret="s")
        with TestClient(app, base_url="http://localhost") as web:
            def login(name: str) -> None:
                csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/login").text)[1]  # type: ignore[index]
                web.post("/login", data={"name": name, "password": "village-2020", "csrf": csrf})

            login("li")
            assert web.get("/fleet").status_code == 403  # a secretary's role does not see the town
            login("wang")
            assert 'href="/fleet"' in web.get("/").text  # in the menu, as the config has a fleet
            page = web.get("/fleet").text
            assert re.search(r"<td>s1</td><td>jiujiang</td><td[^>]*>在线</td>", page), page
            assert re.search(r"<td>s3</td><td>lecong</td><td[^>]*>离线</td>", page), page
            sent = re.search(rf'<a href="/fleet/{message.id}">[^<]+</a></td><td>播放</td><td>hygiene</td>'
                             r"<td>all</td><td>(\d+) / (\d+)</td>", page)  # fmt: skip
            assert sent and sent.groups() == ("1", "2"), page
            report = web.get(f"/fleet/{message.id[:8]}").text
            assert "2 个中 1 个已播出，1 个未完成，0 个失败或拒绝" in report, report
            assert re.search(r"<td>s1</td><td[^>]*>已播出</td>", report), report
            assert re.search(r"<td>s3</td><td[^>]*>已接收，尚未播放</td>", report), report
            assert web.get("/fleet/nosuch").status_code == 404
    finally:
        set_language("en")
        users.close()


def test_a_broker_that_is_not_there_is_said_in_words(tmp_path):
    from broadcaster.config import FleetSettings
    from tests.broker import free_port

    settings = FleetSettings(broker=f"mqtt://127.0.0.1:{free_port()}", id="office")
    with pytest.raises(BroadcasterError) as refused:
        console.collect(settings, ConsoleStore(tmp_path / "console.sqlite"))
    assert str(refused.value).endswith("nothing answers at that address and port: is the broker running, "
                                       "is the port right?")  # fmt: skip
    assert "Errno" not in str(refused.value)
