"""The demo's tables: the input sheet (like the real one), the per-row truth and the README."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from influencer_pipeline.xlsx_files import without_save_times
from influencer_tools.demo.plan import DemoPlan

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
    "placement",
    "second_cut_of",
    "outro_card",
)
INFLUENCER_COLUMNS = (
    "influencer",
    "kind",
    "true_mean",
    "sd",
    "n_videos",
    "n_rows",
    "note",
    "lookalike_of",
    "lookalike_kind",
)


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
                **_lookalike(plan, creator),
            }
        )
    return pd.DataFrame(rows, columns=list(INFLUENCER_COLUMNS))


def _lookalike(plan: DemoPlan, creator) -> dict[str, str]:
    """Which card a look-alike twin imitates and how it differs (name, colour or price)."""
    design = creator.outro
    if design is None or not design.variant:
        return {"lookalike_of": "", "lookalike_kind": ""}
    base = next(
        c.label
        for c in plan.creators
        if c.outro is not None
        and not c.outro.variant
        and c.outro.layout == design.layout
        and c.outro.logo == design.logo
        and c.outro.price is not None
    )
    return {"lookalike_of": base, "lookalike_kind": design.variant}


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
crops of photos shipped with the package (influencer_tools/demo/faces, see LICENSES.md there).

demo_sheet.xlsx       the input sheet, like the real one: columns `Performance` (float, 4 decimals)
                      and `Video URL`; URLs are paths relative to this folder (videos/<file>).
                      {len(plan.rows)} rows in a shuffled order. Run the pipeline on it with
                      `influencer-pipeline run --input demo_sheet.xlsx`.
videos/               {n_files} vertical H.264 mp4 files ({c.width}x{c.height}, {c.fps} fps,
                      {c.seconds[0]:g}-{c.seconds[1]:g} s). File names are opaque hashes.
truth.csv             the answer, one row per sheet row (same order): video_url, file,
                      influencer ("face:<identity>" or "outro:<brand>"), kind (face|faceless),
                      duplicate_group (the original video's file), reupload_of (original file or
                      empty), reupload_kind (reencode|resize|crop|trim|placement_1x1|
                      placement_4x5|letterbox_1x1|letterbox_4x5|other_outro|exact_copy or empty),
                      performance (the sheet's score), true_mean (the influencer's true mean),
                      placement (9:16, 1:1, 4:5, "1:1 letterboxed", ...), second_cut_of (for
                      another edit of a video's shoot: that video; not a re-upload),
                      outro_card (the end card shown: a creator card, @price when changed).
truth_influencers.csv one row per true influencer: true_mean, sd (score noise), n_videos
                      (distinct original videos), n_rows (sheet rows, with re-uploads and
                      duplicates), note (steady_top | lucky_single | lookalike),
                      lookalike_of / lookalike_kind (a twin card: the card it imitates and
                      whether it differs by name, colour or price).

What is in it
- {n_face} face influencers: each video shows the influencer's photo (a different photo per video
  where possible) large in talking-head shots for 35-75 % of its duration, plus product shots,
  small photos of other people on screen (film strips, framed photos), and side characters
  (other people, at most 25 % of the frames). Some face videos end with the same generic
  brand card ({plan.brand_card.brand}); the card does not identify the influencer.
- {n_faceless} faceless creators: product shots only (some with small photos of people), ending
  with the creator's own outro card for the last ~{c.outro_seconds:g} s. With four or more, the
  last four cards are a look-alike family: a card with a price, and twins with another name,
  another colour or another price (with two or three, the last two differ in name and colour).
- Re-uploads of some videos (re-encoded, resized 0.75x, cropped 2-4 % per side, trimmed at the
  start, cut to 1:1 or 4:5 around the centre natively or letterboxed into 9:16, and one with
  another outro card), each with its own URL and score; one file copied byte for byte under
  another name (its own row and score); one row that appears twice (same URL, same score).
- One second cut: the shots of a faceless video in another order and length, another original
  (not a re-upload of it).
- One "lucky" influencer with a single video that scores above the steady one's average; one
  steady influencer with many videos and the highest true mean among influencers with 3 or
  more videos.

Re-running the same command into this folder gives the same sheet and truth; unchanged videos
are kept (.demo_state.json records what was written).
"""
