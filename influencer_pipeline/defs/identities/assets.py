"""Identity assets: face clusters across videos and every video's influencer."""

import dataclasses

import dagster as dg
import numpy as np
import pandas as pd

from influencer_pipeline.defs.metadata import image_markdown, markdown_table, montage_jpeg
from influencer_pipeline.defs.resources import FaceModels, LakeResource
from influencer_pipeline.identities.assignment import assign_influencers
from influencer_pipeline.identities.clustering import ClusterConfig, cluster_video_faces
from influencer_pipeline.identities.corrections import FILE_NAME as CORRECTIONS_FILE
from influencer_pipeline.identities.corrections import (
    CorrectionsError,
    apply_corrections,
    load_corrections,
)
from influencer_pipeline.identities.stable_ids import (
    assign_stable_ids,
    centroids_by_label,
    previous_by_canonical,
)
from influencer_pipeline.lake_schema import IDENTITY_CLUSTERS

IDENTITIES = {"group_name": "identities", "owners": ["team:data-platform"]}

# Same-person limit on L2-normalized embeddings, per embedder. dlib: measured on the shared face
# photos (same person mostly < 0.4-0.45, different people mostly > 0.5). facenet (vggface2): the
# commonly used same-person limit on normalized embeddings is about 1.0; 0.9 favours precision.
IDENTITY_THRESHOLDS = {"dlib": 0.40, "facenet": 0.9}


@dg.asset(
    kinds={"hdbscan", "parquet"},
    ins={
        "video_catalog": dg.AssetIn(metadata={"columns": ["video_id"]}),
        "duplicate_groups": dg.AssetIn(
            metadata={"columns": ["video_id", "is_canonical", "canonical_video_id"]}
        ),
        "video_faces": dg.AssetIn(
            metadata={
                "columns": [
                    "video_id",
                    "has_dominant_face",
                    "embedding",
                    "embedder",
                    "embedder_version",
                    "thumbnail",
                ],
                "allow_missing_partitions": True,
            }
        ),
    },
    **IDENTITIES,
)
def identity_clusters(
    context: dg.AssetExecutionContext,
    video_catalog: pd.DataFrame,
    duplicate_groups: pd.DataFrame,
    video_faces: pd.DataFrame,
    lake: LakeResource,
    face_models: FaceModels,
) -> pd.DataFrame:
    """One row per original video with a dominant face: its cluster and stable influencer id."""
    canonical = set(duplicate_groups.loc[duplicate_groups["is_canonical"], "video_id"])
    faces = video_faces[
        video_faces["has_dominant_face"]
        & video_faces["video_id"].isin(canonical & set(video_catalog["video_id"]))
    ].reset_index(drop=True)
    stale = faces[faces["embedder"] != face_models.embedder_name]
    if len(stale):
        raise dg.Failure(
            description=f"{len(stale)} videos were embedded with {sorted(set(stale['embedder']))}, "
            f"not the configured '{face_models.embedder_name}'; clustering never mixes embedding "
            "spaces. Rematerialize face_embeddings and video_faces for those partitions.",
            metadata={"videos": dg.MetadataValue.json(stale["video_id"].tolist()[:100])},
        )
    config = ClusterConfig(identity_threshold=IDENTITY_THRESHOLDS[face_models.embedder_name])
    clusters = cluster_video_faces(faces, config)
    embeddings = {
        v: np.asarray(e) for v, e in zip(faces["video_id"], faces["embedding"], strict=True)
    }
    previous = previous_by_canonical(
        lake.previous("identity_clusters", ["video_id", "influencer_id"]),
        duplicate_groups,
    )
    ids = assign_stable_ids(
        clusters[["video_id", "cluster_key"]],
        previous,
        "F-",
        centroids=centroids_by_label(
            dict(zip(clusters["video_id"], clusters["cluster_key"], strict=True)), embeddings
        ),
        previous_centroids=None
        if previous is None
        else centroids_by_label(
            dict(zip(previous["video_id"], previous["influencer_id"], strict=True)), embeddings
        ),
    )
    out = clusters.merge(ids, on="video_id").merge(
        faces[["video_id", "embedder", "embedder_version"]], on="video_id"
    )[IDENTITY_CLUSTERS.names]
    context.add_output_metadata(_cluster_metadata(out, faces, config))
    return out


