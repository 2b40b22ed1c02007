"""shared/real_ads (41 labelled real ads, frame dumps) turned into videos and re-upload groups.

Each folder ``vNN`` becomes a 1 fps H.264 video at its own size (odd sizes lose one pixel row or
column: yuv420p needs even sizes), is sampled like any video (``media.frames``), and the whole set
goes through ``find_duplicate_groups``. Scores: a labelled group is *whole* when all its folders
share one predicted group; a *wrong merge* is a predicted group holding two labels (or a labelled
folder and an unlabelled one, or two unlabelled ones).
"""

from __future__ import annotations

import csv
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from influencer_pipeline.media.dedup import find_duplicate_groups
from influencer_pipeline.media.encode import write_video
from influencer_pipeline.media.frames import SamplingConfig, frames_table, sample_frames


@dataclass
class RealAdsResult:
    """What the re-upload groups of shared/real_ads came to."""

    labelled_groups: int
    whole: list[str]
    broken: dict[str, list[list[str]]]
    wrong_merges: list[list[str]]
    seconds_frames: float
    seconds_groups: float
    evidence: dict[str, str] = field(default_factory=dict)


def labels(real_ads: Path) -> dict[str, str]:
    """folder -> its duplicate_group label ('' when it is in no group)."""
    with (real_ads / "labels.csv").open(newline="", encoding="utf-8") as handle:
        return {row["folder"]: row["duplicate_group"] for row in csv.DictReader(handle)}


def folder_video(folder: Path, out: Path, fps: float = 1.0) -> Path:
    """The folder's frames, in order, as an H.264 video (cached in ``out``)."""
    path = out / f"{folder.name}.mp4"
    if not path.exists():
        frames = []
        for jpg in sorted(folder.glob("*.jpg")):
            rgb = np.asarray(Image.open(jpg).convert("RGB"))
            frames.append(rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2])
        write_video(path, frames, fps=fps, gop=5)
    return path


def tables(videos: dict[str, Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The video_files and video_frames rows that ``find_duplicate_groups`` reads."""
    config = SamplingConfig()
    files, frames = [], []
    for video_id, path in sorted(videos.items()):
        result = sample_frames(path, config)
        frames.append(frames_table(video_id, result, config))
        first = result.frames[0].rgb
        files.append(
            {
                "video_id": video_id,
                "status": "ok",
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "width": first.shape[1],
                "height": first.shape[0],
                "duration_s": result.duration_s,
            }
        )
    return pd.DataFrame(files), pd.concat(frames, ignore_index=True)


def real_ads_groups(real_ads: Path, work: Path) -> RealAdsResult:
    """Group every labelled folder of ``real_ads`` and score the groups against labels.csv."""
    work.mkdir(parents=True, exist_ok=True)
    label = labels(real_ads)
    started = time.perf_counter()
    videos = {f: folder_video(real_ads / f, work) for f in label}
    files, frames = tables(videos)
    framed = time.perf_counter()
    groups = find_duplicate_groups(files, frames)
    grouped = time.perf_counter()
    predicted = dict(zip(groups["video_id"], groups["group_id"], strict=True))
    truth: dict[str, list[str]] = {}
    for folder, name in label.items():
        if name:
            truth.setdefault(name, []).append(folder)
    whole = sorted(n for n, members in truth.items() if len({predicted[m] for m in members}) == 1)
    broken = {
        n: [
            sorted(m for m in members if predicted[m] == g) for g in {predicted[m] for m in members}
        ]
        for n, members in truth.items()
        if n not in whole
    }
    merges = []
    for _, members in groups.groupby("group_id"):
        names = {label[v] or f"(unlabelled {v})" for v in members["video_id"]}
        if len(names) > 1:
            merges.append(sorted(members["video_id"]))
    evidence = {
        v: e
        for v, e in zip(groups["video_id"], groups["evidence"], strict=True)
        if isinstance(e, str)
    }
    return RealAdsResult(
        labelled_groups=len(truth),
        whole=whole,
        broken=broken,
        wrong_merges=merges,
        seconds_frames=framed - started,
        seconds_groups=grouped - framed,
        evidence=evidence,
    )
