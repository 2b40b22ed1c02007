"""Arrow schemas of every table in the lake: the single source of truth for column names and types.

The Parquet IO manager writes each asset with the schema registered here under the asset's name,
so a stage that returns a wrong column fails loudly at write time instead of corrupting the lake.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

# --- catalog ---------------------------------------------------------------------------------

VIDEO_CATALOG = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),  # partition key: hash of video_url
        pa.field("video_url", pa.string(), nullable=False),  # normalized URL
        pa.field("performance", pa.float64(), nullable=False),  # mean of the rows' scores
        pa.field("n_rows", pa.int64(), nullable=False),  # sheet rows merged into this video
        pa.field("scores", pa.list_(pa.float64())),  # every source row's score, in row order
        pa.field("score_conflict", pa.bool_(), nullable=False),  # rows disagree on the score
        pa.field("source_rows", pa.list_(pa.int64())),  # spreadsheet row numbers (header = 1)
        pa.field("source_urls", pa.list_(pa.string())),  # raw URLs as written in the sheet
        pa.field("source_sheets", pa.list_(pa.string())),  # sheet file names
    ]
)

REJECTED_ROWS = pa.schema(
    [
        pa.field("source_sheet", pa.string()),
        pa.field("source_row", pa.int64()),  # spreadsheet row number (header = 1)
        pa.field("raw_url", pa.string()),
        pa.field("raw_score", pa.string()),
        pa.field("reason_code", pa.string()),  # machine-readable, e.g. "missing_url"
        pa.field("reason", pa.string()),  # human-readable sentence
    ]
)

# --- media -----------------------------------------------------------------------------------

VIDEO_FILES = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("video_url", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # "ok" | "failed"
        pa.field("error_code", pa.string()),  # e.g. "dns", "http_404", "not_video", "truncated"
        pa.field("error", pa.string()),  # specific sentence for people
        pa.field("sha256", pa.string()),
        pa.field("bytes", pa.int64()),
        pa.field("local_path", pa.string()),  # content-addressed copy in the lake
        pa.field("container", pa.string()),
        pa.field("video_codec", pa.string()),
        pa.field("audio_codec", pa.string()),
        pa.field("duration_s", pa.float64()),
        pa.field("fps", pa.float64()),
        pa.field("width", pa.int32()),  # display width (after rotation)
        pa.field("height", pa.int32()),  # display height (after rotation)
        pa.field("rotation", pa.int32()),
        pa.field("frame_count", pa.int64()),
        pa.field("bit_rate", pa.int64()),
        pa.field("attempts", pa.int32()),
        pa.field("fetch_seconds", pa.float64()),
        pa.field("fetched_at", pa.timestamp("us", tz="UTC")),
    ]
)

VIDEO_FRAMES = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("frame_index", pa.int32(), nullable=False),  # 0.. in time order, body then outro
        pa.field("role", pa.string(), nullable=False),  # "body" | "outro"
        pa.field("timestamp_s", pa.float64(), nullable=False),  # presentation time of the frame
        pa.field("width", pa.int32()),  # size of the stored (downscaled) image
        pa.field("height", pa.int32()),
        pa.field("image", pa.binary()),  # JPEG of the downscaled frame
        pa.field("phash", pa.string()),  # 64-bit imagehash.phash, 16 hex digits
        pa.field("dhash", pa.string()),  # 64-bit imagehash.dhash, 16 hex digits
        pa.field("mean_luma", pa.float32()),
        pa.field("std_luma", pa.float32()),
        pa.field("is_blank", pa.bool_()),  # black or near-uniform: never an outro fingerprint
        pa.field("blank_reason", pa.string()),  # "black" | "uniform" | null
        # placement hashes (media/placement.py): 64-bit pHashes of squares around the centre
        # of the picture at 8 scales x 5 positions, 0 = no usable square; null: sampled before
        pa.field("centre_hashes", pa.list_(pa.uint64())),
        pa.field("content_box", pa.list_(pa.int32())),  # x0, y0, x1, y1: the picture, bars cut
    ]
)

DUPLICATE_GROUPS = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("group_id", pa.string(), nullable=False),  # = canonical_video_id
        pa.field("canonical_video_id", pa.string(), nullable=False),
        pa.field("is_canonical", pa.bool_(), nullable=False),
        pa.field("match_type", pa.string()),  # "exact" | "near" | null for the canonical
        pa.field("similarity", pa.float64()),  # share of matched frames with the canonical
        pa.field("group_size", pa.int64(), nullable=False),
        pa.field("sha256", pa.string()),
        # evidence of a near match against the canonical (media/dedup.py); null otherwise
        pa.field("matched_frames", pa.int64()),  # frames of the shorter video that match
        pa.field("compared_frames", pa.int64()),  # its frames that could be judged
        pa.field("offset_s", pa.float64()),  # t_canonical = time_rate * t_this + offset_s
        pa.field("time_rate", pa.float64()),
        pa.field("scale", pa.float64()),  # the canonical's picture in this video (1: same)
        pa.field("shift_x", pa.float64()),  # the canonical's centre in this video
        pa.field("shift_y", pa.float64()),  # (content heights from this video's centre)
        pa.field("median_inliers", pa.float64()),  # features agreeing per frame (null: hashes)
        pa.field("evidence", pa.string()),  # the decision in words
    ]
)

# --- faces and identities ----------------------------------------------------------------------

FACE_EMBEDDINGS = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("frame_index", pa.int32(), nullable=False),
        pa.field("timestamp_s", pa.float64()),
        pa.field("face_index", pa.int32(), nullable=False),  # 0.. within the frame, best first
        pa.field("x1", pa.float32()),  # box in the stored frame image's pixels
        pa.field("y1", pa.float32()),
        pa.field("x2", pa.float32()),
        pa.field("y2", pa.float32()),
        pa.field("frame_width", pa.int32()),
        pa.field("frame_height", pa.int32()),
        pa.field("det_score", pa.float32()),  # MTCNN probability
        pa.field("rel_height", pa.float32()),  # box height / frame height
        pa.field("sharpness", pa.float32()),  # variance of the Laplacian of the face crop
        pa.field("frontalness", pa.float32()),  # 0 (profile) .. 1 (frontal), from landmarks
        pa.field("passes_quality", pa.bool_()),
        pa.field("quality_flags", pa.string()),  # "" or the failed gates, comma-joined
        pa.field("landmarks", pa.list_(pa.float32())),  # 5 points, x,y
        pa.field("embedding", pa.list_(pa.float32())),  # L2-normalized; null below hard gates
        pa.field("embedder", pa.string()),
        pa.field("embedder_version", pa.string()),
        pa.field("thumbnail", pa.binary()),  # JPEG of the face crop
        pa.field("aligned_face", pa.binary()),  # 32x32 grey face aligned on landmarks (liveness)
        pa.field("framed", pa.bool_()),  # a picture's border on all four sides (faces.framing)
        pa.field("tube", pa.int32()),  # faces held in place across frames; -1: none
        pa.field("embed_skip", pa.string()),  # why not embedded: hard_gate, below_presenter_size,
        # tube_has_enough; null when embedded
    ]
)

VIDEO_FACES = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("has_dominant_face", pa.bool_(), nullable=False),
        pa.field("embedding", pa.list_(pa.float32())),  # normalized mean of the dominant track
        pa.field("embedder", pa.string()),
        pa.field("embedder_version", pa.string()),
        pa.field("n_frames", pa.int32()),  # non-blank frames searched for faces
        pa.field("n_tracks", pa.int32()),
        pa.field("dominant_frames", pa.int32()),
        pa.field("frame_share", pa.float32()),  # frames with the dominant face / body frames
        pa.field("median_rel_height", pa.float32()),
        pa.field("presence", pa.float32()),
        pa.field("thumbnail", pa.binary()),
        pa.field("decision", pa.string()),  # why this face (or none) was chosen
        pa.field("track_embeddings", pa.list_(pa.list_(pa.float32()))),  # up to 8 of its faces
        pa.field("n_picture_tracks", pa.int32()),  # tracks judged pictures (photos, posters)
    ]
)

IDENTITY_CLUSTERS = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),  # a canonical video with a face
        pa.field("influencer_id", pa.string(), nullable=False),  # stable, "F-" + 10 hex
        pa.field("cluster_label", pa.int64()),  # HDBSCAN label, -1 = noise (a singleton)
        pa.field("membership_probability", pa.float64()),
        pa.field("is_singleton", pa.bool_()),
        pa.field("cluster_size", pa.int64()),
        pa.field("id_source", pa.string()),  # previous | new | merged:... | split_from:...
        pa.field("embedder", pa.string()),
        pa.field("embedder_version", pa.string()),
    ]
)

# --- outro cards -----------------------------------------------------------------------------

OUTRO_FINGERPRINTS = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("has_card", pa.bool_(), nullable=False),
        pa.field("reason_code", pa.string()),  # why there is no card: all_blank, unstable_outro...
        pa.field("reason", pa.string()),
        pa.field("phash", pa.string()),  # content pHash of the card, hex
        pa.field("colour_lab", pa.list_(pa.float32())),  # coarse Lab grid of the card
        pa.field("hash_size", pa.int32()),
        pa.field("colour_grid", pa.int32()),
        pa.field("frame_indices", pa.list_(pa.int32())),
        pa.field("timestamps_s", pa.list_(pa.float64())),
        pa.field("frame_phashes", pa.list_(pa.string())),
        pa.field("representative", pa.binary()),  # JPEG of the card
        pa.field("representative_timestamp_s", pa.float64()),
        pa.field("content_box", pa.list_(pa.int32())),
    ]
)

OUTRO_GROUPS = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),  # a canonical faceless video
        pa.field("influencer_id", pa.string(), nullable=False),  # stable, "O-" + 10 hex
        pa.field("group_size", pa.int64()),
        pa.field("distance_to_medoid", pa.float64()),
        pa.field("representative_video_id", pa.string()),
        pa.field("has_card", pa.bool_()),  # False: no usable card, a group of its own
        pa.field("id_source", pa.string()),
    ]
)

# --- assignment and ranking ------------------------------------------------------------------

VIDEO_INFLUENCERS = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("video_url", pa.string(), nullable=False),
        pa.field("performance", pa.float64()),
        pa.field("status", pa.string(), nullable=False),  # "ok" | "failed"
        pa.field("error", pa.string()),
        pa.field("influencer_id", pa.string()),  # null only when status is failed
        pa.field("method", pa.string()),  # "face" | "outro"
        pa.field("duplicate_of", pa.string()),  # canonical video_id for re-uploads
        pa.field("assignment", pa.string()),  # how: cluster, singleton, outro group, correction...
        pa.field("influencer_name", pa.string()),  # display name from corrections.csv, if any
        pa.field("excluded", pa.bool_()),  # left out of the ranking by a correction
        pa.field("n_rows", pa.int64()),
        pa.field("score_conflict", pa.bool_()),
        pa.field("auto_influencer_id", pa.string()),  # the rebuild's id, before corrections
    ]
)

RANKED_INFLUENCERS = pa.schema(
    [
        pa.field("rank", pa.int64(), nullable=False),  # 1 is best, by score
        pa.field("influencer_id", pa.string(), nullable=False),
        pa.field("influencer_name", pa.string()),  # display name from corrections, if any
        pa.field("method", pa.string()),  # "face" | "outro"
        pa.field("n_videos", pa.int64()),  # observations (posts, or originals: see count mode)
        pa.field("n_uploads", pa.int64()),  # distinct original videos
        pa.field("n_reuploads", pa.int64()),
        pa.field("mean_performance", pa.float64()),
        pa.field("median_performance", pa.float64()),
        pa.field("std_performance", pa.float64()),  # sample sd; null for one video
        pa.field("min_performance", pa.float64()),
        pa.field("max_performance", pa.float64()),
        pa.field("ci_low", pa.float64()),  # 95 % t-interval of the mean; null for one video
        pa.field("ci_high", pa.float64()),
        pa.field("score", pa.float64()),  # empirical-Bayes shrunk mean: the ranking score
        pa.field("score_low", pa.float64()),  # 95 % posterior interval of the score
        pa.field("score_high", pa.float64()),
        pa.field("shrinkage", pa.float64()),  # 0: own mean kept .. 1: overall mean
        pa.field("consistency", pa.float64()),  # share of videos above the overall mean
        pa.field("consistently_above_average", pa.bool_()),
        pa.field("distinguishable", pa.bool_()),  # the data tell influencers apart (Q test)
        pa.field("heterogeneity_p", pa.float64()),  # Cochran's Q p-value; null below 2
        pa.field("video_ids", pa.list_(pa.string())),
        pa.field("representative_video_id", pa.string()),
        pa.field("thumbnail", pa.binary()),  # the influencer's face, or the outro card
    ]
)

SHEET_SOURCES = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),  # absolute path of the sheet as given
        pa.field("sha256", pa.string(), nullable=False),  # of the registered bytes
        pa.field("snapshot", pa.string(), nullable=False),  # file name under <lake>/sheets/
        pa.field("rows", pa.int64()),  # data rows in the sheet
        pa.field("added_at", pa.string()),  # ISO 8601 UTC
        pa.field("updated_at", pa.string()),
        pa.field("retired_at", pa.string()),  # null while the sheet is part of the catalog
    ]
)

INFLUENCER_ALIASES = pa.schema(
    [
        pa.field("old_influencer_id", pa.string(), nullable=False),
        pa.field("influencer_id", pa.string(), nullable=False),  # where its videos went
        pa.field("reason", pa.string(), nullable=False),  # "merged" or "split"
        pa.field("n_videos", pa.int64(), nullable=False),  # videos that moved along this row
        pa.field("run_id", pa.string()),
        pa.field("created_at", pa.string()),  # ISO 8601 UTC
    ]
)

TABLES: dict[str, pa.Schema] = {
    "video_catalog": VIDEO_CATALOG,
    "rejected_rows": REJECTED_ROWS,
    "video_files": VIDEO_FILES,
    "video_frames": VIDEO_FRAMES,
    "duplicate_groups": DUPLICATE_GROUPS,
    "face_embeddings": FACE_EMBEDDINGS,
    "video_faces": VIDEO_FACES,
    "identity_clusters": IDENTITY_CLUSTERS,
    "outro_fingerprints": OUTRO_FINGERPRINTS,
    "outro_groups": OUTRO_GROUPS,
    "video_influencers": VIDEO_INFLUENCERS,
    "ranked_influencers": RANKED_INFLUENCERS,
    "sheet_sources": SHEET_SOURCES,
    "influencer_aliases": INFLUENCER_ALIASES,
}


def empty_frame(schema: pa.Schema) -> pd.DataFrame:
    """An empty DataFrame with the columns of ``schema``."""
    return schema.empty_table().to_pandas()


def to_arrow(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Convert ``df`` to an Arrow table with exactly ``schema``'s columns, in its order.

    Raises ValueError naming the missing or extra columns, so a stage's mistake is obvious.
    """
    missing = [n for n in schema.names if n not in df.columns]
    extra = [c for c in df.columns if c not in schema.names]
    if missing or extra:
        raise ValueError(f"table does not match its schema: missing {missing}, unexpected {extra}")
    return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
