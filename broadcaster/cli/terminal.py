"""The van operator's terminal: a live status line and single-key controls.

Works on Linux, macOS and Windows: keys come from ``msvcrt`` on Windows and
from a cbreak-mode terminal elsewhere. Without a terminal (output piped, a
service), there are no keys and each item is printed on its own line.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from broadcaster.i18n import _

if TYPE_CHECKING:
    from broadcaster.player.van import LoopStatus, VanLoop

KEYS = {"p": "pause", " ": "pause", "s": "skip", "n": "skip", "q": "quit"}


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def describe(status: LoopStatus) -> str:
    if status.current is None:
        return _("waiting…")
    loops = str(status.loops) if status.loops is not None else "∞"
    text = _("{state} {item}  loop {loop}/{loops}  {elapsed} / -{remaining}").format(
        state="⏸" if status.paused else "▶", item=status.current, loop=status.loop, loops=loops,
        elapsed=_clock(status.elapsed_s), remaining=_clock(status.remaining_s))  # fmt: skip
    if status.next:
        text += "  " + _("next: {item}").format(item=status.next)
    return text


@contextlib.contextmanager
def _keys() -> Iterator[Callable[[float], str | None] | None]:
    """A function that returns a pressed key (or None after a timeout); None without a terminal."""
    if sys.stdin is None or not sys.stdin.isatty():  # </dev/null, nohup, a desktop shortcut, a service
        yield None
        return
    if sys.platform == "win32":
        import msvcrt
        import time

        def read_windows(timeout: float) -> str | None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if msvcrt.kbhit():
                    return msvcrt.getwch()
                time.sleep(0.02)
            return None

        yield read_windows
        return
    import select
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def read_posix(timeout: float) -> str | None:
        ready, _w, _x = select.select([sys.stdin], [], [], timeout)
        return sys.stdin.read(1) if ready else None

    try:
        yield read_posix
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_interactive(loop: VanLoop) -> list[tuple[str, str]]:
    """Run ``loop`` with the status line and keys; Ctrl-C stops it cleanly."""
    finished = threading.Event()
    interactive = sys.stdout.isatty()
    if interactive:
        print(_("keys: [p] pause/resume  [s] skip  [q] quit"))

    def controls() -> None:
        with _keys() as read_key:
            shown = None
            while not finished.is_set():
                if read_key is None:
                    # nothing to read: only follow the status (returning at once here spun a core)
                    finished.wait(0.25)
                    key = None
                else:
                    key = read_key(0.25)
                action = KEYS.get((key or "").lower())
                if action == "pause":
                    loop.toggle_pause()
                elif action == "skip":
                    loop.skip()
                elif action == "quit":
                    loop.quit()
                status = loop.status()
                if interactive:
                    print("\r\x1b[K" + describe(status), end="", flush=True)
                elif status.current != shown:
                    shown = status.current
                    if shown:
                        print(describe(status), flush=True)

    thread = threading.Thread(target=controls, name="van-terminal", daemon=True)
    thread.start()
    try:
        return loop.run()
    finally:
        finished.set()
        thread.join(1.0)
        if interactive:
            print()
