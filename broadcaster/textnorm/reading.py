"""Readings: the syllables a speaker says for each word, pinyin or jyutping with tone numbers.

espeak-ng reads Hanzi one character at a time with a default reading, so
polyphones and common words come out wrong (咳嗽, 外地, 佛山; 醫生 in Cantonese).
Its ``cmn-latn-pinyin`` and ``yue-Latn-jyutping`` voices read romanized text
right, so the text is romanized here, word by word, and the romanized form is
what espeak-ng gets (:func:`romanize`). Engines with their own Chinese front
end (SAPI, NSSpeech, sherpa-onnx) keep the characters.

- Mandarin: ``pypinyin`` with its phrase dictionary (word-level readings, the
  tone changes of 一 and 不), after the station's lexicon and a short built-in one.
- Cantonese: a built-in word list (words ``ToJyutping`` and espeak-ng get
  wrong), the station's lexicon first, then ``ToJyutping`` for the rest; it
  knows simplified characters too.

A lexicon entry is ``word: reading``; the reading is romanized (``yin2 hang2``)
or, as written before romanized readings existed, characters that sound right
(deprecated: ``check`` warns, since the characters show up as typos).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from broadcaster.language import Language, is_romanized
from broadcaster.textnorm import cantonese, mandarin
from broadcaster.textnorm.rules import HANZI

_RUN = rf"{HANZI}+"  # compiled on first use, not at import (a warm render never reads)


@dataclass(frozen=True)
class Word:
    """A piece of a sentence: Chinese characters with their reading, or anything else as it is."""

    text: str
    reading: str = ""
    """Syllables with tone numbers, space-separated; empty for punctuation, Latin, spaces."""


@dataclass(frozen=True)
class Sentence:
    """One sentence to speak: its normalized characters and their readings."""

    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return "".join(word.text for word in self.words)

    @property
    def romanized(self) -> str:
        """What the romanized voices get: readings, and everything else as written."""
        out: list[str] = []
        for word in self.words:
            out.append(f" {word.reading} " if word.reading else word.text)
        return re.sub(r" +", " ", "".join(out)).strip()

    @property
    def speaks(self) -> bool:
        """False for a sentence of punctuation only (``……``, a closing quote): it is a pause."""
        return any(word.reading or re.search(r"[A-Za-z0-9]", word.text) for word in self.words)

    def shown(self) -> str:
        """Word by word with readings, for the secretary: ``咳嗽(ke2 sou5)``."""
        return "".join(f"{w.text}({w.reading})" if w.reading else w.text for w in self.words)


@functools.cache
def reading_versions() -> tuple[str, ...]:
    """Everything that decides the readings of a text besides the text and the lexicon: the
    normalization rules and this front end (by their source), pypinyin and ToJyutping (by
    their installed files: found without importing them, faster than their package metadata).
    """
    sources = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        sources.update(path.read_bytes())
    return (sources.hexdigest(), _installed("pypinyin"), _installed("ToJyutping"))


def _installed(package: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return f"{package}: not installed"
    stat = os.stat(spec.origin)
    return f"{package}: {stat.st_size} {stat.st_mtime_ns}"


def read(text: str, language: Language, lexicon: Mapping[str, str] | None = None) -> Sentence:
    """``text`` (normalized: digits already words) with a reading for every Chinese word."""
    words: list[Word] = []
    position = 0
    for run in re.finditer(_RUN, text):
        if run.start() > position:
            words.append(Word(text[position : run.start()]))
        words += _read_run(run[0], language, lexicon or {})
        position = run.end()
    if position < len(text):
        words.append(Word(text[position:]))
    return Sentence(tuple(words))


def _read_run(run: str, language: Language, lexicon: Mapping[str, str]) -> list[Word]:
    """A run of characters: lexicon words (the station's, then the built-in ones) and the rest."""
    built_in = mandarin.READINGS if language is Language.MANDARIN else cantonese.READINGS
    words: list[Word] = []
    rest = ""
    i = 0
    while i < len(run):
        found = _longest(run, i, lexicon) or _longest(run, i, built_in)
        if found is None:
            rest += run[i]
            i += 1
            continue
        word, reading = found
        if rest:
            words += _read_plain(rest, language)
            rest = ""
        if not is_romanized(reading, language):  # the old form: characters that sound right
            reading = " ".join(w.reading for w in _read_plain(reading, language) if w.reading)
        words.append(Word(word, reading))
        i += len(word)
    if rest:
        words += _read_plain(rest, language)
    return words


def _longest(run: str, start: int, lexicon: Mapping[str, str]) -> tuple[str, str] | None:
    best = None
    for word, reading in lexicon.items():
        if run.startswith(word, start) and (best is None or len(word) > len(best[0])):
            best = (word, reading)
    return best


def _read_plain(run: str, language: Language) -> list[Word]:
    if language is Language.MANDARIN:
        return _pinyin(run)
    return _jyutping(run)


def _pinyin(run: str) -> list[Word]:
    from pypinyin import Style, lazy_pinyin
    from pypinyin.seg.mmseg import seg

    syllables = lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True, tone_sandhi=True,
                            errors=lambda chars: ["" for _ in chars])  # type: ignore[arg-type,return-value]  # stub: str, takes a list
    syllables = [s.replace("v", "ü") for s in syllables]
    segments = list(seg.cut(run))
    _yi_tone(run, syllables, segments)
    # Words as pypinyin's phrase dictionary sees them; single characters in a row are shown together.
    pieces: list[str] = []
    singles = False  # the last piece is a run of single characters
    for word in segments:
        if len(word) == 1 and singles:
            pieces[-1] += word
        else:
            pieces.append(word)
            singles = len(word) == 1
    words, i = [], 0
    for piece in pieces:
        words.append(Word(piece, " ".join(s for s in syllables[i : i + len(piece)] if s)))
        i += len(piece)
    return words


_YI_STAYS_AFTER = set("第十零一二三四五六七八九百千统統唯之单單划劃")  # counted, or words ending in 一
_YI_STAYS_BEFORE = set("零一二三四五六七八九十月号號日")


def _yi_tone(run: str, syllables: list[str], segments: list[str]) -> None:
    """一 as it is said (pypinyin's own rule misses many): yī when counted or read as a digit
    (第一, 十一, 一月, 一二三) or ending a word (统一, 之一); yí before a fourth or neutral tone
    (一律, 一次); yì before the others (一天, 一年, 一起)."""
    ends = set()
    position = 0
    for word in segments:
        position += len(word)
        if len(word) > 1:
            ends.add(position - 1)
    for i, char in enumerate(run):
        if char != "一" or i + 1 >= len(run) or not syllables[i + 1]:
            continue
        if i in ends or (i and run[i - 1] in _YI_STAYS_AFTER) or run[i + 1] in _YI_STAYS_BEFORE:
            syllables[i] = "yi1"
        else:
            syllables[i] = "yi2" if syllables[i + 1][-1] in "45" else "yi4"


@functools.cache
def _jyutping_converter():
    import ToJyutping

    return ToJyutping


def _jyutping(run: str) -> list[Word]:
    pairs = _jyutping_converter().get_jyutping_list(run.translate(cantonese.AS_TRADITIONAL))
    return [Word(run, " ".join(reading for _, reading in pairs if reading))]
