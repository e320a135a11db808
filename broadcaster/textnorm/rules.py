"""The normalization rules, shared by both languages and driven by a :class:`Style`.

The rules run in a fixed order, most specific first (a date before a time,
a phone number before a plain number), each replacing what it recognises by
Chinese words, so later rules never see those digits again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """The words one language uses to read numbers and symbols."""

    digits: str
    phone_one: str
    """How 1 is read inside a phone number (幺 in Mandarin, 一 in Cantonese)."""
    liang: str
    """两/兩: 2 before a measure word."""
    wan: str
    yi: str
    point: str
    """Decimal point."""
    dian: str
    """o'clock."""
    fen: str
    range_word: str
    percent: str
    minus: str
    below_zero: str
    celsius: tuple[str, str]
    """Words before and after a temperature."""
    nian_twenty: bool
    """Read 21–29 as 廿一…廿九 (Cantonese)."""
    units: Mapping[str, str]
    classifiers: str
    """Characters after which 2 is read 两/兩."""
    phone_words: tuple[str, ...]
    dollar: str
    """What ``$50`` is read as after the number (美元; 蚊 in Cantonese)."""
    liang_hundreds: bool = False
    """A leading 2 before 百/千 is always 两/兩 (Cantonese: 兩百, never 二百)."""


HANZI = r"[\u3400-\u9fff\uf900-\ufaff]"
_FULLWIDTH = str.maketrans("０１２３４５６７８９％．－～", "0123456789%.-~")


# --- numbers -------------------------------------------------------------------------------


def digits(number: str, style: Style, phone: bool = False) -> str:
    """Read digit by digit: 2020 → 二零二零; in phone numbers 1 may be 幺."""
    out = [style.digits[int(d)] for d in number if d.isdigit()]
    if phone:
        out = [style.phone_one if d == "1" else w for d, w in zip(number, out, strict=True)]
    return "".join(out)


def _four(n: int, style: Style, liang: bool, leading: bool) -> str:
    """0 < n < 10000, read with 千百十; ``leading`` when nothing comes before it."""
    units = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
    out: list[str] = []
    zero = False
    for value, unit in units:
        d = n // value % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out.append(style.digits[0])
            zero = False
        if d == 1 and unit == "十" and not out and leading:
            out.append("十")  # 十五, not 一十五
            continue
        if d == 2 and unit in ("千", "百") and not out and (liang or style.liang_hundreds):
            word = style.liang
        elif d == 2 and unit == "" and not out and liang:
            word = style.liang
        else:
            word = style.digits[d]
        out.append(word + unit)
    return "".join(out)


def cardinal(n: int, style: Style, liang: bool = False) -> str:
    """A whole number as spoken: 12 → 十二, 101 → 一百零一, 20000 → 两万 (when ``liang``)."""
    if n == 0:
        return style.digits[0]
    if style.nian_twenty and 21 <= n <= 29:
        return "廿" + style.digits[n - 20]
    groups = []
    for unit in ("", style.wan, style.yi):
        groups.append((n % 10000, unit))
        n //= 10000
        if not n:
            break
    out: list[str] = []
    need_zero = False
    for value, unit in reversed(groups):
        if value == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or value < 1000):
            out.append(style.digits[0])
        # 两 for the leading 2 of 2000, 20000, 200000000 and for a lone 2.
        lead_liang = liang or (not out and unit != "" and value == 2) or (not out and value >= 1000)
        out.append(_four(value, style, lead_liang and not out, leading=not out) + unit)
        need_zero = False
    return "".join(out)


def decimal(number: str, style: Style) -> str:
    whole, _, frac = number.partition(".")
    text = cardinal(int(whole), style)
    return text + style.point + digits(frac, style) if frac else text


def signed(number: str, style: Style, liang: bool = False) -> str:
    minus = number.startswith("-")
    number = number.lstrip("-+")
    text = decimal(number, style) if "." in number else cardinal(int(number), style, liang)
    return (style.minus if minus else "") + text


# --- the rules -----------------------------------------------------------------------------

Rule = Callable[[str, Style], str]
NUM = r"\d+(?:\.\d+)?"


def _sub(pattern: str, make: Callable[[re.Match[str], Style], str]) -> Rule:
    compiled = re.compile(pattern)

    def rule(text: str, style: Style) -> str:
        return compiled.sub(lambda m: make(m, style), text)

    return rule


def _full_date(m: re.Match[str], s: Style) -> str:
    return f"{digits(m[1], s)}年{cardinal(int(m[2]), s)}月{cardinal(int(m[3]), s)}{m[4] or '日'}"


