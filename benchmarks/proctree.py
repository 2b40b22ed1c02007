"""Peak memory of a whole process tree, sampled from /proc (benchmark helper; Linux only).

Dagster's multiprocess executor runs every step in a child process, so the memory of a pipeline
run is the memory of the CLI process plus its live descendants. ``TreeMemorySampler`` walks
``/proc`` every ``interval_s`` seconds and records the largest sums it saw of:

- RSS (resident set size) over the tree: what ``top`` shows, summed; shared pages (libraries,
  copy-on-write pages) are counted once per process, so this overstates the tree's use;
- PSS (proportional set size, ``/proc/<pid>/smaps_rollup``): every shared page is divided among
  the processes sharing it, so the sum is the memory the tree really occupies.

RSS is read every sample (``statm``: microseconds). PSS is read when the tree's RSS is 2 %
above what it was at the last PSS read, else every ``pss_every_s``: a read of ``smaps_rollup``
walks the process's page tables (~9 ms of kernel time for a 1.7 GiB process) under its memory
map's lock, and at five reads a second it slowed the run it measured. A sampler can miss a peak
shorter than its interval; ``ru_maxrss`` of the children (``RUSAGE_CHILDREN``, the largest
single descendant) is kept as a cross-check.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def _children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids of every process visible in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # the command name (field 2) may hold spaces and parentheses: split after the last ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it."""
    children = _children_map()
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, []))
    return out


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (0 when it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size of ``pid`` (0 when it is gone or unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


@dataclass
class TreePeak:
    """Largest tree totals seen (MiB) and the most processes alive at once."""

    rss_mib: float = 0.0
    pss_mib: float = 0.0
    processes: int = 0
    samples: int = 0


class TreeMemorySampler(threading.Thread):
    """Samples the memory of the tree under ``root`` until ``stop()``; see the module docstring."""

    def __init__(self, root: int, interval_s: float = 0.2, pss_every_s: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.root, self.interval_s, self.pss_every_s = root, interval_s, pss_every_s
        self.peak = TreePeak()
        self._stop_event = threading.Event()
        self._last_pss, self._rss_at_pss = float("-inf"), 0.0

    def sample(self) -> None:
        """Take one sample now (PSS too when RSS grew 2 % or ``pss_every_s`` passed)."""
        pids = descendants(self.root)
        rss = sum(rss_bytes(p) for p in pids) / MIB
        peak = self.peak
        now = time.monotonic()
        if rss > 1.02 * self._rss_at_pss or now - self._last_pss >= self.pss_every_s:
            peak.pss_mib = max(peak.pss_mib, sum(pss_bytes(p) for p in pids) / MIB)
            self._last_pss, self._rss_at_pss = now, rss
        peak.rss_mib = max(peak.rss_mib, rss)
        peak.processes = max(peak.processes, len(pids))
        peak.samples += 1

    def run(self) -> None:
        """Sample until stopped."""
        while not self._stop_event.wait(self.interval_s):
            self.sample()

    def stop(self) -> TreePeak:
        """Stop sampling; the peaks seen."""
        self._stop_event.set()
        self.join()
        return self.peak


def children_max_rss_mib() -> float:
    """The largest peak RSS of any waited-for descendant (``RUSAGE_CHILDREN``), MiB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_json_subprocess(
    command: list[str], timeout_s: float, context: dict[str, object]
) -> dict[str, object]:
    """Run ``command`` (which prints one JSON object as its last line); that object, or
    ``context`` plus an ``error`` saying why there is none."""
    import json
    import subprocess

    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return {**context, "error": f"stopped after {timeout_s:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return {**context, "error": tail[0]}
    return json.loads(lines[-1])


def machine_cpu_seconds() -> tuple[float, float, float]:
    """(busy, idle, user + system) CPU seconds of the whole machine since boot, from
    ``/proc/stat`` (idle includes iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / tick, idle / tick, (fields[0] + fields[1] + fields[2]) / tick


@dataclass
class CpuShare:
    """CPU use over an interval: this process tree's and everything else's, as machine shares."""

    wall_s: float
    own: float  # share of all cores used by this process and its waited-for children
    others: float  # share of all cores used by every other process


class CpuWatch:
    """Measures how much of the machine other processes used while a section ran.

    Busy time comes from ``/proc/stat`` (all processes), this tree's from ``getrusage`` of this
    process and its waited-for children; the difference is the other processes' load.
    """

    def __init__(self) -> None:
        self.cpus = os.cpu_count() or 1
        self.start_wall, self.start_busy, self.start_own = self._now()

    @staticmethod
    def _now() -> tuple[float, float, float]:
        import time

        busy = machine_cpu_seconds()[0]
        own = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(who)
            own += usage.ru_utime + usage.ru_stime
        return time.monotonic(), busy, own

    def share(self) -> CpuShare:
        """Shares of the machine since this watch started."""
        wall, busy, own = self._now()
        seconds = max(wall - self.start_wall, 1e-9)
        own_s, busy_s = own - self.start_own, busy - self.start_busy
        capacity = seconds * self.cpus
        return CpuShare(seconds, own_s / capacity, max(0.0, busy_s - own_s) / capacity)
