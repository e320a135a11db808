"""The fleet at the size of a county's town: 200 stations on one Mosquitto broker.

Run:  .venv/bin/python bench/bench_fleet.py [--stations 200] [--offline 0.2] [--back-after 120]

Each simulated station is the real station side (:class:`FleetLink`: persistent MQTT v5
session, inbox on disk, receipts from a real SQLite play log) with a stand-in for the
sound: a message to play becomes a completed play row at once. They run 25 to a worker
process (threads inside): paho's network loop uses ``select()``, which cannot watch file
descriptors above 1024, and a station holds about a dozen (its socket, its SQLite files);
a real station is one process of its own. The console is the real ``broadcaster fleet
send`` in a new process, imports included.

1. All online: from launching ``fleet send --priority emergency --to all`` to the last
   station's receipt at a listener on the broker; receipts complete (n/n).
2. 20 % offline during the send (their links stopped, sessions kept by the broker),
   back after ``--back-after`` seconds: receipts complete, and the time to the last.
Broker and client CPU and memory are read from /proc.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from broadcaster.fleet.link import FleetLink, connect_properties, mqtt_client  # noqa: E402
from broadcaster.fleet.messages import Message  # noqa: E402
from broadcaster.playlog import PlayLog  # noqa: E402
from tests.broker import PASSWORD, Broker  # noqa: E402

TOWNS = 10


class Desk:
    """A station's sound, simulated: a message to play is a completed play row, written at once."""

    def __init__(self, log: PlayLog) -> None:
        self.log = log

    def fleet_apply(self, message: Message) -> dict[str, object]:
        now = dt.datetime.now(dt.UTC)
        row = self.log.start(str(message.body.get("announcement")), "h", "square", "emergency", now, now,
                             started_by=f"fleet:{message.id}:{message.sender}")  # fmt: skip
        self.log.finish(row, "completed", now)
        return {"sent": message.body.get("announcement")}

    def fleet_presence(self) -> dict[str, object]:
        return {"zones": ["square"], "playing": {}, "errors": []}


class SimStation:
    def __init__(self, broker: Broker, folder: Path, name: str, town: str) -> None:
        self.broker, self.name, self.town = broker, name, town
        self.folder = folder / name
        self.folder.mkdir()
        self.log = PlayLog(self.folder / "playlog.sqlite")
        self.link: FleetLink | None = None

    def start(self) -> None:
        settings = self.broker.settings(self.name, self.town)
        self.link = FleetLink(settings, Desk(self.log), self.log.path, self.folder / "fleet.sqlite",
                              lambda: dt.datetime.now(dt.UTC)).start()  # fmt: skip

    def stop(self) -> None:
        if self.link is not None:
            self.link.stop()
            self.link = None


