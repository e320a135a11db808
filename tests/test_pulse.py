"""The sink watcher on the audio lab, in a station that runs in Chinese.

``pactl`` translates what it prints (``事件“移除”于 信宿 #2``), so a watcher
that parses it must not inherit the station's locale.
"""

from __future__ import annotations

import queue
import subprocess

import pytest

from broadcaster.audio.pulse import SinkWatcher

pytestmark = pytest.mark.audio

LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
CHINESE = {
    # what a village PC set up in Chinese has; needs the zh_CN.UTF-8 locale (scripts/install.sh)
    "LANG=zh_CN.UTF-8": {"LANG": "zh_CN.UTF-8"},
    # a desktop's language list: gettext follows it even where zh_CN.UTF-8 is not generated
    "LANGUAGE=zh_CN": {"LANG": "C.UTF-8", "LANGUAGE": "zh_CN:zh"},
}


@pytest.fixture(params=list(CHINESE))
def in_chinese(request, audio_lab, monkeypatch) -> dict[str, str]:
    """This process in a Chinese locale, talking to the lab; the check that pactl then speaks Chinese."""
    env = {k: v for k, v in audio_lab.env.items() if k not in LOCALE_VARS} | CHINESE[request.param]
    info = subprocess.run(["pactl", "info"], env=env, capture_output=True, text=True, timeout=10)
    assert "服务器" in info.stdout, (
        f"pactl does not print Chinese under {request.param} (is the zh_CN.UTF-8 locale missing?"
        f" scripts/install.sh makes it): {info.stdout[:60]!r}"
    )
    for key in LOCALE_VARS:
        monkeypatch.delenv(key, raising=False)
    for key, value in CHINESE[request.param].items():
        monkeypatch.setenv(key, value)
    for key in ("PULSE_SERVER", "XDG_RUNTIME_DIR", "HOME"):
        monkeypatch.setenv(key, audio_lab.env[key])
    return env


def _load_sink(lab_env: dict[str, str], name: str) -> str:
    done = subprocess.run(["pactl", "load-module", "module-null-sink", f"sink_name={name}"], env=lab_env,
                          capture_output=True, text=True, check=True, timeout=10)  # fmt: skip
    return done.stdout.strip()


def _unload(lab_env: dict[str, str], module: str) -> None:
    subprocess.run(["pactl", "unload-module", module], env=lab_env, check=True, timeout=10)


def test_a_sink_that_goes_and_comes_back_is_noticed_in_chinese(in_chinese, audio_lab):
    removed: queue.Queue[str] = queue.Queue()
    added: queue.Queue[str] = queue.Queue()
    module: str | None = _load_sink(audio_lab.env, "zone_c")
    watcher = SinkWatcher(removed.put, added.put).start()
    try:
        assert "zone_c" in watcher.sinks.values()
        _unload(audio_lab.env, module)
        module = None
        assert removed.get(timeout=2) == "zone_c"
        module = _load_sink(audio_lab.env, "zone_c")
        assert added.get(timeout=2) == "zone_c"
        assert removed.empty()
    finally:
        watcher.stop()
        if module is not None:
            _unload(audio_lab.env, module)
