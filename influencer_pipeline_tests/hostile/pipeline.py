"""Run the row corpus (content, local paths, URLs, scores) through the real pipeline, once.

One CSV sheet holds two good face videos and every ``ROW_CASES`` row; ``run_pipeline`` (the
CLI's code path: Dagster runs in a temp ``DAGSTER_HOME``, a temp lake, the offline ``dlib``
embedder) materializes every asset for it while the hostile HTTP server listens, so the test can
show that no refused URL was ever requested. The result is cached for the test session, so
several test modules can inspect the same lake.

A second server on 127.0.0.2 (``ShownHandler``: reason phrases, page titles, mislabelled and
signed videos) is counted as public for this run by replacing
``address_guard.is_public_address`` so that exactly that address passes; every 127.0.0.1
spelling is still refused by the real rule.

The runs use Dagster's in-process executor: the same jobs, IO manager and lake, without a
process per step (here, on 2 busy cores: 16 s instead of 176-270 s with the CLI's default
multiprocess executor, which test_pipeline_end_to_end covers). ``HOSTILE_EXECUTOR=multiprocess``
runs the corpus that way instead.
"""

from __future__ import annotations

import csv
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from influencer_pipeline.defs.resources import EMBEDDER_ENV
from influencer_pipeline.media import address_guard
from influencer_pipeline.paths import LAKE_ENV
from influencer_pipeline.run_pipeline import RunReport, run_pipeline
from influencer_pipeline_tests.hostile import media
from influencer_pipeline_tests.hostile.corpus import GOOD_VIDEOS, ROW_CASES, Where
from influencer_pipeline_tests.hostile.server import serve
from influencer_pipeline_tests.hostile.shown import OPEN_VIDEO_PATHS, ShownHandler

EXECUTOR = os.environ.get("HOSTILE_EXECUTOR", "in_process")
OPEN_HOST = "127.0.0.2"  # the open server: counted as public for this run (in-process only)


def _open_host_counts_as_public():
    """``address_guard.is_public_address`` that calls exactly OPEN_HOST public: the 127.0.0.1
    server
    (and every other loopback spelling) is still refused by the real rule."""
    real = address_guard.is_public_address

    def judged(address: object) -> bool:
        return str(address).split("%")[0] == OPEN_HOST or real(address)  # type: ignore[arg-type]

    return judged


@dataclass
class CorpusRun:
    """What one pipeline run over the corpus sheet left behind."""

    where: Where
    sheet: Path
    lake: Path
    dagster_home: Path
    report: RunReport
    row_of: dict[str, int]  # case id or good video name -> spreadsheet row (header = 1)
    hits: Counter[str]  # requests the local server received during the run
    seconds: float
    log: list[str] = field(default_factory=list)
    _tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def table(self, asset: str) -> pd.DataFrame:
        """An unpartitioned asset, or every partition of a per-video asset, as one frame."""
        if asset not in self._tables:
            single = self.lake / f"{asset}.parquet"
            if single.exists():
                self._tables[asset] = pq.read_table(single).to_pandas()
            else:
                parts = sorted((self.lake / asset).glob("*.parquet"))
                frames = [pq.read_table(p).to_pandas() for p in parts]
                self._tables[asset] = pd.concat(frames, ignore_index=True)
        return self._tables[asset]

    def partition(self, asset: str, video_id: str) -> pd.DataFrame:
        """The rows of one video's partition of a per-video asset (empty if it has none)."""
        table = self.table(asset)
        return table[table["video_id"] == video_id].reset_index(drop=True)

    def video_of_row(self, row: int) -> str | None:
        """The video_id that sheet row ``row`` became, or None when the row was rejected."""
        catalog = self.table("video_catalog")
        pairs = zip(catalog["video_id"], catalog["source_rows"], strict=True)
        hits = [video for video, rows in pairs if row in rows]
        assert len(hits) <= 1
        return hits[0] if hits else None


def _write_sheet(where: Where) -> tuple[Path, dict[str, int]]:
    rows: list[tuple[str, str]] = []
    row_of: dict[str, int] = {}
    for i, person in enumerate(GOOD_VIDEOS):
        row_of[person] = len(rows) + 2
        rows.append((media.face_video(where.sheet_dir, person).name, f"{0.4 + 0.2 * i:.1f}"))
    for case in ROW_CASES:
        row_of[case.id] = len(rows) + 2
        rows.append((case.cell(where), case.score))
    sheet = where.sheet_dir / "hostile.csv"
    with sheet.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Video URL", "Performance"])
        writer.writerows(rows)
    return sheet, row_of


def run_corpus(root: Path) -> CorpusRun:
    """Build the corpus under ``root`` and run the whole pipeline over it."""
    where_dir, outside = root / "corpus", root / "outside"
    where_dir.mkdir()
    outside.mkdir()
    lake, home = root / "lake", root / "dagster_home"
    log: list[str] = []
    video = media.private_clip(root, "served.mp4").read_bytes()
    open_video = media.private_clip(root, "open.mp4").read_bytes()
    with serve(video) as server, serve(open_video, ShownHandler, host=OPEN_HOST) as op:
        op.variants = {  # type: ignore[attr-defined]
            path: media.private_clip(root, f"open{i}.mp4").read_bytes()
            for i, path in enumerate(OPEN_VIDEO_PATHS)
        }
        where = Where(where_dir, outside, server.server_address[1], op.server_address[1])
        sheet, row_of = _write_sheet(where)
        started = time.monotonic()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(address_guard, "is_public_address", _open_host_counts_as_public())
            address_guard.clear_dns_cache()
            mp.setenv("DAGSTER_HOME", str(home))
            mp.setenv(LAKE_ENV, str(lake))  # recorded, so run_pipeline's change is undone
            mp.setenv(EMBEDDER_ENV, "dlib")
            report = run_pipeline(
                [sheet], str(lake), embedder="dlib", emit=log.append, executor=EXECUTOR
            )
        seconds = time.monotonic() - started
        hits = Counter(server.hits)
    return CorpusRun(where, sheet, lake, home, report, row_of, hits, seconds, log)


_RUNS: dict[str, CorpusRun] = {}


def shared_corpus_run(tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    """The corpus run of this test session (made on first use)."""
    if "run" not in _RUNS:
        _RUNS["run"] = run_corpus(tmp_path_factory.mktemp("hostile_pipeline"))
    return _RUNS["run"]
