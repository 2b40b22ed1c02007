"""The video catalog: input sheets become one row per unique video and the ``videos`` partitions."""

from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type
from pydantic import Field

from influencer_pipeline.catalog.build import load_catalog
from influencer_pipeline.catalog.sheets import SheetError
from influencer_pipeline.defs.metadata import markdown_table
from influencer_pipeline.defs.partitions import VIDEOS
from influencer_pipeline.defs.resources import LakeResource

SHEET_SUFFIXES = (".xlsx", ".csv", ".parquet")

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
    """Which sheets make up the catalog."""

    sheets: list[str] = Field(
        default_factory=list,
        description="Sheet paths (XLSX, CSV or Parquet). Empty: every sheet in <lake>/inbox/.",
    )


def inbox_sheets(lake_dir: Path) -> list[Path]:
    """The sheets waiting in ``<lake>/inbox``, in name order."""
    inbox = lake_dir / "inbox"
    if not inbox.is_dir():
        return []
    return sorted(p for p in inbox.iterdir() if p.suffix.lower() in SHEET_SUFFIXES and p.is_file())


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
    },
    can_subset=False,
)
def video_catalog(context: dg.AssetExecutionContext, config: CatalogConfig, lake: LakeResource):
    """One row per unique normalized video URL; registers one ``videos`` partition per video."""
    sheets = [Path(s).expanduser().resolve() for s in config.sheets] or inbox_sheets(
        lake.local_path()
    )
    if not sheets:
        raise dg.Failure(
            description="No input sheet: pass `sheets` in the run config or put a sheet in "
            f"{lake.local_path() / 'inbox'}."
        )
    try:
        catalog, rejected = load_catalog(sheets)
    except SheetError as exc:
        raise dg.Failure(description=f"Unusable input sheet: {exc}") from exc
    if catalog.empty:
        reasons = rejected["reason_code"].value_counts().to_dict() if len(rejected) else {}
        raise dg.Failure(
            description=f"No usable rows in {', '.join(s.name for s in sheets)}: "
            f"{len(rejected)} rows rejected {reasons}.",
            metadata={"rejected": dg.MetadataValue.md(markdown_table(rejected, rows=20))},
        )

    known = set(context.instance.get_dynamic_partitions(VIDEOS.name))
    new_keys = [k for k in catalog["video_id"] if k not in known]
    if new_keys:
        context.instance.add_dynamic_partitions(VIDEOS.name, new_keys)
    context.log.info(
        f"{len(catalog)} videos ({len(new_keys)} new partitions), {len(rejected)} rejected rows"
    )
    yield dg.Output(
        catalog,
        output_name="video_catalog",
        metadata={
            "sheets": dg.MetadataValue.json([str(s) for s in sheets]),
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


def catalog_for_partitions(catalog: pd.DataFrame, partition_keys: list[str]) -> pd.DataFrame:
    """The catalog rows of ``partition_keys`` (partitions no longer in the catalog are absent)."""
    return catalog[catalog["video_id"].isin(partition_keys)]
