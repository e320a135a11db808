"""The web page's rules, in-process (Starlette's test client): logins, roles, CSRF, paths, edits.

The browser tests (a real ``broadcaster web`` and ``broadcaster run``) are in test_web_browser.py.
"""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from broadcaster.web.app import make_app
from broadcaster.web.users import MAX_FAILURES, UserError, UserStore

PASSWORD = "village-2020"


@pytest.fixture
def users(station):
    store = UserStore(station / "data" / "users.sqlite")
    store.add("li", PASSWORD, "secretary")
    store.add("wang", PASSWORD, "operator")
    yield store
    store.close()


@pytest.fixture
def client(station, users, monkeypatch):
    from broadcaster.i18n import set_language

    monkeypatch.chdir(station)
    app = make_app(station / "config.yaml", users, secret="test-secret")
    set_language("zh_CN")  # as 'broadcaster web' does: the station's answers in Chinese
    try:
        with TestClient(app, base_url="http://localhost") as client:
            yield client
    finally:
        set_language("en")


def token(client: TestClient, path: str = "/login") -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert match, "no CSRF token on the page"
    return match[1]


def post(client: TestClient, path: str, page: str = "/", **data: str):  # type: ignore[no-untyped-def]
    """POST ``data`` with the CSRF token of ``page`` (``csrf=None`` leaves it out)."""
    if "csrf" not in data:
        data["csrf"] = token(client, page)
    elif data["csrf"] is None:
        del data["csrf"]
    return client.post(path, data=data, follow_redirects=False)


WATER = {"title": "停水", "language": "mandarin", "text": "明天停水。"}


def login(client: TestClient, name: str = "li", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"name": name, "password": password, "csrf": token(client)},
                       follow_redirects=False)  # fmt: skip


def test_pages_need_a_login(client):
    for path in ("/", "/announcements", "/log", "/log.csv", "/announcements/hotline/edit"):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login"), path


def test_a_wrong_password_is_refused_and_the_right_one_opens_a_session(client, users):
    wrong = login(client, password="nope-nope")
    assert wrong.status_code == 401
    assert "用户名或密码错误" in wrong.text  # Chinese first
    right = login(client)
    assert (right.status_code, right.headers["location"]) == (303, "/")
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/").status_code == 200
    assert [r.action for r in users.audit_rows()][:2] == ["login", "login refused"]


def test_repeated_wrong_passwords_lock_the_user(users):
    for _ in range(MAX_FAILURES):
        with pytest.raises(UserError, match="wrong user name or password"):
            users.login("li", "wrong-wrong")
    with pytest.raises(UserError, match="too many wrong passwords"):
        users.login("li", PASSWORD)  # even the right one, while locked


def test_a_post_without_the_csrf_token_is_refused(client, station):
    login(client)
    before = (station / "announcements" / "hotline.yaml").read_bytes()
    response = post(client, "/announcements/save", csrf=None, name="hotline", version="", **WATER)
    assert response.status_code == 403
    assert (station / "announcements" / "hotline.yaml").read_bytes() == before
    forged = client.post("/send", data={"announcement": "hotline", "csrf": "forged"})
    assert forged.status_code == 403


def test_a_secretary_cannot_send_an_emergency(client):
    login(client)
    response = post(client, "/send", announcement="stay-home-emergency", priority="emergency", confirm="yes")
    assert response.status_code == 403
    assert "只有操作员能发送紧急通知" in response.text
    assert "send-emergency" not in client.get("/").text  # and the page does not offer it


def test_ids_and_paths_are_validated(client, station):
    login(client)
    for path in ("/announcements/..%2F..%2Fconfig/edit", "/announcements/Hotline/edit", "/preview/nope.wav"):
        assert client.get(path).status_code in (400, 404), path
    response = post(client, "/announcements/save", name="../evil", version="", new="yes", **WATER)
    assert response.status_code == 200 and "不能用作文件名" in response.text
    assert not (station / "evil.yaml").exists()


