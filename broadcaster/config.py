"""``config.yaml`` → frozen, validated station settings.

Everything has a default, so a missing file or key gives a working station on
the default sound device. Problems are collected with their line and column.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from broadcaster.i18n import UI_LANGUAGES, Msg
from broadcaster.language import LANGUAGE_NAMES, Language, is_romanized
from broadcaster.schema.fields import (
    FieldError,
    Fields,
    parse_bool,
    parse_choice,
    parse_duration,
    parse_window,
)
from broadcaster.schema.problems import Problems
from broadcaster.schema.yamlfile import Map, Scalar, read

parse_language = parse_choice(LANGUAGE_NAMES)





ENGINES = ("auto", "espeak-ng", "pyttsx3", "sherpa-onnx")
OUTPUT_RATE_HZ = 48_000
"""The rate of every rendered file; a card that cannot take it gets the audio resampled."""


@dataclass(frozen=True)
class Zone:
    """A loudspeaker zone: some channels of one sound card, at a volume."""

    name: str
    device: str
    channels: tuple[int, ...] = (1, 2)
    """1-based channel numbers on the card."""
    volume: float = 1.0
    """Linear gain, 0.0 to 1.0."""
    power_on: str | None = None
    """A command that switches the zone's amplifier on (relay, serial line…)."""
    power_off: str | None = None
    warm_up_s: float = 2.0
    """Wait after ``power_on`` before the chime: amplifiers need a moment."""
    power_off_after_s: float = 60.0
    """Idle time after the last play before ``power_off`` runs."""
    power_timeout_s: float = 10.0


@dataclass(frozen=True)
class SpeechSettings:
    """How one language is spoken."""

    engine: str = "auto"
    voice: str | None = None
    speed: float = 0.9
    """Relative to the engine's normal speed; loudspeakers need slower speech."""
    pitch: int = 50
    """0 to 99, engine-neutral middle at 50."""
    model_dir: Path | None = None
    """A downloaded sherpa-onnx model folder (neural voice), if any."""


@dataclass(frozen=True)
class LiveSettings:
    """Live voice: the station's microphone and how it goes on the air."""

    input: str = "default"
    """The microphone: a PortAudio input device by name, index or part of a name."""
    zones: tuple[str, ...] = ()
    """Where a talk goes when no zone is chosen (empty: every zone)."""
    buffer_s: float = 0.06
    """The depth kept between the microphone's clock and each card's (the jitter margin)."""
    max_duration_s: float = 900.0
    """A talk ends by itself after this long: a jammed button does not stay on the air."""
    chime: bool = True
    record: bool = False
    """Keep what went out as WAV files under data/live/ (evidence of what was said)."""
    keep_days: float = 30.0
    switch: str | None = None
    """A command whose output lines (on/off) start and end a talk: a foot switch or PTT button."""


@dataclass(frozen=True)
class FleetSettings:
    """The town's MQTT broker, and who this station (or console) is on it."""

    broker: str
    """``mqtt://host[:1883]`` or ``mqtts://host[:8883]``."""
    id: str
    town: str = ""
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    geocodes: tuple[str, ...] = ()
    """The area codes this station serves (CAP alerts for other areas are not aired)."""
    language: str = "mandarin"
    """The language CAP alerts are read in."""
    session_expiry_s: float = 7 * 86400.0
    """How long the broker keeps messages for this station while it is offline."""

    @property
    def host_port_tls(self) -> tuple[str, int, bool]:
        scheme, _sep, rest = self.broker.partition("://")
        host, _colon, port = rest.rstrip("/").rpartition(":") if ":" in rest else (rest.rstrip("/"), "", "")
        tls = scheme == "mqtts"
        return host or rest, int(port) if port.isdigit() else (8883 if tls else 1883), tls


@dataclass(frozen=True)
class Config:
    """Validated station settings. ``root`` is the folder holding the content."""

    root: Path
    path: Path | None = None
    station: str = "广播站"
    timezone: str = "Asia/Shanghai"
    ui_language: str = "auto"
    zones: dict[str, Zone] = field(default_factory=lambda: {"default": Zone("default", "default")})
    quiet_hours: tuple[dt.time, dt.time] | None = None
    speech: dict[Language, SpeechSettings] = field(
        default_factory=lambda: {lang: SpeechSettings() for lang in Language}
    )
    chime: bool = True
    loudness_lufs: float = -18.0
    play_log: Path = Path("data/playlog.sqlite")
    cache_dir: Path = Path("data/cache")
    lexicon: dict[Language, dict[str, str]] = field(default_factory=lambda: {lang: {} for lang in Language})
    output_lead_s: float = 0.2
    """Audio mixed ahead of each card: the margin against a busy machine."""
    output_buffer_s: float = 0.1
    """The sound device's own buffer: what a cut or an emergency waits for."""
    live: LiveSettings = field(default_factory=LiveSettings)
    fleet: FleetSettings | None = None
    """The town's broker; None for a station on its own."""

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def resolve(self, path: Path) -> Path:
        """A path from the config, relative to the content root."""
        return path if path.is_absolute() else self.root / path


