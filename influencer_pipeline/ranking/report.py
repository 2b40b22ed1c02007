"""The leaderboard report: one self-contained HTML page, a CSV, an XLSX workbook and a PNG plot.

``write_report`` turns the ``ranked_influencers`` table (one row per influencer) and the
``video_influencers`` table (every catalog video, failed ones included) into:

* ``leaderboard.html``: inline CSS, base64 images, no external resource and no script needed (a
  small inline script only adds click-to-sort). A header says what the score is (and, in a
  banner, when the data cannot tell the influencers apart); each row shows the influencer's face
  or outro card, rank, score with its 95 % interval drawn as a bar (with the overall mean as a
  reference line and every video as a dot), n, mean, spread, shrinkage, consistency, a badge for
  ``consistently_above_average`` and the videos with their links; a last section lists the
  failed videos with their error, so missing videos are never mistaken for bad performance.
* ``leaderboard.csv``: one row per influencer, flat columns, ``video_ids`` joined with ``;``.
* ``leaderboard.xlsx``: sheets ``leaderboard`` (as the CSV), ``videos`` (one row per catalog
  video with its influencer and rank) and ``about`` (what the columns mean).
* ``leaderboard.png``: score with its 95 % interval against the number of videos.

Everything shown is safe to show (``display.show``: URL credentials and signed tokens redacted,
control characters and escape sequences visible, lengths capped) and no CSV/XLSX cell can be a
formula (``report_files``). The four files are rendered in memory and then written as one set:
a report that fails leaves the previous set untouched (``report_files.write_file_set``).

The output is byte-for-byte deterministic for the same input: no timestamps are written (the
XLSX's document dates and zip entry times are fixed), and everything is sorted.

The overall mean the scores were shrunk toward is not stored in ``ranked_influencers``; it is
recovered exactly from the table itself (``score = mu + (1 - B) (mean - mu)`` for every row with
shrinkage ``B > 0``), so it is right for either count mode of the ranking, and falls back to the
mean of the ok videos' performance when nothing was shrunk.

The parts live in ``report_data`` (inputs, tables), ``report_html``, ``report_plot`` and
``report_files``; this module is the entry point and re-exports their public names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from influencer_pipeline import lake
from influencer_pipeline.ranking.report_data import (
    ABOUT_ROWS,
    CSV_COLUMNS,
    DEFAULT_TITLE,
    METHOD_COLOURS,
    METHOD_LABELS,
    OUTRO_NOTE,
    ReportInputError,
    display_name,
    indistinct_note,
    leaderboard_table,
    mean_and_format,
    not_ranked_videos,
    number_formatter,
    overall_mean,
    prepare_inputs,
    videos_table,
)
from influencer_pipeline.ranking.report_files import csv_bytes, write_file_set, xlsx_bytes
from influencer_pipeline.ranking.report_html import render_html, thumbnail_data_uri
from influencer_pipeline.ranking.report_plot import LOG_X_RATIO, PLOT_LABELS, plot_png

__all__ = [
    "ABOUT_ROWS",
    "CSV_COLUMNS",
    "CSV_NAME",
    "DEFAULT_TITLE",
    "HTML_NAME",
    "LOG_X_RATIO",
    "METHOD_COLOURS",
    "METHOD_LABELS",
    "OUTRO_NOTE",
    "PLOT_LABELS",
    "PNG_NAME",
    "XLSX_NAME",
    "ReportFiles",
    "ReportInputError",
    "display_name",
    "leaderboard_table",
    "load_and_write_report",
    "not_ranked_videos",
    "number_formatter",
    "overall_mean",
    "plot_png",
    "prepare_inputs",
    "render_html",
    "thumbnail_data_uri",
    "videos_table",
    "write_report",
    "xlsx_bytes",
]

HTML_NAME, CSV_NAME, XLSX_NAME, PNG_NAME = (
    "leaderboard.html",
    "leaderboard.csv",
    "leaderboard.xlsx",
    "leaderboard.png",
)


@dataclass(frozen=True)
class ReportFiles:
    """The files one report consists of."""

    html: Path
    csv: Path
    xlsx: Path
    png: Path


def render_report(
    ranked: pd.DataFrame,
    videos: pd.DataFrame,
    *,
    title: str = DEFAULT_TITLE,
    generated_from: str | None = None,
    generated_at: str | None = None,
) -> dict[str, bytes]:
    """The report's four files (name -> bytes), rendered in memory; nothing is written.

    ``generated_at`` (e.g. an ISO time) is shown when given; without it the bytes depend only on
    the tables.
    """
    ranked, videos = prepare_inputs(ranked, videos)
    mu, fmt = mean_and_format(ranked, videos)
    plot = plot_png(ranked, mu, fmt)
    board = leaderboard_table(ranked)
    note = indistinct_note(ranked)
    about = [
        *ABOUT_ROWS,
        ("overall_mean", "" if mu is None else repr(mu)),
        ("generated_from", generated_from or ""),
        ("generated_at", generated_at or ""),
        ("note", note or ""),
    ]
    page = render_html(
        ranked,
        videos,
        plot,
        title=title,
        generated_from=generated_from,
        generated_at=generated_at,
    )
    return {
        PNG_NAME: plot,
        CSV_NAME: csv_bytes(board),
        XLSX_NAME: xlsx_bytes(board, videos_table(ranked, videos), about),
        HTML_NAME: page.encode("utf-8"),
    }


def write_report(
    ranked: pd.DataFrame,
    videos: pd.DataFrame,
    out_dir: Path,
    *,
    title: str = DEFAULT_TITLE,
    generated_from: str | None = None,
) -> ReportFiles:
    """Write leaderboard.html/.csv/.xlsx/.png for ``ranked`` and ``videos`` into ``out_dir``.

    All four or none: on any failure the files of an earlier report stay as they were.
    """
    files = render_report(ranked, videos, title=title, generated_from=generated_from)
    paths = write_file_set(Path(out_dir), files)
    return ReportFiles(
        html=paths[HTML_NAME], csv=paths[CSV_NAME], xlsx=paths[XLSX_NAME], png=paths[PNG_NAME]
    )


def load_and_write_report(lake_root: str, out_dir: Path) -> ReportFiles:
    """Read ranked_influencers and video_influencers from the lake and write the report."""
    tables = {}
    for name in ("ranked_influencers", "video_influencers"):
        path = lake.as_upath(f"{str(lake_root).rstrip('/')}/{name}.parquet")
        if not path.exists():
            raise FileNotFoundError(
                f"the {name} asset is missing from the lake ({path} does not exist): run the "
                "pipeline first (influencer-pipeline run --input SHEET)"
            )
        tables[name] = lake.read_parquet(path)
    return write_report(
        tables["ranked_influencers"],
        tables["video_influencers"],
        Path(out_dir),
        generated_from=f"lake {lake_root}",
    )
