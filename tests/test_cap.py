"""CAP 1.2 alerts: read safely, checked against the schema, and what the station does with each."""

from __future__ import annotations

import datetime as dt

import pytest

from broadcaster.fleet.cap import CapError, announcement_id, decide, read_alert
from broadcaster.language import Language

NOW = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
FIRST = "foshan-weather@example.cn,GD-FS-2026-001,2026-11-30T16:00:00+08:00"
"""How an Update or a Cancel names the first alert: sender, identifier, sent."""


def alert(identifier: str = "GD-FS-2026-001", status: str = "Actual", msg_type: str = "Alert",
          references: str = "", infos: str | None = None) -> bytes:  # fmt: skip
    infos = infos if infos is not None else info("zh-CN", "暴雨红色预警", "请立即转移到安全地带。") + info(
        "yue", "暴雨紅色警告", "請即刻轉移去安全地方。")
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>foshan-weather@example.cn</sender>
  <sent>2026-11-30T16:00:00+08:00</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}
  {infos}
</alert>""".encode()


# Far ahead: the station tests air these on the real clock (an expiry of today failed them at 15:00 UTC).
def info(language: str, headline: str, instruction: str, expires: str = "2099-11-30T23:00:00+08:00",
         geocode: str = "440605") -> str:  # fmt: skip
    return f"""<info>
    <language>{language}</language>
    <category>Met</category>
    <event>暴雨</event>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <expires>{expires}</expires>
    <headline>{headline}</headline>
    <instruction>{instruction}</instruction>
    <area><areaDesc>南海区</areaDesc><geocode><valueName>GB2260</valueName><value>{geocode}</value></geocode></area>
  </info>"""


def test_an_alert_is_aired_in_the_stations_language_as_an_emergency():
    decision = decide(read_alert(alert()), Language.CANTONESE, {"440605"}, NOW)
    assert decision.air and decision.announcement == announcement_id("GD-FS-2026-001")
    assert "language: cantonese" in decision.yaml and "priority: emergency" in decision.yaml
    assert "暴雨紅色警告。請即刻轉移去安全地方。" in decision.yaml  # headline and instruction, the yue block
    mandarin = decide(read_alert(alert()), Language.MANDARIN, {"440605"}, NOW)
    assert "暴雨红色预警。请立即转移到安全地带。" in mandarin.yaml


def test_only_the_other_chinese_block_is_read_in_the_stations_language():
    only_mandarin = alert(infos=info("zh-CN", "暴雨红色预警", "请立即转移。"))
    decision = decide(read_alert(only_mandarin), Language.CANTONESE, {"440605"}, NOW)
    assert decision.air and "language: cantonese" in decision.yaml and "暴雨红色预警" in decision.yaml


@pytest.mark.parametrize("status", ["Test", "Exercise", "System", "Draft"])
def test_an_alert_that_is_not_actual_is_not_aired(status):
    decision = decide(read_alert(alert(status=status)), Language.MANDARIN, {"440605"}, NOW)
    assert not decision.air and decision.reason == f"status {status}: not aired to the public"


def test_a_cancel_stops_what_it_references_and_is_not_aired():
    cancel = alert("GD-FS-2026-002", msg_type="Cancel", references=FIRST)
    decision = decide(read_alert(cancel), Language.MANDARIN, {"440605"}, NOW)
    assert not decision.air and decision.stops == (announcement_id("GD-FS-2026-001"),)


def test_an_update_replaces_what_it_references():
    update = alert("GD-FS-2026-003", msg_type="Update", references=FIRST)
    decision = decide(read_alert(update), Language.MANDARIN, {"440605"}, NOW)
    assert decision.air and decision.stops == (announcement_id("GD-FS-2026-001"),)
    assert decision.announcement == announcement_id("GD-FS-2026-003")


def test_an_expired_alert_is_not_aired():
    late = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    infos = info("zh-CN", "暴雨红色预警", "请立即转移到安全地带。", expires="2026-11-30T23:00:00+08:00")
    decision = decide(read_alert(alert(infos=infos)), Language.MANDARIN, {"440605"}, late)
    assert not decision.air and decision.reason.startswith("expired at 2026-11-30T23:00:00+08:00")


def test_an_alert_for_another_area_is_not_aired_here():
    decision = decide(read_alert(alert()), Language.MANDARIN, {"440606"}, NOW)
    assert not decision.air and decision.reason == "not for this station's area"


def test_an_alert_without_chinese_is_not_aired():
    english = alert(infos=info("en-US", "Rainstorm", "Move to safety."))
    decision = decide(read_alert(english), Language.MANDARIN, {"440605"}, NOW)
    assert not decision.air and decision.reason == "no Chinese info block"


def test_an_alert_that_breaks_the_schema_is_refused_with_its_line():
    broken = alert().replace(b"<status>Actual</status>", b"<status>Real</status>")
    with pytest.raises(CapError) as refused:
        read_alert(broken)
    assert str(refused.value) == ("line 6: the alert is not valid CAP 1.2: <status> is 'Real'; it must be "
                                  "one of Actual, Exercise, System, Test, Draft")  # fmt: skip
    with pytest.raises(CapError, match="line 5: .*<sent> is not expected here; expected here: <sender>$"):
        read_alert(alert().replace(b"<sender>foshan-weather@example.cn</sender>", b""))
    with pytest.raises(CapError, match="<sent> '2026-11-30 16:00' is not a time as CAP writes it"):
        read_alert(alert().replace(b"2026-11-30T16:00:00+08:00", b"2026-11-30 16:00"))
    with pytest.raises(CapError, match="not valid CAP 1.2"):
        read_alert(alert().replace(b"<scope>Public</scope>", b""))


def test_the_schemas_complaint_is_in_the_readers_language():
    from broadcaster.i18n import set_language

    set_language("zh_CN")
    try:
        with pytest.raises(CapError) as refused:
            read_alert(alert().replace(b"<status>Actual</status>", b"<status>Real</status>"))
    finally:
        set_language("en")
    said = str(refused.value)
    assert "<status> 写的是 'Real'，只能是其中之一：Actual, Exercise, System, Test, Draft" in said
    assert "urn:oasis" not in said


def test_an_alert_with_entities_is_refused_before_it_is_read():
    bomb = b"""<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&b;</identifier></alert>"""
    with pytest.raises(CapError, match="not allowed"):
        read_alert(bomb)
    with pytest.raises(CapError, match="not well-formed"):
        read_alert(b"<alert><identifier>")
