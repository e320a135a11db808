"""Word readings: what espeak-ng is given, checked in its own phonemes, and what the secretary sees."""

from __future__ import annotations

import pytest

from broadcaster.language import Language
from broadcaster.textnorm import read, sentences
from tests.readinglib import HANZI_VOICE, ROMANIZED_VOICE, ours, score, tojyutping_alone, word_list

MANDARIN_WORDS = word_list("mandarin-words.tsv")
CANTONESE_WORDS = word_list("cantonese-words.tsv")


def test_mandarin_polyphones_are_read_as_the_dictionary_says():
    assert len(MANDARIN_WORDS) == 52
    wrong = score(
        MANDARIN_WORDS, Language.MANDARIN, ours(Language.MANDARIN), ROMANIZED_VOICE[Language.MANDARIN]
    )
    assert len(wrong) <= 3, wrong
    # The characters alone, through the same voice, are what the readings replace.
    as_characters = score(
        MANDARIN_WORDS, Language.MANDARIN, lambda word: word, HANZI_VOICE[Language.MANDARIN]
    )
    assert len(as_characters) > 30


def test_cantonese_words_are_read_right_and_better_than_the_yue_voice_alone():
    assert len(CANTONESE_WORDS) >= 100
    wrong = score(CANTONESE_WORDS, Language.CANTONESE, ours(Language.CANTONESE),
                  ROMANIZED_VOICE[Language.CANTONESE])  # fmt: skip
    alone = score(CANTONESE_WORDS, Language.CANTONESE, tojyutping_alone, ROMANIZED_VOICE[Language.CANTONESE])
    as_characters = score(
        CANTONESE_WORDS, Language.CANTONESE, lambda word: word, HANZI_VOICE[Language.CANTONESE]
    )
    assert len(wrong) <= 2, wrong
    assert len(wrong) <= len(alone) < len(as_characters)


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("有发烧咳嗽及时就医", Language.MANDARIN, "ke2 sou4"),
    ("从外地返乡的人员", Language.MANDARIN, "wai4 di4"),
    ("佛山市南海区", Language.MANDARIN, "fo2 shan1 shi4"),
    ("银行行长", Language.MANDARIN, "yin2 hang2 hang2 zhang3"),
    ("用酒精擦拭门把手", Language.MANDARIN, "ba3 shou3"),
    ("婚宴请一律取消", Language.MANDARIN, "yi2 lü4"),
    ("每天一次", Language.MANDARIN, "yi2 ci4"),
    ("一天三次", Language.MANDARIN, "yi4 tian1"),
    ("二零二零年一月", Language.MANDARIN, "yi1 yue4"),
    ("不要聚餐", Language.MANDARIN, "bu2 yao4"),
    ("去鎮衛生院發熱門診睇醫生", Language.CANTONESE, "wai6 sang1 jyun2 faat3 jit6 mun4 can2 tai2 ji1 sang1"),
    ("里水镇卫生站", Language.CANTONESE, "lei5 seoi2"),
    ("医生话", Language.CANTONESE, "ji1 sang1"),
    ("扩大消毒范围", Language.CANTONESE, "kwok3 daai6"),
    ("银行行长", Language.CANTONESE, "ngan4 hong4 hong4 zoeng2"),
    ("聽日上晝喺屋企", Language.CANTONESE, "ting1 jat6 soeng6 zau3 hai2 uk1 kei2"),
])  # fmt: skip
def test_words_of_the_sample_notices_get_their_readings(text, language, expected):
    assert expected in read(text, language).romanized


def test_the_station_lexicon_comes_first_in_either_form():
    lexicon = {"上西村": "shang4 xi1 cun1", "银行": "yin2 xing2"}  # a name, and a deliberate override
    assert read("上西村银行", Language.MANDARIN, lexicon).romanized == "shang4 xi1 cun1 yin2 xing2"
    old_form = read("上西村", Language.MANDARIN, {"上西村": "尚西村"})  # characters that sound right
    assert old_form.text == "上西村" and old_form.romanized == "shang4 xi1 cun1"


