"""Outro assets: each video's outro-card fingerprint and the groups of faceless videos by card."""

import dagster as dg
import pandas as pd

from influencer_pipeline.defs.metadata import image_markdown, markdown_table
from influencer_pipeline.defs.partition_metadata import PartitionNotes
from influencer_pipeline.defs.partitions import PER_VIDEO_BACKFILL, PER_VIDEO_METADATA, VIDEOS
from influencer_pipeline.defs.per_video import process_videos
from influencer_pipeline.defs.resources import LakeResource
from influencer_pipeline.identities.stable_ids import assign_stable_ids, previous_by_canonical
from influencer_pipeline.lake_schema import OUTRO_FINGERPRINTS, OUTRO_GROUPS
from influencer_pipeline.outro.duplicates import group_with_copies
from influencer_pipeline.outro.fingerprint import fingerprint_outro
from influencer_pipeline.outro.grouping import (
    CardChecks,
    GroupingConfig,
    faces_in_outro_groups,
    group_outros,
)
from influencer_pipeline.outro.records import fingerprint_row, fingerprints_from_table

OUTRO = {"group_name": "outro", "owners": ["team:data-platform"], "kinds": {"python", "parquet"}}
OUTRO_DESCRIPTION = (
    "An outro group is a set of faceless videos that end with the same outro card. It identifies "
    "a shared card template (a creator, an editor or the brand itself), not necessarily one "
    "person: card variants (another colour, a price card, a seasonal card) are separate groups."
)


@dg.asset(
    partitions_def=VIDEOS,
    backfill_policy=PER_VIDEO_BACKFILL,
    metadata=PER_VIDEO_METADATA,
    ins={
        "video_frames": dg.AssetIn(
            metadata={
                "columns": [
                    "video_id",
                    "frame_index",
                    "role",
                    "timestamp_s",
                    "image",
                    "is_blank",
                    "blank_reason",
                ]
            }
        )
    },
    **OUTRO,
)
def outro_fingerprints(
    context: dg.AssetExecutionContext, video_frames: pd.DataFrame
) -> pd.DataFrame:
    """One row per video: the fingerprint of its outro card (its last settled, non-blank frames)."""
    frames_by_video = dict(tuple(video_frames.groupby("video_id", sort=False)))
    notes = PartitionNotes()

    def fingerprint(key: str) -> pd.DataFrame:
        # every frame of the video: fingerprint_outro picks the outro ones, and says why when
        # there are none (a one-frame video) instead of failing on an empty table
        row = fingerprint_row(fingerprint_outro(frames_by_video[key].assign(video_id=key)))
        notes.add(key, {"has_card": row["has_card"], "reason": row["reason"] or ""})
        return pd.DataFrame([row], columns=OUTRO_FINGERPRINTS.names)

    keys = [k for k in context.partition_keys if k in frames_by_video]
    df = process_videos(
        context,
        keys,
        fingerprint,
        OUTRO_FINGERPRINTS,
        label="outro fingerprinted",
        max_workers=2,  # JPEG decoding and hashing leave the GIL: 64 videos 1.34 -> 0.83 s
        notes=notes,
    )
    context.log.info(f"{int(df['has_card'].sum())} of {len(keys)} videos end with an outro card")
    return df


@dg.asset(
    description="One row per faceless original video: its outro group, an influencer with a "
    "stable id. " + OUTRO_DESCRIPTION,
    ins={
        "video_catalog": dg.AssetIn(metadata={"columns": ["video_id"]}),
        "duplicate_groups": dg.AssetIn(
            metadata={"columns": ["video_id", "is_canonical", "canonical_video_id"]}
        ),
        "video_faces": dg.AssetIn(
            metadata={
                "columns": ["video_id", "has_dominant_face"],
                "allow_missing_partitions": True,
            }
        ),
        "outro_fingerprints": dg.AssetIn(metadata={"allow_missing_partitions": True}),
    },
    **OUTRO,
)
def outro_groups(
    context: dg.AssetExecutionContext,
    video_catalog: pd.DataFrame,
    duplicate_groups: pd.DataFrame,
    video_faces: pd.DataFrame,
    outro_fingerprints: pd.DataFrame,
    lake: LakeResource,
) -> pd.DataFrame:
    """One row per faceless original video: its outro group, an influencer with a stable id."""
    canonical = set(duplicate_groups.loc[duplicate_groups["is_canonical"], "video_id"])
    canonical &= set(video_catalog["video_id"])
    has_face = dict(zip(video_faces["video_id"], video_faces["has_dominant_face"], strict=True))
    faceless = {v for v in canonical if v in has_face and not has_face[v]}
    canonical_of = dict(
        zip(duplicate_groups["video_id"], duplicate_groups["canonical_video_id"], strict=True)
    )
    copies = {v for v, c in canonical_of.items() if c in faceless}  # with the canonicals
    all_cards = fingerprints_from_table(
        outro_fingerprints[outro_fingerprints["video_id"].isin(canonical | copies)]
    )
    cards = {v: f for v, f in all_cards.items() if v in canonical}

    # a faceless video's group is the card most of its copies show (a re-upload may carry
    # another card than its original, and either may be the canonical one)
    # the card checks of this grouping are reused by the one of every canonical card below
    checks = CardChecks(GroupingConfig().verify)
    grouped = group_with_copies(
        {v: all_cards[v] for v in copies if v in all_cards}, canonical_of, checks=checks
    )
    no_card = sorted(faceless - set(grouped["video_id"]))
    singles = pd.DataFrame(
        {
            "video_id": no_card,
            "group_key": no_card,
            "group_size": 1,
            "distance_to_medoid": 0.0,
            "representative_video_id": no_card,
        }
    )
    clusters = pd.concat(
        [grouped.assign(has_card=True), singles.assign(has_card=False)], ignore_index=True
    )
    previous = previous_by_canonical(
        lake.previous("outro_groups", ["video_id", "influencer_id"]), duplicate_groups
    )
    ids = assign_stable_ids(
        clusters[["video_id", "group_key"]].rename(columns={"group_key": "cluster_key"}),
        previous,
        "O-",
    )
    out = clusters.merge(ids, on="video_id")[OUTRO_GROUPS.names]

    mixed = (
        faces_in_outro_groups(group_outros(cards, checks=checks), has_face)
        if cards
        else pd.DataFrame()
    )
    mixed = mixed[mixed["n_face_videos"] > 0] if len(mixed) else mixed
    context.add_output_metadata(_group_metadata(out, all_cards, mixed))
    return out


def _group_metadata(out: pd.DataFrame, cards: dict, mixed: pd.DataFrame) -> dict:
    with_card = out[out["has_card"]]
    sizes = with_card.groupby("influencer_id")["video_id"].apply(list)
    thumbs = [
        (
            f"{iid} · {len(videos)} videos",
            cards[
                out.loc[out["influencer_id"] == iid, "representative_video_id"].iloc[0]
            ].representative,
        )
        for iid, videos in sizes.sort_values(key=lambda s: -s.str.len()).items()
    ][:40]
    return {
        "outro_groups": int(with_card["influencer_id"].nunique()),
        "faceless_videos_without_card": int((~out["has_card"]).sum()),
        "what_a_group_means": OUTRO_DESCRIPTION,
        "groups": dg.MetadataValue.md(
            image_markdown(thumbs, width=120)
            + "\n\n"
            + markdown_table(sizes.rename("videos").reset_index(), rows=40)
        ),
        "groups_that_also_have_face_videos": dg.MetadataValue.md(
            markdown_table(mixed, rows=20)
            if len(mixed)
            else "none: no outro card is shared by videos with and without a dominant face"
        ),
    }
