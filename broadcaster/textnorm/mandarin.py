"""Mandarin readings: 两 before measure words, 幺 for 1 in phone numbers, word readings."""

from broadcaster.textnorm.rules import Style

# Words whose reading pypinyin gets wrong in notices (pinyin with tone numbers);
# the station's lexicon comes first.
READINGS: dict[str, str] = {
    "接种": "jie1 zhong4", "接種": "jie1 zhong4",
    "还款": "huan2 kuan3", "還款": "huan2 kuan3",
    "还贷": "huan2 dai4", "還貸": "huan2 dai4",
    "大夫": "dai4 fu5",
    "把手": "ba3 shou3",
}  # fmt: skip

STYLE = Style(
    digits="零一二三四五六七八九",
    phone_one="幺",
    liang="两",
    wan="万",
    yi="亿",
    point="点",
    dian="点",
    fen="分",
    range_word="到",
    percent="百分之",
    minus="负",
    below_zero="零下",
    celsius=("", "摄氏度"),
    nian_twenty=False,
    units={
        "ml": "毫升",
        "mL": "毫升",
        "l": "升",
        "L": "升",
        "km": "公里",
        "kg": "公斤",
        "cm": "厘米",
        "mm": "毫米",
        "m": "米",
        "g": "克",
        "mg": "毫克",
        "kw": "千瓦",
        "h": "小时",
        "min": "分钟",
        "s": "秒",
        "元": "元",
        "¥": "元",
        "￥": "元",
    },
    classifiers="个人位名户家次天年周岁条瓶件把张台辆层所座只头项批句点小元块万千百亿公米克升分钟秒",
    dollar="美元",
    phone_words=("电话", "热线", "手机", "拨打", "号码", "致电", "联系", "打"),
)
