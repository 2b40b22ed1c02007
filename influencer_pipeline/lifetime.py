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
"""

from __future__ import annotations

import os
import sys

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
