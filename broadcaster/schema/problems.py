"""Problems found in files: where (path, line, column) and what, with a hint.

Checking never stops at the first problem: every loader appends to a
:class:`Problems` list, and the CLI prints them all at the end.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from broadcaster.i18n import Msg, _

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One error or warning at a place in a file (line and column are 1-based)."""

    path: Path
    line: int
    column: int
    severity: str
    message: Msg
    hint: Msg | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def render(self, relative_to: Path | None = None) -> str:
        """``PATH:LINE:COL: error: message; hint`` in the current language."""
        path = self.path
        if relative_to is not None:
            try:
                path = self.path.resolve().relative_to(relative_to.resolve())
            except ValueError:
                pass
        kind = _("error") if self.is_error else _("warning")
        text = f"{path}:{self.line}:{self.column}: {kind}: {self.message}"
        if self.hint is not None:
            text += _("; ") + str(self.hint)
        return text


class Problems(list[Problem]):
    """The problems collected while loading one set of files.

    With ``warnings=False`` only errors are kept, and checks that can only warn are
    skipped (for commands that use content rather than report on it).
    """

    def __init__(self, warnings: bool = True) -> None:
        super().__init__()
        self.wants_warnings = warnings

    def error(self, path: Path, line: int, column: int, message: Msg, hint: Msg | None = None):
        self.append(Problem(path, line, column, ERROR, message, hint))

    def warning(self, path: Path, line: int, column: int, message: Msg, hint: Msg | None = None):
        if self.wants_warnings:
            self.append(Problem(path, line, column, WARNING, message, hint))

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self)

    def errors_in(self, path: Path) -> list[Problem]:
        return [p for p in self if p.is_error and p.path == path]


def did_you_mean(word: str, choices: Iterable[str]) -> Msg | None:
    """A "did you mean …" hint for the closest of ``choices``, or None."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        return None
    return Msg.of("did you mean '{suggestion}'?", suggestion=close[0])