def _time(m: re.Match[str], s: Style) -> str:
    hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
    if hour > 24 or minute > 59 or second > 59:
        return m[0]
    text = cardinal(hour, s, liang=hour == 2) + s.dian
    if minute or second:
        text += (s.digits[0] if minute < 10 else "") + cardinal(minute, s) + s.fen
    if second:
        text += cardinal(second, s) + "秒"
    return text


def _phone(number: str, s: Style) -> str:
    """Read a phone number digit by digit, in groups a listener can follow."""
    parts = [p for p in re.split(r"[-\s]", number) if p]
    if len(parts) == 1 and len(parts[0]) == 11 and parts[0].startswith("1"):
        n = parts[0]
        parts = [n[:3], n[3:7], n[7:]]
    elif len(parts) == 1 and len(parts[0]) >= 7:
        n = parts[0]
        parts = [n[: len(n) - 4], n[-4:]]
    return "，".join(digits(p, s, phone=True) for p in parts)


def _phone_in_context(m: re.Match[str], s: Style) -> str:
    return m[1] + _phone(m[2], s)


def _range(m: re.Match[str], s: Style) -> str:
    liang = _is_classifier(m[3], s)  # 2到3次 → 两到三次
    return f"{signed(m[1], s, liang)}{s.range_word}{signed(m[2], s, liang)}{m[3]}"


def _is_classifier(after: str, s: Style) -> bool:
    return bool(after) and after[0] in s.classifiers


def _temperature(m: re.Match[str], s: Style) -> str:
    value = m[1]
    before, after = s.celsius
    if value.startswith("-"):
        return f"{s.below_zero}{before}{decimal(value[1:], s)}{after}"
    return f"{before}{decimal(value, s)}{after}"


def _unit(m: re.Match[str], s: Style) -> str:
    unit = s.units.get(m[2]) or s.units.get(m[2].lower(), m[2])
    return signed(m[1], s, liang=True) + unit


def _money_prefix(m: re.Match[str], s: Style) -> str:
    return signed(m[1], s, liang=True) + "元"


def _number(m: re.Match[str], s: Style) -> str:
    number, after = m[1], m[2]
    plain = number.lstrip("-+")
    if "." not in plain and (len(plain) > 12 or (len(plain) > 1 and plain.startswith("0"))):
        return digits(plain, s) + after  # a code or an id: digit by digit
    return signed(number, s, liang=_is_classifier(after, s)) + after


_CLEAN_PUNCT = {",": "，", "!": "！", "?": "？", ";": "；", ":": "：", "(": "（", ")": "）"}


def _rules(style: Style) -> list[Rule]:
    phone_words = "|".join(map(re.escape, sorted(style.phone_words, key=len, reverse=True)))
    units = "|".join(map(re.escape, sorted((u for u in style.units if u.isascii()), key=len,
                                           reverse=True)))  # fmt: skip
    classifiers = re.escape(style.classifiers)
    hotlines = "|".join(sorted(HOTLINES, key=len, reverse=True))
    code_words = "|".join(map(re.escape, sorted(CODE_WORDS, key=len, reverse=True)))
    return [
        # 1,200 → 1200 (thousands separators are not pauses)
        _sub(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+)(?![\d,])", lambda m, s: m[1].replace(",", "")),
        # 2020-01-28, 2020/1/28, 2020年1月28日
        _sub(
            r"(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})\s*([日号號])?", _full_date
        ),  # fmt: skip
        _sub(r"(\d{4})(?=\s*年)", lambda m, s: digits(m[1], s)),  # years digit by digit
        _sub(r"(\d{1,2})(?=\s*月)", lambda m, s: cardinal(int(m[1]), s)),
        _sub(r"(?<=月)(\d{1,2})(?=\s*[日号號])", lambda m, s: cardinal(int(m[1]), s)),
        # phone numbers: a landline with area code, a mobile, or digits after 电话/热线…
        _sub(r"(?<!\d)(0\d{2,3}-\d{7,8})(?!\d)", lambda m, s: _phone(m[1], s)),
        _sub(r"(?<!\d)(1[3-9]\d{9})(?!\d)", lambda m, s: _phone(m[1], s)),
        _sub(
            rf"((?:{phone_words})[^\d\n。！？]{{0,6}}?)(\d{{3,}}(?:[-\s]\d+)*)", _phone_in_context
        ),  # fmt: skip
        _sub(
            rf"((?:{code_words}|{_TAIL})\s*[:：]?\s*)(\d+)", lambda m, s: m[1] + digits(m[2], s, phone=True)
        ),
        _sub(rf"(?<![\d.])({hotlines})(?![\d.%％])(?!\s*[{classifiers}])", _hotline),
        _sub(r"(?<![\d.])(\d{3,5})(?=\s*(?:室|房))", lambda m, s: digits(m[1], s)),
        _sub(r"\b[Nn][Oo]\.\s*(\d+)", lambda m, s: cardinal(int(m[1]), s) + "号"),
        _sub(r"([A-Za-z]+)-?(\d+)(?![\d.])", _letters_and_number),
        _sub(r"(\d{1,2})\s*[:：]\s*(\d{2})(?:[:：](\d{2}))?(?!\d)", _time),
        _sub(rf"(-?{NUM})\s*(?:%|％)", lambda m, s: s.percent + signed(m[1], s)),
        _sub(rf"(-?{NUM})\s*(?:℃|°C|°c|度C)", _temperature),
        _sub(rf"({NUM})\s*[-~～—–至到]\s*({NUM})\s*({HANZI}|[a-zA-Z]*)", _range),
        _sub(rf"[¥￥]\s*({NUM})\s*元?", _money_prefix),
        _sub(rf"(?:US)?\$\s*({NUM})", lambda m, s: signed(m[1], s, liang=True) + s.dollar),
        _sub(rf"({NUM})\s*({units})(?![a-zA-Z])", _unit),
        _sub(r"第\s*(\d+)", lambda m, s: "第" + cardinal(int(m[1]), s)),
        _sub(rf"([-+]?{NUM})(\s*{HANZI}?)", _number),
        # 14:00-17:30 (read by now), 周一-周五: a dash between words is a range
        _sub(rf"(?<={HANZI})\s*[-~～—–]+\s*(?={HANZI})", lambda m, s: s.range_word),
        # symbols no one reads aloud: 元/斤 → 元每斤; » > | and other slashes are pauses
        _sub(r"\s*/\s*(?=[斤公天次人个個小周月年])", lambda m, s: "每"),
        _sub(r"\s*[/»>|<«]+\s*", lambda m, s: "，"),
        # ASCII punctuation between Chinese becomes the real thing, which engines pause on.
        _sub(rf"({HANZI}|[”’」）])\s*([,.!?;:()])\s*(?=({HANZI}|[“‘「（]|$))", lambda m, s: _punct_two(m)),
        _sub(rf"(?<={HANZI})\s+(?={HANZI})", lambda m, s: "，"),
    ]


