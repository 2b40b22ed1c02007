"""The inputs of ``find_duplicate_groups`` made from video files, as the media assets make them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from influencer_pipeline.media.frames import SamplingConfig, frames_table, sample_frames


def dedup_tables(videos: dict[str, Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(video files rows, sampled frames) for ``videos`` (video id -> file), every file ok."""
    config = SamplingConfig()
    files, frames = [], []
    for video_id, path in videos.items():
        result = sample_frames(path, config)
        frames.append(frames_table(video_id, result, config))
        rgb = result.frames[0].rgb
        files.append(
            {
                "video_id": video_id,
                "status": "ok",
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "width": rgb.shape[1],
                "height": rgb.shape[0],
                "duration_s": result.duration_s,
            }
        )
    return pd.DataFrame(files), pd.concat(frames, ignore_index=True)
