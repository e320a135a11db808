"""``devices`` and ``play``: sound cards, and playing now (the van's loop)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from broadcaster.cli.common import (
    announcement_arg,
    find_announcement,
    load_station,
    make_renderer,
    now,
    print_table,
    station_config,
)
from broadcaster.errors import BroadcasterError, ContentError
from broadcaster.i18n import _

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~6 ms on `send`'s path

if TYPE_CHECKING:
    from broadcaster.content.models import Content


def cmd_devices(args: argparse.Namespace) -> int:
    from broadcaster.audio.devices import find_device, list_devices

    config = station_config(args)
    devices = list_devices()
    users: dict[int, list[str]] = {}
    problems = []
    for zone in config.zones.values():
        try:
            users.setdefault(find_device(zone.device, devices).index, []).append(zone.name)
        except BroadcasterError as exc:
            problems.append(_("zone '{zone}': {reason}").format(zone=zone.name, reason=exc))
    rows = [("#", _("sound card"), _("channels"), _("zones"))]
    for d in devices:
        rows.append((str(d.index), d.name, str(d.channels), ", ".join(users.get(d.index, [])) or "-"))
    print_table(rows)
    for line in problems:
        print(_("error: {message}").format(message=line), file=sys.stderr)
    return 1 if problems else 0


def _items_to_play(args: argparse.Namespace, content: Content) -> tuple[list, float | None]:
    """Announcements named on the command line; a loop playlist stands for its items."""
    from broadcaster.content.load import load_playlist
    from broadcaster.schema.problems import Problems

    chosen, gap = [], None
    for name in args.items:
        path = Path(name)
        playlist = content.playlists.get(name)
        if playlist is None and path.suffix.lower() in (".yaml", ".yml") and path.parent.name == "playlists":
            problems = Problems()
            playlist = load_playlist(path, problems)
            if problems.has_errors:
                raise ContentError(list(problems))
        if playlist is not None:
            if playlist.loop is None:
                raise BroadcasterError(_("playlist '{id}' has no loop to play").format(id=playlist.id))
            chosen += [find_announcement(content, n) for n in playlist.loop.play]
            gap = playlist.loop.gap_s
            continue
        chosen.append(announcement_arg(args, name)[1])
    return chosen, gap


def cmd_play(args: argparse.Namespace) -> int:
    from broadcaster.cli.terminal import run_interactive
    from broadcaster.config import Zone
    from broadcaster.player.van import VanLoop
    from broadcaster.player.zones import Item, Outputs, Player
    from broadcaster.playlog import PlayLog

    content, problems = load_station(args)
    config = content.config
    config_errors = [p for p in problems if p.is_error and p.path == config.path]
    if config_errors:
        raise ContentError(config_errors)
    announcements, playlist_gap = _items_to_play(args, content)
    if args.device:
        zone = Zone(args.device, args.device)
        zones = {zone.name: zone}
    else:
        name = args.zone or next(iter(config.zones))
        if name not in config.zones:
            from broadcaster.schema.problems import did_you_mean

            hint = did_you_mean(name, config.zones)
            raise BroadcasterError(
                _("unknown zone '{name}'").format(name=name) + (f"; {hint}" if hint else "")
            )
        zones = {name: config.zones[name]}
    renderer = make_renderer(config)
    items = []
    for announcement in announcements:
        rendered = renderer.render(announcement)
        items.append(Item(announcement.id, rendered.path.stem, rendered.path, rendered.duration_s))
    log = PlayLog(config.resolve(config.play_log), config.timezone)
    log.reconcile(now(config))
    outputs = Outputs(zones, lead_s=config.output_lead_s, buffer_s=config.output_buffer_s).open()
    try:
        player = Player(outputs, log, lambda: now(config))
        loops = None if args.forever else args.loop
        gap = args.gap if args.gap is not None else (playlist_gap if playlist_gap is not None else 3.0)
        loop = VanLoop(player, next(iter(zones)), items, loops, gap)
        # Ctrl-C asks the loop to stop (fade, log the play as interrupted) instead of
        # raising wherever the main thread happens to be.
        import signal

        previous = signal.signal(signal.SIGINT, lambda *_: loop.quit("stopped with Ctrl-C"))
        try:
            outcomes = run_interactive(loop)
        except KeyboardInterrupt:
            outcomes = loop.outcomes
            print(_("stopped"), file=sys.stderr)
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        outputs.close()
        log.close()
    failed = [a for a, outcome in outcomes if outcome == "failed"]
    print(_("{count} played, {failed} failed").format(count=len(outcomes), failed=len(failed)),
          file=sys.stderr)  # fmt: skip
    return 1 if failed else 0

