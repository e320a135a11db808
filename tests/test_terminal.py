"""The van operator's terminal: idle without a terminal, keys with one.

A stub stands in for the van loop: these tests are about the terminal only.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from dataclasses import dataclass

import pytest

from broadcaster.cli.terminal import describe, run_interactive


@dataclass(frozen=True)
class Status:
    """The fields of ``van.LoopStatus`` that the terminal shows."""

    current: str | None
    loop: int = 1
    loops: int | None = 2
    elapsed_s: float = 3.0
    remaining_s: float = 7.0
    next: str | None = "market"
    paused: bool = False


class StubLoop:
    """Plays "notice" for ``run_s`` seconds (in the caller's thread), or until quit."""

    def __init__(self, run_s: float) -> None:
        self.run_s = run_s
        self.calls: list[str] = []
        self.quitting = threading.Event()

    def status(self) -> Status:
        return Status("notice")

    def toggle_pause(self) -> None:
        self.calls.append("pause")

    def skip(self) -> None:
        self.calls.append("skip")

    def quit(self) -> None:
        self.calls.append("quit")
        self.quitting.set()

    def run(self) -> list[tuple[str, str]]:
        self.quitting.wait(self.run_s)
        return [("notice", "interrupted" if self.quitting.is_set() else "played")]


@pytest.mark.parametrize("stdin", ["devnull", "closed"])
def test_without_a_terminal_the_controls_sleep(monkeypatch, capsys, stdin):
    # `broadcaster play … </dev/null`, nohup, a desktop shortcut: no keys to read
    monkeypatch.setattr(sys, "stdin", io.StringIO("") if stdin == "devnull" else None)
    loop = StubLoop(run_s=1.0)
    cpu = time.process_time()
    outcomes = run_interactive(loop)  # type: ignore[arg-type]
    cpu = time.process_time() - cpu
    assert outcomes == [("notice", "played")]
    assert cpu < 0.05, f"{cpu:.2f} s of CPU time in a second of waiting"
    assert loop.calls == []
    assert capsys.readouterr().out == "▶ notice  loop 1/2  00:03 / -00:07  next: market\n"


def test_describe_shows_pause_endless_loops_and_waiting():
    assert describe(Status("notice", loop=3, loops=None, elapsed_s=65.4, remaining_s=0.2, next=None,
                           paused=True)) == "⏸ notice  loop 3/∞  01:05 / -00:00"  # fmt: skip
    assert describe(Status(None)) == "waiting…"


def test_keys_work_with_a_terminal(monkeypatch, capsys):
    controller, terminal = os.openpty()
    with open(terminal, encoding="utf-8") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        loop = StubLoop(run_s=10.0)

        def press() -> None:
            for key in b"ps":
                time.sleep(0.3)
                os.write(controller, bytes([key]))
            time.sleep(0.3)
            os.write(controller, b"q")

        typist = threading.Thread(target=press)
        typist.start()
        outcomes = run_interactive(loop)  # type: ignore[arg-type]
        typist.join()
    os.close(controller)
    assert loop.calls == ["pause", "skip", "quit"]
    assert outcomes == [("notice", "interrupted")]
