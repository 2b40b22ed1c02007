"""Where a CLI run leaves cores idle: busy cores between its progress lines, from ``/proc/stat``.

    python benchmarks/cpu_timeline.py --input SHEET [--work /tmp/timeline] [--code DIR]

Runs ``influencer-pipeline run --input SHEET`` (defaults; a fresh lake and DAGSTER_HOME under
``--work``; ``--code`` puts another checkout first on PYTHONPATH, e.g. a ``git worktree`` of an
older commit, to compare side by side) and samples the machine's CPU counters every 0.5 s.
Prints, for each progress line that lasted 1 s or more (``--min-line-s``), when it started, how
long until the next line and how many cores were busy meanwhile; then the wall time, the
machine's CPU seconds (user + system) and the idle core-seconds of the run. Linux only; other
processes count as busy, so run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from proctree import machine_cpu_seconds

SAMPLE_S = 0.5


def busy_cores(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """Cores busy on average between two samples of ``machine_cpu_seconds``."""
    busy, idle = b[0] - a[0], b[1] - a[1]
    return (os.cpu_count() or 1) * busy / (busy + idle) if busy + idle else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/timeline"))
    parser.add_argument("--code", type=Path, help="a checkout to run instead of this one")
    parser.add_argument(
        "--min-line-s", type=float, default=1.0, help="print lines that lasted this long or more"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    env = {**os.environ, "DAGSTER_HOME": str(args.work / f"home-{stamp}")}
    os.makedirs(env["DAGSTER_HOME"])
    if args.code:
        env["PYTHONPATH"] = str(args.code.resolve())
    command = [sys.executable, "-m", "influencer_pipeline.cli", "run", "--input", str(args.input)]
    command += ["--lake", str(args.work / f"lake-{stamp}")]

    samples: list[tuple[float, tuple[float, float, float]]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.monotonic(), machine_cpu_seconds()))
            done.wait(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    start = time.monotonic()
    sampler.start()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic(), line.rstrip()))
    end = time.monotonic()
    done.set()
    sampler.join()
    samples.append((end, machine_cpu_seconds()))
    if proc.returncode:
        sys.exit(f"the run failed (exit {proc.returncode}): {lines[-1][1] if lines else ''}")

    def cores_between(t0: float, t1: float) -> float:
        inside = [c for t, c in samples if t0 <= t <= t1]
        return busy_cores(inside[0], inside[-1]) if len(inside) >= 2 else float("nan")

    for (t, text), (t_next, _) in zip(lines, [*lines[1:], (end, "")], strict=True):
        if t_next - t >= args.min_line_s:
            cores = cores_between(t, t_next)
            print(f"{t - start:7.1f} s  {t_next - t:5.1f} s  {cores:4.2f} cores  {text[:90]}")
    first, last = samples[0][1], samples[-1][1]
    print(
        f"wall {end - start:.1f} s; CPU (user + system) {last[2] - first[2]:.1f} s; "
        f"idle {last[1] - first[1]:.1f} core-seconds of {(os.cpu_count() or 1) * (end - start):.1f}"
    )


if __name__ == "__main__":
    main()
