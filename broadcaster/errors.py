"""The exceptions a user of broadcaster can meet, all under one root.

The CLI turns any :class:`BroadcasterError` into one line and exit code 1;
anything else is a bug and shows a traceback only with ``--verbose``.
"""

from __future__ import annotations

from broadcaster.i18n import _

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~6 ms on `send`'s path

if TYPE_CHECKING:
    from broadcaster.i18n import Msg
    from broadcaster.schema.problems import Problem


class BroadcasterError(Exception):
    """Root of every error broadcaster reports to its user."""


class MessageError(BroadcasterError):
    """An error whose ``message`` is kept as a :class:`~broadcaster.i18n.Msg`, so that a page
    serving several people shows it to each in their own language."""

    def __init__(self, message: Msg) -> None:
        super().__init__(str(message))
        self.message = message


class ContentError(BroadcasterError):
    """Raised when content or config files have errors and cannot be used.

    Carries every problem found, so the caller can print each with its place.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.is_error]
        super().__init__(_("{count} error(s) in content files").format(count=len(errors)))


class UnknownAnnouncementError(BroadcasterError):
    """Raised when a command names an announcement id or file that does not exist."""

    def __init__(self, name: str, suggestion: str | None = None) -> None:
        self.name = name
        self.suggestion = suggestion
        super().__init__(name)


class SpeechError(BroadcasterError):
    """Raised when no text-to-speech engine could produce verified audio."""

    def __init__(self, what: str, tried: list[str]) -> None:
        self.what = what
        self.tried = tried
        message = _("{what}: no engine produced usable speech ({tried})")
        super().__init__(message.format(what=what, tried="; ".join(tried)))


class EngineError(BroadcasterError):
    """Raised by one engine when it fails, times out or returns unusable audio."""

    def __init__(self, engine: str, reason: str) -> None:
        self.engine = engine
        self.reason = reason
        super().__init__(_("{engine}: {reason}").format(engine=engine, reason=reason))


class AudioError(BroadcasterError):
    """Raised when audio cannot be read, written or played."""
