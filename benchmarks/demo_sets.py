"""Demo data sets for the benchmarks: generate one of a given size, and cut subsets of it.

``make_demo(out, n_videos)`` scales the default demo (8 face influencers, 3 faceless creators,
6 re-uploads: 54 video files) to about ``n_videos`` files. ``subset(demo, n)`` writes a sheet
and a truth file with ``n`` original uploads of the demo, two per influencer where it can
(so the subset still has people to cluster together), faceless creators included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from influencer_tools.demo.config import DemoConfig
from influencer_tools.demo.generator import generate_demo

DEFAULT_FILES = 54  # files of the default demo: 8 face influencers, 3 faceless, 6 re-uploads


@dataclass(frozen=True)
class DemoSet:
    """A demo folder: its sheet, its truth file and how many rows/files they hold."""

    folder: Path
    sheet: Path
    truth: Path
    rows: int
    files: int


def demo_config(n_videos: int, seed: int = 7) -> DemoConfig:
    """The default demo's proportions scaled to about ``n_videos`` video files."""
    scale = max(n_videos, 8) / DEFAULT_FILES
    return DemoConfig(
        seed=seed,
        n_face_influencers=max(1, round(8 * scale)),
        n_faceless_creators=max(1, round(3 * scale)),
        n_reuploads=round(6 * scale),
    )


def load_demo(folder: Path) -> DemoSet:
    """The demo set in ``folder`` (written by ``influencer-pipeline demo``)."""
    sheet, truth = folder / "demo_sheet.xlsx", folder / "truth.csv"
    table = pd.read_csv(truth)
    return DemoSet(folder, sheet, truth, len(table), table["file"].nunique())


def make_demo(out: Path, n_videos: int, seed: int = 7) -> DemoSet:
    """Generate (or reuse, when already there) a demo of about ``n_videos`` files in ``out``."""
    if not (out / "truth.csv").is_file():
        generate_demo(out, demo_config(n_videos, seed))
    return load_demo(out)


def pick_subset(truth: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` original uploads, two per influencer in turn (faces and faceless alternating)."""
    originals = truth[truth["reupload_of"].isna() | (truth["reupload_of"] == "")]
    originals = originals.drop_duplicates("file").sort_values(["influencer", "file"])
    by_person = {name: list(rows.index) for name, rows in originals.groupby("influencer")}
    faces = sorted(k for k in by_person if k.startswith("face:"))
    faceless = sorted(k for k in by_person if not k.startswith("face:"))
    order = [p for pair in zip(faces, faceless + [None] * len(faces), strict=False) for p in pair]
    order = [p for p in order if p] + faces[len(order) :]
    chosen: list[int] = []
    while len(chosen) < n and any(by_person[p] for p in order):
        for person in order:
            take = by_person[person][:2]
            del by_person[person][:2]
            chosen.extend(take[: n - len(chosen)])
            if len(chosen) >= n:
                break
    return truth.loc[chosen]


def subset(demo: DemoSet, n: int) -> DemoSet:
    """Write ``subset_<n>_sheet.csv`` and ``subset_<n>_truth.csv`` of ``n`` videos into the demo
    folder (the sheet's folder is where the pipeline may read local videos from)."""
    truth = pd.read_csv(demo.truth, keep_default_na=False)
    picked = pick_subset(truth.replace({"": None}), n).fillna("")
    sheet = pd.DataFrame({"Performance": picked["performance"], "Video URL": picked["video_url"]})
    sheet_path = demo.folder / f"subset_{n}_sheet.csv"
    truth_path = demo.folder / f"subset_{n}_truth.csv"
    sheet.to_csv(sheet_path, index=False)
    picked.to_csv(truth_path, index=False)
    return DemoSet(demo.folder, sheet_path, truth_path, len(picked), picked["file"].nunique())
