"""One writer per lake: an advisory file lock in the lake root.

``influencer-pipeline run`` (and the other CLI commands that write) hold the lock *exclusively* for
their whole invocation; every Dagster run step that writes the lake holds it *shared*, so runs the
daemon launches side by side (disjoint partitions, planned by one sensor) go together, while a
second CLI invocation, or a CLI beside a running daemon batch, stops at once with a message naming
the holder. The processes an exclusive holder starts (its step workers) inherit its permission
through ``$INFLUENCER_LAKE_LOCK_HOLDER``. The kernel releases the lock when its process dies, so a
``kill -9`` never leaves the lake locked. Clean-up of temp files left by killed writers runs only
under the exclusive lock: it can never touch a live writer's file.

Object-store lakes have no file lock: there, one writer per lake is the deployment's job (one
daemon, one run queue) and the lock is a no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".writer.lock"
HOLDER_ENV = "INFLUENCER_LAKE_LOCK_HOLDER"


class LakeBusyError(RuntimeError):
    """Another process writes this lake; the message says which and what to do."""


def _local_root(lake_root: str) -> Path | None:
    if "://" in lake_root and not lake_root.startswith("file://"):
        return None
    return Path(lake_root.removeprefix("file://"))


def _lock_path(lake_root: str) -> Path | None:
    root = _local_root(lake_root)
    if root is None:
        return None
    root.mkdir(parents=True, exist_ok=True)
    return root / LOCK_FILE


def _held_by_parent(path: Path) -> bool:
    return os.environ.get(HOLDER_ENV, "") == str(path.resolve())


def describe_holder(info: dict) -> str:
    """``'<what>' (pid N on host, since T)`` from the lock file's JSON."""
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info.get("since", 0))))
    return (
        f"{info.get('what', 'a writer')} (pid {info.get('pid', '?')} on "
        f"{info.get('host', '?')}, since {since})"
    )


def _read_info(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def exclusive(lake_root: str, what: str) -> Iterator[None]:
    """Hold the lake for ``what`` (e.g. 'influencer-pipeline run'); LakeBusyError if taken."""
    path = _lock_path(lake_root)
    if path is None or _held_by_parent(path):
        yield
        return
    handle = open(path, "a+")  # noqa: SIM115  (held for the whole block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            info = _read_info(path)
            holder = (
                describe_holder(info)
                if info.get("mode") == "exclusive"
                else ("Dagster runs (launched by the daemon or the UI)")
            )
            raise LakeBusyError(
                f"the lake {lake_root} is being written by {holder}; wait until it finishes "
                "(or stop it) and run again"
            ) from exc
        handle.seek(0)
        handle.truncate()
        info = {"mode": "exclusive", "what": what, "pid": os.getpid()}
        info |= {"host": socket.gethostname(), "since": time.time()}
        handle.write(json.dumps(info))
        handle.flush()
        previous = os.environ.get(HOLDER_ENV)
        os.environ[HOLDER_ENV] = str(path.resolve())
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(HOLDER_ENV, None)
            else:
                os.environ[HOLDER_ENV] = previous
            handle.seek(0)
            handle.truncate()
    finally:
        handle.close()


class SharedHold:
    """A shared hold on the lake by a run step; ``release()`` gives it back."""

    def __init__(self, lake_root: str, what: str) -> None:
        self._handle = None
        path = _lock_path(lake_root)
        if path is None or _held_by_parent(path):
            return
        handle = open(path, "a+")  # noqa: SIM115  (released in release())
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise LakeBusyError(
                f"{what}: the lake {lake_root} is being written by "
                f"{describe_holder(_read_info(path))}; this run cannot write it now. Run it "
                "again when that finishes."
            ) from exc
        self._handle = handle

    def release(self) -> None:
        """Give the hold back (idempotent)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def exclusive_holder(lake_root: str) -> str | None:
    """Who holds the lake exclusively right now (in words), or None."""
    path = _lock_path(lake_root)
    if path is None or not path.exists() or _held_by_parent(path):
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return describe_holder(_read_info(path))
    return None
