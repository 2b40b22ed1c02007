"""The report's HTML page: self-contained (inline CSS, base64 images), safe to open.

The page is the Jinja2 template ``templates/leaderboard.html`` with the stylesheet and the sort
script of ``static/`` inlined; this module prepares the values it shows. Autoescape is on, and
every piece of text from the data goes through the ``shown`` filter: ``display.show`` (secrets
redacted, control characters and escape sequences made visible, length capped), then
``html.escape``. A video URL is a link only when it is http(s)/file, printable and carries no
credential or signed token (``link``).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup
from PIL import Image

from influencer_pipeline.display import is_redacted, show
from influencer_pipeline.ranking.report_data import (
    DEFAULT_TITLE,
    METHOD_LABELS,
    OUTRO_NOTE,
    PERFORMANCE_MEANING,
    _flag,
    _flags,
    _percent,
    display_name,
    finite_or,
    indistinct_note,
    mean_and_format,
    not_ranked_videos,
)

THUMBNAIL_MAX_SIDE = 192  # px; thumbnails are re-encoded to this size to keep the page small
THUMBNAIL_QUALITY = 85
LINK_SCHEMES = ("http", "https", "file")  # video URLs shown as links; others as plain text
TEXT_LIMIT = 500  # characters of any text shown (names, errors)
URL_LIMIT = 200  # characters of a URL shown in a table
FULL_URL_LIMIT = 4200  # characters of a URL in its tooltip


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


def _e(value: object, limit: int = TEXT_LIMIT) -> str:
    """``value`` as HTML text: made safe to show (``display.show``), then HTML-escaped."""
    return html.escape(show(value, limit), quote=True)


def _link(url: object) -> str:
    """The URL as a link when it is safe to link and carries no secret, else as plain text.

    A URL with credentials or a signed token is shown redacted (``display.redact``), and a
    redacted URL is no use as a link, so it is plain text with a note.
    """
    text = "" if url is None or (isinstance(url, float) and math.isnan(url)) else str(url)
    scheme = urlsplit(text).scheme.lower() if text else ""
    shown, full = _e(text, URL_LIMIT), _e(text, FULL_URL_LIMIT)
    secret = is_redacted(text)
    if scheme in LINK_SCHEMES and not secret and text.isprintable():
        return (
            f'<a href="{html.escape(text, quote=True)}" title="{full}" target="_blank" '
            f'rel="noopener noreferrer">{shown}</a>'
        )
    note = '<span class="flag">credentials hidden</span>' if secret else ""
    return f'<span class="url" title="{full}">{shown}</span>{note}'


class _Axis:
    """Maps values to percentages of the interval-bar width."""

    def __init__(self, values: Iterable[float]) -> None:
        finite = [float(v) for v in values if v is not None and np.isfinite(v)]
        low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
        pad = (high - low) * 0.04 or max(abs(high) * 0.1, 1.0)
        self.low, self.high = low - pad, high + pad

    def pct(self, value: float) -> float:
        return round(100.0 * (value - self.low) / (self.high - self.low), 2)


def _data_attr(value: object) -> str:
    number = finite_or(value, math.nan)
    return "" if math.isnan(number) else repr(round(number, 10))


def _video(video: dict) -> dict[str, Any]:
    duplicate = video.get("duplicate_of")
    n_rows = video.get("n_rows")
    return {
        "video_id": video["video_id"],
        "video_url": video["video_url"],
        "performance": video["performance"],
        "duplicate_of": duplicate if isinstance(duplicate, str) and duplicate else None,
        "n_rows": int(n_rows) if n_rows is not None and not pd.isna(n_rows) else 1,
        "score_conflict": _flag(video.get("score_conflict")),
    }


def _performances(ids: list[str], by_id: dict[str, dict]) -> list[float]:
    """The finite performances of the videos ``ids`` that the video table knows."""
    values = (finite_or(by_id[v]["performance"], math.nan) for v in ids if v in by_id)
    return [v for v in values if np.isfinite(v)]


def _row(
    row: pd.Series, by_id: dict[str, dict], perf: list[float], axis: _Axis, mu: float | None
) -> dict[str, Any]:
    """What the page shows of one ranked influencer (its videos best first, ``perf`` as dots)."""
    ids = list(row["video_ids"])
    known = sorted(
        (by_id[v] for v in ids if v in by_id),
        key=lambda r: (-finite_or(r["performance"], -math.inf), r["video_id"]),
    )
    n = int(row["n_videos"])
    consistency = finite_or(row["consistency"], math.nan)
    low, high = axis.pct(row["score_low"]), axis.pct(row["score_high"])
    method = str(row["method"])
    return {
        "rank": int(row["rank"]),
        "influencer_id": str(row["influencer_id"]),
        "name": display_name(row),
        "method": method,
        "method_label": METHOD_LABELS[method],
        "what": "face" if method == "face" else "outro card",
        "picture": thumbnail_data_uri(row["thumbnail"]),
        "above_average": _flag(row["consistently_above_average"]),
        "score": row["score"],
        "score_low": row["score_low"],
        "score_high": row["score_high"],
        "bar": {
            "videos": [axis.pct(p) for p in perf],
            "low": low,
            "width": round(high - low, 2),
            "mu": axis.pct(mu) if mu is not None else None,
            "score": axis.pct(row["score"]),
        },
        "n": n,
        "reuploads": int(finite_or(row.get("n_reuploads"), 0)),
        "mean": row["mean_performance"],
        "median": row["median_performance"],
        "sd": row["std_performance"],
        "low": row["min_performance"],
        "high": row["max_performance"],
        "shrinkage": _percent(row["shrinkage"]),
        "consistency": _percent(consistency),
        "above": round(consistency * n) if np.isfinite(consistency) else None,
        "data": {
            "score": _data_attr(row["score"]),
            "mean": _data_attr(row["mean_performance"]),
            "sd": _data_attr(row["std_performance"]),
            "shrinkage": _data_attr(row["shrinkage"]),
            "consistency": _data_attr(row["consistency"]),
        },
        "video_ids": ids,
        "videos": [_video(v) for v in known],
        "unknown": sorted(v for v in ids if v not in by_id),
        "n_reuploads_listed": sum(1 for v in known if isinstance(v.get("duplicate_of"), str)),
    }


def _board_axis(ranked: pd.DataFrame, perf: list[list[float]], mu: float | None) -> _Axis:
    values = [*ranked["score_low"], *ranked["score_high"], *(mu,) * (mu is not None)]
    return _Axis(values + [p for values_of_one in perf for p in values_of_one])


def _static(name: str) -> Markup:
    return Markup(resources.files(__package__).joinpath("static", name).read_text("utf-8"))


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["shown"] = lambda value: Markup(_e(value))
    environment.globals["link"] = lambda url: Markup(_link(url))
    return environment.get_template("leaderboard.html")


def render_html(
    ranked: pd.DataFrame,
    videos: pd.DataFrame,
    plot: bytes,
    *,
    title: str = DEFAULT_TITLE,
    generated_from: str | None = None,
    generated_at: str | None = None,
) -> str:
    """The self-contained leaderboard page for prepared inputs (see ``prepare_inputs``)."""
    mu, fmt = mean_and_format(ranked, videos)
    unranked = not_ranked_videos(ranked, videos)
    by_id = {r["video_id"]: r for r in videos.to_dict("records")}
    perf = [_performances(list(ids), by_id) for ids in ranked["video_ids"]]
    axis = _board_axis(ranked, perf, mu)
    made = [f"Made {generated_at}" if generated_at else "", generated_from or ""]
    page = _template().render(
        title=title,
        made=[m for m in made if m],
        note=indistinct_note(ranked),
        n_ranked=len(ranked),
        n_counted=sum(len(ids) for ids in ranked["video_ids"]),
        n_failed=int((videos["status"] == "failed").sum()),
        n_videos=len(videos),
        n_above=int(_flags(ranked["consistently_above_average"]).sum()),
        mu=mu,
        fmt=fmt,
        axis=axis,
        performance_meaning=PERFORMANCE_MEANING,
        outro_note=OUTRO_NOTE,
        rows=[_row(row, by_id, perf[i], axis, mu) for i, (_, row) in enumerate(ranked.iterrows())],
        plot_uri="data:image/png;base64," + base64.b64encode(plot).decode("ascii"),
        failed=unranked[unranked["status"] == "failed"].to_dict("records"),
        other=unranked[unranked["status"] != "failed"].to_dict("records"),
        css=_static("leaderboard.css"),
        script=_static("leaderboard_sort.js"),
    )
    return page + "\n"
