"""Keep a long-lived process's heap small between runs (glibc's malloc; a no-op elsewhere).

The CLI executes its runs one after another in one process, and the threads of a step each get
a malloc arena. ``limit_malloc_arenas`` caps the arenas (glibc's ``M_ARENA_MAX``, as the
``MALLOC_ARENA_MAX`` variable does): on the 101-video speed set the peak RSS went from 2.59 to
2.44 GiB. ``release_free_memory`` collects garbage and returns free heap pages to the operating
system (``malloc_trim``) after each run. What still grows from run to run is native memory
outside glibc's free lists (``benchmarks/RESULTS.md``, "Session 8").
"""

from __future__ import annotations

import ctypes
import gc
import sys
from functools import cache

M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h


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
