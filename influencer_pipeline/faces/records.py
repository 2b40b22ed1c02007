"""Build the ``face_embeddings`` rows of one video: detect, assess, embed the faces that matter.

``face_rows`` takes the ``video_frames`` rows of one video, skips blank frames, decodes the frame
JPEGs (``decode_frame``), detects faces in batches and records, for every face, the quality gates,
the five landmarks, a 32 px grey patch of the face aligned on a fixed template (``aligned_face``,
used to tell a live person from a picture: ``faces.liveness``) and a thumbnail. It then embeds only
the faces whose embedding can change the answer (``faces.embed_plan``): every other face keeps its
row with ``embedding = None`` and says why in ``embed_skip`` (``hard_gate``,
``below_presenter_size``, ``tube_has_enough``). No detection is silently dropped.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from influencer_pipeline.errors import InputError
from influencer_pipeline.faces.calibration import CALIBRATIONS
from influencer_pipeline.faces.detection import Detection, FaceDetector
from influencer_pipeline.faces.embed_plan import (
    SKIP_HARD_GATE,
    SKIP_TUBE,
    EmbedPolicy,
    FaceSlot,
    frame_orders,
    plan,
    tube_disagrees,
)
from influencer_pipeline.faces.embedders import FaceEmbedder, embed_images
from influencer_pipeline.faces.framing import framed
from influencer_pipeline.faces.liveness import aligned_patch
from influencer_pipeline.faces.quality import FaceQuality, QualityThresholds, assess

THUMBNAIL_SIZE = 96  # long side of the face thumbnail, px
THUMBNAIL_MARGIN = 0.25  # margin around the box, as a share of its width/height per side
THUMBNAIL_QUALITY = 85
JPEG_END = b"\xff\xd9"  # a JPEG's last marker: missing in a file cut off
CV2_AS_RGB = cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION  # as PIL: no EXIF turn

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
    "embedding": "object",  # float32[dim] L2-normalised, or None (embed_skip says why)
    "embedder": "object",
    "embedder_version": "object",
    "thumbnail": "object",  # JPEG bytes of the face crop with margin, long side 96 px
    "aligned_face": "object",  # 32 x 32 grey uint8 bytes, aligned on the landmark template
    "framed": "bool",  # a picture's border on all four sides (faces.framing)
    "tube": "int32",  # spatial tube in this video (faces held in place across frames), -1: none
    "embed_skip": "object",  # None (embedded) | hard_gate | below_presenter_size | tube_has_enough
}


class FaceRecordError(InputError):
    """The frames table cannot be turned into face rows; ``code`` is machine-readable."""


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
    """The RGB array of a frame row's JPEG; FaceRecordError naming the frame when it is unusable.

    A whole RGB JPEG (the stage's own frames) is decoded by OpenCV, which lets go of the GIL while
    it decodes, into the same pixels as PIL (both libjpeg-turbo: all 2,826 frames of the 157-video
    speed set are equal); anything else (grey, CMYK, a cut-off file) goes through PIL."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0:
        raise FaceRecordError(
            "missing_frame_image",
            f"video {video_id} frame {frame_index}: the frame row has no image bytes",
        )
    raw = bytes(data)
    try:
        with Image.open(io.BytesIO(raw)) as picture:  # reads the header only
            if picture.format == "JPEG" and picture.mode == "RGB" and raw.endswith(JPEG_END):
                rgb = cv2.imdecode(np.frombuffer(raw, np.uint8), CV2_AS_RGB)
                if rgb is not None:
                    return rgb
            # the stage's JPEGs are RGB already: converting would only copy them
            return np.asarray(picture if picture.mode == "RGB" else picture.convert("RGB"))
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
    policy: EmbedPolicy | None = None,
) -> pd.DataFrame:
    """One row per face detected in the non-blank ``frames`` of ``video_id`` of ``roles``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _check_columns(frames)
    gates = thresholds or QualityThresholds()
    policy = policy or EmbedPolicy()
    selected = _selected_frames(frames, roles)
    rows = list(selected[["frame_index", "timestamp_s", "image"]].itertuples(index=False))
    images: dict[int, np.ndarray] = {}
    found: list[tuple[int, Detection]] = []
    records: list[dict[str, object]] = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        decoded = [decode_frame(video_id, int(r.frame_index), r.image) for r in chunk]
        for row, image, detections in zip(
            chunk, decoded, detector.detect(decoded, batch_size=batch_size), strict=True
        ):
            images[int(row.frame_index)] = image
            for face_index, detection in enumerate(detections):
                found.append((int(row.frame_index), detection))
                records.append(
                    _face_record(
                        video_id,
                        frame_index=int(row.frame_index),
                        timestamp_s=float(row.timestamp_s),
                        face_index=face_index,
                        image=image,
                        detection=detection,
                        embedder=embedder,
                        thresholds=gates,
                    )
                )
    if not records:
        return empty_face_rows()
    _embed_planned(records, found, images, embedder, policy)
    table = pd.DataFrame.from_records(records, columns=list(FACE_COLUMNS))
    return table.astype(FACE_COLUMNS).reset_index(drop=True)


def embed_summary(faces: pd.DataFrame) -> dict[str, object]:
    """Faces detected, embedded and skipped (by reason) in a face table, for asset metadata."""
    skipped = faces["embed_skip"].dropna().value_counts().to_dict() if "embed_skip" in faces else {}
    embedded = int(faces["embedding"].map(lambda v: v is not None).sum()) if len(faces) else 0
    return {
        "faces_detected": len(faces),
        "faces_embedded": embedded,
        "faces_skipped": int(sum(skipped.values())),
        "skipped_why": {str(k): int(v) for k, v in sorted(skipped.items())},
    }


def _merit(record: dict[str, object]) -> float:
    """How good a witness of identity a face is: sharp, frontal and confidently detected."""
    sharp = min(1.0, float(record["sharpness"]) / 100.0)  # type: ignore[arg-type]
    return sharp * float(record["frontalness"]) * float(record["det_score"])  # type: ignore[arg-type]


def _embed_planned(
    records: list[dict[str, object]],
    found: list[tuple[int, Detection]],
    images: dict[int, np.ndarray],
    embedder: FaceEmbedder,
    policy: EmbedPolicy,
) -> None:
    """Fill ``embedding``, ``tube`` and ``embed_skip`` of ``records`` by the embed plan."""
    orders = frame_orders([frame for frame, _ in found])
    slots = [
        FaceSlot(
            frame_order=orders[frame],
            box=detection.box,
            rel_height=float(record["rel_height"]),  # type: ignore[arg-type]
            hard_fail=record["embed_skip"] == SKIP_HARD_GATE,
            merit=_merit(record),
        )
        for (frame, detection), record in zip(found, records, strict=True)
    ]
    calibration = CALIBRATIONS.get(embedder.name)
    tube, reasons = plan(slots, policy, cap=calibration is not None)
    chosen = [i for i, reason in enumerate(reasons) if reason is None]
    vectors = _embed(chosen, found, images, embedder)
    if calibration is not None:
        late: list[int] = []
        for t in np.unique(tube[tube >= 0]):
            members = [int(i) for i in np.flatnonzero(tube == t)]
            skipped = [i for i in members if reasons[i] == SKIP_TUBE]
            embedded = [vectors[i] for i in members if i in vectors]
            if skipped and tube_disagrees(embedded, calibration.track_distance):
                late.extend(skipped)
        for i in late:
            reasons[i] = None
        vectors.update(_embed(late, found, images, embedder))
    for i, record in enumerate(records):
        record["tube"] = int(tube[i])
        record["embed_skip"] = reasons[i]
        record["embedding"] = vectors.get(i)


def _embed(
    indices: list[int],
    found: list[tuple[int, Detection]],
    images: dict[int, np.ndarray],
    embedder: FaceEmbedder,
) -> dict[int, np.ndarray]:
    """Embeddings of the faces ``indices`` (one image per frame), by face position."""
    by_frame: dict[int, list[int]] = {}
    for i in indices:
        by_frame.setdefault(found[i][0], []).append(i)
    out: dict[int, np.ndarray] = {}
    items = [(images[frame], [found[i][1] for i in members]) for frame, members in by_frame.items()]
    for members, vectors in zip(by_frame.values(), embed_images(embedder, items), strict=True):
        if vectors.shape != (len(members), embedder.dim):
            raise FaceRecordError(
                "bad_embedding_shape",
                f"embedder {embedder.name} returned shape {vectors.shape} for {len(members)} "
                f"faces, expected ({len(members)}, {embedder.dim})",
            )
        out.update({i: vectors[k].astype(np.float32) for k, i in enumerate(members)})
    return out


def _face_record(
    video_id: str,
    *,
    frame_index: int,
    timestamp_s: float,
    face_index: int,
    image: np.ndarray,
    detection: Detection,
    embedder: FaceEmbedder,
    thresholds: QualityThresholds,
) -> dict[str, object]:
    """The row of one detected face, before the embed plan fills its embedding."""
    height, width = image.shape[:2]
    quality: FaceQuality = assess(image, detection, thresholds)
    x1, y1, x2, y2 = detection.box
    return {
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
        "embedding": None,
        "embedder": embedder.name,
        "embedder_version": embedder.version,
        "thumbnail": face_thumbnail(image, detection.box),
        "aligned_face": aligned_patch(image, detection.landmarks),
        "framed": framed(image, detection.box),
        "tube": -1,
        "embed_skip": SKIP_HARD_GATE if quality.hard_fail else None,
    }


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
    """The rows of one frame with every face past the hard gates embedded (no embed plan)."""
    records = [
        _face_record(
            video_id,
            frame_index=frame_index,
            timestamp_s=timestamp_s,
            face_index=k,
            image=image,
            detection=d,
            embedder=embedder,
            thresholds=thresholds,
        )
        for k, d in enumerate(detections)
    ]
    eligible = [k for k, r in enumerate(records) if r["embed_skip"] is None]
    found = [(frame_index, detections[k]) for k in range(len(detections))]
    vectors = _embed(eligible, found, {frame_index: image}, embedder)
    for k, record in enumerate(records):
        record["embedding"] = vectors.get(k)
    return records
