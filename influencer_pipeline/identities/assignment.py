"""Every catalog video's influencer: its face cluster, else its outro group; re-uploads inherit."""

from __future__ import annotations

import pandas as pd

from influencer_pipeline.lake_schema import VIDEO_INFLUENCERS

NOT_FETCHED = "not processed yet: the video has no video_files partition in the lake"
NO_FRAMES = "no frame could be decoded from the video file"


def _lookup(df: pd.DataFrame, key: str, value: str) -> dict[str, object]:
    return dict(zip(df[key], df[value], strict=True)) if len(df) else {}


def assign_influencers(
    *,
    catalog: pd.DataFrame,
    files: pd.DataFrame,
    frame_counts: pd.Series,
    duplicates: pd.DataFrame,
    identity_clusters: pd.DataFrame,
    outro_groups: pd.DataFrame,
) -> pd.DataFrame:
    """One VIDEO_INFLUENCERS row per catalog video.

    ``catalog``: video_id, video_url, performance, n_rows, score_conflict. ``files``: video_id,
    status, error. ``frame_counts``: frames per video_id. ``duplicates``: video_id,
    canonical_video_id. ``identity_clusters``: video_id, influencer_id, is_singleton (canonical face
    videos). ``outro_groups``: video_id, influencer_id, group_size, has_card (canonical faceless
    videos). A failed video keeps its error and gets no influencer; a re-upload gets its canonical
    upload's influencer and ``duplicate_of``.
    """
    status = _lookup(files, "video_id", "status")
    errors = _lookup(files, "video_id", "error")
    canonical = _lookup(duplicates, "video_id", "canonical_video_id")
    face_id = _lookup(identity_clusters, "video_id", "influencer_id")
    face_single = _lookup(identity_clusters, "video_id", "is_singleton")
    outro_id = _lookup(outro_groups, "video_id", "influencer_id")
    outro_size = _lookup(outro_groups, "video_id", "group_size")
    outro_card = _lookup(outro_groups, "video_id", "has_card")

    rows = []
    for video in catalog.itertuples(index=False):
        row: dict[str, object] = {
            "video_id": video.video_id,
            "video_url": video.video_url,
            "performance": video.performance,
            "n_rows": video.n_rows,
            "score_conflict": video.score_conflict,
            "status": "ok",
            "error": None,
            "influencer_id": None,
            "method": None,
            "duplicate_of": None,
            "assignment": None,
            "influencer_name": None,
            "excluded": False,
        }
        rows.append(row)
        if video.video_id not in status:
            row.update(status="failed", error=NOT_FETCHED)
            continue
        if status[video.video_id] != "ok":
            row.update(status="failed", error=errors.get(video.video_id) or "fetch failed")
            continue
        if int(frame_counts.get(video.video_id, 0)) == 0:
            row.update(status="failed", error=NO_FRAMES)
            continue
        source = canonical.get(video.video_id, video.video_id)
        via = ""
        if source != video.video_id:
            row["duplicate_of"] = source
            via = f", inherited from the original upload {source}"
        if source in face_id:
            kind = "single-video face" if face_single.get(source) else "face cluster"
            row.update(influencer_id=face_id[source], method="face", assignment=kind + via)
        elif source in outro_id:
            if not outro_card.get(source, True):
                kind = "no dominant face and no outro card: a single-video influencer"
            elif int(outro_size.get(source, 1)) > 1:
                kind = "outro group"
            else:
                kind = "outro card seen in no other video"
            row.update(influencer_id=outro_id[source], method="outro", assignment=kind + via)
        else:
            row.update(
                status="failed",
                error=f"no face or outro result for {source}: rematerialize video_faces, "
                "identity_clusters and outro_groups",
            )
    out = pd.DataFrame(rows, columns=VIDEO_INFLUENCERS.names)
    out["auto_influencer_id"] = out["influencer_id"]
    return out


def unassigned_problems(
    videos: pd.DataFrame, video_faces: pd.DataFrame, outro_fingerprints: pd.DataFrame
) -> list[str]:
    """One line per video that the face or outro stage analysed but that got no influencer."""
    analysed = set(video_faces["video_id"]) | set(outro_fingerprints["video_id"])
    missing = videos[videos["video_id"].isin(analysed) & videos["influencer_id"].isna()]
    return [
        f"{row.video_id}: analysed but without influencer ({row.error})"
        for row in missing.itertuples(index=False)
    ]
