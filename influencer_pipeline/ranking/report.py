"""The leaderboard report: one self-contained HTML page, a CSV, an XLSX workbook and a PNG plot.

``write_report`` turns the ``ranked_influencers`` table (one row per influencer) and the
``video_influencers`` table (every catalog video, failed ones included) into:

* ``leaderboard.html``: inline CSS, base64 images, no external resource and no script needed (a
  small inline script only adds click-to-sort). A header says what the score is; each row shows
  the influencer's face or outro card, rank, score with its 95 % interval drawn as a bar (with the
  overall mean as a reference line and every video as a dot), n, mean, spread, shrinkage,
  consistency, a badge for ``consistently_above_average`` and the videos with their links; a
  last section lists the failed videos with their error, so missing videos are never mistaken for
  bad performance.
* ``leaderboard.csv``: one row per influencer, flat columns, ``video_ids`` joined with ``;``.
* ``leaderboard.xlsx``: sheets ``leaderboard`` (as the CSV), ``videos`` (one row per catalog
  video with its influencer and rank) and ``about`` (what the columns mean).
* ``leaderboard.png``: score with its 95 % interval against the number of videos.

The output is byte-for-byte deterministic for the same input: no timestamps are written (the
XLSX's document dates and zip entry times are fixed), and everything is sorted.

The overall mean the scores were shrunk toward is not stored in ``ranked_influencers``; it is
recovered exactly from the table itself (``score = mu + (1 - B) (mean - mu)`` for every row with
shrinkage ``B > 0``), so it is right for either count mode of the ranking, and falls back to the
mean of the ok videos' performance when nothing was shrunk.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from PIL import Image

from influencer_pipeline import lake
from influencer_pipeline.lake_schema import RANKED_INFLUENCERS, VIDEO_INFLUENCERS
from influencer_pipeline.ranking.metrics import RANK_COLUMNS
from influencer_pipeline.xlsx_files import without_save_times

DEFAULT_TITLE = "Influencer leaderboard"
HTML_NAME, CSV_NAME, XLSX_NAME, PNG_NAME = (
    "leaderboard.html",
    "leaderboard.csv",
    "leaderboard.xlsx",
    "leaderboard.png",
)
THUMBNAIL_MAX_SIDE = 192  # px; thumbnails are re-encoded to this size to keep the page small
THUMBNAIL_QUALITY = 85
PLOT_LABELS = 5  # the top influencers named in the plot
LOG_X_RATIO = 8.0  # log-scale the plot's x axis when max n / min n reaches this
LINK_SCHEMES = ("http", "https", "file")  # video URLs shown as links; others as plain text
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
OPTIONAL_RANK_COLUMNS = ("influencer_name", "representative_video_id", "thumbnail")
CSV_COLUMNS = [c for c in RANKED_INFLUENCERS.names if c != "thumbnail"]
VIDEO_SHEET_COLUMNS = ["rank", *VIDEO_INFLUENCERS.names]
ABOUT_ROWS = [
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
        "method",
        "face: the videos share one dominant face. outro: the videos have no dominant "
        "face and share an outro card. " + OUTRO_NOTE,
    ),
]


class ReportInputError(ValueError):
    """Tables the report cannot be built from, with a machine-readable ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ReportFiles:
    """The files one report consists of."""

    html: Path
    csv: Path
    xlsx: Path
    png: Path


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
    missing = _missing(ranked, RANK_COLUMNS)
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


