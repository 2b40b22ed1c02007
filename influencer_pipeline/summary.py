"""The end-of-run summary the CLI prints, read back from the lake.

Text that came from a sheet, a server or an analyst (errors, ids, paths) is printed through
``display.show``: secrets redacted, no control character or escape sequence reaches the terminal.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from influencer_pipeline import lake
from influencer_pipeline.display import show
from influencer_pipeline.lake_schema import VIDEO_FILES


def _table(root: str, name: str, columns: list[str] | None = None) -> pd.DataFrame | None:
    try:
        return lake.read_parquet(f"{root}/{name}.parquet", columns)
    except FileNotFoundError:
        return None


def video_file_rows(root: str, video_ids: list[str], columns: list[str]) -> pd.DataFrame:
    """The ``video_files`` rows of ``video_ids`` that are in the lake."""
    paths = [f"{root}/video_files/{v}.parquet" for v in video_ids]
    existing = [p for p in paths if lake.as_upath(p).exists()]
    return lake.read_parquet_many(existing, columns, schema=VIDEO_FILES)


def print_summary(report, emit: Callable[[str], None] = print) -> None:
    """Print what the run produced: videos, failures by reason, rejected rows, re-upload groups."""
    root = report.lake
    catalog = _table(root, "video_catalog", ["video_id", "score_conflict"])
    rejected = _table(root, "rejected_rows", ["reason_code"])
    emit("")
    emit(f"done in {report.seconds:.1f} s; {len(report.run_ids)} Dagster runs")
    if catalog is None:
        return
    emit(
        f"videos: {len(catalog)} unique ({int(catalog['score_conflict'].sum())} with conflicting "
        f"scores); rejected sheet rows: {0 if rejected is None else len(rejected)}"
    )
    if rejected is not None and len(rejected):
        for code, n in rejected["reason_code"].value_counts().items():
            emit(f"  rejected {show(code, 40)}: {n}")
    files = video_file_rows(root, list(catalog["video_id"]), ["status", "error_code", "error"])
    ok = int((files["status"] == "ok").sum())
    emit(f"video files: {ok} ok, {len(files) - ok} failed")
    failed = files[files["status"] != "ok"]
    for code, group in failed.groupby("error_code"):
        emit(f"  failed {show(code, 40)}: {len(group)}  e.g. {show(group['error'].iloc[0], 300)}")
    groups = _table(root, "duplicate_groups", ["group_id", "group_size", "is_canonical"])
    if groups is not None:
        multi = groups[groups["group_size"] > 1]
        emit(
            f"re-upload groups: {multi['group_id'].nunique()} "
            f"({int((~multi['is_canonical']).sum())} re-uploads)"
        )
    ranked = _table(
        root,
        "ranked_influencers",
        [
            "rank",
            "influencer_id",
            "method",
            "n_videos",
            "mean_performance",
            "score",
            "score_low",
            "score_high",
        ],
    )
    influencers = _table(root, "video_influencers", ["status", "method"])
    if influencers is not None:
        ok = influencers[influencers["status"] == "ok"]
        methods = ", ".join(f"{m} {n}" for m, n in ok["method"].value_counts().items())
        emit(f"videos assigned: {len(ok)} ({methods})")
    if ranked is not None and len(ranked):
        emit(
            f"influencers: {len(ranked)}; top 5 by score (empirical-Bayes shrunk mean, 95 % "
            "interval):"
        )
        for row in ranked.head(5).itertuples(index=False):
            emit(
                f"  {row.rank}. {show(row.influencer_id, 60)} ({row.method}, "
                f"{row.n_videos} videos): "
                f"score {row.score:.3f} [{row.score_low:.3f}, {row.score_high:.3f}], mean "
                f"{row.mean_performance:.3f}"
            )
    emit(f"lake: {show(root)}")