def test_punctuation_only_sentences_join_the_sentence_before_or_speak_nothing():
    said = sentences("他说：“大家好。”……请注意。", Language.MANDARIN)
    assert [s.text for s in said] == ["他说：“大家好。”……", "请注意。"]
    assert [s.speaks for s in sentences("……", Language.MANDARIN)] == [False]


def test_latin_letters_are_passed_on_as_written():
    said = read("请扫QR码", Language.MANDARIN)
    assert "QR" in said.romanized and said.romanized.startswith("qing3 sao3")


def test_check_warns_about_a_lexicon_entry_in_the_old_form(station, run_cli):
    config = station / "config.yaml"
    text = config.read_text(encoding="utf-8").replace("上西村: shang4 xi1 cun1", "上西村: 尚西村")
    config.write_text(text, encoding="utf-8")
    result = run_cli("check", cwd=station)
    assert result.code == 0, result.text
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if "尚西村" in row)
    assert f"config.yaml:{line}:" in result.out and "respells the word" in result.out


def test_say_text_only_prints_the_words_then_each_with_its_reading(station, run_cli):
    result = run_cli("say", "上西村的银行行长说：“大家好。”……", "--text-only", cwd=station)
    assert result.code == 0, result.text
    first, *readings = result.out.splitlines()
    assert first == "上西村的银行行长说：“大家好。”……"
    assert "上西村(shang4 xi1 cun1)" in readings[0] and "银行(yin2 hang2)行长(hang2 zhang3)" in readings[0]


def test_check_warns_about_latin_words_and_symbols_it_cannot_read(station, run_cli):
    (station / "announcements" / "scan.yaml").write_text(
        "language: mandarin\ntext: 请扫QR码，体温≥37.3℃的请戴N95口罩\n", encoding="utf-8"
    )
    result = run_cli("check", cwd=station)
    assert result.code == 0, result.text
    rows = [row for row in result.out.splitlines() if row.startswith("announcements/scan.yaml:2:7: warning")]
    assert any("'QR' will be read in English" in row for row in rows), result.out
    assert any("'≥' cannot be read aloud" in row for row in rows), result.out
    chinese = run_cli("check", cwd=station, lang="zh_CN.UTF-8")
    assert "“QR”会用英语读" in chinese.out


def test_latin_abbreviations_go_to_the_english_voice_letter_by_letter():
    from broadcaster.config import SpeechSettings
    from broadcaster.tts.espeak import EspeakEngine

    engine = EspeakEngine()
    prepared = engine.prepare(read("户外LED屏", Language.MANDARIN), Language.MANDARIN, SpeechSettings())
    assert '<voice name="en">L E D</voice>' in prepared
    phonemes = engine.phonemes(prepared, Language.MANDARIN, SpeechSettings()).split()
    assert phonemes[2:5] == ["'El", "'i:", "d'i:"]  # L, E, D as English letter names


def test_the_examples_in_docs_readings_are_what_the_station_says():
    import re

    from broadcaster.textnorm import normalize
    from tests.conftest import REPO

    lines = (REPO / "docs" / "readings.md").read_text("utf-8").splitlines()
    table = [line for line in lines if line.startswith("| `")]
    rows = [[cell.strip().strip("`") for cell in line.split("|")[1:4]] for line in table]
    assert len(rows) >= 15
    for written, mandarin, cantonese in rows:
        assert normalize(written, Language.MANDARIN) == mandarin
        if cantonese:
            own = re.fullmatch(r"\((.+?)\) (.+)", cantonese)
            text, said = (own[1], own[2]) if own else (written, cantonese)
            assert normalize(text, Language.CANTONESE) == said, text


def test_markup_in_the_text_stays_text_for_espeak(tmp_path):
    from broadcaster.config import SpeechSettings
    from broadcaster.textnorm import Sentence, Word
    from broadcaster.tts.espeak import EspeakEngine

    hostile = Sentence((Word("请注意", "qing3 zhu4 yi4"), Word('</voice><audio src="x.wav"/>&')))
    prepared = EspeakEngine().prepare(hostile, Language.MANDARIN, SpeechSettings())
    assert "<audio" not in prepared and "&lt;audio" in prepared and "&amp;" in prepared
