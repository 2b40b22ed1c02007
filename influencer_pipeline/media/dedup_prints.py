"""The per-video inputs of re-upload detection, built from ``video_frames`` rows.

A video's *usable* frames are its body frames that are not blank, have both whole-frame hashes,
and do not show its own end card: a body frame within ``card_bits`` (pHash and dHash) of one of
the video's last two non-blank outro frames is the card shown early, and one brand's card must
never make two ads alike. Placement hashes come from the ``centre_hashes`` column; frames sampled
before that column existed get them from their image. Local features are computed only when a
pair is verified, from the frame images (an ``image`` column, or ``images``: video_id ->
{frame_index: JPEG bytes}, e.g. read lazily from the lake), with the video's bars stripped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from influencer_pipeline.errors import InputError
from influencer_pipeline.lake import read_parquet
from influencer_pipeline.media.local_match import (
    NO_FEATURES,
    FrameFeatures,
    MatchConfig,
    decode_rgb,
    frame_features,
)
from influencer_pipeline.media.phash import HashFormatError, hamming_matrix, hashes_to_uint64
from influencer_pipeline.media.placement import N_HASHES, centre_hashes, content_box
from influencer_pipeline.media.reupload_match import VideoPrint

FRAMES_COLUMNS = ("video_id", "role", "timestamp_s", "phash", "dhash", "is_blank")
# what the duplicate_groups asset reads of video_frames (images are read lazily, per video)
DEDUP_FRAME_COLUMNS = [*FRAMES_COLUMNS, "frame_index", "centre_hashes"]
ImageSource = Callable[[str], Mapping[int, bytes]]
CARD_BITS = 8


class DedupInputError(InputError):
    """The inputs of re-upload detection are unusable; ``code`` says why."""


def require_columns(table: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    """Raise DedupInputError unless ``table`` is a DataFrame with ``columns``."""
    if not isinstance(table, pd.DataFrame):
        raise DedupInputError("not_a_table", f"{name} must be a pandas DataFrame")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DedupInputError("missing_columns", f"{name} lacks the columns {missing}")


def _hashes(values: pd.Series, video_id: str) -> np.ndarray:
    try:
        return hashes_to_uint64(values)
    except HashFormatError as exc:
        raise DedupInputError(
            "bad_hash", f"frames of video {video_id} hold an invalid hash: {exc.message}"
        ) from None


def _not_card(body: pd.DataFrame, outro: pd.DataFrame, video_id: str) -> np.ndarray:
    """Body rows that do not show the video's end card (its last non-blank outro frames)."""
    last = outro.tail(2)
    if last.empty or body.empty:
        return np.ones(len(body), bool)
    close = (
        hamming_matrix(_hashes(body["phash"], video_id), _hashes(last["phash"], video_id))
        <= CARD_BITS
    ) & (
        hamming_matrix(_hashes(body["dhash"], video_id), _hashes(last["dhash"], video_id))
        <= CARD_BITS
    )
    return ~close.any(axis=1)


def _stored_centres(rows: pd.DataFrame) -> np.ndarray | None:
    """The stored placement hashes (n, N_HASHES), or None when any row lacks them."""
    if "centre_hashes" not in rows.columns:
        return None
    values = rows["centre_hashes"].tolist()
    if any(not isinstance(v, list | tuple | np.ndarray) or len(v) != N_HASHES for v in values):
        return None
    return np.array([np.asarray(v, dtype=np.uint64) for v in values], dtype=np.uint64)


class _Images:
    """Decoded frames of one video's usable rows, loaded on first use."""

    def __init__(self, video_id: str, rows: pd.DataFrame, source: ImageSource | None) -> None:
        self.video_id, self.rows, self.source = video_id, rows, source
        self.greys: list[np.ndarray | None] | None = None

    def available(self) -> bool:
        return "image" in self.rows.columns or self.source is not None

    def load(self) -> list[np.ndarray | None]:
        if self.greys is None:
            if "image" in self.rows.columns:
                blobs = self.rows["image"].tolist()
            else:
                by_index = self.source(self.video_id) if self.source else {}
                blobs = [by_index.get(int(i)) for i in self.rows["frame_index"]]
            self.greys = [decode_rgb(b) if b is not None else None for b in blobs]
        return self.greys


def _feature_source(images: _Images, config: MatchConfig) -> Callable[[], list[FrameFeatures]]:
    def compute() -> list[FrameFeatures]:
        greys = images.load()
        shaped = [g for g in greys if g is not None]
        box = content_box(shaped) if shaped else None
        features = [
            frame_features(g, box, config)
            if g is not None and g.shape == shaped[0].shape
            else NO_FEATURES
            for g in greys
        ]
        images.greys = None  # the features keep what matching needs; the frames can go
        return features

    return compute


def _computed_centres(images: _Images) -> np.ndarray:
    greys = images.load()
    shaped = [g for g in greys if g is not None]
    box = content_box(shaped) if shaped else None
    return np.array(
        [centre_hashes(g, box) if g is not None else np.zeros(N_HASHES, np.uint64) for g in greys],
        dtype=np.uint64,
    ).reshape(len(greys), N_HASHES)


def video_prints(
    frames: pd.DataFrame, images: ImageSource | None = None, config: MatchConfig | None = None
) -> tuple[dict[str, VideoPrint], list[str]]:
    """Per video its usable frames as a VideoPrint; and the videos without placement hashes."""
    require_columns(frames, FRAMES_COLUMNS, "frames")
    config = config or MatchConfig()
    blank = frames["is_blank"].fillna(False).astype(bool)
    hashed = frames["phash"].notna() & frames["dhash"].notna()
    ordered = frames[~blank & hashed].sort_values(["video_id", "timestamp_s"], kind="stable")
    if "frame_index" not in ordered.columns and images is not None:
        raise DedupInputError("missing_columns", "frames need frame_index to load images")
    prints: dict[str, VideoPrint] = {}
    unhashed: list[str] = []
    for video_id, rows in ordered.groupby("video_id", sort=True):
        vid = str(video_id)
        body = rows[rows["role"] == "body"]
        body = body[_not_card(body, rows[rows["role"] == "outro"], vid)]
        if body.empty:
            continue
        source = _Images(vid, body, images)
        centres = _stored_centres(body)
        if centres is None:
            if source.available():
                centres = _computed_centres(source)
            else:
                centres = np.zeros((len(body), N_HASHES), np.uint64)
                unhashed.append(vid)
        prints[vid] = VideoPrint(
            times=body["timestamp_s"].to_numpy(dtype=np.float64),
            phash=_hashes(body["phash"], vid),
            dhash=_hashes(body["dhash"], vid),
            centre=centres,
            features=_feature_source(source, config) if source.available() else None,
        )
    return prints, unhashed


def lake_frame_images(root: str) -> ImageSource:
    """An ImageSource that reads one video's frame images from ``<root>/video_frames``."""

    def images(video_id: str) -> Mapping[int, bytes]:
        try:
            table = read_parquet(
                f"{root}/video_frames/{video_id}.parquet", ["frame_index", "image"]
            )
        except FileNotFoundError:
            return {}
        return dict(zip(table["frame_index"].astype(int), table["image"], strict=True))

    return images