def test_a_file_changed_on_disk_while_edited_is_not_overwritten(client, station):
    login(client)
    page = client.get("/announcements/hotline/edit").text
    version = re.search(r'name="version" value="([^"]*)"', page)[1]  # type: ignore[index]
    path = station / "announcements" / "hotline.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "notes: 别人改的\n", encoding="utf-8")
    changed = path.read_bytes()
    response = post(client, "/announcements/save", name="hotline", version=version, **WATER)
    assert response.status_code == 409
    assert "别人改过这个文件" in response.text
    assert path.read_bytes() == changed


def test_the_check_puts_each_problem_at_its_field(client):
    login(client)
    response = post(client, "/announcements/check", valid_from="2026-02-30", **WATER)
    field = r'<div class="field-error" id="err-([a-z_]+)"[^>]*>(.*?)</div>\s*(?=<div class="field|$)'
    fields = dict(re.findall(field, response.text, re.S))
    assert "2026-02-30" in fields["valid_from"]
    assert fields["text"] == "" and fields["title"] == ""
    fixed = post(client, "/announcements/check", valid_from="2026-02-28", **WATER)
    assert 'id="check-ok"' in fixed.text and "ming2 tian1" in fixed.text  # the reading preview


def test_a_saved_announcement_is_a_file_the_station_reads(client, station, run_cli):
    login(client)
    response = post(client, "/announcements/save", name="water", priority="high", chime="yes", version="",
                    new="yes", **WATER)
    assert response.status_code == 303
    check = run_cli("check", "announcements/water.yaml", cwd=station)
    assert check.code == 0, check.text
    assert "water" in client.get("/announcements").text


