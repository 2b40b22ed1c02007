"""Identity assets: face clusters across videos and every video's influencer."""

import dataclasses
from typing import TYPE_CHECKING

import dagster as dg
import numpy as np
import pandas as pd

from influencer_pipeline.defs.metadata import image_markdown, montage_jpeg
from influencer_pipeline.defs.resources import FaceModels, LakeResource
from influencer_pipeline.faces.calibration import calibration_for
from influencer_pipeline.identities.stable_ids import (
    assign_stable_ids,
    centroids_by_label,
    previous_by_canonical,
)
from influencer_pipeline.lake_schema import IDENTITY_CLUSTERS

if TYPE_CHECKING:  # hdbscan and scikit-learn load with the step, not with the definitions
    from influencer_pipeline.identities.clustering import ClusterConfig

IDENTITIES = {"group_name": "identities", "owners": ["team:data-platform"]}

# Same-person limits live with the embedder they were calibrated for (faces.calibration): dlib's
# measured on the development fold, facenet's not calibrated here (said in the metadata).
USE_TRACK_FACES = False  # bags of faces (identities.video_links): measured worse, see ClusterConfig


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
                    "track_embeddings",
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
    from influencer_pipeline.identities.clustering import ClusterConfig, cluster_video_faces

    calibration = calibration_for(face_models.embedder_name)
    config = ClusterConfig(
        identity_threshold=calibration.identity_threshold,
        link_threshold=calibration.link_threshold,
    )
    clusters = cluster_video_faces(faces, config, use_bags=USE_TRACK_FACES)
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
    metadata = _cluster_metadata(out, faces, config)
    metadata["hdbscan_clusters"] = int(clusters.attrs.get("n_hdbscan_clusters", 0))
    metadata["clusters_made_by_merging"] = int(clusters.attrs.get("n_merged_clusters", 0))
    metadata["thresholds"] = dg.MetadataValue.json(
        {
            "embedder": calibration.embedder,
            "calibrated_here": calibration.calibrated,
            "source": calibration.source,
            "compared_over": "best-matching faces" if USE_TRACK_FACES else "mean vectors",
        }
    )
    context.add_output_metadata(metadata)
    return out


def _cluster_metadata(out: pd.DataFrame, faces: pd.DataFrame, config: "ClusterConfig") -> dict:
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
