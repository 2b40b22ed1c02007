"""The report's data: validated inputs, the overall mean, number formats and the flat tables.

Shared by the HTML page (``report_html``), the plot (``report_plot``) and the CSV/XLSX files
(``report_files``); ``report`` writes them as one set. Nothing here makes text safe to show:
each output applies ``display.show`` (and the spreadsheet rule) where it renders text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from influencer_pipeline.errors import InputError
from influencer_pipeline.lake_schema import RANKED_INFLUENCERS, VIDEO_INFLUENCERS
from influencer_pipeline.ranking.metrics import RANK_COLUMNS

DEFAULT_TITLE = "Influencer leaderboard"
HTML_NAME, CSV_NAME, XLSX_NAME, PNG_NAME = (
    "leaderboard.html",
    "leaderboard.csv",
    "leaderboard.xlsx",
    "leaderboard.png",
)
METHOD_LABELS = {"face": "face", "outro": "outro card"}
METHOD_COLOURS = {"face": "#2563eb", "outro": "#d97706"}
OUTRO_NOTE = (
    "An outro group is a set of videos sharing the same outro-card template (often a brand's), "
    "not necessarily one person."
)
REQUIRED_VIDEO_COLUMNS = ("video_id", "video_url", "performance", "status", "error")
OPTIONAL_VIDEO_COLUMNS = (
    "influencer_id",
    "method",
    "duplicate_of",
    "assignment",
    "influencer_name",
    "excluded",
    "n_rows",
    "score_conflict",
)
OPTIONAL_RANK_COLUMNS = (
    "influencer_name",
    "representative_video_id",
    "thumbnail",
    "distinguishable",
    "heterogeneity_p",
)
# Columns a ranking written before the distinguishability test lacks; the report accepts it.
REQUIRED_RANK_COLUMNS = [c for c in RANK_COLUMNS if c not in OPTIONAL_RANK_COLUMNS]
CSV_COLUMNS = [c for c in RANKED_INFLUENCERS.names if c != "thumbnail"]
VIDEO_SHEET_COLUMNS = ["rank", *VIDEO_INFLUENCERS.names]
PERFORMANCE_MEANING = (
    "Performance is the number each video has in the input sheet's Performance column, taken "
    "as given (higher is better; the pipeline does not compute it). A video listed in several "
    "rows counts with the mean of its rows."
)
ABOUT_ROWS = [
    ("performance", PERFORMANCE_MEANING),
    (
        "score",
        "Empirical-Bayes shrunk mean of the influencer's video performance: the ranking "
        "score. Few or scattered videos are pulled toward the overall mean (one lucky video does "
        "not make a star); many consistent videos keep nearly their own mean.",
    ),
    ("score_low, score_high", "95 % interval of the score."),
    ("n_videos", "Videos counted for the influencer (n)."),
    ("n_uploads, n_reuploads", "Distinct original videos, and re-uploads of them."),
    ("mean_performance, median_performance", "Plain mean and median of the videos' performance."),
    ("std_performance", "Sample standard deviation (spread) of performance; empty for one video."),
    ("ci_low, ci_high", "95 % t-interval of the plain mean; empty for one video."),
    ("shrinkage", "0: the influencer's own mean is kept .. 1: the score is the overall mean."),
    ("consistency", "Share of the influencer's videos that beat the overall mean."),
    (
        "consistently_above_average",
        "The interval of the plain mean lies entirely above the "
        "overall mean (never true for a single video).",
    ),
    (
        "distinguishable, heterogeneity_p",
        "Cochran's test of homogeneity of the influencers' means: p-value, and whether it is "
        "below 0.05. When not, the data cannot tell the influencers apart and the order is a best "
        "guess, not a finding.",
    ),
    (
        "method",
        "face: the videos share one dominant face. outro: the videos have no dominant "
        "face and share an outro card. " + OUTRO_NOTE,
    ),
]


class ReportInputError(InputError):
    """Tables the report cannot be built from, with a machine-readable ``code``."""


# --- input ---------------------------------------------------------------------------------------


def _flag(value: object) -> bool:
    """True only for a real true boolean (None, NaN and pd.NA count as false)."""
    return isinstance(value, bool | np.bool_) and bool(value)


def _flags(values: pd.Series) -> pd.Series:
    """``_flag`` of every value, as a bool Series."""
    return values.map(_flag).astype(bool)


def _missing(df: pd.DataFrame, columns: Iterable[str]) -> list[str]:
    return [c for c in columns if c not in df.columns]


def _as_list(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        return [v for v in value.split(";") if v]
    return [str(v) for v in value]


def prepare_inputs(ranked: pd.DataFrame, videos: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validated copies: ``ranked`` sorted by rank with list ``video_ids``; ``videos`` by id."""
    if not isinstance(ranked, pd.DataFrame) or not isinstance(videos, pd.DataFrame):
        raise ReportInputError("not_a_table", "ranked and videos must be pandas DataFrames")
    missing = _missing(ranked, REQUIRED_RANK_COLUMNS)
    if missing:
        raise ReportInputError(
            "missing_columns", f"the ranking lacks column(s) {missing} of ranked_influencers"
        )
    missing = _missing(videos, REQUIRED_VIDEO_COLUMNS)
    if missing:
        raise ReportInputError(
            "missing_columns", f"the video table lacks column(s) {missing} of video_influencers"
        )
    ranked = ranked.copy()
    for column in OPTIONAL_RANK_COLUMNS:
        if column not in ranked.columns:
            ranked[column] = None
    duplicated = ranked["influencer_id"][ranked["influencer_id"].duplicated()]
    if len(duplicated):
        raise ReportInputError(
            "duplicate_influencer",
            f"influencer(s) {sorted(set(duplicated))} appear more than once in the ranking",
        )
    bad_methods = sorted(set(ranked["method"].dropna()) - set(METHOD_LABELS))
    if bad_methods or ranked["method"].isna().any():
        raise ReportInputError(
            "bad_method",
            f"method must be 'face' or 'outro' for every influencer, got {bad_methods}",
        )
    for column in ("score", "score_low", "score_high", "mean_performance"):
        values = pd.to_numeric(ranked[column], errors="coerce")
        if len(values) and not np.isfinite(values.to_numpy(float)).all():
            raise ReportInputError("bad_number", f"{column} must be a finite number for every row")
    ranked["video_ids"] = ranked["video_ids"].map(_as_list)
    ranked = ranked.sort_values(["rank", "influencer_id"], kind="stable").reset_index(drop=True)

    videos = videos.copy()
    for column in OPTIONAL_VIDEO_COLUMNS:
        if column not in videos.columns:
            videos[column] = None
    bad_status = sorted(set(videos["status"].astype(str)) - {"ok", "failed"})
    if bad_status:
        raise ReportInputError("bad_status", f"status must be 'ok' or 'failed', got {bad_status}")
    if videos["video_id"].duplicated().any():
        dupes = sorted(set(videos["video_id"][videos["video_id"].duplicated()]))
        raise ReportInputError("duplicate_video", f"video(s) {dupes} appear more than once")
    videos["performance"] = pd.to_numeric(videos["performance"], errors="coerce")
    videos["excluded"] = _flags(videos["excluded"])
    videos = videos.sort_values("video_id", kind="stable").reset_index(drop=True)
    return ranked, videos


