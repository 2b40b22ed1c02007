"""Face assets: every detected face of a video and the video's dominant face."""

import dagster as dg
import pandas as pd

from influencer_pipeline.defs.catalog.checks import check_result
from influencer_pipeline.defs.executors import FACES_OP_TAGS
from influencer_pipeline.defs.partition_metadata import PartitionNotes
from influencer_pipeline.defs.partitions import PER_VIDEO_BACKFILL, PER_VIDEO_METADATA, VIDEOS
from influencer_pipeline.defs.per_video import process_videos
from influencer_pipeline.defs.resources import FaceModels
from influencer_pipeline.lake_schema import FACE_EMBEDDINGS, VIDEO_FACES
from influencer_pipeline.validation import embedding_problems

FACES = {
    "group_name": "faces",
    "owners": ["team:data-platform"],
    "kinds": {"pytorch", "parquet"},
    "op_tags": FACES_OP_TAGS,  # with the celery executor: the `faces` queue (GPU workers)
}
GPU_POOL = "gpu"
FRAME_COLUMNS = ["video_id", "frame_index", "role", "timestamp_s", "image", "is_blank"]


EMBEDDINGS_CHECK = dg.AssetCheckSpec(
    "embeddings_unit_norm_one_embedder",
    asset="face_embeddings",
    blocking=True,
    description="Every embedding is unit-norm and finite, and all come from one embedder.",
)


@dg.asset(
    partitions_def=VIDEOS,
    backfill_policy=PER_VIDEO_BACKFILL,
    metadata=PER_VIDEO_METADATA,
    ins={"video_frames": dg.AssetIn(metadata={"columns": FRAME_COLUMNS})},
    check_specs=[EMBEDDINGS_CHECK],
    # detection and embedding use the GPU when there is one: the `gpu` concurrency pool caps how
    # many of these steps run at once across all runs (limit set in the instance, see deploy/)
    pool=GPU_POOL,
    **FACES,
)
def face_embeddings(
    context: dg.AssetExecutionContext, video_frames: pd.DataFrame, face_models: FaceModels
):
    """One row per detected face: frame, box, detector score, quality gates, embedding."""
    # PyTorch and facenet-pytorch load with the step, not the definitions (preload.FACE_STACK)
    from influencer_pipeline.faces.devices import resolve_device, threads_per_worker
    from influencer_pipeline.faces.face_workers import FaceWorkers, use_workers
    from influencer_pipeline.faces.records import embed_summary, face_rows

    frames_by_video = dict(tuple(video_frames.groupby("video_id", sort=False)))
    notes = PartitionNotes()

    def in_this_process(key: str, frames: pd.DataFrame) -> pd.DataFrame:
        # the models load on first use: a run without frames (every fetch failed) loads none
        return face_rows(
            key, frames, face_models.detector, face_models.face_embedder, face_models.batch_size
        )

    def detect(key: str) -> pd.DataFrame:
        faces = workers.faces(key, frames_by_video[key])
        summary = embed_summary(faces)
        notes.add(
            key,
            {
                "faces": len(faces),
                "faces_passing_quality": int(faces["passes_quality"].sum()),
                "faces_embedded": summary["faces_embedded"],
                "faces_skipped": summary["faces_skipped"],
                "skipped_why": dg.MetadataValue.json(summary["skipped_why"]),
            },
        )
        return faces

    keys = [k for k in context.partition_keys if k in frames_by_video]
    in_flight = max(1, min(face_models.videos_in_flight, len(keys)))
    spec = face_models.model_spec()
    on_cpu = resolve_device(face_models.torch_device).type == "cpu"
    own_processes = dict(spec.embedder_options).get("runtime") == "dlib"  # dlib's descriptor pool
    processes = use_workers(
        face_models.face_worker_processes, in_flight, on_cpu and not own_processes
    )
    # PyTorch's threads per video from the setting, not from this run's size: oneDNN's sums
    # depend on the thread count, and a video's faces must not depend on the videos beside it
    with (
        threads_per_worker(face_models.videos_in_flight) as threads,
        FaceWorkers(
            in_this_process,
            spec,
            lanes=in_flight,
            workers=processes,
            threads=threads,
            batch_size=face_models.batch_size,
        ) as workers,
    ):
        df = process_videos(
            context,
            keys,
            detect,
            FACE_EMBEDDINGS,
            label="faces detected",
            max_workers=in_flight,
            notes=notes,
            cost={key: len(frames) for key, frames in frames_by_video.items()},
        )
    if processes:
        context.log.info(
            f"faces of {len(keys)} videos, {in_flight} at once: {workers.in_workers} in "
            f"{processes} worker process(es), the others in this process"
            + (f"; the workers were given up ({workers.broken})" if workers.broken else "")
        )
    flags = df["quality_flags"].str.split(",").explode().value_counts().drop("", errors="ignore")
    yield dg.Output(
        df,
        metadata={
            "embedder": face_models.choice.describe(),
            **(
                {
                    "embedder_version": face_models.face_embedder.version,
                    "detector": face_models.detector.version,
                    "device": str(face_models.detector.device),
                }
                if keys
                else {}
            ),
        },
    )
    # run totals go to the log: a range run's output metadata is copied to every partition
    totals = embed_summary(df)
    context.log.info(
        f"{len(df)} faces in {len(keys)} videos, {int(df['passes_quality'].sum())} passing "
        f"quality; flags {flags.to_dict()}; {totals['faces_embedded']} embedded, "
        f"{totals['faces_skipped']} skipped {totals['skipped_why']}"
    )
    yield check_result(embedding_problems(df), check_name=EMBEDDINGS_CHECK.name, faces=len(df))


