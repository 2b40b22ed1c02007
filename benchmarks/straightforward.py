"""The straightforward approach of issue 13: what a throwaway single-process script does.

    python benchmarks/straightforward.py --sheet DEMO/demo_sheet.xlsx --out DIR [--embedder dlib]

Per video (``straightforward_video``):

- decode with PyAV from the start and keep one frame every 0.5 s (2 fps), converted to RGB at a
  size whose long side is 640 px (``frame.to_ndarray(width=, height=)``);
- MTCNN as facenet-pytorch ships it (``MTCNN.detect``, ``PlainMTCNN``) at its smallest face,
  20 px, with no floor relative to the frame height, on those frames, one batch per video (not
  the project's ``FaceDetector``, whose cascade is faster for the same faces);
- EVERY detected face embedded with the embedder the pipeline used (the project's
  ``make_embedder``: dlib descriptor or FaceNet), no quality gate, no skipping; dlib's
  descriptor as the dlib wheel computes it (``runtime="dlib"``: what a script calling dlib or
  ``face_recognition`` gets), not the pipeline's PyTorch port of it (``--dlib-runtime torch``),
  and of the face as seen (one pass per face; the pipeline's mirror averaging is its own);
- the dominant face the simple way: the video's faces grouped by average linkage at the
  embedder's within-video distance (``faces.calibration``: dlib 0.42); the group seen in the
  most frames wins when it is in at least 2 frames and 10 % of them (the floors of the
  pipeline's ``DominanceConfig``); its normalised mean embedding stands for the video.

Across videos (``straightforward_assignments``): the project's identity clustering
(``cluster_video_faces`` with the identity_clusters asset's settings for the embedder, mean
vectors); a video with a face gets its cluster, every other video is its own influencer (such a
script has no outro-card or re-upload logic).

Run as a script it processes every distinct video of the sheet in this one process and writes
``video_influencers.parquet``, ``video_faces.parquet`` and ``stages.json`` (seconds per stage
and per video, frames and faces) into ``--out``; ``benchmarks/speed.py`` runs it in a child
process so that its wall time and the peak memory of its process tree are measured from outside.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

STAGES = ("decode", "detection", "embedding", "dominant")
FPS = 2.0
LONG_SIDE = 640


@dataclass
class StraightVideo:
    """One video's result: its dominant embedding (or None), counts, stage seconds."""

    video_id: str
    video_url: str
    embedding: np.ndarray | None
    frames: int
    faces: int
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))


def sampled_frames(path: Path, fps: float = FPS, long_side: int = LONG_SIDE) -> list[np.ndarray]:
    """RGB frames every ``1/fps`` seconds, every frame decoded, long side ``long_side`` px."""
    import av

    out: list[np.ndarray] = []
    next_t = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            t = float(frame.time or 0.0)
            if t + 1e-6 < next_t:
                continue
            while next_t <= t + 1e-6:
                next_t += 1.0 / fps
            scale = min(1.0, long_side / max(frame.width, frame.height))
            width, height = (max(2, round(v * scale / 2) * 2) for v in (frame.width, frame.height))
            out.append(frame.to_ndarray(format="rgb24", width=width, height=height))
    return out


def dominant_embedding(
    embeddings: np.ndarray, frame_of: np.ndarray, n_frames: int, distance: float
) -> np.ndarray | None:
    """The normalised mean of the face group seen in the most frames, or None (see module)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    from influencer_pipeline.faces.dominant import DominanceConfig

    if len(embeddings) == 0:
        return None
    if len(embeddings) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        tree = linkage(embeddings.astype(np.float64), method="average", metric="euclidean")
        labels = fcluster(tree, t=distance, criterion="distance")
    best = max(
        set(labels.tolist()),
        key=lambda g: (len(set(frame_of[labels == g].tolist())), int((labels == g).sum())),
    )
    seen = len(set(frame_of[labels == best].tolist()))
    floors = DominanceConfig()
    if seen < floors.min_frames or seen < floors.min_frame_share * n_frames:
        return None
    mean = embeddings[labels == best].mean(axis=0)
    return (mean / max(np.linalg.norm(mean), 1e-12)).astype(np.float32)


class PlainMTCNN:
    """facenet-pytorch's ``MTCNN.detect`` as a script calls it, its boxes as ``Detection``s."""

    def __init__(self, min_face_size: int = 20) -> None:
        from facenet_pytorch import MTCNN

        self.mtcnn = MTCNN(keep_all=True, min_face_size=min_face_size, device="cpu")

    def detect(self, frames: list[np.ndarray], batch_size: int = 1) -> list[list[object]]:
        """One list of detections per frame (all frames are one size: one batch)."""
        from influencer_pipeline.faces.detection import detections_in_image

        boxes, scores, points = self.mtcnn.detect(np.stack(frames), landmarks=True)
        found: list[list[object]] = []
        for frame, frame_boxes, frame_scores, frame_points in zip(
            frames, boxes, scores, points, strict=True
        ):
            if frame_boxes is None:  # no face: facenet-pytorch gives None (and scores [None])
                found.append([])
                continue
            h, w = frame.shape[:2]
            marks = np.asarray(frame_points, dtype=np.float32)
            found.append(detections_in_image(frame_boxes, frame_scores, marks, w, h))
        return found


