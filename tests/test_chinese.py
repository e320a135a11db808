"""Under a Chinese locale every command speaks Chinese: no English sentence anywhere.

Each command (and ``--help`` of each, and every broken file of the corpus through
``check``) runs in-process with ``LANG=zh_CN.UTF-8``; its output fails the test when
it holds three English words in a row once names are taken out: announcement and
zone ids, file paths, options, quoted values, units and engine or voice names.

``run`` is the one command left out: what it prints is the station's journal
(systemd's), kept in English like other services' logs so that it can be searched
and sent to whoever supports the station. What the station tells people goes
through ``status``, ``send`` and the others, which are covered here.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from broadcaster.playlog import PlayLog
from tests.test_corpus import CASES, place

ZH = "zh_CN.UTF-8"
# Things that are names, not sentences: paths, ids, options, quoted values, units, versions.
_NAMES = re.compile(
    r"""[\w.-]*/[\w./-]*          # paths
      | --?[a-z][\w-]*            # options
      | '[^']*' | "[^"]*" | “[^”]*” | ‘[^’]*’ | `[^`]*` | \{[^}]*\}   # quoted values, choices
      | \b[a-z0-9]+(?:[-_][a-z0-9]+)+\b   # ids such as hygiene-cantonese, returnee_registration
      | \b(?:LUFS|dBFS|ms|Hz|kHz|KiB|MiB|ALSA|YAML|UTF-8|GBK|CSV|JSON|Ctrl-C|PortAudio|PulseAudio)\b
    """,
    re.VERBOSE,
)
_SENTENCE = re.compile(r"\b[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}\b")


def english_sentences(text: str, names: set[str]) -> list[str]:
    found = []
    for line in text.splitlines():
        for name in sorted(names, key=len, reverse=True):
            line = line.replace(name, " ")
        line = _NAMES.sub(" ", line)
        found += [f"{m[0]!r} in: {line.strip()}" for m in _SENTENCE.finditer(line)]
    return found


def run(run_cli, capsys, station, *args: str) -> str:
    try:
        return run_cli(*args, cwd=station, lang=ZH).text
    except SystemExit:  # argparse: --help, or a usage error
        captured = capsys.readouterr()
        return captured.out + captured.err
    finally:
        from broadcaster.i18n import set_language

        set_language("en")


@pytest.fixture
def names(station) -> set[str]:
    """Names, not words: ids of files and zones, engines, and the keys and values people type."""
    from broadcaster.config import LANGUAGE_NAMES
    from broadcaster.content import load
    from broadcaster.content.models import PRIORITY_NAMES

    ids = {p.stem for p in station.glob("*/*.yaml")}
    keys = {*load._ANNOUNCEMENT_KEYS, *load._PLAYLIST_KEYS, *load._SLOT_KEYS}
    typed = {*LANGUAGE_NAMES, *PRIORITY_NAMES, *keys}
    return ids | typed | {"village", "espeak-ng", "pyttsx3", "sherpa-onnx", "broadcaster"}


def test_the_detector_finds_english_and_leaves_names_alone():
    names = {"hygiene-cantonese"}
    assert english_sentences("错误：no station is running here", names)
    assert english_sentences("YAML 格式错误：mapping values are not allowed here", names)
    assert not english_sentences("hygiene-cantonese: 12.3 s, -18.0 LUFS, data/cache/ab.wav", names)
    assert not english_sentences("请运行 'broadcaster check' 或 --format table", names)


COMMANDS = [
    (), ("--help",), ("check",), ("list",), ("plan", "--days", "1", "--start", "2026-12-03T06:00"),
    ("say", "明天上午九点停水", "--text-only"), ("voices",), ("devices",), ("log",), ("report", "--week"),
    ("log", "--announcement", "nothing"), ("render", "no-such-announcement"), ("render",),
    ("status",), ("stop",), ("skip",), ("send", "hotline"), ("play", "hotline", "--zone", "nowhere"),
    ("check", "announcements/nope.yaml"), ("--config", "nope.yaml", "list"),
    ("report", "--day", "2020-13-01"), ("plan", "--start", "tomorrow"), ("log", "--wat"), ("send",),
    ("live",), ("live", "--zone", "village", "--by", "村支书"),
    ("fleet", "status"), ("fleet", "send", "hotline", "--to", "all"), ("fleet",), ("cap", "nope.xml"),
    ("fleet", "report", "abc"),
]  # fmt: skip


def _with_plays(station) -> None:
    log = PlayLog(station / "data" / "playlog.sqlite")
    moment = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC)
    log.missed("hotline", "h", "village", "schedule", moment, "quiet hours")
    row = log.start("hygiene", "h", "village", "schedule", moment, moment)
    log.finish(row, "dropout", moment, "2 gap(s), 340 ms in all", dropouts=2, dropout_ms=340)
    row = log.start("hygiene", "h", "village", "schedule", moment, moment)
    log.finish(row, "interrupted", moment, "cut by emergency 'stay-home-emergency'")
    row = log.start("live", "", "village", "live", moment, moment, started_by="村支书")
    log.finish(row, "interrupted", moment, "cut by emergency 'stay-home-emergency'")
    log.missed("live", "", "village", "live", moment, "the talk ended before it was on the air")
    log.close()


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "(none)")
def test_every_command_speaks_chinese(args, station, names, run_cli, capsys):
    _with_plays(station)
    text = run(run_cli, capsys, station, *args)
    assert text.strip(), "the command said nothing"
    assert english_sentences(text, names) == [], text


def test_every_command_help_is_chinese(station, names, run_cli, capsys):
    from broadcaster.cli.main import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    found = {}
    for command in commands:
        text = run(run_cli, capsys, station, command, "--help")
        if english_sentences(text, names):
            found[command] = english_sentences(text, names)
    assert found == {}


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_broken_file_is_explained_in_chinese(case, station, names, run_cli, capsys):
    place(case, station)
    text = run(run_cli, capsys, station, "check")
    assert "错误" in text
    assert english_sentences(text, names | {case.stem}) == [], text


def test_english_can_still_be_asked_for_under_a_chinese_locale(station, run_cli):
    result = run_cli("--ui-language", "en", "list", cwd=station, lang=ZH)
    assert "never" in result.out