_KEYS = (
    "station", "timezone", "ui_language", "zones", "quiet_hours", "speech", "chime",
    "loudness", "play_log", "cache_dir", "lexicon", "output_lead", "output_buffer", "live", "fleet",
)  # fmt: skip


def parse_timezone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise FieldError(
            Msg.of("unknown time zone '{value}'", value=text),
            Msg.of("write it like Asia/Shanghai or Asia/Hong_Kong"),
        ) from exc
    return text.strip()


def parse_volume(text: str) -> float:
    """``80%``, ``0.8``, ``-6dB`` → linear gain."""
    value = unicodedata.normalize("NFKC", text).strip().lower().replace(" ", "")
    try:
        if value.endswith("db"):
            gain = 10 ** (float(value[:-2]) / 20)
        elif value.endswith("%"):
            gain = float(value[:-1]) / 100
        else:
            gain = float(value)
    except ValueError:
        gain = -1.0
    if 0.0 <= gain <= 1.0:
        return gain
    raise FieldError(
        Msg.of("'{value}' is not a volume", value=text),
        Msg.of("write it like 80%, or in decibels like -6dB (at most 0dB)"),
    )


def parse_loudness(text: str) -> float:
    value = unicodedata.normalize("NFKC", text).strip().lower().removesuffix("lufs").strip()
    try:
        lufs = float(value)
    except ValueError:
        lufs = 1.0
    if -40.0 <= lufs <= -5.0:
        return lufs
    raise FieldError(
        Msg.of("'{value}' is not a loudness target", value=text),
        Msg.of("write it in LUFS from -40 to -5, like -18"),
    )


def buffer_length(low: float, high: float, example: str) -> Callable[[str], float]:
    """A parser of ``0.2s``/``60ms`` → seconds, refusing lengths outside ``low``–``high``."""

    def parse(text: str) -> float:
        try:
            seconds = parse_duration(text)
        except FieldError:
            seconds = -1.0
        if low <= seconds <= high:
            return seconds
        bounds = {"low": f"{low:g}", "high": f"{high:g}", "example": example}
        raise FieldError(
            Msg.of("'{value}' is not a buffer length", value=text),
            Msg.of("write it in seconds from {low}s to {high}s, like {example}", **bounds),
        )

    return parse


parse_output_time = buffer_length(0.02, 2.0, "0.2s")
"""The feeder's lead or the device buffer."""


def parse_speed(text: str) -> float:
    value = unicodedata.normalize("NFKC", text).strip().removesuffix("%")
    try:
        speed = float(value) / (100 if text.strip().endswith("%") or float(value) > 3 else 1)
    except ValueError:
        speed = 0.0
    if 0.5 <= speed <= 2.0:
        return speed
    raise FieldError(
        Msg.of("'{value}' is not a speaking speed", value=text),
        Msg.of("write it as a percentage from 50% to 200%, like 90%"),
    )


def parse_pitch(text: str) -> int:
    value = text.strip()
    if value.isdigit() and 0 <= int(value) <= 99:
        return int(value)
    raise FieldError(Msg.of("'{value}' is not a pitch from 0 to 99", value=text))


_CHANNEL_WORDS = {"left": (1,), "right": (2,), "both": (1, 2), "stereo": (1, 2), "mono": (1,),
                  "左": (1,), "右": (2,), "左右": (1, 2)}  # fmt: skip


def parse_channels(text: str) -> tuple[int, ...]:
    value = unicodedata.normalize("NFKC", text).strip().lower()
    if value in _CHANNEL_WORDS:
        return _CHANNEL_WORDS[value]
    parts = [p for p in re.split(r"[,\s]+", value) if p]
    if parts and all(p.isdigit() and 1 <= int(p) <= 32 for p in parts):
        return tuple(int(p) for p in parts)
    raise FieldError(
        Msg.of("'{value}' is not a list of channels", value=text),
        Msg.of("write left, right, both, or channel numbers like 1, 2"),
    )


_ZONE_KEYS = ("device", "channels", "volume", "power_on", "power_off", "warm_up", "power_off_after",
              "power_timeout")  # fmt: skip