def straightforward_video(
    video_id: str, url: str, path: Path, models: tuple[object, object], distance: float
) -> StraightVideo:
    """Decode at 2 fps, detect on every kept frame, embed every face, pick the dominant face."""
    detector, embedder = models
    result = StraightVideo(video_id, url, None, 0, 0)
    seconds = result.seconds
    clock = time.perf_counter()
    frames = sampled_frames(path)
    seconds["decode"] = time.perf_counter() - clock
    clock = time.perf_counter()
    found = detector.detect(frames, batch_size=max(1, len(frames))) if frames else []
    seconds["detection"] = time.perf_counter() - clock
    clock = time.perf_counter()
    rows, frame_of = [], []
    for index, (rgb, detections) in enumerate(zip(frames, found, strict=True)):
        if detections:
            rows.append(embedder.embed(rgb, detections))
            frame_of.extend([index] * len(detections))
    seconds["embedding"] = time.perf_counter() - clock
    clock = time.perf_counter()
    matrix = np.concatenate(rows) if rows else np.zeros((0, embedder.dim), np.float32)
    result.embedding = dominant_embedding(matrix, np.asarray(frame_of), len(frames), distance)
    seconds["dominant"] = time.perf_counter() - clock
    result.frames, result.faces = len(frames), len(matrix)
    return result


def video_faces_table(videos: list[StraightVideo], name: str, version: str) -> pd.DataFrame:
    """A ``video_faces``-like table (the columns identity clustering reads)."""
    return pd.DataFrame(
        {
            "video_id": [v.video_id for v in videos],
            "has_dominant_face": [v.embedding is not None for v in videos],
            "embedding": [None if v.embedding is None else v.embedding.tolist() for v in videos],
            "embedder": name,
            "embedder_version": version,
        }
    )


def cluster_config(embedder_name: str) -> object:
    """The identity_clusters asset's clustering settings for ``embedder_name``."""
    from influencer_pipeline.faces.calibration import calibration_for
    from influencer_pipeline.identities.clustering import ClusterConfig

    calibration = calibration_for(embedder_name)
    return ClusterConfig(
        identity_threshold=calibration.identity_threshold,
        link_threshold=calibration.link_threshold,
    )


def straightforward_assignments(videos: list[StraightVideo], faces: pd.DataFrame) -> pd.DataFrame:
    """``video_influencers``-like rows: the identity cluster, or the video alone when faceless."""
    from influencer_pipeline.identities.clustering import cluster_video_faces

    with_face = faces[faces["has_dominant_face"]].reset_index(drop=True)
    clusters = cluster_video_faces(
        with_face, cluster_config(str(faces["embedder"].iloc[0])), use_bags=False
    )
    ids = dict(zip(clusters["video_id"], "F-" + clusters["cluster_key"].astype(str), strict=True))
    return pd.DataFrame(
        {
            "video_id": [v.video_id for v in videos],
            "video_url": [v.video_url for v in videos],
            "influencer_id": [ids.get(v.video_id, "V-" + v.video_id) for v in videos],
            "method": ["face" if v.video_id in ids else "none" for v in videos],
            "status": "ok",
            "duplicate_of": None,
        }
    )


def sheet_videos(sheet: Path) -> list[tuple[str, str, Path]]:
    """(video id, normalised URL, local path) of every distinct local video of the sheet."""
    from per_video import sheet_urls

    urls = sheet_urls(sheet, sheet.parent)
    return [(f"s{i:05d}", url, Path(url.removeprefix("file://"))) for i, url in enumerate(urls)]


def run(sheet: Path, out: Path, embedder_name: str, dlib_runtime: str = "dlib") -> None:
    """The whole script: every video of ``sheet``, then clustering; results into ``out``."""
    from influencer_pipeline.faces.calibration import calibration_for
    from influencer_pipeline.faces.embedders import make_embedder

    started = time.perf_counter()
    options = {"runtime": dlib_runtime, "mirrored": False} if embedder_name == "dlib" else {}
    detector, embedder = PlainMTCNN(), make_embedder(embedder_name, **options)
    distance = calibration_for(embedder.name).track_distance
    setup_s = time.perf_counter() - started
    videos = [
        straightforward_video(vid, url, path, (detector, embedder), distance)
        for vid, url, path in sheet_videos(sheet)
    ]
    clock = time.perf_counter()
    faces = video_faces_table(videos, embedder.name, embedder.version)
    assigned = straightforward_assignments(videos, faces)
    cluster_s = time.perf_counter() - clock
    out.mkdir(parents=True, exist_ok=True)
    faces.to_parquet(out / "video_faces.parquet")
    assigned.to_parquet(out / "video_influencers.parquet")
    stages = {k: sum(v.seconds[k] for v in videos) for k in STAGES}
    summary = {
        "videos": len(videos),
        "embedder": embedder.name,
        "setup_s": setup_s,
        "stages_s": {**stages, "clustering": cluster_s},
        "frames": sum(v.frames for v in videos),
        "faces": sum(v.faces for v in videos),
        "with_face": int(faces["has_dominant_face"].sum()),
        "per_video": [
            {"video_url": v.video_url, "frames": v.frames, "faces": v.faces, **v.seconds}
            for v in videos
        ],
    }
    (out / "stages.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--embedder", default="dlib", choices=["dlib", "facenet"])
    parser.add_argument("--dlib-runtime", default="dlib", choices=["dlib", "torch"])
    args = parser.parse_args()
    run(args.sheet, args.out, args.embedder, args.dlib_runtime)
