"""Word readings measured the way the listener hears them: in espeak-ng's phonemes.

A word is read right when espeak-ng's phonemes (``espeak-ng -q -x``) for what a
front end sends are those of the word's dictionary reading sent through the same
romanized voice. Used by tests/test_readings.py and bench/bench_readings.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from broadcaster.language import Language
from broadcaster.textnorm import read

CORPUS = Path(__file__).resolve().parent / "corpus" / "readings"
ROMANIZED_VOICE = {Language.MANDARIN: "cmn-latn-pinyin", Language.CANTONESE: "yue-latn-jyutping"}
HANZI_VOICE = {Language.MANDARIN: "cmn-latn-pinyin", Language.CANTONESE: "yue"}


def word_list(name: str) -> list[tuple[str, list[str]]]:
    """(word, accepted readings) from a ``word<TAB>reading|reading`` file."""
    out = []
    for line in (CORPUS / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            word, readings = line.split("\t")
            out.append((word, readings.split("|")))
    return out


def phonemes(texts: list[str], voice: str) -> list[str]:
    """espeak-ng's phonemes for each text, one process for all (each text its own clause)."""
    out = subprocess.run(["espeak-ng", "-q", "-x", "-v", voice, "--stdin"], check=True, capture_output=True,
                         input="\n".join(f"{t} 。" for t in texts).encode()).stdout.decode()  # fmt: skip
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    assert len(lines) == len(texts), "one line of phonemes per word"
    return lines


def _syllables(line: str) -> str:
    """espeak-ng's Cantonese phonemes in one notation: the ``yue`` voice writes ``z'ing3``,
    ``Na4nh'ong4`` and tone 7 where its jyutping sibling writes ``z'i3N``, ``N'a4n h'ong4``
    and tone 1 for the same sounds. Compared: the sounds in order, then the tones in order."""
    line = line.replace("'", "").replace("_|", "").replace(" ", "").replace("N", "ng")
    tones = "".join({"7": "1", "8": "3", "9": "6"}.get(c, c) for c in line if c.isdigit())
    return "".join(c for c in line if not c.isdigit()) + " " + tones


def score(words: list[tuple[str, list[str]]], language: Language,
          sent: Callable[[str], str], voice: str) -> list[str]:  # fmt: skip
    """The words a front end gets wrong: ``sent(word)`` is what it gives espeak-ng through ``voice``."""
    same = _syllables if language is Language.CANTONESE else (lambda line: line)
    got = [same(line) for line in phonemes([sent(word) for word, _ in words], voice)]
    alternatives = [reading for _, readings in words for reading in readings]
    expected = iter(same(line) for line in phonemes(alternatives, ROMANIZED_VOICE[language]))
    wrong = []
    for (word, readings), heard in zip(words, got, strict=True):
        if heard not in [next(expected) for _ in readings]:
            wrong.append(word)
    return wrong


def ours(language: Language) -> Callable[[str], str]:
    return lambda word: read(word, language).romanized


def tojyutping_alone(word: str) -> str:
    import ToJyutping

    return " ".join(r for _, r in ToJyutping.get_jyutping_list(word) if r)