def xlsx_bytes(
    leaderboard: pd.DataFrame, video_rows: pd.DataFrame, about: list[tuple[str, str]]
) -> bytes:
    """The workbook (sheets leaderboard, videos, about) as deterministic XLSX bytes."""
    from openpyxl.utils import get_column_letter

    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        leaderboard.to_excel(writer, sheet_name="leaderboard", index=False)
        video_rows.to_excel(writer, sheet_name="videos", index=False)
        pd.DataFrame(about, columns=["item", "meaning"]).to_excel(
            writer, sheet_name="about", index=False
        )
        for name, frame in (("leaderboard", leaderboard), ("videos", video_rows)):
            sheet = writer.sheets[name]
            sheet.freeze_panes = "A2"
            if len(frame.columns):
                last = get_column_letter(len(frame.columns))
                sheet.auto_filter.ref = f"A1:{last}{max(1, len(frame) + 1)}"
            for index, column in enumerate(frame.columns, start=1):
                width = min(60, max(10, len(str(column)) + 2))
                sheet.column_dimensions[get_column_letter(index)].width = width
        about_sheet = writer.sheets["about"]
        about_sheet.column_dimensions["A"].width = 36
        about_sheet.column_dimensions["B"].width = 120
    return without_save_times(buffer.getvalue())


# --- pictures ------------------------------------------------------------------------------------


def thumbnail_data_uri(data: object, max_side: int = THUMBNAIL_MAX_SIDE) -> str | None:
    """A base64 JPEG data URI of image bytes ``data`` scaled to ``max_side``; None if unusable."""
    if data is None or not isinstance(data, bytes | bytearray | memoryview) or not len(data):
        return None
    try:
        with Image.open(io.BytesIO(bytes(data))) as image:
            image.load()
            picture = image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def display_name(row: pd.Series) -> str:
    """The influencer's display name from corrections, else its id."""
    name = row.get("influencer_name")
    return name.strip() if isinstance(name, str) and name.strip() else str(row["influencer_id"])


def _tie_positions(n: np.ndarray, log_x: bool) -> np.ndarray:
    """x positions: n, with influencers sharing an n spread side by side (best rank left)."""
    x = n.astype(float).copy()
    for value in np.unique(n):
        where = np.flatnonzero(n == value)
        if len(where) < 2:
            continue
        offsets = np.linspace(-1.0, 1.0, len(where))
        if log_x:
            x[where] = value * np.exp(0.12 * offsets)
        else:
            x[where] = value + min(0.3, 0.04 * len(where)) * offsets
    return x


