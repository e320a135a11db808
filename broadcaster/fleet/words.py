"""The fleet's words as the console shows them (light: the command line imports it at start)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from broadcaster.i18n import N_

STATES = {"online": N_("online"), "offline": N_("offline"), "aired": N_("aired"), "failed": N_("failed"),
          "refused": N_("refused"), "not aired": N_("not aired"), "taken": N_("taken, not played yet"),
          "pending": N_("pending")}  # fmt: skip
"""A station's presence, and what became of a message there."""
KINDS = {"announcement": N_("announcement"), "playlist": N_("playlist"), "send": N_("send"),
         "stop": N_("stop"), "cap": N_("CAP alert")}  # fmt: skip
"""The kinds of message, as ``fleet send`` and ``fleet report`` name them."""


def local_time(at: str, tz: dt.tzinfo) -> str:
    """A station's time (UTC or with an offset) in the console's time zone; as given if unreadable."""
    if not at:
        return ""
    try:
        moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return at
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def outcomes(detail: str, gettext: Callable[[str], str]) -> str:
    """``a completed, b interrupted`` with the play log's words in the reader's language."""
    from broadcaster.playwords import WORDS

    return " ".join(gettext(WORDS[word]) if word in WORDS else word for word in detail.split(" "))
