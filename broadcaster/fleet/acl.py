"""The broker's access list for a fleet: each station reads its own, its town's and the county's
topics and writes only its own presence, answers and receipts; consoles read and write all.

Mosquitto's ``%u`` is the user name: each station logs in with its station id.
"""

from __future__ import annotations

from broadcaster.fleet.messages import PREFIX


def acl_text(towns: dict[str, list[str]], consoles: list[str]) -> str:
    lines = [
        "# Written by 'broadcaster fleet acl'. Each station logs in with its station id as user name.",
        "# Every station: its own topics.",
        f"pattern write {PREFIX}/presence/%u",
        f"pattern write {PREFIX}/ack/%u",
        f"pattern write {PREFIX}/receipt/%u",
        f"pattern read {PREFIX}/station/%u",
        f"pattern read {PREFIX}/all",
        "",
    ]
    for town, stations in sorted(towns.items()):
        for station in stations:
            lines += [f"user {station}", f"topic read {PREFIX}/town/{town}", ""]
    for console in consoles:
        lines += ["# A console: sends to every station, reads every answer.", f"user {console}",
                  f"topic readwrite {PREFIX}/#", ""]  # fmt: skip
    return "\n".join(lines)
