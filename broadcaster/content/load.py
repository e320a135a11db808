"""Announcement and playlist files → frozen models, with cross-file checks.

An announcement's id is its file name without ``.yaml``. :func:`load_content`
reads a whole station folder and returns the models together with every
problem found; the caller decides whether to use them (``Content`` is only
trustworthy when there are no errors: the daemon keeps its last good one).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

from broadcaster.config import load_config, parse_language
from broadcaster.content.models import (
    ANNOUNCEMENTS_DIR,
    CLIP_SUFFIXES,
    CLIPS_DIR,
    PLAYLISTS_DIR,
    PRIORITY_NAMES,
    YAML_SUFFIXES,
    Announcement,
    Clip,
    Content,
    Loop,
    Pause,
    Playlist,
    Priority,
    Ref,
    Segment,
    Slot,
    Speech,
)
from broadcaster.i18n import Msg
from broadcaster.language import Language
from broadcaster.schema.fields import (
    Fields,
    parse_bool,
    parse_choice,
    parse_count,
    parse_date,
    parse_days,
    parse_duration,
    parse_time,
    parse_window,
)
from broadcaster.schema.problems import Problems, did_you_mean
from broadcaster.schema.yamlfile import Map, Node, Scalar, Seq, read

_ANNOUNCEMENT_KEYS = (
    "title", "language", "text", "segments", "chime", "repeat", "gap",
    "valid_from", "valid_until", "priority", "notes",
)  # fmt: skip
_PLAYLIST_KEYS = ("title", "zones", "days", "valid_from", "valid_until", "slots", "loop",
                  "enabled", "notes")  # fmt: skip
_SLOT_KEYS = ("at", "every", "between", "play", "repeat", "days", "dates", "zones",
              "valid_from", "valid_until")  # fmt: skip


def _date_range(f: Fields) -> tuple[dt.date | None, dt.date | None]:
    start = f.scalar("valid_from", parse_date, None)
    end = f.scalar("valid_until", parse_date, None)
    if start and end and end < start:
        f.error(
            f.values["valid_until"],
            Msg.of("'valid_until' ({end}) is before 'valid_from' ({start})", end=end, start=start),
            Msg.of("swap the two dates"),
        )
    return start, end


def _clip(node: Scalar, f: Fields, root: Path) -> Clip | None:
    written = Path(node.value.strip().replace("\\", "/"))
    inside = [(root / d).resolve() for d in (CLIPS_DIR, ANNOUNCEMENTS_DIR)]
    target = (root / written).resolve()
    if written.is_absolute() or not any(target.is_relative_to(d) for d in inside):
        f.error(
            node,
            Msg.of("clip '{path}' is outside the station's folders", path=node.value),
            Msg.of("put the file in the '{dir}' folder and write clips/NAME", dir=CLIPS_DIR),
        )
        return None
    if target.suffix.lower() not in CLIP_SUFFIXES:
        f.error(node, Msg.of("clip '{path}' is not an audio file", path=node.value),
                Msg.of("use one of: {kinds}", kinds=", ".join(CLIP_SUFFIXES)))  # fmt: skip
        return None
    if not target.is_file():
        f.error(node, Msg.of("clip '{path}' does not exist", path=node.value),
                did_you_mean(written.name, _clip_names(root)))  # fmt: skip
        return None
    return Clip(target)


def _clip_names(root: Path) -> list[str]:
    folder = root / CLIPS_DIR
    return [p.name for p in folder.iterdir()] if folder.is_dir() else []


# What a listener hears as a pause, or nothing: every other symbol left after
# normalization would be read by the engine in its own way, or skipped.
_PUNCTUATION = set("，。、；：！？“”‘’（）《》〈〉【】「」『』…—·-,.!?;:()'\" \n\t")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def _plain(char: str) -> bool:
    """A Chinese character, an ASCII digit, punctuation or a space."""
    return "\u3400" <= char <= "\u9fff" or "0" <= char <= "9" or char in _PUNCTUATION or char.isspace()


def _check_readable(node: Scalar, text: str, language: Language, f: Fields) -> None:
    """Warn about what will not be read as Chinese: Latin words and symbols."""
    if not f.problems.wants_warnings or all(_plain(c) for c in text):
        return  # nothing to warn about, whatever the rules make of it: no need to load them
    from broadcaster.textnorm import normalize

    spoken = normalize(text, language)
    for word in dict.fromkeys(_LATIN_WORD.findall(spoken)):
        f.warning(node, Msg.of("'{word}' will be read in English", word=word),
                  Msg.of("write it in Chinese if that is how the village says it"))  # fmt: skip
    for symbol in dict.fromkeys(c for c in spoken if not (c.isalnum() or c in _PUNCTUATION)):
        f.warning(node, Msg.of("'{symbol}' cannot be read aloud", symbol=symbol),
                  Msg.of("write it in words"))  # fmt: skip


def _segments(f: Fields, root: Path, language: Language) -> tuple[Segment, ...]:
    def speech(node: Node) -> Speech | None:
        if not isinstance(node, Scalar):
            f.error(node, Msg.of("the text should be one block of words, not a list"),
                    Msg.of("use 'segments' for several parts"))  # fmt: skip
        elif node.value.strip():
            _check_readable(node, node.value, language, f)
            return Speech(node.value.strip())
        else:
            f.error(node, Msg.of("the text is empty"), Msg.of("write what should be said"))
        return None

    if f.has("text") and f.has("segments"):
        f.error(f.values["segments"], Msg.of("use either 'text' or 'segments', not both"))
    if f.has("text"):
        one = speech(f.values["text"])
        return (one,) if one else ()
    node = f.values.get("segments")
    if node is None:
        f.missing("text")
        return ()
    if not isinstance(node, Seq) or not node.items:
        f.error(node, Msg.of("'segments' should be a list of text, pause and clip items"))
        return ()
    out: list[Segment] = []
    for item in node.items:
        if isinstance(item, Scalar):  # a bare line of text
            part: Segment | None = speech(item)
        else:
            s = Fields(item, f.path, f.problems, ("text", "pause", "clip"), Msg.of("a segment"))
            if len(s.values) != 1:
                if isinstance(item, Map):
                    s.error(item, Msg.of("each segment needs exactly one of text, pause or clip"))
                continue
            kind, value = next(iter(s.values.items()))
            if kind == "text":
                part = speech(value)
            elif kind == "pause":
                part = Pause(s.scalar("pause", parse_duration, 0.0))
            else:
                part = _clip(value, s, root) if isinstance(value, Scalar) else None
        if part is not None:
            out.append(part)
    return tuple(out)


def load_announcement(path: Path, root: Path, problems: Problems) -> Announcement | None:
    """Read one announcement; None when unreadable. Check ``problems`` before using it."""
    node = read(path, problems)
    if node is None:
        return None
    f = Fields(node, path, problems, _ANNOUNCEMENT_KEYS, Msg.of("an announcement"))
    title = f.text("title") or path.stem
    language = f.scalar("language", parse_language, None, required=True)
    segments = _segments(f, root, language or Language.MANDARIN)
    gap = f.scalar("gap", parse_duration, Announcement.gap_s)
    valid_from, valid_until = _date_range(f)
    announcement = Announcement(
        id=path.stem,
        path=path,
        title=title,
        language=language or Language.MANDARIN,
        segments=segments,
        chime=f.scalar("chime", parse_bool, True),
        repeat=f.scalar("repeat", lambda v: parse_count(v, 1, 20), 1),
        gap_s=gap,
        valid_from=valid_from,
        valid_until=valid_until,
        priority=f.scalar("priority", parse_choice(PRIORITY_NAMES), Priority.NORMAL),
        notes=f.text("notes"),
    )
    _check_length(announcement, f)
    return announcement


MAX_SPOKEN_CHARS = 10_000
"""Characters an announcement may speak, repeats included: about 50 minutes of speech (a
village notice is a few hundred). Longer texts would need gigabytes to render."""
SECONDS_PER_CHAR = 0.3  # espeak-ng at the default 90 % speed, measured on the seed article


def _check_length(announcement: Announcement, f: Fields) -> None:
    spoken = sum(1 for c in announcement.text if c.isalnum()) * announcement.repeat
    if spoken <= MAX_SPOKEN_CHARS:
        return
    node = f.values.get("text") or f.values.get("segments") or f.node
    if node is None:  # not reached: an announcement with text was read from a mapping
        return
    f.error(node, Msg.of("the text is too long to broadcast: {count} characters to speak (repeats included); "
                         "an announcement may speak at most {limit} (about {minutes} minutes)",
                         count=spoken, limit=MAX_SPOKEN_CHARS,
                         minutes=round(MAX_SPOKEN_CHARS * SECONDS_PER_CHAR / 60)),
            Msg.of("split it into several announcements"))  # fmt: skip


def _names(f: Fields, key: str, kind: str, refs: list[Ref], required: bool = False):
    """The names listed under ``key``, remembering where each was written."""
    items = f.scalars(key, required)
    refs.extend(Ref(kind, i.value.strip(), i.line, i.column) for i in items)
    return tuple(i.value.strip() for i in items)


def _slot(node: Node, f: Fields, refs: list[Ref]) -> Slot | None:
    s = Fields(node, f.path, f.problems, _SLOT_KEYS, Msg.of("a slot"))
    if not isinstance(node, Map):
        return None
    play = _names(s, "play", "announcement", refs, required=True)
    times = tuple(s.many("at", parse_time))
    every = s.scalar("every", parse_duration, None)
    window = s.scalar("between", parse_window, None)
    if s.has("at") == s.has("every"):
        s.error(node, Msg.of("a slot needs either 'at' (times) or 'every' (with 'between')"))
    if every is not None and every < 60:
        s.error(s.values["every"], Msg.of("'every' must be at least 1 minute"))
    if s.has("every") and not s.has("between"):
        s.error(s.values["every"], Msg.of("'every' needs 'between', like between: 08:00-20:00"))
    if window and window[1] <= window[0]:
        s.error(
            s.values["between"],
            Msg.of("the window ends ({end}) before it starts ({start})",
                   end=window[1].strftime("%H:%M"), start=window[0].strftime("%H:%M")),
            Msg.of("write the earlier time first"),
        )  # fmt: skip
    days = frozenset(d for group in s.many("days", parse_days) for d in group)
    valid_from, valid_until = _date_range(s)
    return Slot(
        line=node.line,
        play=play,
        times=times,
        every_s=every,
        window=window,
        days=days or frozenset(range(7)),
        dates=tuple(s.many("dates", parse_date)),
        valid_from=valid_from,
        valid_until=valid_until,
        repeat=s.scalar("repeat", lambda v: parse_count(v, 1, 20), 1),
        zones=_names(s, "zones", "zone", refs),
    )


def load_playlist(path: Path, problems: Problems) -> Playlist | None:
    """Read one playlist; None when unreadable. Check ``problems`` before using it."""
    node = read(path, problems)
    if node is None:
        return None
    f = Fields(node, path, problems, _PLAYLIST_KEYS, Msg.of("a playlist"))
    days = frozenset(d for group in f.many("days", parse_days) for d in group)
    valid_from, valid_until = _date_range(f)
    refs: list[Ref] = []
    zones = _names(f, "zones", "zone", refs)
    slots: list[Slot] = []
    slots_node = f.values.get("slots")
    if isinstance(slots_node, Seq):
        for item in slots_node.items:
            slot = _slot(item, f, refs)
            if slot is not None:
                # Playlist-wide days and dates apply unless the slot has its own.
                slots.append(_inherit(slot, days, valid_from, valid_until))
    elif slots_node is not None:
        f.error(slots_node, Msg.of("'slots' should be a list; start each slot with '- '"))
    loop = None
    if f.has("loop"):
        lf = Fields(f.values["loop"], path, problems, ("play", "gap"), Msg.of("a loop"))
        loop = Loop(_names(lf, "play", "announcement", refs, required=True),
                    lf.scalar("gap", parse_duration, Loop.gap_s))  # fmt: skip
    if not f.has("slots") and not f.has("loop"):
        f.error(node, Msg.of("a playlist needs 'slots' (times to play) or 'loop'"))
    playlist = Playlist(
        id=path.stem,
        path=path,
        title=f.text("title") or path.stem,
        zones=zones,
        slots=tuple(slots),
        loop=loop,
        enabled=f.scalar("enabled", parse_bool, True),
        refs=tuple(refs),
    )
    return playlist


def _inherit(slot: Slot, days: frozenset[int], start: dt.date | None, end: dt.date | None) -> Slot:
    return replace(
        slot,
        days=slot.days if slot.days != frozenset(range(7)) or not days else days,
        valid_from=slot.valid_from or start,
        valid_until=slot.valid_until or end,
    )


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in YAML_SUFFIXES and p.is_file())


def cross_check(content: Content, problems: Problems, today: dt.date, ids: set[str]) -> None:
    """Checks that need more than one file: names, zones, expiry.

    ``ids`` holds every announcement file's id, broken ones included, so a
    playlist is not blamed for an announcement whose own file has errors.
    """
    zones = content.config.zones
    announcements = content.announcements
    for playlist in content.playlists.values():
        for ref in playlist.refs:
            known = ids if ref.kind == "announcement" else set(zones)
            if ref.name in known:
                found = announcements.get(ref.name)
                if found is not None and not found.is_valid_on(today):
                    problems.warning(
                        playlist.path, ref.line, ref.column,
                        Msg.of("announcement '{name}' is not valid today ({day})",
                               name=ref.name, day=today.isoformat()),
                    )  # fmt: skip
                continue
            message = (
                Msg.of("unknown announcement '{name}'", name=ref.name)
                if ref.kind == "announcement"
                else Msg.of("unknown zone '{name}'", name=ref.name)
            )
            problems.error(playlist.path, ref.line, ref.column, message,
                           did_you_mean(ref.name, known))  # fmt: skip
    for announcement in announcements.values():
        if announcement.valid_until and announcement.valid_until < today:
            problems.warning(
                announcement.path, 1, 1,
                Msg.of("announcement expired on {day}", day=announcement.valid_until.isoformat()),
            )  # fmt: skip


def load_content(
    config_path: Path | None,
    problems: Problems,
    today: dt.date | None = None,
    root: Path | None = None,
    extra: tuple[Path, ...] = (),
) -> Content:
    """Read the config, every announcement and playlist of the station, and ``extra`` files.

    ``today`` (for the checks of validity dates) is by default the date in the station's
    time zone, not the machine's.

    ``extra`` files (given on a command line) are read in addition to the
    station's own folders, so a file outside them still sees the announcements.
    """
    config = load_config(config_path, problems, root)
    announcement_files = _yaml_files(config.root / ANNOUNCEMENTS_DIR)
    playlist_files = _yaml_files(config.root / PLAYLISTS_DIR)
    for path in extra:
        target = playlist_files if is_playlist_file(path) else announcement_files
        if path.resolve() not in {p.resolve() for p in target}:
            target.append(path)
    announcements: dict[str, Announcement] = {}
    seen: dict[str, Path] = {}
    for path in announcement_files:
        if path.stem in seen:
            problems.error(path, 1, 1, Msg.of("announcement id '{id}' is also used by {other}",
                                              id=path.stem, other=seen[path.stem].name))  # fmt: skip
            continue
        seen[path.stem] = path
        announcement = load_announcement(path, config.root, problems)
        if announcement is not None:
            announcements[announcement.id] = announcement
    playlists = {}
    for path in playlist_files:
        playlist = load_playlist(path, problems)
        if playlist is not None:
            playlists[playlist.id] = playlist
    if today is None:
        today = dt.datetime.now(config.tz).date()
    cross_check(Content(config, announcements, playlists), problems, today, set(seen))
    # Only files without errors become content: a broken file is never half-used.
    broken = {p.path for p in problems if p.is_error}
    return Content(
        config,
        {k: a for k, a in announcements.items() if a.path not in broken},
        {k: p for k, p in playlists.items() if p.path not in broken},
    )


def is_playlist_file(path: Path) -> bool:
    """A file is read as a playlist when it sits in a playlists folder."""
    return path.parent.name == PLAYLISTS_DIR
