"""One end-to-end pipeline run as a user starts it, measured from outside (benchmark helper).

``run_cli(sheet, executor, work)`` starts ``influencer-pipeline run --input SHEET --embedder dlib
--executor EXECUTOR`` in a fresh process with a fresh lake and ``DAGSTER_HOME`` under ``work``,
and measures:

- wall seconds of the whole command (Python start-up, imports and every Dagster run included);
- peak memory of the process tree (the CLI plus the step processes of the multiprocess
  executor), sampled from /proc (see ``proctree``);
- from the Dagster instance afterwards: each run's wall seconds (start to end event) and each
  step's seconds (``get_run_step_stats``: step start to step end, in the process that ran it;
  a multiprocess step's process start-up and imports happen before its start event and only
  show in the run's seconds);
- the identification quality of the lake against the truth file (the project's
  ``evaluate_lake``).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from proctree import TreeMemorySampler

PER_VIDEO_STEPS = (
    "video_files",
    "video_frames",
    "face_embeddings",
    "video_faces",
    "outro_fingerprints",
)


@dataclass
class RunFigures:
    """What one end-to-end run cost and how well it identified the influencers."""

    executor: str
    videos: int
    wall_s: float
    peak_rss_mib: float
    peak_pss_mib: float
    max_processes: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    steps_s: dict[str, float] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    returncode: int = 0
    output_tail: str = ""

    @property
    def videos_per_minute(self) -> float:
        """Videos per minute of wall time."""
        return 60.0 * self.videos / self.wall_s if self.wall_s else 0.0

    @property
    def seconds_per_video(self) -> float:
        """Wall seconds per video."""
        return self.wall_s / self.videos if self.videos else float("nan")


def _seconds(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def _dagster_figures(home: Path) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """(per-run job and seconds, summed seconds per step key) from the instance in ``home``.

    Read straight from the SQLite run and event-log storage of Dagster's default instance (the
    benchmark stays free of Dagster imports): a run's seconds are its start to end time, a step's
    its ``STEP_START`` to ``STEP_SUCCESS``/``STEP_FAILURE`` events. Empty when the storage is
    not the default SQLite one.
    """
    runs: list[dict[str, Any]] = []
    steps: dict[str, float] = defaultdict(float)
    runs_db = home / "history" / "runs.db"
    if not runs_db.is_file():
        return runs, dict(steps)
    with closing(sqlite3.connect(runs_db)) as db:
        rows = db.execute(
            "select run_id, pipeline_name, status, start_time, end_time from runs order by id"
        ).fetchall()
    for run_id, job, status, start, end in rows:
        runs.append({"job": job, "status": status, "seconds": (end or 0) - (start or 0)})
        events_db = home / "history" / "runs" / f"{run_id}.db"
        if not events_db.is_file():
            continue
        with closing(sqlite3.connect(events_db)) as db:
            events = db.execute(
                "select step_key, dagster_event_type, timestamp from event_logs where "
                "dagster_event_type in ('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE') order by id"
            ).fetchall()
        started: dict[str, float] = {}
        for step, kind, stamp in events:
            if kind == "STEP_START":
                started[step] = _seconds(stamp)
            elif step in started:
                steps[step] += _seconds(stamp) - started.pop(step)
    return runs, dict(steps)


def run_cli(
    sheet: Path,
    truth: Path,
    executor: str,
    work: Path,
    *,
    videos: int,
    max_concurrent: int = 0,
    extra_env: dict[str, str] | None = None,
    cli_options: list[str] | None = None,
) -> RunFigures:
    """Run the pipeline CLI on ``sheet`` in a fresh lake under ``work``; measure it.

    ``cli_options`` replace ``--embedder dlib --executor EXECUTOR --max-concurrent N`` (``[]``:
    the user's defaults; ``executor`` then only labels the figures).
    """
    lake, home = work / "lake", work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DAGSTER_HOME": str(home), **(extra_env or {})}
    env.pop("INFLUENCER_LAKE", None)
    command = [
        sys.executable,
        "-m",
        "influencer_pipeline.cli",
        "run",
        "--input",
        str(sheet),
        "--lake",
        str(lake),
    ]
    if cli_options is None:
        cli_options = ["--embedder", "dlib", "--executor", executor]
        cli_options += ["--max-concurrent", str(max_concurrent)]
    command += cli_options
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    sampler = TreeMemorySampler(proc.pid)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - started
    peak = sampler.stop()
    figures = RunFigures(
        executor=executor,
        videos=videos,
        wall_s=wall,
        peak_rss_mib=peak.rss_mib,
        peak_pss_mib=peak.pss_mib,
        max_processes=peak.processes,
        returncode=proc.returncode,
        output_tail=output[-3000:],
    )
    if proc.returncode != 0:
        return figures
    figures.runs, figures.steps_s = _dagster_figures(home)
    figures.quality = evaluate(lake, truth)
    return figures


def evaluate(lake: Path, truth: Path) -> dict[str, Any]:
    """BCubed and pairwise scores (all / face / faceless) of the lake against ``truth``."""
    from influencer_tools.evaluation.lake import evaluate_lake

    _, payload = evaluate_lake(truth, str(lake))
    return summarize_quality(payload["influencers"])


def summarize_quality(report: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an ``EvaluationReport.to_dict()``."""
    out: dict[str, Any] = {"failed": report["n_failed"], "videos": report["n_truth_videos"]}
    for name, section in report["sections"].items():
        out[name] = {
            "bcubed_p": round(section["bcubed"]["precision"], 4),
            "bcubed_r": round(section["bcubed"]["recall"], 4),
            "bcubed_f": round(section["bcubed"]["f"], 4),
            "pairwise_f": round(section["pairwise"]["f"], 4),
            "wrong_merges": len(section["wrong_merges"]),
            "splits": len(section["splits"]),
            "true": section["n_true_influencers"],
            "predicted": section["n_predicted_influencers"],
        }
    return out