@dg.asset(
    partitions_def=VIDEOS,
    backfill_policy=PER_VIDEO_BACKFILL,
    metadata=PER_VIDEO_METADATA,
    ins={
        "face_embeddings": dg.AssetIn(),
        "video_frames": dg.AssetIn(metadata={"columns": ["video_id", "role", "is_blank"]}),
    },
    **FACES,
)
def video_faces(
    context: dg.AssetExecutionContext,
    face_embeddings: pd.DataFrame,
    video_frames: pd.DataFrame,
    face_models: FaceModels,
) -> pd.DataFrame:
    """One row per video: its dominant face (mean embedding of its track, share of frames) or none.

    The share counts every non-blank sampled frame that was searched for faces (FACE_ROLES).
    """
    from influencer_pipeline.faces.dominant import DominanceConfig, choose_dominant, video_faces_row
    from influencer_pipeline.faces.records import FACE_ROLES

    searched = video_frames[video_frames["role"].isin(FACE_ROLES) & ~video_frames["is_blank"]]
    n_searched = searched.groupby("video_id").size()
    faces_by_video = dict(tuple(face_embeddings.groupby("video_id", sort=False)))
    empty_faces = FACE_EMBEDDINGS.empty_table().to_pandas()
    notes = PartitionNotes()
    config = DominanceConfig.for_embedder(face_models.embedder_name)  # its own track distance

    def decide(key: str) -> pd.DataFrame:
        faces = faces_by_video.get(key, empty_faces)
        frames = int(n_searched.get(key, 0))
        dominant = choose_dominant(faces, frames, config)
        embedder = face_models.face_embedder  # loaded on first use (see face_embeddings)
        row = video_faces_row(key, dominant, frames, embedder.name, embedder.version)
        notes.add(key, {"decision": row["decision"], "picture_tracks": row["n_picture_tracks"]})
        return pd.DataFrame([row], columns=VIDEO_FACES.names)

    with_frames = set(video_frames["video_id"])
    keys = [k for k in context.partition_keys if k in with_frames]
    df = process_videos(
        context, keys, decide, VIDEO_FACES, label="dominant face chosen", notes=notes
    )
    context.log.info(
        f"{int(df['has_dominant_face'].sum())} videos with a dominant face, "
        f"{int((~df['has_dominant_face']).sum())} without"
    )
    return df
