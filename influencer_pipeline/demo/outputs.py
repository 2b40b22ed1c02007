"""The demo's tables: the input sheet (like the real one), the per-row truth and the README."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from influencer_pipeline.demo.plan import DemoPlan
from influencer_pipeline.xlsx_files import without_save_times

SHEET_COLUMNS = ("Performance", "Video URL")
TRUTH_COLUMNS = (
    "video_url",
    "file",
    "influencer",
    "kind",
    "duplicate_group",
    "reupload_of",
    "reupload_kind",
    "performance",
    "true_mean",
)
INFLUENCER_COLUMNS = ("influencer", "kind", "true_mean", "sd", "n_videos", "n_rows", "note")


def sheet_frame(plan: DemoPlan) -> pd.DataFrame:
    """The demo sheet: ``Performance`` (float) and ``Video URL`` (relative path), in sheet order."""
    return pd.DataFrame(
        {
            "Performance": [r.performance for r in plan.rows],
            "Video URL": [r.video_url for r in plan.rows],
        },
        columns=list(SHEET_COLUMNS),
    )


def write_sheet(plan: DemoPlan, path: Path) -> Path:
    """Write ``demo_sheet.xlsx`` (one sheet named like the real one's, byte-stable)."""
    buffer = io.BytesIO()
    sheet_frame(plan).to_excel(buffer, index=False, sheet_name="Sheet1", engine="openpyxl")
    path.write_bytes(without_save_times(buffer.getvalue()))
    return path


def truth_frame(plan: DemoPlan) -> pd.DataFrame:
    """One truth row per sheet row, in sheet order."""
    return pd.DataFrame(
        [{c: getattr(r, c) for c in TRUTH_COLUMNS} for r in plan.rows], columns=list(TRUTH_COLUMNS)
    )


def influencers_frame(plan: DemoPlan) -> pd.DataFrame:
    """One row per true influencer: its true mean, noise sd, number of original videos and rows."""
    rows = []
    for creator in plan.creators:
        rows.append(
            {
                "influencer": creator.label,
                "kind": creator.kind,
                "true_mean": creator.true_mean,
                "sd": creator.sd,
                "n_videos": creator.n_videos,
                "n_rows": sum(r.influencer == creator.label for r in plan.rows),
                "note": creator.note,
            }
        )
    return pd.DataFrame(rows, columns=list(INFLUENCER_COLUMNS))


def write_truth(plan: DemoPlan, out_dir: Path) -> tuple[Path, Path]:
    """Write ``truth.csv`` and ``truth_influencers.csv``; return their paths."""
    truth = out_dir / "truth.csv"
    influencers = out_dir / "truth_influencers.csv"
    truth_frame(plan).to_csv(truth, index=False, lineterminator="\n")
    influencers_frame(plan).to_csv(influencers, index=False, lineterminator="\n")
    return truth, influencers


def readme_text(plan: DemoPlan) -> str:
    """The README.txt that explains the demo folder."""
    c = plan.config
    n_face = sum(cr.kind == "face" for cr in plan.creators)
    n_faceless = len(plan.creators) - n_face
    n_files = len(plan.videos) + len(plan.derived)
    return f"""Synthetic influencer demo (influencer_pipeline), seed {c.seed}
================================================================

Made by `influencer-pipeline demo`. Everything here is invented except the face photos, which are
crops of photos shipped with the package (influencer_pipeline/demo/faces, see LICENSES.md there).

demo_sheet.xlsx       the input sheet, like the real one: columns `Performance` (float, 4 decimals)
                      and `Video URL`; URLs are paths relative to this folder (videos/<file>).
                      {len(plan.rows)} rows in a shuffled order. Run the pipeline on it with
                      `influencer-pipeline run --input demo_sheet.xlsx`.
videos/               {n_files} vertical H.264 mp4 files ({c.width}x{c.height}, {c.fps} fps,
                      {c.seconds[0]:g}-{c.seconds[1]:g} s). File names are opaque hashes.
truth.csv             the answer, one row per sheet row (same order): video_url, file,
                      influencer ("face:<identity>" or "outro:<brand>"), kind (face|faceless),
                      duplicate_group (the original video's file), reupload_of (original file or
                      empty), reupload_kind (reencode|resize|crop|trim|exact_copy or empty),
                      performance (the sheet's score), true_mean (the influencer's true mean).
truth_influencers.csv one row per true influencer: true_mean, sd (score noise), n_videos
                      (distinct original videos), n_rows (sheet rows, with re-uploads and
                      duplicates), note (steady_top | lucky_single | lookalike).

What is in it
- {n_face} face influencers: each video shows the influencer's photo (a different photo per video
  where possible) large in talking-head shots for 35-75 % of its duration, plus product shots,
  small photos of other people on screen (film strips, framed photos), and side characters
  (other people, at most 25 % of the frames). Some face videos end with the same generic
  brand card ({plan.brand_card.brand}); the card does not identify the influencer.
- {n_faceless} faceless creators: product shots only (some with small photos of people), ending
  with the creator's own outro card for the last ~{c.outro_seconds:g} s. The last two creators'
  cards look alike (same layout, different brand name and colour) when there are two or more.
- Re-uploads of some videos (re-encoded, resized 0.75x, cropped 2-4 % per side, trimmed at the
  start), each with its own URL and score; one file copied byte for byte under another name
  (its own row and score); one row that appears twice (same URL, same score).
- One "lucky" influencer with a single video that scores above the steady one's average; one
  steady influencer with many videos and the highest true mean among influencers with 3 or
  more videos.

Re-running the same command into this folder gives the same sheet and truth; unchanged videos
are kept (.demo_state.json records what was written).
"""
