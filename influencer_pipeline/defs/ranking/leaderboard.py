"""The analysts' leaderboard: HTML, CSV, XLSX and PNG written as one set from the ranking."""

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from influencer_pipeline import lake as lake_files
from influencer_pipeline.defs.metadata import image_markdown
from influencer_pipeline.defs.resources import LakeResource
from influencer_pipeline.display import show
from influencer_pipeline.ranking.report import PNG_NAME, render_report
from influencer_pipeline.ranking.report_files import write_file_set

LEADERBOARD_DIR = "leaderboard"


def publish(files: Mapping[str, bytes], target: str) -> list[str]:
    """Write a rendered report set into ``target`` (a folder, local or an object store).

    A local folder gets the set atomically (``write_file_set``); on an object store each object
    appears whole when its upload completes.
    """
    root = lake_files.as_upath(target)
    if lake_files.is_local(root):
        return [str(p) for p in write_file_set(Path(root.path), files).values()]
    for name, data in files.items():
        lake_files.write_bytes_atomic(data, f"{target.rstrip('/')}/{name}")
    return [f"{target.rstrip('/')}/{name}" for name in files]


@dg.asset(
    group_name="ranking",
    owners=["team:growth-analytics"],
    kinds={"html", "csv", "xlsx"},
    ins={"ranked_influencers": dg.AssetIn(), "video_influencers": dg.AssetIn()},
)
def leaderboard(
    context: dg.AssetExecutionContext,
    ranked_influencers: pd.DataFrame,
    video_influencers: pd.DataFrame,
    lake: LakeResource,
) -> dg.MaterializeResult:
    """One report set per ranking: ``<lake>/leaderboard/leaderboard.{html,csv,xlsx,png}``.

    Rendered in memory first, then written as one set: a failure leaves the previous set as it was.
    """
    files = render_report(
        ranked_influencers,
        video_influencers,
        generated_from=f"lake {lake.path()}, Dagster run {context.run.run_id}",
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    published = publish(files, f"{lake.path().rstrip('/')}/{LEADERBOARD_DIR}")
    top = ranked_influencers.head(5)
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.json([show(p) for p in published]),
            "influencers": len(ranked_influencers),
            "top": dg.MetadataValue.md(
                "\n".join(
                    f"{row.rank}. {show(row.influencer_id, 60)} · score {row.score:.3f} · "
                    f"n {row.n_videos}"
                    for row in top.itertuples(index=False)
                )
                or "_nothing ranked_"
            ),
            "plot": dg.MetadataValue.md(
                image_markdown(
                    [("score and its 95 % interval vs videos", files[PNG_NAME])], width=None
                )
            ),
        }
    )


def copy_report(lake_root: str, out_dir: Path) -> list[Path]:
    """Copy the lake's leaderboard set into ``out_dir`` as one set (FileNotFoundError if none)."""
    source = lake_files.as_upath(f"{lake_root.rstrip('/')}/{LEADERBOARD_DIR}")
    names = (
        sorted(p.name for p in source.iterdir() if not p.name.startswith("."))
        if (source.exists())
        else []
    )
    if not names:
        raise FileNotFoundError(f"no leaderboard in {source}: run the pipeline first")
    files = {name: (source / name).read_bytes() for name in names}
    return list(write_file_set(out_dir, files).values())