def _zones(fields: Fields, problems: Problems) -> dict[str, Zone]:
    node = fields.values.get("zones")
    if node is None:
        return {"default": Zone("default", "default")}
    if not isinstance(node, Map) or not node.items:
        fields.error(node, Msg.of("'zones' should name each zone with its sound card"))
        return {}
    zones = {}
    for key, value in node.items:
        if isinstance(value, Scalar):  # short form: "square: zone_a"
            zones[key.value] = Zone(key.value, value.value.strip() or "default")
            continue
        zone = Fields(value, fields.path, problems, _ZONE_KEYS, Msg.of("a zone"))
        channel_nodes = zone.scalars("channels")
        channel_list: list[int] = []
        for item in channel_nodes:
            channel_list.extend(zone.convert(item, parse_channels, ()))
        zones[key.value] = Zone(
            key.value,
            zone.text("device", required=True) or "default",
            tuple(channel_list) or (1, 2),
            zone.scalar("volume", parse_volume, 1.0),
            power_on=zone.text("power_on"),
            power_off=zone.text("power_off"),
            warm_up_s=zone.scalar("warm_up", parse_duration, 2.0),
            power_off_after_s=zone.scalar("power_off_after", parse_duration, 60.0),
            power_timeout_s=zone.scalar("power_timeout", parse_duration, 10.0),
        )
    return zones


def _speech(fields: Fields, problems: Problems) -> dict[Language, SpeechSettings]:
    speech = {lang: SpeechSettings() for lang in Language}
    node = fields.values.get("speech")
    if node is None:
        return speech
    section = Fields(node, fields.path, problems, [lang.value for lang in Language],
                     Msg.of("speech settings per language"))  # fmt: skip
    for lang in Language:
        if not section.has(lang.value):
            continue
        s = Fields(section.values[lang.value], fields.path, problems,
                   ("engine", "voice", "speed", "pitch", "model_dir"),
                   Msg.of("speech settings"))  # fmt: skip
        model_dir = s.text("model_dir")
        speech[lang] = SpeechSettings(
            engine=s.scalar("engine", parse_choice({e: e for e in ENGINES}), "auto"),
            voice=s.text("voice"),
            speed=s.scalar("speed", parse_speed, 0.9),
            pitch=s.scalar("pitch", parse_pitch, 50),
            model_dir=Path(model_dir) if model_dir else None,
        )
    return speech


def _lexicon(fields: Fields, problems: Problems) -> dict[Language, dict[str, str]]:
    lexicon: dict[Language, dict[str, str]] = {lang: {} for lang in Language}
    node = fields.values.get("lexicon")
    if node is None:
        return lexicon
    section = Fields(node, fields.path, problems, [lang.value for lang in Language],
                     Msg.of("a lexicon per language"))  # fmt: skip
    for lang in Language:
        entries = section.values.get(lang.value)
        if entries is None:
            continue
        if not isinstance(entries, Map):
            section.error(entries, Msg.of("write each entry as 'word: reading'"))
            continue
        for word, reading in entries.items:
            if not (isinstance(reading, Scalar) and reading.value.strip()):
                section.error(reading, Msg.of("'{word}' needs a reading", word=word.value))
                continue
            value = reading.value.strip()
            syllables = len(value.split())
            if is_romanized(value, lang) and syllables != len(word.value):
                message = Msg.of("'{word}' has {chars} characters but {syllables} syllables",
                                 word=word.value, chars=len(word.value), syllables=syllables)  # fmt: skip
                hint = Msg.of("give one syllable with its tone number per character")
                section.error(reading, message, hint)
                continue
            example = "yin2 hang2" if lang is Language.MANDARIN else "wai6 sang1"
            if re.fullmatch(r"[A-Za-züÜ: ]+", value):  # syllables without their tones: read as English
                section.error(reading, Msg.of("'{word}: {reading}' has no tone numbers", word=word.value,
                                              reading=value),
                              Msg.of("write each syllable with its tone number, e.g. '{example}'",
                                     example=example))  # fmt: skip
                continue
            if not is_romanized(value, lang):
                message = Msg.of("'{word}: {reading}' respells the word with other characters, "
                                 "which show up as typos", word=word.value, reading=value)  # fmt: skip
                hint = Msg.of("write the reading as syllables with tone numbers (pinyin for Mandarin, "
                              "jyutping for Cantonese), e.g. '{example}'", example=example)  # fmt: skip
                section.warning(reading, message, hint)
            lexicon[lang][word.value] = value.lower() if is_romanized(value, lang) else value
    return lexicon


_LIVE_KEYS = ("input", "zones", "buffer", "max_duration", "chime", "record", "keep_days", "switch")


parse_live_buffer = buffer_length(0.02, 0.5, "0.06s")
"""The depth kept between the microphone's clock and each card's."""


def parse_days(text: str) -> float:
    value = unicodedata.normalize("NFKC", text).strip().lower()
    value = value.removesuffix("days").removesuffix("天").strip()
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if days > 0:
        return days
    raise FieldError(Msg.of("'{value}' is not a number of days", value=text), Msg.of("write it like 30"))


