"""Kill the pipeline with SIGKILL in the middle of the per-video stage, rerun it, lose nothing.

``influencer-pipeline run`` runs on a tiny demo in its own process group, with its own
DAGSTER_HOME and lake, in per-video runs of 8 videos. Once the second per-video run has written
its first files, the whole process group gets SIGKILL (no handler runs, nothing is flushed). The
same command then runs to completion. Every file of its lake must match a lake made by one
uninterrupted run (rows sorted, run-dependent columns such as ``fetched_at`` left out); no temp
file may remain and every Parquet file must read.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from influencer_pipeline_tests.conftest import TINY_DEMO
from influencer_tools.demo.generator import generate_demo

pytestmark = pytest.mark.slow

VIDEOS_PER_RUN = 8  # the tiny demo has 16 videos: two per-video runs
# when and how fast something ran (a fetch, a sheet's registration, a rebuild), not what it found
VOLATILE = {"fetch_seconds", "fetched_at", "added_at", "updated_at", "run_id", "created_at"}
RUN_TIMEOUT_S = 420
CLI_MODULE = "influencer_pipeline.cli"


def _command(sheet: Path, lake: Path) -> list[str]:
    """The CLI command line (the console script beside this interpreter, else ``-m``)."""
    script = Path(sys.executable).with_name("influencer-pipeline")
    launcher = [str(script)] if script.is_file() else [sys.executable, "-m", CLI_MODULE]
    options = ["--lake", str(lake), "--embedder", "dlib", "--executor", "in_process"]
    return [*launcher, "run", "--input", str(sheet), *options, f"--videos-per-run={VIDEOS_PER_RUN}"]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUENCER_", "DAGSTER_"))}
    return {**env, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}


def _start(sheet: Path, lake: Path, home: Path, log: Path) -> subprocess.Popen:
    """Start the CLI in a new session (its own process group), output to ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            _command(sheet, lake),
            env=_env(home),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _run_to_end(sheet: Path, lake: Path, home: Path, log: Path) -> str:
    process = _start(sheet, lake, home, log)
    try:
        code = process.wait(timeout=RUN_TIMEOUT_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = log.read_text(errors="replace")
    assert code == 0, output[-4000:]
    return output


def _files(lake: Path) -> list[str]:
    return sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file())


def _canonical(table: pd.DataFrame, lake: Path) -> pd.DataFrame:
    """Drop volatile columns, make lake paths relative, sort rows by their scalar columns."""
    frame = table.drop(columns=[c for c in table.columns if c in VOLATILE])
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = [
                v.replace(str(lake), "<lake>") if isinstance(v, str) else v for v in frame[column]
            ]
    scalar = (str, bool, int, np.integer, np.bool_)
    keys = [c for c in frame.columns if all(v is None or isinstance(v, scalar) for v in frame[c])]
    return frame.sort_values(keys).reset_index(drop=True) if keys else frame


@pytest.fixture(scope="module")
def demo_sheet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    demo = tmp_path_factory.mktemp("kill_demo") / "demo"
    generate_demo(demo, TINY_DEMO)
    return demo / "demo_sheet.xlsx"


def test_killed_run_resumes_to_the_same_lake(demo_sheet: Path, tmp_path: Path) -> None:
    reference_lake, lake, home = tmp_path / "reference", tmp_path / "lake", tmp_path / "home"
    _run_to_end(demo_sheet, reference_lake, tmp_path / "reference_home", tmp_path / "ref.log")

    # --- start, wait until the second per-video run has written files, SIGKILL the group -----
    process = _start(demo_sheet, lake, home, tmp_path / "killed.log")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while len(list((lake / "video_files").glob("*.parquet"))) <= VIDEOS_PER_RUN:
            assert process.poll() is None, (
                "the run ended before it could be killed:\n"
                + (tmp_path / "killed.log").read_text(errors="replace")[-4000:]
            )
            assert time.monotonic() < deadline, "no second per-video run within the time limit"
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    killed_log = (tmp_path / "killed.log").read_text(errors="replace")
    assert "run 2/" in killed_log and "[3/3]" not in killed_log  # killed in the per-video stage
    assert not (lake / "video_influencers.parquet").exists()

    with dg.DagsterInstance.from_config(str(home)) as instance:
        stuck = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert len(stuck) == 1  # the killed run could not report its end
        stuck_id = stuck[0].run_id
    # a writer killed in the middle of a write leaves a hidden temp file (never read)
    leftover = lake / "video_frames" / ".0000000000000000.parquet.deadbeef.tmp"
    leftover.write_bytes(b"PAR1 half a file")

    # --- the same command again: it cleans up and does only what is missing ---------------------
    resumed = _run_to_end(demo_sheet, lake, home, tmp_path / "resumed.log")
    assert "marked 1 run(s) of a killed process as failed" in resumed
    assert re.search(r"removed \d+ temp file", resumed)
    match = re.search(r"per-video stages: (.*) \(\d+ runs?\)", resumed)  # "8 new, 8 up to date"
    assert match, resumed[-4000:]
    counts = {label: int(n) for n, label in re.findall(r"(\d+) ([^,]+)", match[1])}
    total, todo = sum(counts.values()), sum(counts.values()) - counts.get("up to date", 0)
    assert total == 16 and 0 < todo <= total - VIDEOS_PER_RUN  # the first run's videos are kept
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(stuck_id).status == dg.DagsterRunStatus.FAILURE
        assert not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))

    # --- nothing half-written, and the same lake as the uninterrupted run ------------------------
    files = _files(lake)
    # hidden files: only the lake's writer lock (an empty file, held by no one after the run)
    hidden = [f for f in files if f.endswith(".tmp") or "/." in f or f.startswith(".")]
    assert hidden == [".writer.lock"] and (lake / ".writer.lock").stat().st_size == 0
    assert files == _files(reference_lake)
    tables = [f for f in files if f.endswith(".parquet")]
    assert len(tables) == 9 + 5 * 16  # 9 whole-lake tables, 5 per-video tables of 16 videos
    for name in tables:
        got = _canonical(pq.read_table(lake / name).to_pandas(), lake)  # every file reads
        want = _canonical(pq.read_table(reference_lake / name).to_pandas(), reference_lake)
        pd.testing.assert_frame_equal(got, want, check_exact=True, obj=name)
