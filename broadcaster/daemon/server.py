"""The server side of the control socket: one JSON request per connection, answered by the daemon."""

from __future__ import annotations

import json
import logging
import os
import select
import socketserver
import threading
from pathlib import Path

from broadcaster.errors import AudioError, BroadcasterError

logger = logging.getLogger(__name__)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from broadcaster.daemon.run import Daemon


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon: Daemon


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    """One request per connection: a JSON line in; progress lines, then the answer line, out."""

    def handle(self) -> None:
        daemon = self.server.daemon
        try:
            request = json.loads(self.rfile.readline())
            answer = self._dispatch(daemon, request)
        except (BroadcasterError, AudioError, ValueError, KeyError) as exc:
            answer = {"error": str(exc)}
        self._write(answer)

    def _write(self, message: dict[str, object]) -> None:
        try:
            self.wfile.write((json.dumps(message, ensure_ascii=False) + "\n").encode())
            self.wfile.flush()
        except OSError:
            logger.debug("the control client went away", exc_info=True)

    def _dispatch(self, daemon: Daemon, request: dict) -> dict:
        command = request.get("command")
        zones = request.get("zones") or None
        if command == "status":
            return daemon.status()
        if command == "cap":
            return daemon.cap(str(request["xml"]))
        if command == "live":
            return self._live(daemon, zones, request)
        if command == "send":
            return daemon.send(request["announcement"], zones, request.get("priority", "now"),
                               lambda text: self._write({"progress": text}))  # fmt: skip
        chosen = [z for z in daemon.station.zones if zones is None or z in zones]
        if command == "stop":
            return {"stopped": daemon.station.stop(chosen, "stopped by the operator")}
        if command == "skip":
            return {"skipped": daemon.station.skip(chosen)}
        if command == "reload":
            daemon.reload_requested.set()
            return {"reload": "requested"}
        raise ValueError(f"unknown command {command!r}")


    def _live(self, daemon: Daemon, zones: list[str] | None, request: dict) -> dict:
        """A talk lasts as long as this connection: it ends on ``{"command": "end"}`` or when the
        client goes away. Each change of state is sent as a progress line."""
        from broadcaster.daemon.live import summary

        talk = daemon.live.start(zones, str(request.get("by") or ""), request.get("input") or None)
        shown = None
        while not talk.over.wait(0.02):
            states = talk.zone_states()
            if states != shown:
                shown = states
                behind = {str(z["zone"]): z["playing"] for z in daemon.station.snapshot
                          if states.get(str(z["zone"])) == "waiting" and z["playing"]}  # fmt: skip
                self._write({"progress": _talk_line(states), "zones": states, "behind": behind})
            readable, _w, _x = select.select([self.connection], [], [], 0.03)
            if readable and not talk.ended.is_set():
                line = self.rfile.readline()
                talk.end("" if line else "the terminal went away")
        return summary(talk)


def _talk_line(states: dict[str, str]) -> str:
    """``on air: a, b; waiting: c`` (the client shows it in its own words)."""
    by_state: dict[str, list[str]] = {}
    for zone, state in states.items():
        by_state.setdefault(state, []).append(zone)
    return "; ".join(f"{state}: {', '.join(zones)}" for state, zones in by_state.items())


class _ControlServer:
    """The control socket: its file permissions (owner and group) decide who may use it."""

    def __init__(self, path: Path, daemon: Daemon) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        old = os.umask(0o117)  # srw-rw----
        try:
            self.server = _Server(str(path), _Handler)
        finally:
            os.umask(old)
        self.server.daemon = daemon
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="control", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.path.unlink(missing_ok=True)