def _live(fields: Fields, problems: Problems, zones: dict[str, Zone]) -> LiveSettings:
    node = fields.values.get("live")
    if node is None:
        return LiveSettings()
    live = Fields(node, fields.path, problems, _LIVE_KEYS, Msg.of("live voice settings"))
    chosen: list[str] = []
    for item in live.scalars("zones"):
        name = item.value.strip()
        if name not in zones:
            live.error(item, Msg.of("unknown zone '{name}'", name=name),
                       Msg.of("the zones are: {names}", names=", ".join(zones)))  # fmt: skip
        else:
            chosen.append(name)
    base = LiveSettings()
    return LiveSettings(
        input=live.text("input") or base.input,
        zones=tuple(chosen),
        buffer_s=live.scalar("buffer", parse_live_buffer, base.buffer_s),
        max_duration_s=live.scalar("max_duration", parse_duration, base.max_duration_s),
        chime=live.scalar("chime", parse_bool, base.chime),
        record=live.scalar("record", parse_bool, base.record),
        keep_days=live.scalar("keep_days", parse_days, base.keep_days),
        switch=live.text("switch"),
    )


_FLEET_KEYS = ("broker", "id", "town", "username", "password", "password_file", "ca_file", "cert_file",
               "key_file", "geocodes", "language", "session_expiry")  # fmt: skip
_FLEET_NAME = re.compile(r"^[A-Za-z0-9][\w-]{0,63}$")


def parse_broker(text: str) -> str:
    value = text.strip()
    if re.fullmatch(r"mqtts?://[^/\s:]+(:\d{1,5})?/?", value):
        return value
    raise FieldError(Msg.of("'{value}' is not a broker address", value=text),
                     Msg.of("write it like mqtt://broker.example:1883 or mqtts://broker.example:8883"))


def parse_fleet_name(text: str) -> str:
    value = text.strip()
    if _FLEET_NAME.match(value):
        return value
    raise FieldError(Msg.of("'{value}' cannot name a station or town on the broker", value=text),
                     Msg.of("use letters, digits, - and _, like shangxi-cun"))


def _fleet(fields: Fields, problems: Problems, root: Path) -> FleetSettings | None:
    node = fields.values.get("fleet")
    if node is None:
        return None
    f = Fields(node, fields.path, problems, _FLEET_KEYS, Msg.of("fleet settings"))
    broker = f.scalar("broker", parse_broker, "", required=True)
    ident = f.scalar("id", parse_fleet_name, "", required=True)
    password = f.text("password")
    password_file = f.text("password_file")
    if password_file and not password:
        try:
            password = (root / password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            f.error(f.values["password_file"], Msg.of("cannot read {path}: {reason}", path=password_file,
                                                       reason=exc.strerror or str(exc)))  # fmt: skip

    def path(key: str) -> Path | None:
        text = f.text(key)
        return root / text if text else None

    return FleetSettings(
        broker=broker, id=ident, town=f.scalar("town", parse_fleet_name, ""), username=f.text("username"),
        password=password, ca_file=path("ca_file"), cert_file=path("cert_file"), key_file=path("key_file"),
        geocodes=tuple(item.value.strip() for item in f.scalars("geocodes")),
        language=f.scalar("language", parse_language, Language.MANDARIN).value,
        session_expiry_s=f.scalar("session_expiry", parse_duration, FleetSettings.session_expiry_s),
    )


def load_config(path: Path | None, problems: Problems, root: Path | None = None) -> Config:
    """Read ``path`` (or use the defaults when None) into a :class:`Config`."""
    if path is None:
        return Config(root=(root or Path.cwd()).resolve())
    base = Config(root=path.parent.resolve(), path=path)
    node = read(path, problems)
    if node is None:
        return base
    f = Fields(node, path, problems, _KEYS, Msg.of("settings"))
    zones = _zones(f, problems)
    config = Config(
        root=base.root,
        path=path,
        station=f.text("station") or base.station,
        timezone=f.scalar("timezone", parse_timezone, base.timezone),
        ui_language=f.scalar(
            "ui_language", parse_choice({k.lower(): k for k in UI_LANGUAGES}), base.ui_language
        ),  # fmt: skip
        zones=zones,
        quiet_hours=f.scalar("quiet_hours", parse_window, None),
        speech=_speech(f, problems),
        chime=f.scalar("chime", parse_bool, True),
        loudness_lufs=f.scalar("loudness", parse_loudness, base.loudness_lufs),
        play_log=Path(f.text("play_log") or base.play_log),
        cache_dir=Path(f.text("cache_dir") or base.cache_dir),
        lexicon=_lexicon(f, problems),
        output_lead_s=f.scalar("output_lead", parse_output_time, base.output_lead_s),
        output_buffer_s=f.scalar("output_buffer", parse_output_time, base.output_buffer_s),
        live=_live(f, problems, zones),
        fleet=_fleet(f, problems, base.root),
    )
    return config
