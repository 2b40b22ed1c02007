"""The re-upload and outro stages alone, on a demo: for when the whole pipeline cannot run.

Reads the per-video tables (``video_files``, ``video_frames``, ``outro_fingerprints``) from a lake
(``influencer-pipeline run`` writes them before the face stages; a run that failed later still
leaves them), or computes them from the demo's videos, then runs exactly what the
``duplicate_groups`` and ``outro_groups`` assets run (``find_duplicate_groups``, ``group_outros``)
(and ``group_with_copies``), with one difference: which canonical videos are faceless comes from
the truth's ``kind`` instead
of ``video_faces`` (an oracle for the face stage). The payload has the shape of
``evaluation.lake.evaluate_lake``'s, so the sections of ``accuracy.py`` read it unchanged.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pandas as pd

from influencer_pipeline import lake as lake_io
from influencer_pipeline.catalog.urls import normalize_url
from influencer_pipeline.media.dedup import find_duplicate_groups
from influencer_pipeline.media.dedup_prints import lake_frame_images
from influencer_pipeline.media.frames import SamplingConfig, frames_table, sample_frames
from influencer_pipeline.outro.duplicates import group_with_copies
from influencer_pipeline.outro.fingerprint import fingerprint_outro
from influencer_pipeline.outro.records import fingerprint_row, fingerprints_from_table
from influencer_tools.evaluation.metrics import bcubed, pairwise, splits, wrong_merges


def _table(lake: Path, asset: str) -> pd.DataFrame:
    paths = sorted((lake / asset).glob("*.parquet"))
    return lake_io.read_parquet_many(paths)


def _triple(values: tuple[float, float, float]) -> dict[str, float]:
    return dict(zip(("precision", "recall", "f"), values, strict=True))


def video_tables(demo: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """video_files, video_frames and outro_fingerprints rows of the demo's videos, no Dagster."""
    config = SamplingConfig()
    urls = sorted(
        {normalize_url(u, demo) for u in pd.read_excel(demo / "demo_sheet.xlsx")["Video URL"]}
    )
    files, frames, prints = [], [], []
    for url in urls:
        path = Path(url.removeprefix("file://"))
        video_id = hashlib.sha256(url.encode()).hexdigest()[:16]
        result = sample_frames(path, config)
        table = frames_table(video_id, result, config)
        frames.append(table)
        prints.append(pd.DataFrame([fingerprint_row(fingerprint_outro(table))]))
        first = result.frames[0].rgb
        files.append(
            {
                "video_id": video_id,
                "video_url": url,
                "status": "ok",
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "width": first.shape[1],
                "height": first.shape[0],
                "duration_s": result.duration_s,
            }
        )
    return pd.DataFrame(files), pd.concat(frames), pd.concat(prints, ignore_index=True)


def stages_payload(demo: Path, lake: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """Scores of the dedup and outro stages on ``lake``'s per-video tables; and the URL map.

    Without a lake the tables are computed from the demo's videos (``video_tables``).
    """
    if (lake / "video_frames").is_dir():
        files = _table(lake, "video_files")
        frames = _table(lake, "video_frames").drop(columns=["image"])
        fingerprints = _table(lake, "outro_fingerprints")
        images = lake_frame_images(str(lake))
    else:
        files, frames, fingerprints = video_tables(demo)
        images = None
    cards = fingerprints_from_table(fingerprints)
    started = time.perf_counter()
    groups = find_duplicate_groups(files, frames, images=images)
    seconds = time.perf_counter() - started
    truth = pd.read_csv(demo / "truth.csv", keep_default_na=False)
    truth["url"] = [normalize_url(u, demo) for u in truth["video_url"]]
    truth = truth.drop_duplicates("url")
    url_of = dict(zip(files["video_id"], files["video_url"], strict=True))
    group_of = {url_of[v]: g for v, g in zip(groups["video_id"], groups["group_id"], strict=True)}
    true_dup = dict(zip(truth["url"], truth["duplicate_group"], strict=True))
    common = {u: true_dup[u] for u in true_dup if u in group_of}
    pred_dup = {u: group_of[u] for u in common}
    canonical = dict(zip(groups["video_id"], groups["canonical_video_id"], strict=True))
    kind = dict(zip(truth["url"], truth["kind"], strict=True))
    faceless = {v for v in canonical if canonical[v] == v and kind.get(url_of[v]) == "faceless"}
    copies = {v for v, c in canonical.items() if c in faceless}
    started = time.perf_counter()
    outro = group_with_copies({v: cards[v] for v in copies if v in cards}, canonical)
    seconds_outro = time.perf_counter() - started
    card_group = dict(zip(outro["video_id"], outro["group_key"], strict=True))
    pred, true = {}, {}
    for video_id, canon in canonical.items():
        url = url_of[video_id]
        if kind.get(url) == "faceless":
            pred[url] = card_group.get(canon, f"single:{canon}")
            true[url] = truth.loc[truth["url"] == url, "influencer"].iloc[0]
    payload = {
        "duplicate_groups": {
            "videos": len(common),
            "pairwise": _triple(pairwise(pred_dup, common)),
            "wrong_merges": len(wrong_merges(pred_dup, common)),
            "splits": len(splits(pred_dup, common)),
            "seconds": seconds,
        },
        "influencers": {
            "sections": {
                "faceless": {
                    "n_videos": len(true),
                    "n_true_influencers": len(set(true.values())),
                    "n_predicted_influencers": len(set(pred.values())),
                    "bcubed": _triple(bcubed(pred, true)),
                    "pairwise": _triple(pairwise(pred, true)),
                    "wrong_merges": [e.to_dict() for e in wrong_merges(pred, true)],
                    "splits": [e.to_dict() for e in splits(pred, true)],
                    "seconds": seconds_outro,
                }
            }
        },
    }
    assigned = pd.DataFrame(
        {"video_url": list(pred), "influencer_id": [str(v) for v in pred.values()]}
    )
    return payload, assigned