def _cluster_metadata(out: pd.DataFrame, faces: pd.DataFrame, config: ClusterConfig) -> dict:
    thumbs = dict(zip(faces["video_id"], faces["thumbnail"], strict=True))
    sizes = out.groupby("influencer_id")["video_id"].apply(list)
    sizes = sizes.sort_values(key=lambda s: -s.str.len())
    montages = [
        (
            f"{influencer_id} · {len(videos)} videos",
            montage_jpeg([thumbs[v] for v in videos[:16]], tile=56),
        )
        for influencer_id, videos in sizes.head(30).items()
    ]
    return {
        "influencers": int(out["influencer_id"].nunique()),
        "clusters": int((~out["is_singleton"]).groupby(out["influencer_id"]).any().sum()),
        "single_video_influencers": int(out["is_singleton"].sum()),
        "cluster_sizes": dg.MetadataValue.json(
            sizes.str.len().value_counts().sort_index().to_dict()
        ),
        "id_sources": dg.MetadataValue.json(out["id_source"].value_counts().to_dict()),
        "settings": dg.MetadataValue.json(dataclasses.asdict(config)),
        "clusters_montage": dg.MetadataValue.md(image_markdown(montages, width=None)),
    }


@dg.asset(
    kinds={"pandas", "parquet"},
    ins={
        "video_catalog": dg.AssetIn(),
        "video_files": dg.AssetIn(
            metadata={"columns": ["video_id", "status", "error"], "allow_missing_partitions": True}
        ),
        "video_frames": dg.AssetIn(
            metadata={"columns": ["video_id"], "allow_missing_partitions": True}
        ),
        "duplicate_groups": dg.AssetIn(metadata={"columns": ["video_id", "canonical_video_id"]}),
        "identity_clusters": dg.AssetIn(),
        "outro_groups": dg.AssetIn(),
    },
    **IDENTITIES,
)
def video_influencers(
    context: dg.AssetExecutionContext,
    video_catalog: pd.DataFrame,
    video_files: pd.DataFrame,
    video_frames: pd.DataFrame,
    duplicate_groups: pd.DataFrame,
    identity_clusters: pd.DataFrame,
    outro_groups: pd.DataFrame,
    lake: LakeResource,
) -> pd.DataFrame:
    """One row per catalog video: its influencer and how it was assigned (face or outro).

    Analysts' corrections in ``<lake>/corrections.csv`` (merge, split, rename, exclude) are applied
    on every build and listed in the materialization metadata.
    """
    assigned = assign_influencers(
        catalog=video_catalog,
        files=video_files,
        frame_counts=video_frames.groupby("video_id").size(),
        duplicates=duplicate_groups,
        identity_clusters=identity_clusters,
        outro_groups=outro_groups,
    )
    corrections_file = lake.local_path() / CORRECTIONS_FILE
    try:
        corrections = load_corrections(corrections_file)
    except CorrectionsError as exc:
        raise dg.Failure(description=f"Unusable corrections file: {exc}") from exc
    out, outcomes = apply_corrections(assigned, corrections)
    ok = out[out["status"] == "ok"]
    context.add_output_metadata(
        {
            "videos": len(out),
            "failed": int((out["status"] == "failed").sum()),
            "influencers": int(ok["influencer_id"].nunique()),
            "by_method": dg.MetadataValue.json(ok["method"].value_counts().to_dict()),
            "reuploads": int(out["duplicate_of"].notna().sum()),
            "excluded": int(out["excluded"].sum()),
            "corrections": dg.MetadataValue.md(_corrections_markdown(corrections_file, outcomes)),
            "failures": dg.MetadataValue.md(
                markdown_table(
                    out.loc[out["status"] == "failed", ["video_id", "video_url", "error"]], rows=20
                )
            ),
        }
    )
    return out


def _corrections_markdown(path, outcomes) -> str:
    if not outcomes:
        return f"_no corrections ({path} is empty or absent)_"
    lines = ["| row | action | applied | detail |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {o.row} | {o.action} | {'yes' if o.applied else '**no**'} | {o.detail} |"
        for o in outcomes
    ]
    return f"From `{path}`:\n\n" + "\n".join(lines)
