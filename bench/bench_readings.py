"""Word readings in espeak-ng's phonemes: the front ends against the characters alone.

Run:  .venv/bin/python bench/bench_readings.py

Mandarin: 52 polyphones of village notices (tests/corpus/readings/mandarin-words.tsv).
Cantonese: 130 words of notices (tests/corpus/readings/cantonese-words.tsv), held out
from the built-in word list, through: espeak-ng's ``yue`` voice on the characters,
ToJyutping alone, and broadcaster's front end (built-in list, then ToJyutping).
pycantonese was measured the same way once, in its own environment (it is not a
dependency); its figure is in docs/readings.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broadcaster.language import Language  # noqa: E402
from tests.readinglib import HANZI_VOICE, ROMANIZED_VOICE, ours, score, tojyutping_alone, word_list  # noqa: E402


def report(name: str, words: list, language: Language, sent, voice: str) -> None:  # type: ignore[no-untyped-def]
    wrong = score(words, language, sent, voice)
    print(f"{name}: {len(words) - len(wrong)}/{len(words)} right; wrong: {' '.join(wrong) or '-'}")


def main() -> None:
    mandarin, cantonese = word_list("mandarin-words.tsv"), word_list("cantonese-words.tsv")
    report("mandarin, characters through cmn-latn-pinyin", mandarin, Language.MANDARIN, lambda w: w,
           HANZI_VOICE[Language.MANDARIN])  # fmt: skip
    report("mandarin, broadcaster's pinyin", mandarin, Language.MANDARIN, ours(Language.MANDARIN),
           ROMANIZED_VOICE[Language.MANDARIN])  # fmt: skip
    report("cantonese, characters through yue", cantonese, Language.CANTONESE, lambda w: w,
           HANZI_VOICE[Language.CANTONESE])  # fmt: skip
    report("cantonese, ToJyutping alone", cantonese, Language.CANTONESE, tojyutping_alone,
           ROMANIZED_VOICE[Language.CANTONESE])  # fmt: skip
    report("cantonese, broadcaster's jyutping", cantonese, Language.CANTONESE, ours(Language.CANTONESE),
           ROMANIZED_VOICE[Language.CANTONESE])  # fmt: skip


if __name__ == "__main__":
    main()
