"""A real Mosquitto broker for the fleet's tests: a loopback port, passwords, the fleet's ACL,
persistence on disk (so a restart keeps queued messages), started and stopped by the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from broadcaster.config import FleetSettings
from broadcaster.fleet.acl import acl_text

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PASSWORD = "secret-{user}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    def __init__(self, towns: dict[str, list[str]], consoles: tuple[str, ...] = ("console",),
                 tls: bool = False) -> None:  # fmt: skip
        self.towns, self.consoles, self.tls = towns, consoles, tls
        self.dir = Path(tempfile.mkdtemp(prefix="broadcaster-broker-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        users = [station for stations in towns.values() for station in stations] + list(consoles)
        passwd = self.dir / "passwd"
        passwd.touch()
        for user in users:
            command = ["mosquitto_passwd", "-b", str(passwd), user, PASSWORD.format(user=user)]
            subprocess.run(command, check=True, capture_output=True)
        (self.dir / "acl").write_text(acl_text(towns, list(consoles)))
        (self.dir / "data").mkdir()
        tls_lines = self._certificates() if tls else ""
        (self.dir / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\n{tls_lines}allow_anonymous false\npassword_file {passwd}\n"
            f"acl_file {self.dir / 'acl'}\npersistence true\npersistence_location {self.dir / 'data'}/\n"
            f"log_dest file {self.dir / 'mosquitto.log'}\nlog_type all\nmax_queued_messages 10000\n"
        )  # fmt: skip
        if os.geteuid() == 0:  # mosquitto started as root runs as its own user: it must read its files
            for path in [self.dir, *self.dir.iterdir()]:
                shutil.chown(path, "mosquitto")

    def _certificates(self) -> str:
        """A test CA and a server certificate for 127.0.0.1; the listener's TLS lines."""
        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=self.dir, check=True, capture_output=True)

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                "-days", "2", "-subj", "/CN=broadcaster test CA")  # fmt: skip
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                "-subj", "/CN=127.0.0.1")  # fmt: skip
        (self.dir / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "server.pem", "-days", "2", "-extfile", "san.cnf")  # fmt: skip
        return (f"cafile {self.dir / 'ca.pem'}\ncertfile {self.dir / 'server.pem'}\n"
                f"keyfile {self.dir / 'server.key'}\n")  # fmt: skip

    @staticmethod
    def available() -> bool:
        return Path(MOSQUITTO).exists() and shutil.which("mosquitto_passwd") is not None

    def start(self) -> Broker:
        with (self.dir / "stderr.log").open("ab") as stderr:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.dir / "mosquitto.conf")],
                                            stdout=subprocess.DEVNULL, stderr=stderr)  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    stderr_text = (self.dir / "stderr.log").read_text(errors="replace")
                    raise RuntimeError(f"mosquitto did not start: {stderr_text} {self.log()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stopped as a service is (SIGTERM): it saves what it keeps for offline clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        path = self.dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def settings(self, user: str, town: str = "", **more) -> FleetSettings:  # type: ignore[no-untyped-def]
        if self.tls:
            more.setdefault("ca_file", self.dir / "ca.pem")
        scheme = "mqtts" if self.tls else "mqtt"
        return FleetSettings(broker=f"{scheme}://127.0.0.1:{self.port}", id=user, town=town, username=user,
                             password=PASSWORD.format(user=user), **more)  # fmt: skip
