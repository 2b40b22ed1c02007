"""Step workers end with the command that started them, ``kill -9`` included.

``influencer-pipeline run`` executes the per-video runs with Dagster's multiprocess executor
(start method ``spawn``): one Python process per step, children of the CLI process. A SIGKILL of
the CLI runs no handler, so without help those workers would run on as orphans, holding the GPU
pool, writing to the lake. So:

* the CLI calls ``mark_parent()``: ``$INFLUENCER_WORKER_PARENT`` holds its pid, and every process
  it starts inherits it;
* a spawned worker runs ``arm_worker()`` as soon as it imports this package (the package's
  ``__init__``, the first of our code a spawned process imports, before Dagster runs a step). When
  its parent is that pid, it asks the kernel to SIGKILL it when the parent dies
  (``prctl(PR_SET_PDEATHSIG)``, Linux), then checks the parent is still there (it may have died
  a moment before); elsewhere a daemon thread watches ``os.getppid()``. A worker started after
  the CLI died exits at once.

Anything else - the Dagster UI's run workers, tests, a plain ``import`` - is left alone: only a
``spawn`` child (``--multiprocessing-fork`` in its interpreter's arguments) of the marked
process arms itself.

The pools a step starts itself (frames, faces, dlib descriptors) come from
``child_process_pool``: spawned workers that watch this process (``die_with_parent_process``).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:  # the package's __init__ imports this module: it stays light
    import threading
    from collections.abc import Callable
    from concurrent.futures import ProcessPoolExecutor
    from types import TracebackType

PARENT_ENV = "INFLUENCER_WORKER_PARENT"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_INTERVAL_S = 0.5


def mark_parent() -> None:
    """Make this process the parent whose death ends the workers it starts."""
    os.environ[PARENT_ENV] = str(os.getpid())


def is_spawned_worker() -> bool:
    """True in a process started by multiprocessing's ``spawn`` method.

    Its interpreter was started with ``--multiprocessing-fork`` (``sys.orig_argv``; ``sys.argv``
    is replaced by the parent's before the parent's main module, and so this package, loads).
    """
    return "--multiprocessing-fork" in getattr(sys, "orig_argv", sys.argv)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch(parent: int) -> None:
    import signal
    import time

    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL_S)
    os.kill(os.getpid(), signal.SIGKILL)


def die_with_parent(parent: int) -> str:
    """End this process when ``parent`` (its parent now) dies; returns how: prctl or watcher."""
    import signal

    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
            if os.getppid() != parent:  # died before the request took effect
                os._exit(1)
            return "prctl"
    _start_watch(parent)
    return "watcher"


def _start_watch(parent: int) -> None:
    """A daemon thread that kills this process once ``parent`` is no longer its parent (at once
    if it is not now)."""
    import threading

    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def die_with_parent_process(parent: int) -> None:
    """End this process when the process ``parent`` (its parent now) ends, whichever of its
    threads started this one.

    ``PR_SET_PDEATHSIG`` fires when the *thread* that started a child exits, not its process: a
    worker pool started inside a step's thread would die with that thread. So the request is
    cleared (``arm_worker`` may have made it while this process imported the package) and a
    watcher thread polls the parent instead.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0)
    _start_watch(parent)


def arm_worker() -> str | None:
    """In a spawned worker of a marked process: die with it (see the module doc); else None."""
    marked = os.environ.get(PARENT_ENV, "")
    if not marked.isdigit() or not is_spawned_worker():
        return None
    parent = int(marked)
    if os.getppid() != parent:
        if not _alive(parent):  # the CLI died while this worker was starting
            os._exit(1)
        return None  # a worker's own worker: its parent is not the CLI
    return die_with_parent(parent)


def can_start_processes() -> bool:
    """False in a daemonic process (a Celery prefork worker, a pool's worker): those may not start
    processes of their own."""
    import multiprocessing

    return not multiprocessing.current_process().daemon


def _start_child(parent: int, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    die_with_parent_process(parent)  # exits at once if the parent died meanwhile
    if initializer is not None:
        initializer(*initargs)


def child_process_pool(
    workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """``workers`` spawned processes (torch and fork do not mix) that die with this process
    (``die_with_parent_process``), each running ``initializer(*initargs)`` first."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_child,
        initargs=(os.getpid(), initializer, initargs),
    )


class ChildPoolOwner:
    """A context manager whose ``_pool`` (a ``child_process_pool`` or None, guarded by ``_lock``)
    is shut down, its queued work cancelled, when the block ends."""

    _pool: ProcessPoolExecutor | None
    _lock: threading.Lock

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
