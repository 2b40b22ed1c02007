"""One writer per lake: a CLI invocation holds it alone; run steps share it; kill -9 frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from influencer_pipeline.lake_lock import (
    HOLDER_ENV,
    LakeBusyError,
    SharedHold,
    exclusive,
    exclusive_holder,
)

HOLD = """
import sys, time
from influencer_pipeline.lake_lock import exclusive, SharedHold
mode, lake = sys.argv[1], sys.argv[2]
if mode == "exclusive":
    with exclusive(lake, "another influencer-pipeline run"):
        print("held", flush=True)
        time.sleep(60)
else:
    hold = SharedHold(lake, "a daemon run")
    print("held", flush=True)
    time.sleep(60)
"""


def hold_in_child(mode: str, lake: Path) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, mode, str(lake)],
        stdout=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != HOLDER_ENV},
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_second_writer_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    child = hold_in_child("exclusive", tmp_path)
    try:
        assert "another influencer-pipeline run" in (exclusive_holder(str(tmp_path)) or "")
        with pytest.raises(LakeBusyError, match=f"pid {child.pid}"), exclusive(str(tmp_path), "me"):
            pass
        with pytest.raises(LakeBusyError, match="cannot write it now"):
            SharedHold(str(tmp_path), "a step")
    finally:
        child.kill()
        child.wait()


def test_run_steps_share_the_lake_but_keep_the_cli_out(tmp_path: Path) -> None:
    child = hold_in_child("shared", tmp_path)
    try:
        other = SharedHold(str(tmp_path), "a second step")  # shared with shared: fine
        other.release()
        assert exclusive_holder(str(tmp_path)) is None
        with pytest.raises(LakeBusyError, match="Dagster runs"), exclusive(str(tmp_path), "cli"):
            pass
    finally:
        child.kill()
        child.wait()


def test_kill_9_frees_the_lake(tmp_path: Path) -> None:
    child = hold_in_child("exclusive", tmp_path)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 5
    while exclusive_holder(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    with exclusive(str(tmp_path), "after the kill"):
        assert exclusive_holder(str(tmp_path)) is None  # our own hold is not "someone else"


def test_the_holders_own_steps_and_children_pass(tmp_path: Path) -> None:
    with exclusive(str(tmp_path), "cli"):
        SharedHold(str(tmp_path), "its own in-process step").release()
        code = (
            "from influencer_pipeline.lake_lock import SharedHold; import sys; "
            "SharedHold(sys.argv[1], 'a step worker').release()"
        )
        subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    assert HOLDER_ENV not in os.environ


def test_object_store_lakes_are_not_locked() -> None:
    with exclusive("s3://bucket/lake", "cli"):
        SharedHold("s3://bucket/lake", "a step").release()
        assert exclusive_holder("s3://bucket/lake") is None
