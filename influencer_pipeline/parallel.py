"""Map a function over items with a thread pool, each item's exception becoming its own result."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def map_isolated(
    fn: Callable[[T], R],
    items: Iterable[T],
    on_error: Callable[[T, BaseException], R],
    max_workers: int = 4,
    on_done: Callable[[T, R], None] | None = None,
) -> list[R]:
    """Apply ``fn`` to every item concurrently; a failing item yields ``on_error(item, exc)``
    instead of stopping the others. Results keep the input order; ``on_done`` runs as each ends."""
    items = list(items)
    results: list[R | None] = [None] * len(items)

    def guarded(index: int) -> R:
        try:
            return fn(items[index])
        except Exception as exc:  # one bad item must not stop the batch
            return on_error(items[index], exc)

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(items) or 1))) as pool:
        futures = {pool.submit(guarded, i): i for i in range(len(items))}
        for future in as_completed(futures):
            index = futures[future]
            results[index] = future.result()
            if on_done is not None:
                on_done(items[index], results[index])
    return results  # type: ignore[return-value]
