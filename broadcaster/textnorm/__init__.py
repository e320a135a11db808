"""Chinese text normalization: what a speaker would say for digits, dates, units.

No TTS engine does this for Chinese (espeak-ng reads 2020年 as 二千二十年 and a
mobile number as one huge cardinal), so it happens here, per language, before
any engine sees the text. :func:`normalize` is the entry point.
"""

from __future__ import annotations

from collections.abc import Mapping

from broadcaster.config import Language
from broadcaster.textnorm import cantonese, mandarin
from broadcaster.textnorm.rules import Style, apply_lexicon, normalize_with, split_sentences

STYLES: dict[Language, Style] = {
    Language.MANDARIN: mandarin.STYLE,
    Language.CANTONESE: cantonese.STYLE,
}

__all__ = ["normalize", "split_sentences", "STYLES"]


def normalize(text: str, language: Language, lexicon: Mapping[str, str] | None = None) -> str:
    """The text as it should be spoken in ``language``.

    ``lexicon`` (the station's, from config.yaml) is applied first, so it can
    override the built-in readings of names and polyphones.
    """
    style = STYLES[language]
    text = apply_lexicon(text, lexicon or {})
    text = apply_lexicon(text, style.lexicon)
    return normalize_with(text, style)