def plot_png(ranked: pd.DataFrame, mu: float | None, fmt: Callable[[object], str]) -> bytes:
    """PNG bytes: score with its 95 % interval against the number of videos, mean as a line."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    figure = Figure(figsize=(9, 5.5), dpi=120)
    axes = figure.add_subplot()
    if ranked.empty:
        axes.text(
            0.5,
            0.5,
            "No influencers ranked yet",
            ha="center",
            va="center",
            fontsize=14,
            transform=axes.transAxes,
        )
        axes.set_axis_off()
    else:
        n = ranked["n_videos"].to_numpy(int)
        log_x = n.min() > 0 and n.max() / n.min() >= LOG_X_RATIO
        x = _tie_positions(n, log_x)
        score = ranked["score"].to_numpy(float)
        low, high = ranked["score_low"].to_numpy(float), ranked["score_high"].to_numpy(float)
        for method, marker in (("face", "o"), ("outro", "s")):
            sel = (ranked["method"] == method).to_numpy()
            if not sel.any():
                continue
            axes.errorbar(
                x[sel],
                score[sel],
                yerr=[score[sel] - low[sel], high[sel] - score[sel]],
                fmt=marker,
                color=METHOD_COLOURS[method],
                ecolor=METHOD_COLOURS[method],
                elinewidth=1.2,
                capsize=3,
                markersize=6,
                alpha=0.9,
                label=f"{METHOD_LABELS[method]} influencer (95 % interval)",
            )
        star = _flags(ranked["consistently_above_average"]).to_numpy()
        if star.any():
            axes.scatter(
                x[star],
                score[star],
                s=170,
                facecolors="none",
                edgecolors="#15803d",
                linewidths=1.6,
                label="consistently above average",
                zorder=3,
            )
        if mu is not None:
            axes.axhline(
                mu, color="#dc2626", linestyle="--", linewidth=1.2, label=f"overall mean {fmt(mu)}"
            )
        for i in range(min(PLOT_LABELS, len(ranked))):
            axes.annotate(
                f"#{ranked['rank'].iloc[i]} {display_name(ranked.iloc[i])}",
                (x[i], score[i]),
                xytext=(7, 5),
                textcoords="offset points",
                fontsize=8,
            )
        if log_x:
            axes.set_xscale("log")
            axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axes.xaxis.set_minor_formatter(NullFormatter())
        else:
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.set_xlim(min(x.min(), 1.0) - 0.6, x.max() + 0.9)
        axes.set_xlabel("number of videos (n)" + (", log scale" if log_x else ""))
        axes.set_ylabel("score (shrunk mean) and 95 % interval")
        axes.set_title("Influencer score against number of videos")
        axes.grid(alpha=0.25)
        axes.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False
        )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


# --- HTML ----------------------------------------------------------------------------------------

CSS = """
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--face:#2563eb;--outro:#d97706;
--good:#15803d;--mean:#dc2626;--bg:#f8fafc}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif}
main{max-width:1400px;margin:0 auto;padding:20px 20px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px}
.source{color:var(--muted);margin:0 0 14px;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0 16px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 14px;
min-width:150px}
.card b{display:block;font-size:20px}.card span{color:var(--muted);font-size:12px}
.card.warn b{color:#b91c1c}
.explain{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px;
max-width:1100px}
.explain p{margin:0 0 8px}.explain ul{margin:0;padding-left:18px}.explain li{margin:2px 0}
.wrap{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:8px;
margin-top:16px}
table{border-collapse:collapse;width:100%}
th,td{padding:8px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#f1f5f9;font-size:12px;text-transform:uppercase;letter-spacing:.03em;
color:#374151;white-space:nowrap}
th.sortable{cursor:pointer}th.sortable:hover{background:#e2e8f0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.rank{font-size:20px;font-weight:700;color:#111827}
.pic{width:76px;height:96px;border-radius:6px;border:1px solid var(--line);display:block;
object-fit:cover;background:#f3f4f6}
.pic.outro{object-fit:contain;background:#111}
.nopic{display:flex;align-items:center;justify-content:center;text-align:center;color:var(--muted);
font-size:11px;padding:4px}
code,.id{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
.id{font-weight:600;font-size:14px}.name{font-weight:700;font-size:15px}
.id.sub{font-weight:400;font-size:12px}
.badge{display:inline-block;border-radius:999px;padding:1px 8px;font-size:11.5px;margin:3px 4px 0 0;
border:1px solid currentColor;white-space:nowrap}
.badge.face{color:var(--face)}.badge.outro{color:var(--outro)}
.badge.star{color:#fff;background:var(--good);border-color:var(--good)}
.score{font-size:18px;font-weight:700}.sub{color:var(--muted);font-size:12px;white-space:normal}
td.num .sub{white-space:nowrap}
.bar{position:relative;height:22px;width:220px;margin-top:4px;background:#f3f4f6;border-radius:4px}
.bar .ci{position:absolute;top:7px;height:8px;border-radius:4px;min-width:3px;opacity:.45}
.bar .ci.face{background:var(--face)}.bar .ci.outro{background:var(--outro)}
.bar .vid{position:absolute;top:2px;width:5px;height:5px;margin-left:-2.5px;border-radius:50%;
background:#6b7280;opacity:.7}
.bar .mu{position:absolute;top:0;bottom:0;border-left:2px dashed var(--mean)}
.bar .pt{position:absolute;top:6px;width:10px;height:10px;margin-left:-5px;border-radius:50%;
background:#111827;border:2px solid #fff}
.axis{position:relative;height:16px;width:220px;font-size:10.5px;color:var(--muted);
text-transform:none;letter-spacing:0;font-weight:400}
.axis span{position:absolute;top:0;white-space:nowrap}
.axis .mu{color:var(--mean);transform:translateX(-50%)}
.axis .hi{right:0}.axis .lo{left:0}
#board tr.main td{border-bottom:0}#board tr.main td[rowspan]{border-bottom:1px solid var(--line)}
#board tr.vids td{padding:0 8px 10px;vertical-align:bottom}
details summary{cursor:pointer;color:#1d4ed8;font-size:13px}
table.videos{width:auto;margin:4px 0 2px;font-size:12.5px}
table.videos th{background:none;font-size:11px;padding:2px 10px 2px 0}
table.videos td{padding:2px 10px 2px 0;border-bottom:1px solid #f1f5f9}
.videos a,.url{display:inline-block;max-width:620px;overflow:hidden;text-overflow:ellipsis;
vertical-align:bottom;white-space:nowrap}
.perf{font-weight:600}
.flag{display:inline-block;font-size:11px;border-radius:4px;padding:0 5px;margin-left:6px;
background:#fef3c7;color:#92400e}
.empty{background:#fff;border:1px dashed #cbd5e1;border-radius:8px;padding:28px;
text-align:center;font-size:16px;color:#374151;margin-top:16px}
.plot{max-width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:8px}
.failed td.err{color:#b91c1c;white-space:normal;min-width:260px}
.legend i{display:inline-block;vertical-align:middle;margin:0 4px}
.legend .l-ci{width:26px;height:8px;border-radius:4px;background:var(--face);opacity:.45}
.legend .l-mu{height:14px;border-left:2px dashed var(--mean)}
.legend .l-pt{width:10px;height:10px;border-radius:50%;background:#111827}
.legend .l-vid{width:5px;height:5px;border-radius:50%;background:#6b7280}
footer{margin-top:36px;color:var(--muted);font-size:12px}
"""

SORT_SCRIPT = """
(function(){var table=document.getElementById('board');if(!table)return;
document.querySelectorAll('#board th[data-key]').forEach(function(th){
th.classList.add('sortable');th.title='Click to sort';
th.addEventListener('click',function(){var key=th.dataset.key,
dir=th.dataset.dir==='asc'?'desc':'asc';th.dataset.dir=dir;
var rows=Array.prototype.slice.call(table.tBodies);rows.sort(function(a,b){
var x=a.dataset[key],y=b.dataset[key],nx=parseFloat(x),ny=parseFloat(y),c;
if(isNaN(nx)&&isNaN(ny)){c=String(x).localeCompare(String(y));}
else{c=(isNaN(nx)?-Infinity:nx)-(isNaN(ny)?-Infinity:ny);}
return dir==='asc'?c:-c;});rows.forEach(function(r){table.appendChild(r);});});});})();
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _link(url: object) -> str:
    """The URL as a link when its scheme is safe to link, else as plain text."""
    text = "" if url is None or (isinstance(url, float) and math.isnan(url)) else str(url)
    scheme = urlsplit(text).scheme.lower() if text else ""
    if scheme in LINK_SCHEMES:
        return (
            f'<a href="{_e(text)}" title="{_e(text)}" target="_blank" '
            f'rel="noopener noreferrer">{_e(text)}</a>'
        )
    return f'<span class="url" title="{_e(text)}">{_e(text)}</span>'


class _Axis:
    """Maps values to percentages of the interval-bar width."""

    def __init__(self, values: Iterable[float]) -> None:
        finite = [float(v) for v in values if v is not None and np.isfinite(v)]
        low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
        pad = (high - low) * 0.04 or max(abs(high) * 0.1, 1.0)
        self.low, self.high = low - pad, high + pad

    def pct(self, value: float) -> float:
        return round(100.0 * (value - self.low) / (self.high - self.low), 2)


def _bar(
    row: pd.Series, perf: list[float], axis: _Axis, mu: float | None, fmt: Callable[[object], str]
) -> str:
    left, right = axis.pct(row["score_low"]), axis.pct(row["score_high"])
    parts = [
        f'<div class="bar" title="score {fmt(row["score"])}, 95 % interval '
        f'{fmt(row["score_low"])} to {fmt(row["score_high"])}; dots: the {len(perf)} videos">'
    ]
    parts += [f'<span class="vid" style="left:{axis.pct(p)}%"></span>' for p in perf]
    parts.append(
        f'<span class="ci {_e(row["method"])}" '
        f'style="left:{left}%;width:{round(right - left, 2)}%"></span>'
    )
    if mu is not None:
        parts.append(f'<span class="mu" style="left:{axis.pct(mu)}%"></span>')
    parts.append(f'<span class="pt" style="left:{axis.pct(row["score"])}%"></span></div>')
    return "".join(parts)


def _name_cell(row: pd.Series) -> str:
    name = display_name(row)
    if name == str(row["influencer_id"]):
        return f'<div class="id">{_e(name)}</div>'
    return f'<div class="name">{_e(name)}</div><div class="id sub">{_e(row["influencer_id"])}</div>'


def _picture(row: pd.Series) -> str:
    method = str(row["method"])
    what = "face" if method == "face" else "outro card"
    uri = thumbnail_data_uri(row["thumbnail"])
    if uri is None:
        return f'<div class="pic nopic" title="no {what} picture stored">no {what} picture</div>'
    return (
        f'<img class="pic {_e(method)}" src="{uri}" alt="{what} of {_e(display_name(row))}" '
        f'width="76" height="96">'
    )


def _video_list(ids: list[str], by_id: dict[str, dict], fmt: Callable[[object], str]) -> str:
    """The influencer's videos, best first, in a collapsible table (closed by default)."""
    known = [by_id[v] for v in ids if v in by_id]
    unknown = sorted(v for v in ids if v not in by_id)
    known.sort(key=lambda r: (-_finite_or(r["performance"], -math.inf), r["video_id"]))
    rows = []
    for video in known:
        flags = []
        duplicate = video.get("duplicate_of")
        if isinstance(duplicate, str) and duplicate:
            flags.append(f'<span class="flag">re-upload of <code>{_e(duplicate)}</code></span>')
        n_rows = video.get("n_rows")
        if n_rows is not None and not pd.isna(n_rows) and int(n_rows) > 1:
            flags.append(f'<span class="flag">{int(n_rows)} sheet rows</span>')
        if _flag(video.get("score_conflict")):
            flags.append('<span class="flag">sheet rows disagree on the score</span>')
        rows.append(
            f'<tr data-video="{_e(video["video_id"])}"><td class="num perf">'
            f"{fmt(video['performance'])}</td><td><code>{_e(video['video_id'])}</code></td>"
            f"<td>{_link(video['video_url'])}{''.join(flags)}</td></tr>"
        )
    rows += [
        f'<tr data-video="{_e(v)}"><td class="num perf">—</td><td><code>{_e(v)}</code></td>'
        '<td><span class="flag">not in the video table</span></td></tr>'
        for v in unknown
    ]
    reuploads = sum(1 for v in known if isinstance(v.get("duplicate_of"), str))
    label = f"{len(ids)} video{'s' if len(ids) != 1 else ''}"
    if reuploads:
        label += f", {reuploads} re-upload{'s' if reuploads != 1 else ''}"
    return (
        f'<details><summary>Videos ({label})</summary><table class="videos"><thead><tr>'
        '<th class="num">Performance</th><th>Video</th><th>URL</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></details>"
    )


def _finite_or(value: object, default: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if np.isfinite(number) else default


def _data_attr(value: object) -> str:
    number = _finite_or(value, math.nan)
    return "" if math.isnan(number) else repr(round(number, 10))


def _board(
    ranked: pd.DataFrame, videos: pd.DataFrame, mu: float | None, fmt: Callable[[object], str]
) -> str:
    by_id = {r["video_id"]: r for r in videos.to_dict("records")}
    perf_of = {
        row.influencer_id: [
            float(by_id[v]["performance"])
            for v in row.video_ids
            if v in by_id and np.isfinite(_finite_or(by_id[v]["performance"], math.nan))
        ]
        for row in ranked.itertuples(index=False)
    }
    axis_values = [*ranked["score_low"], *ranked["score_high"], *(mu,) * (mu is not None)]
    axis_values += [p for values in perf_of.values() for p in values]
    axis = _Axis(axis_values)
    mu_label = (
        f'<span class="mu" style="left:{axis.pct(mu)}%">mean {fmt(mu)}</span>'
        if mu is not None
        else ""
    )
    head = (
        "<thead><tr>"
        '<th class="num" data-key="rank">Rank</th><th>Face / card</th>'
        '<th data-key="id">Influencer</th>'
        f'<th data-key="score">Score &amp; 95 % interval<div class="axis"><span class="lo">'
        f'{fmt(axis.low)}</span>{mu_label}<span class="hi">{fmt(axis.high)}</span></div></th>'
        '<th class="num" data-key="n">n</th><th class="num" data-key="mean">Mean</th>'
        '<th class="num" data-key="sd">Spread<br>(sd)</th>'
        '<th class="num" data-key="shrinkage">Shrinkage</th>'
        '<th class="num" data-key="consistency">Consistency</th>'
        "</tr></thead>"
    )
    rows = []
    for _, row in ranked.iterrows():
        method = str(row["method"])
        n = int(row["n_videos"])
        badges = [
            f'<span class="badge {_e(method)}"'
            + (f' title="{_e(OUTRO_NOTE)}"' if method == "outro" else "")
            + f">{_e(METHOD_LABELS[method])}</span>"
        ]
        if _flag(row["consistently_above_average"]):
            badges.append(
                '<span class="badge star" title="the 95 % interval of the mean lies entirely '
                'above the overall mean">consistently above average</span>'
            )
        reuploads = int(_finite_or(row.get("n_reuploads"), 0))
        n_detail = (
            f'<div class="sub">{reuploads} re-upload{"s" if reuploads != 1 else ""}</div>'
            if reuploads > 0
            else ""
        )
        std = row["std_performance"]
        sd_detail = (
            '<div class="sub" title="range: lowest – highest video">'
            f"{fmt(row['min_performance'])} – "
            f"{fmt(row['max_performance'])}</div>"
            if n > 1
            else '<div class="sub">one video</div>'
        )
        consistency = _finite_or(row["consistency"], math.nan)
        above = round(consistency * n) if np.isfinite(consistency) else None
        rows.append(
            f'<tbody class="inf" data-rank="{int(row["rank"])}" '
            f'data-id="{_e(display_name(row))}" data-score="{_data_attr(row["score"])}" '
            f'data-n="{n}" data-mean="{_data_attr(row["mean_performance"])}" '
            f'data-sd="{_data_attr(std)}" data-shrinkage="{_data_attr(row["shrinkage"])}" '
            f'data-consistency="{_data_attr(row["consistency"])}">'
            f'<tr id="inf-{_e(row["influencer_id"])}" class="main">'
            f'<td class="num rank" rowspan="2">{int(row["rank"])}</td>'
            f'<td rowspan="2">{_picture(row)}</td>'
            f"<td>{_name_cell(row)}{''.join(badges)}</td>"
            f'<td><span class="score">{fmt(row["score"])}</span> <span class="sub">'
            f"({fmt(row['score_low'])} – {fmt(row['score_high'])})</span>"
            f"{_bar(row, perf_of[row['influencer_id']], axis, mu, fmt)}</td>"
            f'<td class="num">{n}{n_detail}</td>'
            f'<td class="num">{fmt(row["mean_performance"])}<div class="sub">median '
            f"{fmt(row['median_performance'])}</div></td>"
            f'<td class="num">{fmt(std)}{sd_detail}</td>'
            f'<td class="num" title="the score moved this share of the way from the own mean to '
            f'the overall mean">{_percent(row["shrinkage"])}</td>'
            f'<td class="num">{_percent(consistency)}'
            + (f'<div class="sub">{above} of {n} above</div>' if above is not None else "")
            + "</td>"
            '</tr><tr class="vids"><td colspan="7">'
            f"{_video_list(list(row['video_ids']), by_id, fmt)}</td></tr></tbody>"
        )
    return f'<div class="wrap"><table id="board">{head}{"".join(rows)}</table></div>'


def _not_ranked_section(table: pd.DataFrame, fmt: Callable[[object], str]) -> str:
    failed = table[table["status"] == "failed"]
    other = table[table["status"] != "failed"]
    parts = [f'<section id="failed"><h2>Failed videos ({len(failed)})</h2>']
    if failed.empty:
        parts.append("<p>No video failed: every video of the sheet was processed.</p>")
    else:
        parts.append(
            f"<p>These {len(failed)} video{'s' if len(failed) != 1 else ''} could not be fetched "
            "or processed, so they count for no influencer. A missing video says nothing about "
            "its performance: fix the link or file and run the pipeline again.</p>"
        )
        parts.append(_video_table(failed, fmt, "Error"))
    if not other.empty:
        parts.append(
            f"<h2>Processed but not ranked ({len(other)})</h2><p>These videos were processed "
            "but count for no ranked influencer.</p>"
        )
        parts.append(_video_table(other, fmt, "Reason"))
    parts.append("</section>")
    return "".join(parts)


def _video_table(table: pd.DataFrame, fmt: Callable[[object], str], reason: str) -> str:
    rows = "".join(
        f'<tr data-video="{_e(r.video_id)}"><td><code>{_e(r.video_id)}</code></td>'
        f'<td>{_link(r.video_url)}</td><td class="num">{fmt(r.performance)}</td>'
        f'<td class="err">{_e(r.reason)}</td></tr>'
        for r in table.itertuples(index=False)
    )
    return (
        '<div class="wrap"><table class="failed"><thead><tr><th>Video</th><th>URL</th>'
        f'<th class="num">Performance (sheet)</th><th>{_e(reason)}</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _mean_and_format(
    ranked: pd.DataFrame, videos: pd.DataFrame
) -> tuple[float | None, Callable[[object], str]]:
    values = [*videos["performance"].dropna(), *ranked["score_low"], *ranked["score_high"]]
    return overall_mean(ranked, videos), number_formatter(values)


def render_html(
    ranked: pd.DataFrame,
    videos: pd.DataFrame,
    plot: bytes,
    *,
    title: str = DEFAULT_TITLE,
    generated_from: str | None = None,
) -> str:
    """The self-contained leaderboard page for prepared inputs (see ``prepare_inputs``)."""
    mu, fmt = _mean_and_format(ranked, videos)
    unranked = not_ranked_videos(ranked, videos)
    n_failed = int((videos["status"] == "failed").sum())
    counted = sum(len(ids) for ids in ranked["video_ids"])
    source = f'<p class="source">Source: {_e(generated_from)}</p>' if generated_from else ""
    cards = [
        ("", str(len(ranked)), "influencers ranked"),
        ("", str(counted), "videos counted"),
        ("warn" if n_failed else "", str(n_failed), '<a href="#failed">failed videos</a>'),
        ("", fmt(mu) if mu is not None else "—", "overall mean performance"),
        (
            "",
            str(int(_flags(ranked["consistently_above_average"]).sum())),
            "consistently above average",
        ),
    ]
    cards_html = "".join(
        f'<div class="card {cls}"><b>{value}</b><span>{label}</span></div>'
        for cls, value, label in cards
    )
    mean_text = f" ({fmt(mu)})" if mu is not None else ""
    explain = (
        '<section class="explain"><p><b>Score</b> = the empirical-Bayes shrunk mean of an '
        "influencer's video performance. Each influencer's own mean is pulled toward the overall "
        f"mean{mean_text}, the more so the fewer and the more scattered its videos are: a single "
        "lucky video is pulled toward the overall mean, many consistent videos keep nearly their "
        "own mean. The bar shows the <b>95 % interval</b> of the score.</p>"
        '<p class="legend"><i class="l-pt"></i>score <i class="l-ci"></i>95 % interval '
        '<i class="l-mu"></i>overall mean <i class="l-vid"></i>one video</p><ul>'
        "<li><b>Shrinkage</b>: how far the score moved from the influencer's own mean toward the "
        "overall mean (0 % = own mean kept, 100 % = overall mean).</li>"
        "<li><b>Consistency</b>: share of the influencer's videos above the overall mean.</li>"
        '<li><span class="badge star">consistently above average</span>: the 95 % interval of '
        "the influencer's mean lies entirely above the overall mean (needs two or more videos)."
        "</li>"
        '<li><span class="badge face">face</span> the videos share one dominant face; '
        '<span class="badge outro">outro card</span> the videos show no dominant face and are '
        f"grouped by their outro card. {_e(OUTRO_NOTE)}</li>"
        "<li>Re-uploads (the same video posted again) belong to the influencer of the original "
        "and are marked in the video lists.</li></ul></section>"
    )
    if ranked.empty:
        board = (
            '<div class="empty" id="no-influencers"><b>No influencers ranked yet.</b><br>'
            f"The catalog has {len(videos)} video{'s' if len(videos) != 1 else ''}; "
            f"{n_failed} failed. Run the pipeline on a sheet with reachable videos.</div>"
        )
    else:
        board = _board(ranked, videos, mu, fmt)
    plot_uri = "data:image/png;base64," + base64.b64encode(plot).decode("ascii")
    plot_html = (
        '<h2>Score against number of videos</h2><img class="plot" alt="score with its 95 % '
        f'interval against the number of videos" src="{plot_uri}">'
    )
    footer = (
        "<footer>Files beside this page: leaderboard.csv, leaderboard.xlsx (sheets leaderboard, "
        "videos, about) and leaderboard.png. Performance is the score given in the input sheet "
        "(the mean of its rows when a video appears more than once).</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f'<h1>{_e(title)}</h1>{source}<div class="cards">{cards_html}</div>{explain}'
        f"{board}{plot_html}{_not_ranked_section(unranked, fmt)}{footer}</main>"
        f"<script>{SORT_SCRIPT}</script></body></html>\n"
    )


# --- files ---------------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        temp.write_bytes(data)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_report(
    ranked: pd.DataFrame,
    videos: pd.DataFrame,
    out_dir: Path,
    *,
    title: str = DEFAULT_TITLE,
    generated_from: str | None = None,
) -> ReportFiles:
    """Write leaderboard.html/.csv/.xlsx/.png for ``ranked`` and ``videos`` into ``out_dir``."""
    ranked, videos = prepare_inputs(ranked, videos)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        html=out_dir / HTML_NAME,
        csv=out_dir / CSV_NAME,
        xlsx=out_dir / XLSX_NAME,
        png=out_dir / PNG_NAME,
    )
    mu, fmt = _mean_and_format(ranked, videos)
    plot = plot_png(ranked, mu, fmt)
    board = leaderboard_table(ranked)
    about = [
        *ABOUT_ROWS,
        ("overall_mean", "" if mu is None else repr(mu)),
        ("generated_from", generated_from or ""),
    ]
    _write_atomic(files.png, plot)
    _write_atomic(files.csv, board.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    _write_atomic(files.xlsx, xlsx_bytes(board, videos_table(ranked, videos), about))
    page = render_html(ranked, videos, plot, title=title, generated_from=generated_from)
    _write_atomic(files.html, page.encode("utf-8"))
    return files


def load_and_write_report(lake_root: str, out_dir: Path) -> ReportFiles:
    """Read ranked_influencers and video_influencers from the lake and write the report."""
    tables = {}
    for name in ("ranked_influencers", "video_influencers"):
        path = lake.as_upath(f"{str(lake_root).rstrip('/')}/{name}.parquet")
        if not path.exists():
            raise FileNotFoundError(
                f"the {name} asset is missing from the lake ({path} does not exist): run the "
                "pipeline first (influencer-pipeline run --input SHEET)"
            )
        tables[name] = lake.read_parquet(path)
    return write_report(
        tables["ranked_influencers"],
        tables["video_influencers"],
        Path(out_dir),
        generated_from=f"lake {lake_root}",
    )