def overall_mean(ranked: pd.DataFrame, videos: pd.DataFrame) -> float | None:
    """The overall mean the scores were shrunk toward (module docstring); None without data."""
    if len(ranked):
        b = pd.to_numeric(ranked["shrinkage"], errors="coerce").fillna(0.0).to_numpy(float)
        score = ranked["score"].to_numpy(float)
        mean = ranked["mean_performance"].to_numpy(float)
        if float(np.sum(b**2)) > 1e-12:
            # least squares of  b * mu = score - (1 - b) * mean  over all rows
            return float(np.sum(b * (score - (1.0 - b) * mean)) / np.sum(b**2))
    ok = videos[(videos["status"] == "ok") & videos["influencer_id"].notna() & ~videos["excluded"]]
    perf = pd.to_numeric(ok["performance"], errors="coerce").dropna()
    if len(perf):
        return float(perf.mean())
    if len(ranked):
        weights = ranked["n_videos"].to_numpy(float)
        return float(np.average(ranked["mean_performance"].to_numpy(float), weights=weights))
    return None


# --- number formatting ---------------------------------------------------------------------------


def number_formatter(values: Iterable[float]) -> Callable[[object], str]:
    """A formatter with enough decimals to tell apart values spread like ``values``."""
    finite = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    spread = float(finite.max() - finite.min()) if finite.size else 0.0
    if spread <= 0:
        spread = float(np.abs(finite).max()) if finite.size else 1.0
    decimals = int(min(4, max(0, 2 - math.floor(math.log10(spread))))) if spread > 0 else 2

    def fmt(value: object) -> str:
        if value is None:
            return "—"
        number = float(value)  # type: ignore[arg-type]
        if not np.isfinite(number):
            return "—"
        return f"{number:,.{decimals}f}"

    return fmt


