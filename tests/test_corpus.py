"""Every broken file in tests/corpus is reported at its line and column, in English and Chinese.

Each corpus file starts with ``# expect: LINE:COL English fragment | Chinese fragment``.
Files under ``announcements/`` and ``playlists/`` are dropped into a copy of the
sample station; files under ``config/`` replace its config.yaml.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.glob("*/*.yaml"))
_EXPECT = re.compile(rb"# expect: (\d+):(\d*) (.+?) \| (.+)")


def expectation(case: Path) -> tuple[int, int | None, str, str]:
    first = case.read_bytes().splitlines()[0]
    match = _EXPECT.fullmatch(first)
    assert match, f"{case} has no '# expect:' header"
    column = int(match[2]) if match[2] else None
    return int(match[1]), column, match[3].decode(), match[4].decode()


def place(case: Path, station: Path) -> Path:
    kind = case.parent.name
    target = station / "config.yaml" if kind == "config" else station / kind / case.name
    shutil.copy(case, target)
    return target.relative_to(station)


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_broken_file_is_reported_at_its_line(case, station, run_cli):
    line, column, english, chinese = expectation(case)
    where = f"{place(case, station)}:{line}:{column if column else ''}"

    result = run_cli("check", cwd=station)
    assert result.code == 1
    assert "Traceback" not in result.text
    reported = [row for row in result.out.splitlines() if row.startswith(where)]
    assert any(": error: " in row and english in row for row in reported), result.out

    result = run_cli("check", cwd=station, lang="zh_CN.UTF-8")
    assert result.code == 1
    reported = [row for row in result.out.splitlines() if row.startswith(where)]
    assert any(": 错误: " in row and chinese in row for row in reported), result.out


def test_python_tag_is_never_executed(station, run_cli, tmp_path):
    marker = tmp_path / "pwned"
    (station / "announcements" / "evil.yaml").write_text(
        f'title: x\nlanguage: mandarin\ntext: !!python/object/apply:os.system ["touch {marker}"]\n'
    )
    assert run_cli("check", cwd=station).code == 1
    assert not marker.exists()


def test_a_real_process_exits_1_with_no_traceback(station):
    shutil.copy(CORPUS / "announcements" / "duplicate-key.yaml", station / "announcements")
    env = {"LANG": "zh_CN.UTF-8", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "broadcaster", "check", "announcements/duplicate-key.yaml"],
        cwd=station, capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stdout.startswith("announcements/duplicate-key.yaml:5:1: 错误: 键“text”重复了")