class Receipts:
    """A listener on every station's receipts: when each message's receipts arrived."""

    def __init__(self, broker: Broker) -> None:
        self.arrived: dict[str, dict[str, float]] = {}
        self.lock = threading.Lock()
        self.client = mqtt_client(broker.settings("bench"), f"bench-{os.getpid()}")
        ready = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: ready.set()
        self.client.on_connect = lambda client, *args: client.subscribe("bc/receipt/+", 1)
        self.client.connect("127.0.0.1", broker.port, properties=connect_properties(0))  # the bench's own
        self.client.loop_start()
        ready.wait(10)

    def _on_message(self, client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        body = json.loads(message.payload)
        with self.lock:
            self.arrived.setdefault(str(body.get("message")), {}).setdefault(body["station"], time.time())

    def count(self, message: str) -> int:
        with self.lock:
            return len(self.arrived.get(message, {}))

    def last(self, message: str) -> float:
        with self.lock:
            return max(self.arrived[message].values())


def proc_usage(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and resident memory (MiB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS"))  # fmt: skip
    return cpu, rss / 1024


def send(office: Path, env: dict[str, str]) -> tuple[str, float]:
    launched = time.time()
    result = subprocess.run([sys.executable, "-m", "broadcaster", "fleet", "send", "hygiene", "--to", "all",
                             "--priority", "emergency"], cwd=office, env=env, capture_output=True, text=True,
                            check=True)  # fmt: skip
    return result.stdout.split()[2], launched


def wait_for(receipts: Receipts, message: str, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while receipts.count(message) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return receipts.count(message) >= count


def worker(broker_port: int, broker_dir: str, folder: str, names: list[str], town_of: dict[str, str],
           commands) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    """A process hosting some stations; told over a pipe which to start and stop."""
    broker = Broker.__new__(Broker)  # the running broker's address and passwords, not a new one
    broker.port, broker.dir, broker.tls = broker_port, Path(broker_dir), False
    stations = {name: SimStation(broker, Path(folder), name, town_of[name]) for name in names}
    while True:
        command, which = commands.recv()
        if command == "quit":
            break
        for name in which:
            if name in stations:
                getattr(stations[name], command)()
        if command == "start":
            for name in which:
                link = stations[name].link if name in stations else None
                if link is not None:
                    link.connected.wait(30)
        commands.send("done")
    for station in stations.values():
        station.stop()
    commands.send("done")


def main() -> None:
    import multiprocessing

    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--offline", type=float, default=0.2)
    parser.add_argument("--back-after", type=float, default=120.0)
    parser.add_argument("--per-process", type=int, default=25)
    args = parser.parse_args()
    names = [f"s{i:03d}" for i in range(args.stations)]
    towns = {f"town{t}": names[t::TOWNS] for t in range(TOWNS)}
    broker = Broker(towns, consoles=("office", "bench")).start()
    folder = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    office = folder / "office"
    office.mkdir()
    password = PASSWORD.format(user="office")
    (office / "config.yaml").write_text(f"fleet:\n  broker: mqtt://127.0.0.1:{broker.port}\n  id: office\n"
                                        f"  username: office\n  password: {password}\n")  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    town_of = {name: town for town, members in towns.items() for name in members}
    groups = [names[i : i + args.per_process] for i in range(0, len(names), args.per_process)]
    pipes, workers = [], []
    for group in groups:
        mine, theirs = multiprocessing.Pipe()
        work = (broker.port, str(broker.dir), str(folder), group, town_of, theirs)
        process = multiprocessing.Process(target=worker, args=work)
        process.start()
        pipes.append(mine)
        workers.append(process)

    def tell(command: str, which: list[str]) -> None:
        for pipe in pipes:
            pipe.send((command, which))
        for pipe in pipes:
            pipe.recv()

    def clients_usage() -> tuple[float, float]:
        usage = [proc_usage(p.pid) for p in workers if p.pid]  # type: ignore[arg-type]
        return sum(cpu for cpu, _ in usage), sum(rss for _, rss in usage)

    try:
        started = time.monotonic()
        tell("start", names)
        print(f"{args.stations} stations in {len(workers)} processes connected in"
              f" {time.monotonic() - started:.1f} s")  # fmt: skip
        receipts = Receipts(broker)
        time.sleep(2.0)
        cpu0, _ = proc_usage(broker.process.pid)  # type: ignore[union-attr]
        clients0, _ = clients_usage()

        message, launched = send(office, env)
        complete = wait_for(receipts, message, args.stations, 60)
        last = receipts.last(message) - launched if receipts.count(message) else float("nan")
        print(f"all online: 'fleet send --priority emergency --to all' → last receipt {last * 1000:.0f} ms;"
              f" receipts {receipts.count(message)}/{args.stations}{'' if complete else ' (INCOMPLETE)'}")

        gone = names[: round(args.stations * args.offline)]
        tell("stop", gone)
        message, launched = send(office, env)
        wait_for(receipts, message, args.stations - len(gone), 60)
        print(f"{len(gone)} offline: {receipts.count(message)}/{args.stations} receipts before they come back"
              f" (the last after {(receipts.last(message) - launched) * 1000:.0f} ms)")  # fmt: skip
        time.sleep(max(0.0, args.back_after - (time.time() - launched)))
        back = time.time()
        tell("start", gone)
        complete = wait_for(receipts, message, args.stations, 120)
        after = (receipts.last(message) - back) * 1000
        print(f"back after {back - launched:.0f} s: receipts {receipts.count(message)}/{args.stations}"
              f"{'' if complete else ' (INCOMPLETE)'}, the last {after:.0f} ms after they started again")
        cpu1, rss = proc_usage(broker.process.pid)  # type: ignore[union-attr]
        clients1, clients_rss = clients_usage()
        print(f"broker: {cpu1 - cpu0:.2f} s CPU over the two sends and the reconnections,"
              f" {rss:.1f} MiB resident")  # fmt: skip
        each = clients_rss / args.stations
        print(f"the {args.stations} simulated stations: {clients1 - clients0:.2f} s CPU over the same,"
              f" {clients_rss:.0f} MiB resident in all ({each:.1f} MiB a station)")  # fmt: skip
    finally:
        for pipe in pipes:
            pipe.send(("quit", []))
        for process in workers:
            process.join(30)
        broker.remove()


if __name__ == "__main__":
    main()
