"""What the station does with a message from the town (and with a CAP alert given to ``broadcaster cap``).

Content is checked like a local file and written under ``announcements/`` or
``playlists/``, where the file watcher finds it, renders it before its slots and
keeps the last good version, as for any edit. A file written here starts with a
comment naming the message and its sender; a file without it (the station's own)
is never overwritten from outside. ``send`` and CAP alerts play through the
station's ``send``, with the message's id in the play rows (``started_by``), so
each receipt says which message it answers.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.content.load import load_announcement, load_playlist
from broadcaster.content.models import CLIP_SUFFIXES, CLIPS_DIR
from broadcaster.errors import BroadcasterError
from broadcaster.fleet.cap import decide, read_alert
from broadcaster.fleet.messages import Message, MessageError, check_name
from broadcaster.i18n import _
from broadcaster.language import Language
from broadcaster.schema.problems import Problems

if TYPE_CHECKING:
    from broadcaster.daemon.run import Daemon

logger = logging.getLogger(__name__)

MARK = "# written by the fleet link"


class FleetOrders:
    """The daemon's side of :class:`broadcaster.fleet.link.Station`."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    @property
    def root(self) -> Path:
        return self.daemon._content.config.root

    def fleet_presence(self) -> dict[str, object]:
        snapshot = self.daemon.station.snapshot
        return {
            "zones": [zone["zone"] for zone in snapshot],
            "playing": {str(zone["zone"]): zone["playing"] for zone in snapshot if zone["playing"]},
            "errors": self.daemon.errors[:5],
        }

    def fleet_apply(self, message: Message) -> dict[str, object]:
        body = message.body
        if message.kind in ("announcement", "playlist"):
            name = check_name(body.get("name"), message.kind)
            path = self.write(message.kind, name, _text(body, "yaml"), message)
            return {"wrote": str(path.relative_to(self.root))}
        by = f"fleet:{message.id}:{message.sender}"
        if message.kind == "send":
            return self.send(message, by)
        if message.kind == "stop":
            zones = self._zones(body.get("zones"))
            reason = f"stopped by the town ({message.sender})"
            return {"stopped": self.daemon.station.stop(zones, reason)}
        return self.cap(_text(body, "xml").encode(), by)

    def send(self, message: Message, by: str) -> dict[str, object]:
        body = message.body
        name = body.get("announcement")
        if body.get("yaml"):
            name = check_name(body.get("name") or f"fleet-{message.id[:8]}", "announcement")
            name = str(self.write("announcement", name, _text(body, "yaml"), message))
        if not isinstance(name, str):
            raise MessageError(_("the send names no announcement"))
        priority = "emergency" if body.get("priority") == "emergency" else "now"
        zones = self._zones(body.get("zones"))
        return self.daemon.send(name, zones, priority, by=by)

    def cap(self, xml: bytes, by: str) -> dict[str, object]:
        """A CAP alert: not aired, aired, or stopping earlier ones (see :mod:`broadcaster.fleet.cap`)."""
        config = self.daemon._content.config
        fleet = config.fleet
        alert = read_alert(xml)
        language = Language(fleet.language) if fleet else Language.MANDARIN
        geocodes = set(fleet.geocodes) if fleet else set()
        decision = decide(alert, language, geocodes, dt.datetime.now(dt.UTC))
        if decision.stops:
            self.daemon.station.drop(list(decision.stops), f"replaced or cancelled by CAP {alert.identifier}")
        if not decision.air:
            logger.info("CAP %s from %s not aired: %s", alert.identifier, alert.sender, decision.reason)
            return {"aired": False, "reason": decision.reason, "stopped": list(decision.stops)}
        path = self.root / "announcements" / f"{decision.announcement}.yaml"
        if path.exists():  # the same alert again (a resend, another route): aired once
            logger.info("CAP %s from %s was received before: not aired again", alert.identifier, alert.sender)
            return {"aired": False, "reason": "received before: aired once", "stopped": list(decision.stops)}
        self._write_checked(path, decision.yaml, f"{MARK}: CAP {alert.identifier} from {alert.sender}",
                            load_announcement)  # fmt: skip
        answer = self.daemon.send(str(path), None, "emergency", by=by)
        return {"aired": True, "announcement": decision.announcement, **answer}

    # --- files ---------------------------------------------------------------------------------------

    def write(self, kind: str, name: str, text: str, message: Message) -> Path:
        if kind == "announcement":
            self._clips(message.body.get("clips") or {})
        folder = "announcements" if kind == "announcement" else "playlists"
        loader = load_announcement if kind == "announcement" else _load_playlist
        path = self.root / folder / f"{name}.yaml"
        self._write_checked(path, text, f"{MARK}: {message.id} from {message.sender}", loader)
        return path

    def _write_checked(self, path: Path, text: str, mark: str, loader) -> None:
        if path.exists() and not path.read_text(encoding="utf-8", errors="replace").startswith(MARK):
            raise MessageError(_("{path} is the station's own file; the town cannot replace it").format(
                path=path.relative_to(self.root)))  # fmt: skip
        content = f"{mark}\n{text if text.endswith(chr(10)) else text + chr(10)}"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".fleet-", suffix=".yaml", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(content)
            problems = Problems()
            loader(Path(temp), self.root, problems)
            errors = [p.render(path.parent).replace(Path(temp).name, path.name)
                      for p in problems if p.is_error]  # fmt: skip
            if errors:
                raise MessageError("; ".join(errors))
            os.replace(temp, path)
        finally:
            Path(temp).unlink(missing_ok=True)
        self.daemon.reload_requested.set()

    def _clips(self, clips: object) -> None:
        """Recordings sent with an announcement, written under clips/ before it is checked."""
        if not isinstance(clips, dict):
            raise MessageError(_("'clips' should map clips/NAME to the file's bytes (base64)"))
        for name, encoded in clips.items():
            path = Path(str(name))
            if path.parent != Path(CLIPS_DIR) or path.suffix.lower() not in CLIP_SUFFIXES or not path.stem:
                raise MessageError(_("'{name}' is not a clip name like clips/NAME.wav").format(name=name))
            try:
                data = base64.b64decode(str(encoded), validate=True)
            except ValueError as exc:
                raise MessageError(_("clip '{name}' is not base64").format(name=name)) from exc
            target = self.root / path
            if target.exists() and target.read_bytes() != data:
                message = _("{path} is the station's own file; the town cannot replace it")
                raise MessageError(message.format(path=path))
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".fleet-{target.name}")
            temp.write_bytes(data)
            os.replace(temp, target)

    def _zones(self, zones: object) -> list[str]:
        known = list(self.daemon.station.zones)
        if not zones:
            return known
        if not isinstance(zones, list):
            raise MessageError(_("'zones' should be a list"))
        here = [zone for zone in zones if zone in known]
        if not here:
            message = _("none of the zones {zones} is on this station")
            raise BroadcasterError(message.format(zones=", ".join(map(str, zones))))
        return here


def _text(body: dict[str, object], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MessageError(_("the message has no {field}").format(field=key))
    return value


def _load_playlist(path: Path, root: Path, problems: Problems):
    return load_playlist(path, problems)
