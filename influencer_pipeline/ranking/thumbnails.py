"""One picture per influencer: the clearest dominant face of its videos, or its outro card."""

from __future__ import annotations

import pandas as pd


def influencer_thumbnails(
    videos: pd.DataFrame, faces: pd.DataFrame, outros: pd.DataFrame
) -> pd.DataFrame:
    """(influencer_id, representative_video_id, thumbnail) for every influencer in ``videos``.

    ``videos``: ok rows of video_influencers (video_id, influencer_id, method, duplicate_of).
    ``faces``: video_faces rows (video_id, has_dominant_face, presence, thumbnail).
    ``outros``: outro_fingerprints rows (video_id, has_card, representative).
    Face influencers show the dominant face of their video with the strongest screen presence;
    outro influencers show the card of their first original video (by video_id).
    """
    originals = videos[videos["duplicate_of"].isna()]
    face_rows = faces[faces["has_dominant_face"]].set_index("video_id")
    card_rows = outros[outros["has_card"]].set_index("video_id")
    rows = []
    for influencer_id, group in originals.groupby("influencer_id", sort=True):
        candidates = sorted(group["video_id"])
        video, thumbnail = candidates[0], None
        if group["method"].iloc[0] == "face":
            known = face_rows.loc[face_rows.index.intersection(candidates)]
            if len(known):
                video = str(known["presence"].astype(float).idxmax())
                thumbnail = known.at[video, "thumbnail"]
        else:
            known = card_rows.loc[card_rows.index.intersection(candidates)]
            if len(known):
                video = str(sorted(known.index)[0])
                thumbnail = known.at[video, "representative"]
        rows.append(
            {
                "influencer_id": influencer_id,
                "representative_video_id": video,
                "thumbnail": thumbnail,
            }
        )
    return pd.DataFrame(rows, columns=["influencer_id", "representative_video_id", "thumbnail"])