def _percent(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    return "—" if not np.isfinite(number) else f"{100 * number:.0f} %"


# --- tables (CSV / XLSX) -------------------------------------------------------------------------


def leaderboard_table(ranked: pd.DataFrame) -> pd.DataFrame:
    """One flat row per influencer: the ranking's columns, ``video_ids`` joined with ';'."""
    table = ranked.reindex(columns=CSV_COLUMNS).copy()
    table["video_ids"] = [";".join(ids) for ids in ranked["video_ids"]]
    return table.reset_index(drop=True)


def videos_table(ranked: pd.DataFrame, videos: pd.DataFrame) -> pd.DataFrame:
    """One row per catalog video with its influencer's rank (empty for failed or unranked ones)."""
    ranks = dict(zip(ranked["influencer_id"], ranked["rank"], strict=True))
    table = videos.reindex(columns=VIDEO_INFLUENCERS.names).copy()
    table.insert(0, "rank", table["influencer_id"].map(ranks).astype("Int64"))
    order = table.assign(_unranked=table["rank"].isna())
    order = order.sort_values(
        ["_unranked", "rank", "performance", "video_id"],
        kind="stable",
        ascending=[True, True, False, True],
    )
    return order.drop(columns="_unranked").reset_index(drop=True)


def not_ranked_videos(ranked: pd.DataFrame, videos: pd.DataFrame) -> pd.DataFrame:
    """Catalog videos that count for no influencer, each with the reason (failed ones first)."""
    counted = {v for ids in ranked["video_ids"] for v in ids}
    rows = []
    for row in videos.itertuples(index=False):
        if row.status == "failed":
            reason = row.error if isinstance(row.error, str) and row.error else "failed (no error)"
        elif row.video_id in counted:
            continue
        elif row.excluded:
            reason = "excluded from the ranking by a correction (corrections.csv)"
        elif row.influencer_id is None or pd.isna(row.influencer_id):
            reason = "no influencer was assigned to this video"
        else:
            reason = (
                f"assigned to {row.influencer_id}, which the ranking does not count it for "
                "(the ranking may be older than the assignment; rerun the pipeline)"
            )
        rows.append(
            {
                "video_id": row.video_id,
                "video_url": row.video_url,
                "performance": row.performance,
                "status": row.status,
                "reason": reason,
            }
        )
    table = pd.DataFrame(rows, columns=["video_id", "video_url", "performance", "status", "reason"])
    table["_failed"] = table["status"] != "failed"
    table = table.sort_values(["_failed", "video_id"], kind="stable").drop(columns="_failed")
    return table.reset_index(drop=True)


def display_name(row: pd.Series) -> str:
    """The influencer's display name from corrections, else its id (raw: show it safely)."""
    name = row.get("influencer_name")
    return name.strip() if isinstance(name, str) and name.strip() else str(row["influencer_id"])


def finite_or(value: object, default: float) -> float:
    """``value`` as a finite float, else ``default``."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if np.isfinite(number) else default


def mean_and_format(
    ranked: pd.DataFrame, videos: pd.DataFrame
) -> tuple[float | None, Callable[[object], str]]:
    """The overall mean and a number formatter fitting the report's values."""
    values = [*videos["performance"].dropna(), *ranked["score_low"], *ranked["score_high"]]
    return overall_mean(ranked, videos), number_formatter(values)


def indistinct_note(ranked: pd.DataFrame) -> str | None:
    """A sentence when the data cannot tell the ranked influencers apart, else None."""
    if len(ranked) < 2 or "distinguishable" not in ranked.columns:
        return None
    flags = ranked["distinguishable"]
    if flags.isna().all() or _flag(flags.iloc[0]):
        return None
    p_value = finite_or(ranked["heterogeneity_p"].iloc[0], math.nan)
    p_text = f" (test of equal means: p = {p_value:.2f})" if np.isfinite(p_value) else ""
    n = int(pd.to_numeric(ranked["n_videos"], errors="coerce").fillna(0).sum())
    return (
        f"The data cannot tell these {len(ranked)} influencers apart{p_text}: with {n} videos, "
        "the differences between their means are no larger than the noise between videos. The "
        "order below is the best guess from little evidence, not a finding; overlapping "
        "intervals are ties."
    )