def test_the_log_page_draws_plays_per_day_and_offers_the_csv(client, station):
    import datetime as dt

    from broadcaster.playlog import PlayLog

    log = PlayLog(station / "data" / "playlog.sqlite")
    now = dt.datetime.now(dt.UTC)
    log.finish(log.start("hotline", "h", "village", "schedule", now, now), "completed", now)
    log.missed("hygiene", "h", "village", "schedule", now, "quiet hours")
    log.close()
    login(client, "wang")
    page = client.get("/log").text
    assert 'data-outcome="completed"' in page and 'data-outcome="missed"' in page
    assert "防控热线" in page
    csv = client.get("/log.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.startswith("\ufeffid,requested,started") and '"防控热线"' in csv.text
    assert "登录" in client.get("/audit").text


def test_what_the_town_sent_is_in_the_audit_trail(client, station):
    from broadcaster.fleet.messages import Message
    from broadcaster.fleet.store import StationStore

    message = Message.new("send", "jiujiang-office", {"announcement": "hygiene", "priority": "emergency"})
    inbox = StationStore(station / "data" / "fleet.sqlite")
    inbox.receive(message.id, message.kind, message.sender, "2026-11-30T09:00:00+08:00", message.to_json())
    inbox.answer(message.id, {"accepted": False, "reason": "unknown announcement 'hygiene'"})
    inbox.close()
    login(client, "wang")
    page = client.get("/audit").text
    assert "jiujiang-office" in page and "镇里发来的播放" in page and "unknown announcement" in page


def test_a_wrong_password_waits_and_the_session_ends_after_eight_hours(client):
    import time

    started = time.monotonic()
    assert login(client, password="nope-nope").status_code == 401
    assert time.monotonic() - started >= 0.9  # guessing is slow (a lower bound: a busy machine only adds)
    cookie = login(client).headers["set-cookie"].lower()
    assert "max-age=28800" in cookie


def test_a_secretary_with_zones_sends_only_to_them(client, users, station):
    users.add("zhao", PASSWORD, "secretary", zones=("village",))
    login(client, "zhao")
    refused = post(client, "/send", announcement="hotline", priority="now", zones="square")
    assert refused.status_code == 403 and "你只能发送到自己的广播区" in refused.text
    everywhere = post(client, "/send", announcement="hotline", priority="now")
    assert everywhere.status_code == 403  # "every zone" is more than hers
    assert client.get("/audit").status_code == 403  # the audit trail is for operators
    allowed = post(client, "/send", announcement="hotline", priority="now", zones="village")
    assert allowed.status_code == 503 and "广播站没有运行" in allowed.text  # allowed; no station here


def test_the_status_page_refreshes_itself(client):
    login(client)
    assert 'hx-get="/status/part" hx-trigger="every 5s"' in client.get("/").text
    assert "广播站没有运行" in client.get("/status/part").text


def test_the_session_key_is_made_once_and_kept_private(tmp_path):
    from broadcaster.cli.web import _secret

    path = tmp_path / "data" / "web-secret"
    first = _secret(path)
    assert _secret(path) == first and len(first) >= 48
    assert path.stat().st_mode & 0o777 == 0o600


def test_scheduling_from_the_page_writes_a_playlist_the_station_reads(client, station, run_cli):
    login(client)
    added = post(client, "/schedule/add", "/schedule", announcement="hotline", at="07:45", date="2099-01-02",
                 zones="village", version="")  # fmt: skip
    assert added.status_code == 303
    check = run_cli("check", cwd=station)
    assert check.code == 0, check.text
    page = client.get("/schedule").text
    assert "2099-01-02 07:45:00" in page
    version = re.search(r'name="version" value="([^"]*)"', page)[1]  # type: ignore[index]
    past = post(client, "/schedule/add", "/schedule", announcement="hotline", at="07:45", date="2020-01-02",
                version=version)  # fmt: skip
    assert past.status_code == 422 and "已经过去了" in past.text
    unknown = post(client, "/schedule/add", "/schedule", announcement="nope", at="07:45", version=version)
    assert unknown.status_code == 422
    removed = post(client, "/schedule/remove", "/schedule", index="0", version=version)
    assert removed.status_code == 303 and "2099-01-02" not in client.get("/schedule").text


def _wav(seconds: float, amplitude: float) -> bytes:
    import numpy as np

    from broadcaster.pcm import Pcm, encode_wav

    t = np.arange(int(48_000 * seconds)) / 48_000
    return encode_wav(Pcm((amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48_000))


def test_an_upload_is_decoded_before_it_is_accepted(client, station):
    login(client)

    def upload(data: bytes, name: str):  # type: ignore[no-untyped-def]
        return client.post("/record/save", data={"name": name, "csrf": token(client, "/record")},
                           files={"audio": ("voice", data, "audio/webm")})  # fmt: skip

    assert "无法读取这段录音" in upload(b"<script>alert(1)</script>" * 100, "junk").text
    assert "录音是无声的" in upload(_wav(2.0, 0.0), "quiet").text
    assert "不能用作文件名" in upload(_wav(2.0, 0.3), "../../etc").text
    saved = upload(_wav(2.0, 0.3), "tone")
    assert 'id="record-saved"' in saved.text
    assert (station / "clips" / "tone.wav").is_file() and (station / "announcements" / "tone.yaml").is_file()
    assert "已经存在" in upload(_wav(2.0, 0.3), "tone").text  # never overwritten
    assert not any(p.name.startswith(("junk", "quiet")) for p in (station / "clips").iterdir())


def test_a_slot_every_two_hours_on_weekdays_is_what_plan_shows(client, station, run_cli):
    login(client)
    form = {"announcement": "hotline", "every": "2h", "between": "09:00-17:00", "days": ["mon", "fri"],
            "version": "", "csrf": token(client, "/schedule")}
    assert client.post("/schedule/add", data=form, follow_redirects=False).status_code == 303
    check = run_cli("check", cwd=station)
    assert check.code == 0, check.text
    plan = run_cli("plan", "--days", "7", "--start", "2026-11-30T00:00", cwd=station).out  # a Monday
    web = [line for line in plan.splitlines() if " web " in line]
    assert [line.split()[:2] for line in web] == [[day, time] for day in ("11-30", "12-04")
                                                  for time in ("09:00:00", "11:00:00", "13:00:00", "15:00:00",
                                                               "17:00:00")]  # fmt: skip
    both = post(client, "/schedule/add", "/schedule", announcement="hotline", at="07:00", every="2h")
    assert both.status_code == 422 and "不要两个都填" in both.text


def test_an_admin_manages_users_in_the_page_and_others_cannot(client, users):
    users.add("boss", PASSWORD, "admin")
    login(client, "wang")
    assert client.get("/users").status_code == 403  # an operator is not an admin
    client.cookies.clear()
    login(client, "boss")
    added = post(client, "/users/change", "/users", action="add", name="zhou", password="zhou-password",
                 role="secretary", zones="village")  # fmt: skip
    assert added.status_code == 303 and users.get("zhou").zones == ("village",)  # type: ignore[union-attr]
    nowhere = post(client, "/users/change", "/users", action="add", name="sun", password="sun-password",
                   role="secretary", zones="nowhere")  # fmt: skip
    assert nowhere.status_code == 422 and users.get("sun") is None
    short = post(client, "/users/change", "/users", action="passwd", name="zhou", password="short")
    assert short.status_code == 422 and "密码至少要 8 个字符" in short.text
    myself = post(client, "/users/change", "/users", action="remove", name="boss")
    assert myself.status_code == 422 and "不能删除自己" in myself.text
    assert post(client, "/users/change", "/users", action="remove", name="zhou").status_code == 303
    assert users.get("zhou") is None
    assert {"user add", "user remove"} <= {row.action for row in users.audit_rows()}


def test_logout_ends_the_session_even_for_a_kept_cookie(client):
    login(client)
    kept = dict(client.cookies)
    assert post(client, "/logout").status_code == 303
    client.cookies.update(kept)  # someone kept a copy of the cookie
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    asked = client.get("/status/part", headers={"HX-Request": "true"})
    assert asked.headers["hx-redirect"] == "/login"  # from within a page: the whole page goes to the login


def test_a_file_the_form_cannot_show_opens_without_an_error_and_is_not_rewritten(client, station):
    login(client, "wang")
    odd = station / "announcements" / "odd.yaml"
    odd.write_text("title: 停水\nlanguage: 普通话\npriority: 紧急\nvalid_from: 2026-02-30\n"
                   "text: 明天停水。\n", encoding="utf-8")  # fmt: skip
    page = client.get("/announcements/odd/edit")
    assert page.status_code == 200 and "2 月没有 30 日" in page.text
    assert '<option value="emergency" selected>' in page.text  # 紧急 as written is kept
    parts = station / "announcements" / "parts.yaml"
    parts.write_text("language: mandarin\nsegments:\n  - text: 第一段。\n  - pause: 1s\n  - text: 第二段。\n",
                     encoding="utf-8")  # fmt: skip
    page = client.get("/announcements/parts/edit").text
    assert 'id="parts-only"' in page and 'id="save"' not in page and "第一段。" in page
    before = parts.read_bytes()
    refused = post(client, "/announcements/save", name="parts", version="", **WATER)
    assert refused.status_code == 409 and parts.read_bytes() == before


def test_a_secretary_cannot_make_or_schedule_an_emergency(client, station):
    login(client)
    made = post(client, "/announcements/save", name="alarm", priority="emergency", version="", new="yes",
                **WATER)  # fmt: skip
    assert "只有操作员能设置紧急通知" in made.text and not (station / "announcements" / "alarm.yaml").exists()
    scheduled = post(client, "/schedule/add", "/schedule", announcement="stay-home-emergency", at="23:30",
                     version="")  # fmt: skip
    assert scheduled.status_code == 403 and not (station / "playlists" / "web.yaml").exists()
    taken = post(client, "/announcements/save", name="hotline", version="", new="yes", **WATER)
    assert "已经有叫“hotline”的通知" in taken.text


def test_a_refusal_asked_from_within_a_page_is_shown_in_it(client):
    login(client)
    form = {"announcement": "hotline", "priority": "emergency", "csrf": token(client, "/")}
    answer = client.post("/send", data=form, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and 'id="send-error"' in answer.text and "<html" not in answer.text
