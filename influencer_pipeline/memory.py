"""Keep a long-lived process's heap small between runs (glibc's malloc; a no-op elsewhere).

The CLI executes its runs one after another in one process, and the threads of a step each get
a malloc arena. ``limit_malloc_arenas`` caps the arenas (glibc's ``M_ARENA_MAX``, as the
``MALLOC_ARENA_MAX`` variable does): on the 101-video speed set the peak RSS went from 2.59 to
2.44 GiB. ``release_free_memory`` collects garbage and returns free heap pages to the operating
system (``malloc_trim``) after each run. What still grows from run to run is native memory
outside glibc's free lists (``benchmarks/RESULTS.md``, "Session 8").

``cap_onednn_primitive_cache`` caps oneDNN's cache of compiled convolutions (PyTorch on the
CPU): one entry per input shape, and the cascade's candidate batches and the embedder's face
batches take hundreds of shapes. With the default 1,024 entries the face step of 64 videos grew
by ~0.7 GiB; with 64 it stays flat (``benchmarks/RESULTS.md``, "Session 12").

``modules_loading`` pauses the cyclic collector while a batch of modules imports (Dagster and the
definitions as the CLI starts, PyTorch in the frame step's background import) and then freezes
what is alive: imports add objects faster than the collector's thresholds expect, so it examined
the whole heap 11 times in a default run (2.2 s on one core, `benchmarks/RESULTS.md`, "Session
34"); frozen objects are never examined again. Modules live as long as the process anyway.

``spare_exit_collections`` (the console script, as it ends): the interpreter's shutdown runs the
cyclic collector over the whole heap several times, ~2 s of one core after a run, only to free
what the process's exit frees anyway; frozen objects (``gc.freeze``) are not examined.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h
ONEDNN_CACHE_ENV = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"
ONEDNN_CACHE_CAPACITY = 64

_pauses_lock = threading.Lock()
_pauses = {"open": 0, "was_enabled": True}


@cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """At most ``arenas`` malloc arenas from now on; True where glibc took the setting."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, int(arenas)))


def release_free_memory() -> bool:
    """Collect garbage, then give free heap pages back; True where glibc released some."""
    gc.collect()
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0))


def cap_onednn_primitive_cache(capacity: int = ONEDNN_CACHE_CAPACITY) -> str:
    """Cap oneDNN's primitive cache unless $ONEDNN_PRIMITIVE_CACHE_CAPACITY is set; the value in
    force. oneDNN reads it once, at the process's first convolution: call this before that."""
    return os.environ.setdefault(ONEDNN_CACHE_ENV, str(int(capacity)))


@contextmanager
def modules_loading() -> Iterator[None]:
    """No cyclic collection while the body imports modules; afterwards every live object is
    frozen (``gc.freeze``) and the collector resumes as it was. Safe to nest and to use from
    several threads: the collector resumes when the last one ends."""
    with _pauses_lock:
        if _pauses["open"] == 0:
            _pauses["was_enabled"] = gc.isenabled()
            gc.disable()
        _pauses["open"] += 1
    try:
        yield
    finally:
        with _pauses_lock:
            _pauses["open"] -= 1
            gc.freeze()
            if _pauses["open"] == 0 and _pauses["was_enabled"]:
                gc.enable()


def spare_exit_collections() -> None:
    """Move every live object out of the cyclic collector's reach; call it only as the process
    ends (objects alive now are never collected later, if they become cyclic garbage)."""
    gc.freeze()
