"""The video catalog: one row per normalized video URL, merged from every sheet row, plus rejects.

Every input row ends up either in a catalog row (counted in ``n_rows``) or in the rejected table
with a machine-readable reason, so ``len(rows) == catalog.n_rows.sum() + len(rejected)`` always.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from influencer_pipeline.catalog.sheets import SHEET_COLUMNS, ScoreRejected, parse_score, read_sheet
from influencer_pipeline.catalog.urls import UrlRejected, normalize_url, video_id_for
from influencer_pipeline.display import show
from influencer_pipeline.errors import InputError
from influencer_pipeline.lake_schema import REJECTED_ROWS, VIDEO_CATALOG, empty_frame

SCORE_CONFLICT_TOLERANCE = 1e-9


class CatalogInputError(InputError):
    """Rows given to ``build_catalog`` that are not a read_sheet frame; ``code`` says why."""


@dataclass
class _Video:
    """The rows merged into one catalog entry so far."""

    url: str
    scores: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    raw_urls: list[str] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)


def _cell_text(value: object) -> str | None:
    """A raw cell as text for the rejected table (None stays None)."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value if isinstance(value, str) else str(value)


def _catalog_frame(videos: Sequence[_Video]) -> pd.DataFrame:
    """The catalog table (VIDEO_CATALOG columns) of the merged videos, in first-seen order."""
    if not videos:
        return empty_frame(VIDEO_CATALOG)

    def column(values: list[object], dtype: str = "object") -> pd.Series:
        return pd.Series(values, dtype=dtype)

    return pd.DataFrame(
        {
            "video_id": column([video_id_for(v.url) for v in videos]),
            "video_url": column([v.url for v in videos]),
            "performance": column([math.fsum(v.scores) / len(v.scores) for v in videos], "float64"),
            "n_rows": column([len(v.scores) for v in videos], "int64"),
            "scores": column([v.scores for v in videos]),
            "score_conflict": column(
                [max(v.scores) - min(v.scores) > SCORE_CONFLICT_TOLERANCE for v in videos], "bool"
            ),
            "source_rows": column([v.rows for v in videos]),
            "source_urls": column([v.raw_urls for v in videos]),
            "source_sheets": column([v.sheets for v in videos]),
        },
        columns=VIDEO_CATALOG.names,
    )


def _rejected_frame(records: list[dict[str, object]]) -> pd.DataFrame:
    """The rejected-rows table (REJECTED_ROWS columns)."""
    if not records:
        return empty_frame(REJECTED_ROWS)
    frame = pd.DataFrame.from_records(records, columns=REJECTED_ROWS.names)
    return frame.astype({"source_row": "int64"})


def build_catalog(
    rows: pd.DataFrame, base_dirs: Mapping[str, Path] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(catalog, rejected) from read_sheet rows; duplicates of a normalized URL merge into one row.

    ``base_dirs`` maps ``source_sheet`` to the folder that relative paths of that sheet are
    relative to (the current directory for sheets it does not name).
    """
    missing = [c for c in SHEET_COLUMNS if c not in rows.columns]
    if missing:
        raise CatalogInputError(
            "missing_column",
            f"build_catalog needs the columns {list(SHEET_COLUMNS)} (read_sheet's output); "
            f"missing {missing}",
        )
    base_dirs = base_dirs or {}
    videos: dict[str, _Video] = {}
    rejected: list[dict[str, object]] = []
    normalized_cache: dict[tuple[str, Path | None], str] = {}
    for sheet, row, raw_url, raw_score in rows[list(SHEET_COLUMNS)].itertuples(
        index=False, name=None
    ):
        sheet_name = str(sheet)
        try:
            base = base_dirs.get(sheet_name)
            key = (raw_url, base) if isinstance(raw_url, str) else None
            url = normalized_cache.get(key) if key is not None else None
            if url is None:
                url = normalize_url(raw_url, base)
                if key is not None:
                    normalized_cache[key] = url
            score = parse_score(raw_score)
        except (UrlRejected, ScoreRejected) as exc:
            rejected.append(
                {
                    "source_sheet": sheet_name,
                    "source_row": int(row),
                    "raw_url": _cell_text(raw_url),
                    "raw_score": _cell_text(raw_score),
                    "reason_code": exc.code,
                    "reason": show(f"{sheet_name} row {int(row)}: {exc.message}.", 2000),
                }
            )
            continue
        video = videos.get(url)
        if video is None:
            video = videos[url] = _Video(url)
        video.scores.append(score)
        video.rows.append(int(row))
        video.raw_urls.append(str(raw_url))
        video.sheets.append(sheet_name)
    return _catalog_frame(list(videos.values())), _rejected_frame(rejected)


def _file_key(path: Path) -> tuple[int, int] | Path:
    """Identity of a file (device, inode) so that two spellings of one file count once."""
    try:
        stat = path.stat()
    except OSError:
        return path
    return (stat.st_dev, stat.st_ino)


def load_catalog(paths: Sequence[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every sheet and build (catalog, rejected); raises SheetError for an unusable sheet.

    The same file given twice counts once. Relative paths in a sheet are relative to its folder.
    ``source_sheet`` is the sheet's absolute path: it tells same-named sheets apart, and its folder
    is where local video paths of that sheet may be read from by default.
    """
    unique: list[Path] = []
    seen: set[object] = set()
    for raw in paths:
        path = Path(os.path.abspath(Path(raw).expanduser()))
        key = _file_key(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    frames: list[pd.DataFrame] = []
    base_dirs: dict[str, Path] = {}
    for path in unique:
        frame = read_sheet(path)
        label = str(path)
        frame["source_sheet"] = label
        base_dirs[label] = path.parent
        frames.append(frame)
    if not frames:
        return build_catalog(pd.DataFrame({c: [] for c in SHEET_COLUMNS}), base_dirs)
    return build_catalog(pd.concat(frames, ignore_index=True), base_dirs)
