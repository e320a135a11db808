"""The spoken languages of announcements, and the names people write for them."""

from __future__ import annotations

import re
from enum import StrEnum


class Language(StrEnum):
    """A spoken language of announcements."""

    MANDARIN = "mandarin"
    CANTONESE = "cantonese"


LANGUAGE_NAMES = {
    "mandarin": Language.MANDARIN, "cmn": Language.MANDARIN, "zh": Language.MANDARIN,
    "普通话": Language.MANDARIN, "普通話": Language.MANDARIN, "国语": Language.MANDARIN,
    "cantonese": Language.CANTONESE, "yue": Language.CANTONESE, "粤语": Language.CANTONESE,
    "粵語": Language.CANTONESE, "广东话": Language.CANTONESE, "廣東話": Language.CANTONESE,
    "白话": Language.CANTONESE, "白話": Language.CANTONESE,
}  # fmt: skip


# A romanized reading: syllables with tone numbers, pinyin (5 = neutral) or jyutping.
_SYLLABLES = {
    Language.MANDARIN: re.compile(r"[a-zü:]+[1-5]( +[a-zü:]+[1-5])*"),
    Language.CANTONESE: re.compile(r"[a-z]+[1-6]( +[a-z]+[1-6])*"),
}


def is_romanized(reading: str, language: Language) -> bool:
    """True for ``yin2 hang2`` (pinyin) or ``wai6 sang1`` (jyutping), with tone numbers."""
    return _SYLLABLES[language].fullmatch(reading.strip().lower().replace("v", "ü")) is not None

