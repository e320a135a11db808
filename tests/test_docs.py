"""The examples in docs/formats.md are valid files: the documentation cannot drift from the code."""

from __future__ import annotations

import re

import pytest

from broadcaster.config import load_config
from broadcaster.content.load import load_announcement, load_playlist
from broadcaster.schema.problems import Problems
from tests.conftest import REPO

BLOCKS = re.findall(r"```yaml\n(.*?)```", (REPO / "docs" / "formats.md").read_text(encoding="utf-8"), re.S)


def test_there_are_examples_of_every_kind():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS, ids=range(len(BLOCKS)))
def test_example_is_valid(block, tmp_path):
    problems = Problems()
    if "slots:" in block or "loop:" in block:
        (tmp_path / "playlists").mkdir()
        path = tmp_path / "playlists" / "example.yaml"
        path.write_text(block, encoding="utf-8")
        assert load_playlist(path, problems) is not None
    elif "language:" in block and "zones:" not in block:
        path = tmp_path / "example.yaml"
        path.write_text(block, encoding="utf-8")
        assert load_announcement(path, tmp_path, problems) is not None
    else:
        path = tmp_path / "config.yaml"
        path.write_text(block, encoding="utf-8")
        load_config(path, problems)
    assert [p.render() for p in problems if p.is_error] == []