# Numbers announcers read digit by digit: emergency and service hotlines (anywhere in a
# sentence, unless a measure word follows: 110人 is a count), rooms, and codes.
HOTLINES = ("110", "119", "120", "122", "114", "999", "12345", "12320", "12315", "12316", "12319",
            "12328", "12333", "12348", "12355", "12358", "12365", "12366", "12369", "12377",
            "12388", "12123", "12306", "12121", "12110", "95598")  # fmt: skip
CODE_WORDS = ("尾号", "尾號", "尾數", "尾数", "编号", "編號", "工号", "工號", "车牌号", "車牌號",
              "车牌", "車牌", "验证码", "驗證碼", "单号", "單號", "房号", "房號", "门牌号", "門牌號",
              "账号", "賬號")  # fmt: skip
_TAIL = r"[后後][三四五六]位(?:是|为|為|係)?"


def _hotline(m: re.Match[str], s: Style) -> str:
    return digits(m[1], s, phone=True)


def _letters_and_number(m: re.Match[str], s: Style) -> str:
    """N95 → N九五, G107 → G一零七, COVID-19 → COVID十九 (a hyphen after letters is no minus)."""
    letters, number = m[1], m[2]
    return letters + (cardinal(int(number), s) if len(number) <= 2 and m[0][len(letters)] == "-"
                      else digits(number, s))  # fmt: skip


def _punct_two(m: re.Match[str]) -> str:
    return m[1] + _CLEAN_PUNCT.get(m[2], "。" if m[2] == "." else m[2])


_RULES_CACHE: dict[int, list[Rule]] = {}


def normalize_with(text: str, style: Style) -> str:
    text = text.translate(_FULLWIDTH)
    rules = _RULES_CACHE.get(id(style))
    if rules is None:
        rules = _RULES_CACHE[id(style)] = _rules(style)
    for rule in rules:
        text = rule(text, style)
    return re.sub(r"\s+", " ", text).strip()


_SPEAKS = rf"{HANZI}|[A-Za-z0-9]"  # compiled on first use, not at import
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;…\n])")


def split_sentences(text: str, longest: int = 80) -> list[str]:
    """Sentences to synthesize one by one; very long ones are cut at commas."""
    out: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        sentence = sentence.strip()
        while len(sentence) > longest:
            cut = max(sentence.rfind(c, 0, longest) for c in "，、,：")
            cut = cut + 1 if cut > 0 else longest
            out.append(sentence[:cut])
            sentence = sentence[cut:].strip()
        if sentence and not re.search(_SPEAKS, sentence) and out:
            out[-1] += sentence  # punctuation only (……, a closing quote): it belongs to the sentence before
        elif sentence:
            out.append(sentence)
    return out
