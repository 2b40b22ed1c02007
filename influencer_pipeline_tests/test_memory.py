"""Free heap memory goes back to the operating system between the CLI's runs (glibc)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from influencer_pipeline import memory


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_free_pages_between_kept_blocks_are_given_back() -> None:
    if memory._glibc() is None:  # another libc: both calls say they did nothing
        assert not memory.limit_malloc_arenas() and not memory.release_free_memory()
        return
    assert memory.limit_malloc_arenas()
    # 300 MiB of 4 KiB blocks (malloc's heap, not Python's small-object arenas), then every
    # block but one in 64 freed: the heap cannot shrink from its top, only trimming frees pages
    blocks = [bytearray(4096) for _ in range(75_000)]
    kept = blocks[::64]
    del blocks
    before = _rss_mib()
    assert memory.release_free_memory()
    after = _rss_mib()
    assert before - after > 150, (before, after)
    assert len(kept) == 1172


def test_onednn_cache_is_capped_unless_the_user_chose_a_capacity(monkeypatch) -> None:
    monkeypatch.delenv(memory.ONEDNN_CACHE_ENV, raising=False)
    assert memory.cap_onednn_primitive_cache() == "64"
    assert os.environ[memory.ONEDNN_CACHE_ENV] == "64"
    monkeypatch.setenv(memory.ONEDNN_CACHE_ENV, "512")
    assert memory.cap_onednn_primitive_cache() == "512"
    assert os.environ[memory.ONEDNN_CACHE_ENV] == "512"


def test_the_console_script_spares_its_exit_collections_and_a_caller_keeps_its_collector(
    tmp_path: Path,
) -> None:
    code = (
        "import gc, sys\n"
        "from influencer_pipeline import cli\n"
        f"assert cli.main(['sheets', '--lake', {str(tmp_path)!r}]) == 0\n"
        "print(gc.get_freeze_count())\n"  # called with arguments: nothing frozen
        f"sys.argv = ['influencer-pipeline', 'sheets', '--lake', {str(tmp_path)!r}]\n"
        "assert cli.main() == 0\n"
        "print(gc.get_freeze_count())\n"  # as the console script: everything frozen
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout.splitlines()
    counts = [int(line) for line in out if line.isdigit()]
    assert counts[0] == 0 and counts[1] > 10_000, out


def _fresh_python(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.split()


def test_modules_loading_collects_nothing_then_freezes_what_is_alive() -> None:
    # a fresh interpreter: freezing objects of the test process would outlive the test
    out = _fresh_python(
        "import gc\n"
        "from influencer_pipeline.memory import modules_loading\n"
        "runs = []\n"
        "gc.callbacks.append(lambda phase, info: runs.append(info['generation']))\n"
        "frozen = gc.get_freeze_count()\n"
        "with modules_loading():\n"
        "    paused = not gc.isenabled()\n"
        "    import xml.dom.minidom\n"
        "    cycles = [[] for _ in range(50_000)]\n"  # 70x the first generation's threshold
        "    for c in cycles: c.append(c)\n"
        "print(paused, len(runs), gc.isenabled(), gc.get_freeze_count() > frozen + 50_000)\n"
    )
    assert out == ["True", "0", "True", "True"]


def test_modules_loading_resumes_with_the_last_loader_and_as_the_collector_was() -> None:
    out = _fresh_python(
        "import gc, threading\n"
        "from influencer_pipeline.memory import modules_loading\n"
        "inner_entered, outer_done = threading.Event(), threading.Event()\n"
        "def other():\n"
        "    with modules_loading():\n"
        "        inner_entered.set(); outer_done.wait()\n"
        "t = threading.Thread(target=other)\n"
        "with modules_loading():\n"
        "    t.start(); inner_entered.wait()\n"
        "print(gc.isenabled())\n"  # the other thread still loads
        "outer_done.set(); t.join()\n"
        "print(gc.isenabled())\n"
        "gc.disable()\n"
        "with modules_loading():\n"
        "    pass\n"
        "print(gc.isenabled())\n"  # the caller had turned it off: it stays off
    )
    assert out == ["False", "True", "False"]
