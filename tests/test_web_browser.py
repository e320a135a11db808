"""The web page in a real browser (headless Chromium) against a real ``broadcaster web`` and
``broadcaster run`` on the audio lab, at phone size, in Chinese.

One story, in order: a wrong password is refused; login; a new Mandarin announcement
with a mistake shows the error at its field; fixed, it is heard in the page's player
and saved; sent as an emergency from the page (with its confirm step), it reaches
every zone's monitor; the log page shows the plays. Screenshots are kept in
build/screenshots/ as the test's artifacts.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.audiolab import active_seconds
from tests.conftest import REPO

PASSWORD = "village-2020"
SCREENSHOTS = REPO / "build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def site(audio_lab, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's chromium (scripts/install.sh --dev installs it)")
    station = tmp_path_factory.mktemp("web")
    (station / "announcements").mkdir()
    (station / "config.yaml").write_text(
        "timezone: Asia/Shanghai\nzones:\n  a: {device: zone_a}\n  b: {device: zone_b}\n", encoding="utf-8")
    (station / "announcements" / "hotline.yaml").write_text(
        "title: 防控热线\nlanguage: mandarin\nchime: no\ntext: 防控热线。\n", encoding="utf-8")
    env = audio_lab.env
    cli = [sys.executable, "-m", "broadcaster"]
    subprocess.run([*cli, "user", "add", "wang", "--role", "operator", "--password-stdin"], cwd=station,
                   env=env, input=PASSWORD + "\n", text=True, check=True, capture_output=True)  # fmt: skip
    port = _free_port()
    logs = (station / "station.log").open("w"), (station / "web.log").open("w")
    station_process = subprocess.Popen([*cli, "run"], cwd=station, env=env, stdout=logs[0],
                                       stderr=subprocess.STDOUT)  # fmt: skip
    web_process = subprocess.Popen([*cli, "web", "--port", str(port)], cwd=station, env=env, stdout=logs[1],
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait_for(lambda: (station / "data" / "broadcaster.sock").exists(), 60, "the station")
        _wait_for(lambda: _answers(port), 30, "the web page")
        yield {"station": station, "url": f"http://127.0.0.1:{port}", "lab": audio_lab}
    finally:
        for process in (web_process, station_process):
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


@pytest.fixture(scope="module")
def page(site):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        context.close()
        browser.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_wrong_password_is_refused(site, page):
    page.goto(site["url"] + "/login")
    page.fill("#name", "wang")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.inner_text("#login-error")
    shot(page, "01-login-refused")


def test_login_shows_the_station(site, page):
    page.fill("#name", "wang")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site["url"] + "/")
    assert "a" in page.inner_text("#station") and "等待中" in page.inner_text("#station")
    shot(page, "02-status")


def test_a_mistake_is_shown_at_its_field_then_fixed_heard_and_saved(site, page):
    page.goto(site["url"] + "/announcements/new")
    page.fill("#name", "water")
    page.fill("#title", "停水通知")
    page.fill("#text", "明天上午九点到下午五点停水，请大家提前储水。")
    page.fill("#valid_from", "2026-02-30")
    page.wait_for_function("document.querySelector('#err-valid_from').innerText.includes('2026-02-30')")
    assert page.inner_text("#err-text") == ""
    shot(page, "03-mistake-at-its-field")
    page.fill("#valid_from", "2026-02-28")
    page.wait_for_selector("#check-ok")
    assert "ming2" in page.inner_text("#readings") and "ting2 shui3" in page.inner_text("#readings")
    page.click("#preview")
    page.wait_for_selector("#preview-audio")
    duration = page.evaluate("""() => new Promise(done => {
        const audio = document.querySelector('#preview-audio');
        if (audio.readyState >= 1) { done(audio.duration); return; }
        audio.addEventListener('loadedmetadata', () => done(audio.duration));
        audio.load(); })""")
    assert duration > 2.0  # the chime and the sentence
    shot(page, "04-preview")
    page.click("#save")
    page.wait_for_url("**/announcements?saved=water")
    assert "停水通知" in page.inner_text("table")
    assert (site["station"] / "announcements" / "water.yaml").is_file()


def test_an_emergency_from_the_page_reaches_every_zone(site, page):
    recordings = {zone: site["lab"].record(zone) for zone in ("zone_a", "zone_b")}
    try:
        page.goto(site["url"] + "/")
        page.select_option("#announcement", "water")
        page.click("#send-emergency")
        page.wait_for_selector("#confirm-emergency")
        shot(page, "05-emergency-confirm")
        page.click("#confirm-emergency")
        page.wait_for_selector("#sent, #send-error", timeout=120_000)
        assert page.locator("#sent").count() == 1, page.inner_text("#result")
        shot(page, "06-emergency-sent")
        time.sleep(8)  # the chime and the sentence
    finally:
        heard = {zone: recording.stop() for zone, recording in recordings.items()}
    for zone, samples in heard.items():
        assert active_seconds(samples) > 2.0, zone


def test_a_voice_message_recorded_in_the_page_is_scheduled_and_heard_on_its_zone(site, page):
    import datetime as dt

    page.goto(site["url"] + "/record")
    page.click("#record-start")
    page.wait_for_selector("#record-stop:not([disabled])")
    time.sleep(3)  # Chromium's fake microphone: a beep every second
    page.click("#record-stop")
    page.wait_for_selector("#record-form:not([hidden])")
    page.fill("#r-name", "voice-1")
    page.fill("#r-title", "村支书讲话")
    page.fill("#r-start", "0.2")
    shot(page, "08-recorded")
    page.click("#record-save")
    page.wait_for_selector("#record-saved, #record-error")
    assert page.locator("#record-saved").count() == 1, page.inner_text("#record-result")
    assert (site["station"] / "clips" / "voice-1.wav").is_file()
    due = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(seconds=25)
    page.goto(site["url"] + "/schedule")
    page.select_option("#s-announcement", "voice-1")
    page.fill("#s-at", due.strftime("%H:%M:%S"))
    page.check("input[name=zones][value=a]")
    page.click("#schedule-add")
    page.wait_for_url(site["url"] + "/schedule")
    assert due.strftime("%H:%M:%S") in page.inner_text("#page-slots")
    shot(page, "09-scheduled")
    recordings = {zone: site["lab"].record(zone) for zone in ("zone_a", "zone_b")}
    try:
        _wait_for(lambda: dt.datetime.now(dt.UTC) > due + dt.timedelta(seconds=9), 60, "the slot to play")
    finally:
        heard = {zone: recording.stop() for zone, recording in recordings.items()}
    assert active_seconds(heard["zone_a"]) > 2.0  # the chime and the voice message
    assert active_seconds(heard["zone_b"]) < 0.1  # not chosen


def test_the_log_page_shows_the_plays(site, page):
    _wait_for(lambda: "完整播出" in _log_text(site, page), 60, "the plays in the log")
    assert "停水通知" in page.inner_text("#plays")
    assert page.locator("#chart svg rect[data-outcome=completed]").count() >= 1
    shot(page, "07-log")


def _log_text(site, page) -> str:  # type: ignore[no-untyped-def]
    page.goto(site["url"] + "/log")
    return str(page.inner_text("#plays"))
