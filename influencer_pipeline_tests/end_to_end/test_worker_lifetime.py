"""``kill -9`` of ``influencer-pipeline run`` also ends its step workers (issue 14, item 8).

The CLI runs the per-video stages with Dagster's multiprocess executor: one spawned Python
process per step. The test starts the real CLI in its own session, waits until the face step's
worker (the child of the CLI whose pid the log names for ``face_embeddings``) has armed itself,
sends SIGKILL to the CLI process alone - not to its group, as a person's ``kill -9 PID`` does -
and checks that every child the CLI had is gone within seconds instead of running its step on as
an orphan, and that the face step was cut short (its partitions never reached the lake).
``arm_worker`` is also checked directly: it arms only a spawned child of the marked process,
and a plain spawned child dies with its parent.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from influencer_pipeline import lifetime
from influencer_pipeline_tests.hostile import media

PROJECT = Path(__file__).resolve().parents[2]
WORKER_MARK = b"--multiprocessing-fork"
WAIT_FOR_WORKERS_S = 420
ARMED_AFTER_S = 3.0  # a worker arms itself while importing the package: well within this
# Killed this long after its start, the face step (models, then 5 x 54 frames; ~12 s on 2 cores)
# still has seconds of work left, which an unarmed worker would finish long after GONE_WITHIN_S.
KILL_FACE_STEP_AFTER_S = ARMED_AFTER_S + 1.0
GONE_WITHIN_S = 3.0  # SIGKILL from the kernel: at once; an unarmed worker lives on (its step)
VIDEO_S, VIDEO_FPS = 48.0, 2  # 48 body frames + 6 outro frames each: the sampler's most
STEP_STARTED = re.compile(rb" - (\d+) - face_embeddings - STEP_WORKER_STARTED ")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when it no longer exists."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def _children(pid: int) -> dict[int, bytes]:
    """Live (non-zombie) children of ``pid`` with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[1] != pid or stat[0] == "Z":
            continue
        try:
            found[int(entry.name)] = (entry / "cmdline").read_bytes()
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_kill_9_of_the_cli_ends_its_step_workers(tmp_path: Path) -> None:
    people = ("barack_obama", "elton_john", "joe_biden", "alex_lacamoire", "ben_affleck")
    videos = [media.face_video(tmp_path, p, seconds=VIDEO_S, fps=VIDEO_FPS) for p in people]
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Video URL,Performance\n" + "".join(f"{v.name},0.5\n" for v in videos))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUENCER_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(tmp_path / "home"), "INFLUENCER_EMBEDDER": "dlib"}
    command = [sys.executable, "-m", "influencer_pipeline.cli", "run", "--input", str(sheet)]
    command += ["--lake", str(tmp_path / "lake"), "--executor", "multiprocess"]
    log_path = tmp_path / "cli.log"
    log = log_path.open("wb")
    cli = subprocess.Popen(
        command, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    seen: set[int] = set()
    try:
        deadline, first_seen = time.monotonic() + WAIT_FOR_WORKERS_S, {}
        face_worker = None
        while time.monotonic() < deadline and cli.poll() is None:
            children = _children(cli.pid)
            now = time.monotonic()
            for pid, cmd in children.items():
                if WORKER_MARK in cmd:
                    first_seen.setdefault(pid, now)
            # and their own workers (dlib's descriptor processes of the face step)
            seen = set(children) | {g for c in children for g in _children(c)}
            started = STEP_STARTED.search(log_path.read_bytes())
            face_worker = int(started.group(1)) if started else None
            if now - first_seen.get(face_worker, now) >= KILL_FACE_STEP_AFTER_S:
                break
            time.sleep(0.1)
        assert cli.poll() is None, log_path.read_text()[-3000:]
        assert face_worker in first_seen, "the face step's worker was never seen"
        os.kill(cli.pid, signal.SIGKILL)  # the CLI alone, as `kill -9 PID` does
        cli.wait(timeout=30)
        gone_by = time.monotonic() + GONE_WITHIN_S
        while time.monotonic() < gone_by and any(_alive(p) for p in seen):
            time.sleep(0.2)
        survivors = {p: _children_cmd(p) for p in seen if _alive(p)}
        assert not survivors, f"orphaned after kill -9 of the CLI: {survivors}"
        stored = list((tmp_path / "lake" / "face_embeddings").glob("*.parquet"))
        assert len(stored) < len(videos), "the face step ended before the kill: nothing was cut"
    finally:
        log.close()
        for pid in [*seen, cli.pid]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)


def _children_cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def test_arm_worker_arms_only_a_spawned_child_of_the_marked_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(lifetime.PARENT_ENV, raising=False)
    monkeypatch.setattr(sys, "orig_argv", ["python", "-c", "...", "--multiprocessing-fork"])
    assert lifetime.arm_worker() is None  # nothing marked
    monkeypatch.setenv(lifetime.PARENT_ENV, str(os.getpid()))  # marked, but not our parent
    assert lifetime.arm_worker() is None
    monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "pytest"])
    monkeypatch.setenv(lifetime.PARENT_ENV, str(os.getppid()))
    assert lifetime.arm_worker() is None  # our parent is marked, but we were not spawned


def test_a_spawned_child_dies_with_its_parent(tmp_path: Path) -> None:
    """A real parent/child pair: the child arms itself at import, the parent gets SIGKILL."""
    script = (
        "import multiprocessing as mp, os, sys, time\n"
        "from influencer_pipeline import lifetime\n"
        "def sleep():\n    time.sleep(120)\n"
        "if __name__ == '__main__':\n"
        "    lifetime.mark_parent()\n"
        "    child = mp.get_context('spawn').Process(target=sleep)\n"
        "    child.start()\n"
        "    print(child.pid, flush=True)\n"
        "    time.sleep(120)\n"
    )
    path = tmp_path / "parent.py"
    path.write_text(script)
    env = {k: v for k, v in os.environ.items() if k != lifetime.PARENT_ENV}
    parent = subprocess.Popen(
        [sys.executable, str(path)], cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())  # type: ignore[union-attr]
    try:
        time.sleep(ARMED_AFTER_S)
        assert _alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        gone_by = time.monotonic() + GONE_WITHIN_S
        while time.monotonic() < gone_by and _alive(child):
            time.sleep(0.1)
        assert not _alive(child), "the child outlived its parent's SIGKILL"
    finally:
        for pid in (child, parent.pid):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
