"""Cantonese readings: 兩, 廿 for 21–29, 一 (never 幺) in phone numbers."""

from broadcaster.textnorm.rules import Style

# Words ToJyutping reads wrongly (jyutping with tone numbers), in traditional and
# simplified characters; the station's lexicon comes first.
READINGS: dict[str, str] = {
    "行長": "hong4 zoeng2", "行长": "hong4 zoeng2",
    "組長": "zou2 zoeng2", "组长": "zou2 zoeng2",
    "鎮長": "zan3 zoeng2", "镇长": "zan3 zoeng2",
    "樓長": "lau4 zoeng2", "楼长": "lau4 zoeng2",
    "門診": "mun4 can2", "门诊": "mun4 can2",
    "村委會": "cyun1 wai2 wui2", "村委会": "cyun1 wai2 wui2",
    "居委會": "geoi1 wai2 wui2", "居委会": "geoi1 wai2 wui2",
    "知識": "zi1 sik1", "知识": "zi1 sik1",
}  # fmt: skip

# Simplified characters that are also other traditional characters: ToJyutping reads
# 医 as the traditional 医 (ai3); in a notice it is always 醫. Read as the traditional form.
AS_TRADITIONAL = str.maketrans({"医": "醫"})

STYLE = Style(
    digits="零一二三四五六七八九",
    phone_one="一",
    liang="兩",
    wan="萬",
    yi="億",
    point="點",
    dian="點",
    fen="分",
    range_word="至",
    percent="百分之",
    minus="負",
    below_zero="零下",
    celsius=("攝氏", "度"),
    nian_twenty=True,
    units={
        "ml": "毫升",
        "mL": "毫升",
        "l": "公升",
        "L": "公升",
        "km": "公里",
        "kg": "公斤",
        "cm": "厘米",
        "mm": "毫米",
        "m": "米",
        "g": "克",
        "mg": "毫克",
        "kw": "千瓦",
        "h": "個鐘",
        "min": "分鐘",
        "s": "秒",
        "元": "元",
        "¥": "元",
        "￥": "元",
    },
    classifiers="個个人位名戶户家次日天年周週歲岁條条樽瓶件把張张台輛辆層层所座隻只頭头項项批句點点元蚊蚊萬万千百億亿公米克升分鐘钟秒",
    dollar="蚊",
    liang_hundreds=True,
    phone_words=(
        "電話",
        "电话",
        "熱線",
        "热线",
        "手機",
        "手机",
        "撥打",
        "拨打",
        "號碼",
        "号码",
        "致電",
        "致电",
        "聯絡",
        "联系",
        "打",
    ),
)
