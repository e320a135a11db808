"""Chinese text as it is spoken: words for digits, dates and units, then readings.

No TTS engine does this for Chinese (espeak-ng reads 2020年 as 二千二十年 and a
mobile number as one huge cardinal), so it happens here, per language, before
any engine sees the text. :func:`normalize` gives the words;
:func:`sentences` splits them and gives every word its reading
(:mod:`broadcaster.textnorm.reading`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping

from broadcaster.language import Language
from broadcaster.textnorm import cantonese, mandarin
from broadcaster.textnorm.reading import Sentence, Word, read, reading_versions
from broadcaster.textnorm.rules import Style, normalize_with, split_sentences

STYLES: dict[Language, Style] = {
    Language.MANDARIN: mandarin.STYLE,
    Language.CANTONESE: cantonese.STYLE,
}

__all__ = ["normalize", "sentences", "each_sentence", "split_sentences", "read", "reading_versions",
           "Sentence", "Word", "STYLES"]


@functools.lru_cache(maxsize=64)  # checked, then looked up in the cache: the same text twice
def normalize(text: str, language: Language) -> str:
    """The text as it should be spoken in ``language``: digits, dates, units and symbols as words."""
    return normalize_with(text, STYLES[language])


def sentences(text: str, language: Language, lexicon: Mapping[str, str] | None = None) -> list[Sentence]:
    """The sentences to speak, each word with its reading; ``lexicon`` (the station's) comes first."""
    return list(each_sentence(text, language, lexicon))


def each_sentence(text: str, language: Language,
                  lexicon: Mapping[str, str] | None = None) -> Iterator[Sentence]:  # fmt: skip
    """:func:`sentences` one at a time: the first can be spoken while the others are read."""
    for sentence in split_sentences(normalize(text, language)):
        yield read(sentence, language, lexicon)
