"""User-facing language: Simplified Chinese or English, through gettext.

Messages are written in English in the code and translated by the catalog in
``broadcaster/locale``. :class:`Msg` keeps a message as data (template and
arguments) so it is translated when shown, not when made.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~6 ms on `send`'s path

if TYPE_CHECKING:
    from typing import Any

DOMAIN = "broadcaster"
LOCALE_DIR = Path(__file__).parent / "locale"
UI_LANGUAGES = ("auto", "zh_CN", "en")

_translation: gettext.NullTranslations = gettext.NullTranslations()


def _(message: str) -> str:
    """Translate ``message`` into the current user-interface language."""
    return _translation.gettext(message)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark ``message`` for translation without translating it yet."""
    return message


def language_from_environment(environ: os._Environ[str] | dict[str, str] | None = None) -> str:
    """Return ``zh_CN`` when the locale variables ask for Chinese, else ``en``."""
    env = os.environ if environ is None else environ
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "zh_CN" if value.lower().startswith("zh") else "en"
    return "en"


def set_language(language: str = "auto") -> str:
    """Switch the interface language (``auto``, ``zh_CN`` or ``en``); return the one chosen."""
    global _translation
    chosen = language_from_environment() if language == "auto" else language
    if chosen.startswith("zh"):
        _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=["zh_CN"], fallback=True)
        chosen = "zh_CN"
    else:
        _translation = gettext.NullTranslations()
        chosen = "en"
    return chosen


def translations(language: str) -> gettext.NullTranslations:
    """The catalog of ``language`` (``zh_CN`` or ``en``) for code that serves several people at
    once, each in their language (the web page); :func:`_` follows the one process-wide choice."""
    if language.startswith("zh"):
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=["zh_CN"], fallback=True)
    return gettext.NullTranslations()


class Msg:
    """A translatable message: an English template and its named arguments. Immutable.

    A plain class rather than a dataclass: ``dataclasses`` costs ~20 ms to import, and
    this module is on the path of ``broadcaster send --priority emergency``.
    """

    __slots__ = ("template", "args")
    template: str
    args: dict[str, Any]

    def __init__(self, template: str, args: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "args", dict(args or {}))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Msg is immutable (cannot set {name})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Msg) and (self.template, self.args) == (other.template, other.args)

    __hash__ = None  # type: ignore[assignment]  # equal by value, and its args may not be hashable

    def __repr__(self) -> str:
        return f"Msg({self.template!r}, {self.args!r})"

    @classmethod
    def of(cls, template: str, **args: Any) -> Msg:
        return cls(template, args)

    def __str__(self) -> str:
        return _(self.template).format(**self.args)

    def in_language(self, catalog: gettext.NullTranslations) -> str:
        """The message in ``catalog``'s language (messages among the arguments too)."""
        args = {k: v.in_language(catalog) if isinstance(v, Msg) else v for k, v in self.args.items()}
        return catalog.gettext(self.template).format(**args)
