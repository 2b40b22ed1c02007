"""The video catalog: input sheets become one row per unique video and the ``videos`` partitions."""

from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type
from pydantic import Field

from influencer_pipeline.catalog.inbox import inbox_dir, scan_inbox
from influencer_pipeline.catalog.sheets import SheetError
from influencer_pipeline.catalog.sources import (
    SHEET_SOURCES,
    SNAPSHOT_DIR,
    SourcesError,
    active_sources,
    build_registered_catalog,
    empty_sources,
    register,
    retire,
)
from influencer_pipeline.defs.metadata import markdown_table
from influencer_pipeline.defs.partitions import VIDEOS
from influencer_pipeline.defs.resources import LakeResource
from influencer_pipeline.display import show
from influencer_pipeline.lake import write_bytes_atomic

VideoCatalogDataFrame = create_dagster_pandas_dataframe_type(
    name="VideoCatalogDataFrame",
    description="One row per unique normalized video URL.",
    columns=[
        PandasColumn.string_column("video_id", non_nullable=True, unique=True),
        PandasColumn.string_column("video_url", non_nullable=True, unique=True),
        PandasColumn.float_column("performance", non_nullable=True),
        PandasColumn.integer_column("n_rows", non_nullable=True, min_value=1),
        PandasColumn.boolean_column("score_conflict", non_nullable=True),
    ],
)

RejectedRowsDataFrame = create_dagster_pandas_dataframe_type(
    name="RejectedRowsDataFrame",
    description="Sheet rows that could not become a video, each with its reason.",
    columns=[
        PandasColumn.integer_column("source_row", non_nullable=True, min_value=1),
        PandasColumn.string_column("reason_code", non_nullable=True),
        PandasColumn.string_column("reason", non_nullable=True),
    ],
)


class CatalogConfig(dg.Config):
    """Which sheets to add to (or retire from) the catalog."""

    sheets: list[str] = Field(
        default_factory=list,
        description="Sheets (XLSX, CSV or Parquet) to register: each new or changed sheet adds its "
        "videos to the catalog. Empty: the settled sheets of the inbox.",
    )
    retire: list[str] = Field(
        default_factory=list,
        description="Registered sheets (path or file name) to take out of the catalog.",
    )


def _snapshot(lake: LakeResource, copies: list[tuple[Path, str]]) -> None:
    """Keep a copy of every newly registered sheet in the lake (atomic, content-addressed)."""
    for source, name in copies:
        write_bytes_atomic(source.read_bytes(), f"{lake.path()}/{SNAPSHOT_DIR}/{name}")


def _registry_markdown(registry: pd.DataFrame) -> str:
    table = registry.assign(sheet=registry["source"].map(lambda s: Path(s).name))
    return markdown_table(table[["sheet", "rows", "updated_at", "retired_at"]], rows=50)


@dg.multi_asset(
    outs={
        "video_catalog": dg.AssetOut(
            description="One row per unique normalized video URL, with every source row's score.",
            dagster_type=VideoCatalogDataFrame,
            group_name="catalog",
            kinds={"pandas", "parquet"},
            owners=["team:data-platform"],
        ),
        "rejected_rows": dg.AssetOut(
            description="One row per sheet row that could not become a video, with its reason.",
            dagster_type=RejectedRowsDataFrame,
            group_name="catalog",
            kinds={"pandas", "parquet"},
            owners=["team:data-platform"],
        ),
        "sheet_sources": dg.AssetOut(
            description="One row per sheet the project has been given: its copy, when it was "
            "added or changed, and whether it is retired.",
            group_name="catalog",
            kinds={"pandas", "parquet"},
            owners=["team:data-platform"],
        ),
    },
    can_subset=False,
)
def video_catalog(context: dg.AssetExecutionContext, config: CatalogConfig, lake: LakeResource):
    """One row per unique video URL of every registered sheet; one ``videos`` partition each."""
    sheets = [Path(s).expanduser().resolve() for s in config.sheets]
    if not sheets and not config.retire:
        sheets = [
            inbox_dir(lake.path()) / name for name in sorted(scan_inbox(inbox_dir(lake.path()))[0])
        ]
    previous = lake.previous("sheet_sources", SHEET_SOURCES.names)
    registry = previous if previous is not None else empty_sources()
    try:
        registry, changes, copies = register(registry, sheets)
        registry, retired = retire(registry, config.retire)
        _snapshot(lake, copies)
        catalog, rejected = build_registered_catalog(
            registry, f"{lake.path().rstrip('/')}/{SNAPSHOT_DIR}"
        )
    except (SheetError, SourcesError) as exc:
        raise dg.Failure(description=f"Unusable input sheet: {exc}") from exc
    if catalog.empty and not config.retire:
        reasons = rejected["reason_code"].value_counts().to_dict() if len(rejected) else {}
        names = ", ".join(show(s.name) for s in sheets) or "the registered sheets"
        raise dg.Failure(
            description=f"No usable rows in {names}: {len(rejected)} rows rejected {reasons}.",
            metadata={"rejected": dg.MetadataValue.md(markdown_table(rejected, rows=20))},
        )

    known = set(context.instance.get_dynamic_partitions(VIDEOS.name))
    new_keys = [k for k in catalog["video_id"] if k not in known]
    if new_keys:
        context.instance.add_dynamic_partitions(VIDEOS.name, new_keys)
    done = [show(c.describe()) for c in [*changes, *retired]]
    context.log.info(
        f"{'; '.join(done) or 'no sheet given'}: {len(catalog)} videos "
        f"({len(new_keys)} new partitions), {len(rejected)} rejected rows"
    )
    yield dg.Output(
        catalog,
        output_name="video_catalog",
        metadata={
            "sheets": dg.MetadataValue.json(
                sorted(show(s) for s in active_sources(registry)["source"]) if len(registry) else []
            ),
            "changes": dg.MetadataValue.json(done),
            "videos": len(catalog),
            "new_partitions": len(new_keys),
            "score_conflicts": int(catalog["score_conflict"].sum()),
            "merged_rows": int((catalog["n_rows"] - 1).sum()),
        },
    )
    yield dg.Output(
        rejected,
        output_name="rejected_rows",
        metadata={
            "reasons": dg.MetadataValue.json(rejected["reason_code"].value_counts().to_dict()),
        },
    )
    yield dg.Output(
        registry,
        output_name="sheet_sources",
        metadata={"sheets": dg.MetadataValue.md(_registry_markdown(registry))},
    )


def catalog_for_partitions(catalog: pd.DataFrame, partition_keys: list[str]) -> pd.DataFrame:
    """The catalog rows of ``partition_keys`` (partitions no longer in the catalog are absent)."""
    return catalog[catalog["video_id"].isin(partition_keys)]
