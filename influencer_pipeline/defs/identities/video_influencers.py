"""Every video's influencer, analysts' corrections applied, and the lineage of retired ids."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from influencer_pipeline.defs.catalog.checks import check_result
from influencer_pipeline.defs.metadata import markdown_table
from influencer_pipeline.defs.resources import LakeResource
from influencer_pipeline.identities.aliases import append_aliases, new_aliases, resolver
from influencer_pipeline.identities.assignment import assign_influencers, unassigned_problems
from influencer_pipeline.identities.corrections import COLUMNS as CORRECTION_COLUMNS
from influencer_pipeline.identities.corrections import FILE_NAME as CORRECTIONS_FILE
from influencer_pipeline.identities.corrections import (
    CorrectionsError,
    Outcome,
    apply_corrections,
    load_corrections,
)
from influencer_pipeline.lake import as_upath, local_copy
from influencer_pipeline.lake_schema import INFLUENCER_ALIASES

IDENTITIES = {"group_name": "identities", "owners": ["team:data-platform"]}
ASSIGNED_CHECK = dg.AssetCheckSpec(
    "every_analysed_video_has_an_influencer",
    asset="video_influencers",
    blocking=True,
    description="Every catalog video whose face or outro stage produced a result has an "
    "influencer (a rebuild that ran before its per-video stages landed fails here).",
)


def _previous_assignment(lake: LakeResource) -> pd.DataFrame | None:
    """The last build's automatic assignment (before corrections), if there was one."""
    try:
        table = lake.previous("video_influencers", ["video_id", "auto_influencer_id"])
    except (KeyError, ValueError):  # a lake written before the column existed
        table = lake.previous("video_influencers", ["video_id", "influencer_id"])
        return table
    return None if table is None else table.rename(columns={"auto_influencer_id": "influencer_id"})


@dg.multi_asset(
    outs={
        "video_influencers": dg.AssetOut(
            description="One row per catalog video: its influencer and how it was assigned.",
            kinds={"pandas", "parquet"},
            **IDENTITIES,
        ),
        "influencer_aliases": dg.AssetOut(
            description="One row per influencer id a rebuild retired or split: where its videos "
            "went (old_influencer_id -> influencer_id).",
            kinds={"pandas", "parquet"},
            **IDENTITIES,
        ),
    },
    ins={
        "video_catalog": dg.AssetIn(),
        "video_files": dg.AssetIn(
            metadata={"columns": ["video_id", "status", "error"], "allow_missing_partitions": True}
        ),
        "video_frames": dg.AssetIn(
            metadata={"columns": ["video_id"], "allow_missing_partitions": True}
        ),
        "video_faces": dg.AssetIn(
            metadata={
                "columns": ["video_id", "has_dominant_face"],
                "allow_missing_partitions": True,
            }
        ),
        "outro_fingerprints": dg.AssetIn(
            metadata={"columns": ["video_id"], "allow_missing_partitions": True}
        ),
        "duplicate_groups": dg.AssetIn(metadata={"columns": ["video_id", "canonical_video_id"]}),
        "identity_clusters": dg.AssetIn(),
        "outro_groups": dg.AssetIn(),
    },
    check_specs=[ASSIGNED_CHECK],
    can_subset=False,
)
def video_influencers(
    context: dg.AssetExecutionContext,
    video_catalog: pd.DataFrame,
    video_files: pd.DataFrame,
    video_frames: pd.DataFrame,
    video_faces: pd.DataFrame,
    outro_fingerprints: pd.DataFrame,
    duplicate_groups: pd.DataFrame,
    identity_clusters: pd.DataFrame,
    outro_groups: pd.DataFrame,
    lake: LakeResource,
):
    """One row per catalog video: its influencer and how it was assigned (face or outro).

    Ids that this build moved to another influencer get alias rows; analysts' corrections in
    ``<lake>/corrections.csv`` (merge, split, rename, exclude) follow those aliases.
    """
    assigned = assign_influencers(
        catalog=video_catalog,
        files=video_files,
        frame_counts=video_frames.groupby("video_id").size(),
        duplicates=duplicate_groups,
        identity_clusters=identity_clusters,
        outro_groups=outro_groups,
    )
    added = new_aliases(
        _previous_assignment(lake),
        assigned[["video_id", "influencer_id"]],
        run_id=context.run.run_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    aliases = append_aliases(lake.previous("influencer_aliases", INFLUENCER_ALIASES.names), added)
    corrections_file = f"{lake.path().rstrip('/')}/{CORRECTIONS_FILE}"
    try:
        corrections = _corrections(corrections_file)
    except CorrectionsError as exc:
        raise dg.Failure(description=f"Unusable corrections file: {exc}") from exc
    live = assigned["influencer_id"].dropna().unique()
    out, outcomes = apply_corrections(assigned, corrections, resolver(aliases, live))
    ok = out[out["status"] == "ok"]
    yield dg.Output(
        out,
        output_name="video_influencers",
        metadata={
            "videos": len(out),
            "failed": int((out["status"] == "failed").sum()),
            "influencers": int(ok["influencer_id"].nunique()),
            "by_method": dg.MetadataValue.json(ok["method"].value_counts().to_dict()),
            "reuploads": int(out["duplicate_of"].notna().sum()),
            "excluded": int(out["excluded"].sum()),
            "ids_retired_or_split": len(added),
            "corrections": dg.MetadataValue.md(_corrections_markdown(corrections_file, outcomes)),
            "failures": dg.MetadataValue.md(
                markdown_table(
                    out.loc[out["status"] == "failed", ["video_id", "video_url", "error"]], rows=20
                )
            ),
        },
    )
    yield dg.Output(
        aliases,
        output_name="influencer_aliases",
        metadata={
            "new_rows": len(added),
            "rows": len(aliases),
            "new": dg.MetadataValue.md(markdown_table(added, rows=20)),
        },
    )
    problems = unassigned_problems(out, video_faces, outro_fingerprints)
    yield check_result(problems, check_name=ASSIGNED_CHECK.name, videos=len(out))


def _corrections(path: str) -> pd.DataFrame:
    """The lake's corrections file (local or on an object store); empty when there is none."""
    if not as_upath(path).exists():
        return pd.DataFrame(columns=list(CORRECTION_COLUMNS))
    with local_copy(path) as local:
        return load_corrections(local)


def _corrections_markdown(path: str, outcomes: list[Outcome]) -> str:
    if not outcomes:
        return f"_no corrections ({path} is empty or absent)_"
    lines = ["| row | action | applied | detail |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {o.row} | {o.action} | {'yes' if o.applied else '**no**'} | {o.detail} |"
        for o in outcomes
    ]
    return f"From `{path}`:\n\n" + "\n".join(lines)
