"""Build the ``face_embeddings`` rows of one video: detect, assess and embed every face.

``face_rows`` takes the ``video_frames`` rows of one video, skips outro and blank frames, decodes
the frame JPEGs with PIL, detects faces in batches, records the quality gates of every face and
embeds every face that passes the hard gates (detector score and absolute size). Faces that fail
a hard gate are kept with ``embedding = None``: no detection is silently dropped.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from PIL import Image

from influencer_pipeline.faces.detection import Detection, FaceDetector
from influencer_pipeline.faces.embedders import FaceEmbedder
from influencer_pipeline.faces.quality import FaceQuality, QualityThresholds, assess

THUMBNAIL_SIZE = 96  # long side of the face thumbnail, px
THUMBNAIL_MARGIN = 0.25  # margin around the box, as a share of its width/height per side
THUMBNAIL_QUALITY = 85

# Faces are searched in every non-blank sampled frame: the body frames and the outro frames. In a
# short clip the outro window (the last seconds, kept for the outro-card fingerprint) is a large
# part of the video, and a presenter on screen until the end would otherwise be undercounted; an
# outro card has no face, so it only adds a faceless frame to the presence denominator.
FACE_ROLES: tuple[str, ...] = ("body", "outro")

# Column names and pandas dtypes of the table (binding; the Arrow schema lives in lake_schema).
FACE_COLUMNS: dict[str, str] = {
    "video_id": "object",  # str
    "frame_index": "int32",
    "timestamp_s": "float64",
    "face_index": "int32",  # 0.. within the frame, best detector score first
    "x1": "float32",
    "y1": "float32",
    "x2": "float32",
    "y2": "float32",
    "frame_width": "int32",
    "frame_height": "int32",
    "det_score": "float32",
    "rel_height": "float32",
    "sharpness": "float32",
    "frontalness": "float32",
    "passes_quality": "bool",
    "quality_flags": "object",  # "" or comma-joined failed gates, e.g. "tiny,blurry"
    "landmarks": "object",  # float32[10]: x,y of left eye, right eye, nose, mouth left, right
    "embedding": "object",  # float32[dim] L2-normalised, or None below the hard gates
    "embedder": "object",
    "embedder_version": "object",
    "thumbnail": "object",  # JPEG bytes of the face crop with margin, long side 96 px
}


class FaceRecordError(ValueError):
    """The frames table cannot be turned into face rows; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def empty_face_rows() -> pd.DataFrame:
    """A face table with no rows and the binding columns and dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in FACE_COLUMNS.items()})


def face_thumbnail(image: np.ndarray, box: tuple[float, float, float, float]) -> bytes:
    """JPEG bytes of the face ``box`` with a 25 % margin, scaled to a 96 px long side."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * THUMBNAIL_MARGIN, (y2 - y1) * THUMBNAIL_MARGIN
    left, top = max(0, int(x1 - dx)), max(0, int(y1 - dy))
    right, bottom = min(width, int(np.ceil(x2 + dx))), min(height, int(np.ceil(y2 + dy)))
    crop = Image.fromarray(image[top : max(bottom, top + 1), left : max(right, left + 1)])
    scale = THUMBNAIL_SIZE / max(crop.size)
    size = (max(1, round(crop.size[0] * scale)), max(1, round(crop.size[1] * scale)))
    crop = crop.resize(size, Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()


def decode_frame(video_id: str, frame_index: int, data: object) -> np.ndarray:
    """The RGB array of a frame row's JPEG; FaceRecordError naming the frame when it is unusable."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0:
        raise FaceRecordError(
            "missing_frame_image",
            f"video {video_id} frame {frame_index}: the frame row has no image bytes",
        )
    try:
        with Image.open(io.BytesIO(bytes(data))) as picture:
            return np.asarray(picture.convert("RGB"))
    except Exception as exc:
        raise FaceRecordError(
            "bad_frame_image",
            f"video {video_id} frame {frame_index}: image bytes could not be decoded ({exc})",
        ) from exc


def _check_columns(frames: pd.DataFrame) -> None:
    missing = [c for c in ("frame_index", "timestamp_s", "image") if c not in frames.columns]
    if missing:
        raise FaceRecordError(
            "missing_columns", f"the frames table lacks the column(s) {', '.join(missing)}"
        )


def _selected_frames(frames: pd.DataFrame, roles: tuple[str, ...]) -> pd.DataFrame:
    """Frames of ``roles`` that are not blank, in frame order."""
    keep = pd.Series(True, index=frames.index)
    if "role" in frames.columns:
        keep &= frames["role"].astype("string").fillna("body").isin(roles)
    if "is_blank" in frames.columns:
        keep &= ~frames["is_blank"].astype("boolean").fillna(False).astype(bool)
    return frames.loc[keep].sort_values("frame_index", kind="stable")


def face_rows(
    video_id: str,
    frames: pd.DataFrame,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    batch_size: int = 8,
    *,
    thresholds: QualityThresholds | None = None,
    roles: tuple[str, ...] = FACE_ROLES,
) -> pd.DataFrame:
    """One row per face detected in the non-blank ``frames`` of ``video_id`` of ``roles``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _check_columns(frames)
    gates = thresholds or QualityThresholds()
    selected = _selected_frames(frames, roles)
    records: list[dict[str, object]] = []
    rows = list(selected[["frame_index", "timestamp_s", "image"]].itertuples(index=False))
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        images = [decode_frame(video_id, int(r.frame_index), r.image) for r in chunk]
        found = detector.detect(images, batch_size=batch_size)
        for row, image, detections in zip(chunk, images, found, strict=True):
            records.extend(
                _frame_records(
                    video_id=video_id,
                    frame_index=int(row.frame_index),
                    timestamp_s=float(row.timestamp_s),
                    image=image,
                    detections=detections,
                    embedder=embedder,
                    thresholds=gates,
                )
            )
    if not records:
        return empty_face_rows()
    table = pd.DataFrame.from_records(records, columns=list(FACE_COLUMNS))
    return table.astype(FACE_COLUMNS).reset_index(drop=True)


def _frame_records(
    *,
    video_id: str,
    frame_index: int,
    timestamp_s: float,
    image: np.ndarray,
    detections: Sequence[Detection],
    embedder: FaceEmbedder,
    thresholds: QualityThresholds,
) -> list[dict[str, object]]:
    """The rows of the faces of one frame (embedding only for faces past the hard gates)."""
    height, width = image.shape[:2]
    qualities: list[FaceQuality] = [assess(image, d, thresholds) for d in detections]
    eligible = [i for i, q in enumerate(qualities) if not q.hard_fail]
    vectors = embedder.embed(image, [detections[i] for i in eligible]) if eligible else None
    if vectors is not None and vectors.shape != (len(eligible), embedder.dim):
        raise FaceRecordError(
            "bad_embedding_shape",
            f"embedder {embedder.name} returned shape {vectors.shape} for {len(eligible)} faces, "
            f"expected ({len(eligible)}, {embedder.dim})",
        )
    embeddings: dict[int, np.ndarray] = {}
    if vectors is not None:
        embeddings = {i: vectors[k].astype(np.float32) for k, i in enumerate(eligible)}
    out = []
    for face_index, (detection, quality) in enumerate(zip(detections, qualities, strict=True)):
        x1, y1, x2, y2 = detection.box
        out.append(
            {
                "video_id": video_id,
                "frame_index": frame_index,
                "timestamp_s": timestamp_s,
                "face_index": face_index,
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
                "frame_width": width,
                "frame_height": height,
                "det_score": detection.score,
                "rel_height": quality.rel_height,
                "sharpness": quality.sharpness,
                "frontalness": quality.frontalness,
                "passes_quality": quality.passes,
                "quality_flags": ",".join(quality.flags),
                "landmarks": np.asarray(detection.landmarks, dtype=np.float32).reshape(10),
                "embedding": embeddings.get(face_index),
                "embedder": embedder.name,
                "embedder_version": embedder.version,
                "thumbnail": face_thumbnail(image, detection.box),
            }
        )
    return out
