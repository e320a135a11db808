"""Plays per day by outcome, drawn on the server as SVG: no chart library, nothing from a CDN."""

from __future__ import annotations

import datetime as dt
import gettext
from html import escape

from broadcaster.i18n import N_

OUTCOMES = (("completed", "#2e7d32"), ("dropout", "#f9a825"), ("interrupted", "#6d4c41"),
            ("failed", "#c62828"), ("missed", "#757575"))  # fmt: skip
TITLE = N_("plays per day")
NAMES = {"completed": "completed", "dropout": "with dropouts", "interrupted": "interrupted",
         "failed": "failed", "missed": "missed"}  # fmt: skip
"""The words of ``broadcaster log`` (their translations are in the catalog)."""
DAYS = 14
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 360, 200, 30, 30, 10


def plays_per_day_svg(report: list[dict[str, object]], last: dt.date,
                      catalog: gettext.NullTranslations) -> str:  # fmt: skip
    """A stacked bar per day (the ``DAYS`` days up to ``last``), one colour per outcome, with a legend."""
    days = [last - dt.timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    counts = {day.isoformat(): dict.fromkeys(NAMES, 0) for day in days}
    for row in report:
        tally = counts.get(str(row["day"]))
        if tally is not None:
            for outcome in NAMES:
                tally[outcome] += int(str(row.get(outcome, 0)))
    top = max([sum(day.values()) for day in counts.values()] + [1])
    step = (WIDTH - LEFT) / DAYS
    plot = HEIGHT - BOTTOM - TOP
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT + 40}" role="img"'
             f' class="chart"><title>{escape(catalog.gettext(TITLE))}</title>',
             f'<text x="0" y="{TOP + 8}" font-size="10">{top}</text>',
             f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - BOTTOM}" stroke="#999"/>']
    for index, day in enumerate(days):
        x = LEFT + index * step + 2
        y: float = HEIGHT - BOTTOM
        for outcome, colour in OUTCOMES:
            count = counts[day.isoformat()][outcome]
            if count:
                height = plot * count / top
                y -= height
                label = f"{day.isoformat()} {catalog.gettext(NAMES[outcome])}: {count}"
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 4:.1f}" height="{height:.1f}"'
                             f' fill="{colour}" data-outcome="{outcome}">'
                             f"<title>{escape(label)}</title></rect>")
        if index % 2 == 0:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="9">{day:%m-%d}</text>')
    for index, (outcome, colour) in enumerate(OUTCOMES):
        x = LEFT + index * 66
        parts.append(f'<rect x="{x}" y="{HEIGHT + 8}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 13}" y="{HEIGHT + 17}" font-size="10">'
                     f"{escape(catalog.gettext(NAMES[outcome]))}</text>")
    parts.append("</svg>")
    return "".join(parts)
