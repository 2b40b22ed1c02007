"""The naive approach of typical scripts, on the same videos, for comparison (benchmark helper).

Per video (``naive_video``): decode EVERY frame from the start (no seeking, no downscaling), run
MTCNN on every full-size frame (the project's ``FaceDetector``, in batches of equal-size frames,
which is already kinder than the usual one-frame-at-a-time loop), and measure and embed every
face with the project's code (quality gates, dlib descriptor, thumbnail: the same face rows as
the pipeline's ``face_embeddings``). The same dominant-face rule (``choose_dominant``) then
decides each video's face, with every decoded frame counted as a body frame.

Across videos (``naive_assignments``): the same identity clustering, the same outro grouping
of the videos without a dominant face (on the pipeline's own outro fingerprints: the naive
approach only replaces the face path), the same re-upload groups and the same assignment rule,
scored with the project's ``evaluate_assignments`` against the demo truth.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pandas as pd
from identity_scale import DLIB_IDENTITY_THRESHOLD

from influencer_pipeline import lake
from influencer_pipeline.faces.dominant import DominanceConfig, choose_dominant, video_faces_row
from influencer_pipeline.faces.quality import QualityThresholds
from influencer_pipeline.faces.records import FACE_COLUMNS, _frame_records, empty_face_rows
from influencer_pipeline.identities.assignment import assign_influencers
from influencer_pipeline.identities.clustering import ClusterConfig, cluster_video_faces
from influencer_pipeline.lake_schema import VIDEO_FACES
from influencer_pipeline.outro.grouping import group_outros
from influencer_pipeline.outro.records import fingerprints_from_table


@dataclass
class NaiveVideo:
    """One video's naive result: its video_faces row, frame and face counts, stage seconds."""

    row: dict[str, object]
    frames: int
    faces: int
    width: int
    height: int
    seconds: dict[str, float] = field(default_factory=dict)


def _timed_frames(path: Path, seconds: dict[str, float]) -> Iterator[tuple[int, float, np.ndarray]]:
    """(index, timestamp, full-size RGB) of every frame, decoding time added to ``seconds``."""
    clock = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for index, frame in enumerate(container.decode(stream)):
            rgb = frame.to_ndarray(format="rgb24")
            timestamp = float(frame.time or 0.0)
            seconds["decode"] += time.perf_counter() - clock
            yield index, timestamp, rgb
            clock = time.perf_counter()
    seconds["decode"] += time.perf_counter() - clock


def naive_video(
    video_id: str, path: Path, detector: object, embedder: object, batch_size: int = 8
) -> NaiveVideo:
    """Decode every frame, detect on every full-size frame, embed every face; decide."""
    seconds = {"decode": 0.0, "detection": 0.0, "embedding": 0.0, "dominant": 0.0}
    thresholds = QualityThresholds()
    records: list[dict[str, object]] = []
    n_frames, size = 0, (0, 0)

    def flush(batch: list[tuple[int, float, np.ndarray]]) -> None:
        clock = time.perf_counter()
        found = detector.detect([rgb for _, _, rgb in batch], batch_size=len(batch))
        seconds["detection"] += time.perf_counter() - clock
        clock = time.perf_counter()
        for (index, timestamp, rgb), detections in zip(batch, found, strict=True):
            records.extend(
                _frame_records(
                    video_id=video_id,
                    frame_index=index,
                    timestamp_s=timestamp,
                    image=rgb,
                    detections=detections,
                    embedder=embedder,
                    thresholds=thresholds,
                )
            )
        seconds["embedding"] += time.perf_counter() - clock

    batch: list[tuple[int, float, np.ndarray]] = []
    for item in _timed_frames(path, seconds):
        batch.append(item)
        n_frames += 1
        size = item[2].shape[1], item[2].shape[0]
        if len(batch) == batch_size:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    clock = time.perf_counter()
    faces = (
        pd.DataFrame.from_records(records, columns=list(FACE_COLUMNS)).astype(FACE_COLUMNS)
        if records
        else empty_face_rows()
    )
    dominant = choose_dominant(faces, n_frames, DominanceConfig())
    row = video_faces_row(video_id, dominant, n_frames, embedder.name, embedder.version)
    seconds["dominant"] += time.perf_counter() - clock
    return NaiveVideo(row, n_frames, len(faces), size[0], size[1], seconds)


def _per_video(root: str, asset: str, video_ids: list[str]) -> pd.DataFrame:
    paths = [f"{root}/{asset}/{v}.parquet" for v in video_ids]
    return pd.concat([lake.read_parquet(p) for p in paths], ignore_index=True)


def lake_tables(root: str) -> dict[str, pd.DataFrame]:
    """The pipeline tables the cross-video logic needs, read from the lake at ``root``."""
    catalog = lake.read_parquet(f"{root}/video_catalog.parquet")
    ids = list(catalog["video_id"])
    frames = _per_video(root, "video_frames", ids)
    return {
        "catalog": catalog,
        "files": _per_video(root, "video_files", ids),
        "frame_counts": frames.groupby("video_id").size(),
        "duplicates": lake.read_parquet(f"{root}/duplicate_groups.parquet"),
        "outro_fingerprints": _per_video(root, "outro_fingerprints", ids),
        "video_faces": _per_video(root, "video_faces", ids),
    }


def naive_assignments(
    video_faces: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    config: ClusterConfig | None = None,
) -> pd.DataFrame:
    """``video_influencers`` rows from ``video_faces`` with the pipeline's cross-video rules
    (identity clustering with ``config``, by default the identity_clusters asset's for dlib)."""
    duplicates = tables["duplicates"]
    canonical = set(duplicates.loc[duplicates["is_canonical"], "video_id"])
    canonical &= set(tables["catalog"]["video_id"])
    faces = video_faces[
        video_faces["has_dominant_face"] & video_faces["video_id"].isin(canonical)
    ].reset_index(drop=True)
    config = config or ClusterConfig(identity_threshold=DLIB_IDENTITY_THRESHOLD)
    clusters = cluster_video_faces(faces, config)
    identity = pd.DataFrame(
        {
            "video_id": clusters["video_id"],
            "influencer_id": "F-" + clusters["cluster_key"].astype(str),
            "is_singleton": clusters["is_singleton"],
        }
    )
    has_face = dict(zip(video_faces["video_id"], video_faces["has_dominant_face"], strict=True))
    faceless = {v for v in canonical if v in has_face and not has_face[v]}
    fingerprints = tables["outro_fingerprints"]
    cards = fingerprints_from_table(fingerprints[fingerprints["video_id"].isin(canonical)])
    grouped = group_outros({v: f for v, f in cards.items() if v in faceless})
    no_card = sorted(faceless - set(grouped["video_id"]))
    outro = pd.concat(
        [
            pd.DataFrame(
                {
                    "video_id": grouped["video_id"],
                    "influencer_id": "O-" + grouped["group_key"].astype(str),
                    "group_size": grouped["group_size"],
                    "has_card": True,
                }
            ),
            pd.DataFrame(
                {
                    "video_id": no_card,
                    "influencer_id": ["O-" + v for v in no_card],
                    "group_size": 1,
                    "has_card": False,
                }
            ),
        ],
        ignore_index=True,
    )
    return assign_influencers(
        catalog=tables["catalog"],
        files=tables["files"],
        frame_counts=tables["frame_counts"],
        duplicates=duplicates,
        identity_clusters=identity,
        outro_groups=outro,
    )


def naive_video_faces(results: list[NaiveVideo]) -> pd.DataFrame:
    """The naive ``video_faces`` table."""
    return pd.DataFrame([r.row for r in results], columns=VIDEO_FACES.names)
