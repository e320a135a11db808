"""The client side of the station's control socket, for ``send``, ``stop``, ``skip`` and ``status``.

A leaf on purpose: a person waits on these commands, so this module imports
only the standard library and broadcaster's leaves, never the station.

The protocol, one connection per request: the client sends one JSON line; the
station answers with zero or more progress lines ``{"progress": "<text>"}``
and then one final line, either ``{"error": "<text>"}`` or the result object.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

from broadcaster.errors import BroadcasterError
from broadcaster.i18n import _

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~6 ms on `send`'s path

if TYPE_CHECKING:
    from typing import Any

SOCKET = Path("data") / "broadcaster.sock"


def socket_path(root: Path) -> Path:
    """Where the station whose content lives in ``root`` listens."""
    return root / SOCKET


def call(
    path: Path,
    request: dict[str, object],
    timeout: float = 10.0,
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Send one request to a running station and return its final answer.

    ``timeout`` bounds each wait for the station, not the whole call: every
    progress line shows the station is alive (a render can take a while).
    Raises :class:`BroadcasterError` when no station answers or it answers an error.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        _connect(sock, path)
        sock.sendall((json.dumps(request, ensure_ascii=False) + "\n").encode())
        with sock.makefile("rb") as lines:
            while True:
                answer = _read_answer(lines, path, timeout)
                if "progress" in answer:
                    if on_progress is not None:
                        on_progress(str(answer["progress"]))
                    continue
                if "error" in answer:
                    raise BroadcasterError(str(answer["error"]))
                return answer


def _connect(sock: socket.socket, path: Path) -> None:
    try:
        sock.connect(str(path))
    except FileNotFoundError as exc:
        raise BroadcasterError(_("no station is running here (no {path})").format(path=path)) from exc
    except PermissionError as exc:
        raise BroadcasterError(_("not allowed to control the station ({path})").format(path=path)) from exc
    except ConnectionRefusedError as exc:
        raise BroadcasterError(_("no station is running here ({path} is stale)").format(path=path)) from exc
    except TimeoutError as exc:
        raise _no_answer(path, timeout=sock.gettimeout() or 0.0) from exc


def _read_answer(lines, path: Path, timeout: float) -> dict[str, object]:
    """The next JSON line from the station."""
    try:
        line = lines.readline()
    except TimeoutError as exc:
        raise _no_answer(path, timeout) from exc
    if not line.endswith(b"\n"):
        message = _("the station closed the connection without an answer ({path})")
        raise BroadcasterError(message.format(path=path))
    try:
        answer = json.loads(line)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        message = _("the station sent an answer that is not JSON ({path})")
        raise BroadcasterError(message.format(path=path))
    return answer


def _no_answer(path: Path, timeout: float) -> BroadcasterError:
    message = _("the station did not answer within {seconds:g} s ({path})")
    return BroadcasterError(message.format(seconds=timeout, path=path))


class Talk:
    """A live talk on a running station (``broadcaster live``): it lasts as long as this connection.

    The station sends a line each time a zone changes state (waiting, chime, on air,
    over) and a last line with how the talk ended; :meth:`end` asks it to end.
    """

    def __init__(self, path: Path, request: dict[str, object], timeout: float = 10.0) -> None:
        import queue
        import threading

        self.path, self.timeout = path, timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            _connect(self.sock, path)
            line = json.dumps({**request, "command": "live"}, ensure_ascii=False) + "\n"
            self.sock.sendall(line.encode())
        except BaseException:
            self.sock.close()
            raise
        self.sock.settimeout(None)  # a talk may be long; the station's lines come when something changes
        self.events: queue.SimpleQueue[dict[str, Any] | BroadcasterError] = queue.SimpleQueue()
        threading.Thread(target=self._read, name="talk", daemon=True).start()

    def _read(self) -> None:
        with self.sock.makefile("rb") as lines:
            while True:
                try:
                    answer = _read_answer(lines, self.path, self.timeout)
                except (BroadcasterError, OSError) as exc:
                    self.events.put(exc if isinstance(exc, BroadcasterError) else BroadcasterError(str(exc)))
                    return
                if "error" in answer:
                    self.events.put(BroadcasterError(str(answer["error"])))
                    return
                self.events.put(answer)
                if "progress" not in answer:
                    return

    def end(self) -> None:
        try:
            self.sock.sendall(b'{"command": "end"}\n')
        except OSError:
            pass  # the station has already ended it

    def close(self) -> None:
        self.sock.close()
