"""Work spread over threads, results handed out in order, never far ahead of the reader."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def ordered_map(work: Callable[[Item], Result], items: Iterable[Item], workers: int) -> Iterator[Result]:
    """``work(item)`` for each item, by ``workers`` threads, in the order of ``items``.

    At most two results per thread wait to be read, so a long input is never held
    whole. An error is raised where its item would have been; the items not started
    by then are dropped. ``work`` should spend its time outside the interpreter (a
    process, numpy, file input and output).
    """
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ahead: deque[Future[Result]] = deque()
        pending = iter(items)
        try:
            while True:
                wanted = 2 * workers - len(ahead)
                ahead.extend(pool.submit(work, item) for item in itertools.islice(pending, wanted))
                if not ahead:
                    return
                yield ahead.popleft().result()
        finally:
            for future in ahead:
                future.cancel()
