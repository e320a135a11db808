"""Shared fixtures: a copy of the sample station, and the CLI run in-process."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from broadcaster.cli import main as cli
from broadcaster.i18n import set_language

REPO = Path(__file__).resolve().parent.parent

# The tests read English messages unless they ask for Chinese (``run_cli(..., lang=...)`` or
# their own environment): the suite gives the same answer whatever locale it is started in,
# and the processes it starts inherit this.
for _variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_variable, None)
os.environ["LANG"] = "C.UTF-8"


@pytest.fixture
def station(tmp_path: Path) -> Path:
    """A private copy of the bundled sample station (config, announcements, playlists, clips)."""
    root = tmp_path / "station"
    root.mkdir()
    shutil.copy(REPO / "config.yaml", root / "config.yaml")
    for folder in ("announcements", "playlists", "clips"):
        shutil.copytree(REPO / folder, root / folder)
    return root


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run ``broadcaster ARGS`` in-process in folder ``cwd`` with locale ``lang``."""

    def run(*args: str, cwd: Path, lang: str = "C.UTF-8") -> Result:
        monkeypatch.chdir(cwd)
        for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("LANG", lang)
        capsys.readouterr()
        try:
            code = cli.main(list(args))
        finally:
            set_language("en")
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def audio_lab():
    """A private PulseAudio server with two null-sink zones (see tests/audiolab.py)."""
    from tests.audiolab import AudioLab

    if not AudioLab.available():
        pytest.fail("the audio lab needs pulseaudio, pactl and parec (scripts/install.sh installs them)")
    lab = AudioLab().start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="session")
def lab_here(audio_lab):
    """The audio lab, with this test process's PortAudio pointed at it."""
    import os

    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "HOME", "PULSE_SERVER")}
    audio_lab.use_in_this_process()
    try:
        yield audio_lab
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the audio lab is an ``audio`` test, marked or not (``-m "not audio"``)."""
    for item in items:
        if {"audio_lab", "lab_here"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.audio)
