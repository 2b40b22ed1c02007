"""Property-based tests (hypothesis) for partition keys and sheet parsing (issue 7).

URL normalization itself has its properties in test_urls.py; here only what it lacked: spellings
of one URL share one partition key, keys are well-formed and collision-free, normalized local
paths never keep dot segments, and any sheet of random cells, as CSV or XLSX, either fails as a
whole with a ``SheetError`` or accounts for every row (catalog ``n_rows`` + rejected).
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import openpyxl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from influencer_pipeline.catalog.build import build_catalog
from influencer_pipeline.catalog.sheets import SheetError, read_sheet
from influencer_pipeline.catalog.urls import (
    UrlRejected,
    normalize_url,
    strip_invisible,
    video_id_for,
)

KEY = re.compile(r"[0-9a-f]{16}")
BASE = Path("/data/sheets")
ROW_REASONS = {
    "missing_url",
    "unparsable_url",
    "unsupported_scheme",
    "missing_host",
    "url_too_long",
    "missing_score",
    "non_numeric_score",
    "non_finite_score",
    "score_out_of_range",
}
# Deterministic for CI: the same examples on every run (no example database, no random seed).
QUICK = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- partition keys ----------------------------------------------------------------------------

_LABEL = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)
_HOST = st.lists(_LABEL, min_size=1, max_size=3).map(lambda labels: ".".join([*labels, "com"]))
_SEGMENT = st.text(alphabet="abcXYZ019-._~", min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..")
)
_PATH = st.lists(_SEGMENT, min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts))
_QUERY = st.lists(st.from_regex(r"[a-z]{1,4}=[A-Za-z0-9]{0,6}", fullmatch=True), max_size=3)


@st.composite
def canonical_urls(draw: st.DrawFn) -> str:
    """An http(s) URL already in normal form."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(_HOST)
    query = "&".join(draw(_QUERY))
    return f"{scheme}://{host}{draw(_PATH)}" + (f"?{query}" if query else "")


def _respell(url: str, draw: st.DrawFn) -> str:
    """The same URL written differently: case, default port, fragment, tracking, dot segment."""
    parts = urlsplit(url)
    scheme = draw(st.sampled_from([parts.scheme, parts.scheme.upper(), parts.scheme.title()]))
    host = draw(st.sampled_from([parts.hostname, parts.hostname.upper(), parts.hostname + "."]))
    if draw(st.booleans()):
        host += ":" + ("80" if parts.scheme == "http" else "443")
    path = parts.path
    if draw(st.booleans()):
        path = "/x/.." + path if path != "/" else "/./"
    query = parts.query
    if draw(st.booleans()):
        query = "&".join(q for q in (query, "utm_source=feed", "fbclid=abc") if q)
    fragment = draw(st.sampled_from(["", "#t=10", "#"]))
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "") + fragment


@QUICK
@given(st.data())
def test_spellings_of_one_video_share_one_partition_key(data: st.DataObject) -> None:
    url = normalize_url(data.draw(canonical_urls()))
    variant = _respell(url, data.draw)
    assert normalize_url(variant) == url
    assert video_id_for(normalize_url(variant)) == video_id_for(url)


@QUICK
@given(st.lists(canonical_urls(), min_size=2, max_size=40, unique=True))
def test_partition_keys_are_short_hex_stable_and_distinct(urls: list[str]) -> None:
    normalized = {normalize_url(u) for u in urls}
    keys = {video_id_for(u) for u in normalized}
    assert len(keys) == len(normalized)  # no collisions among distinct videos
    for url in normalized:
        key = video_id_for(url)
        assert KEY.fullmatch(key)  # safe as a Dagster partition key and as a file name
        assert key == hashlib.sha256(url.encode()).hexdigest()[:16] == video_id_for(url)


@QUICK
@given(
    st.lists(
        st.sampled_from(["a", "b", "é", "c d", ".", "..", "%2e%2e", "", "x.mp4"]),
        min_size=1,
        max_size=6,
    )
)
def test_normalized_local_paths_are_absolute_without_dot_segments(parts: list[str]) -> None:
    for raw in ("/".join(parts), "file:///" + "/".join(parts)):
        try:
            url = normalize_url(raw, BASE)
        except UrlRejected as exc:
            assert exc.code in ROW_REASONS
            continue
        path = urlsplit(url).path
        assert url.startswith("file:///") and path.startswith("/")
        assert "/../" not in path + "/" and "/./" not in path + "/"
        assert normalize_url(url) == url
        assert KEY.fullmatch(video_id_for(url))


# --- sheet parsing -----------------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=30
)
_URL_CELL = st.one_of(
    canonical_urls(),
    st.sampled_from(["clips/a.mp4", "/abs/v.mp4", "ftp://x/y", "javascript:1", "", " ", "=1+1"]),
    _TEXT,
)
_SCORE_CELL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.sampled_from(["1.5", " 2 ", "1,5", "abc", "NaN", "inf", "", "#N/A", "1e999", "=A1"]),
    _TEXT,
)
_ROWS = st.lists(st.tuples(_URL_CELL, _SCORE_CELL), min_size=0, max_size=25)


def _blank(value: object) -> bool:
    """A cell the reader skips: None, or text of only whitespace / invisible characters."""
    return value is None or (isinstance(value, str) and not strip_invisible(value))


def _uncomputed_formula(value: object) -> bool:
    """Text openpyxl saves as a formula without a computed value: it reads back as empty."""
    return isinstance(value, str) and len(value) > 1 and value.startswith("=")


def _account_for(
    path: Path, written: list[tuple[object, object]], blank: Callable[[object], bool] = _blank
) -> None:
    """Read and build ``path``: a SheetError, or every written row that is not wholly blank is
    read, and each becomes a video row or a rejected row (nothing is dropped silently)."""
    try:
        rows = read_sheet(path)
    except SheetError as exc:
        assert exc.code and str(exc)
        return
    assert len(rows) == sum(not (blank(u) and blank(s)) for u, s in written)
    assert rows["source_row"].is_monotonic_increasing and (rows["source_row"] >= 2).all()
    catalog, rejected = build_catalog(rows, {path.name: path.parent})
    assert int(catalog["n_rows"].sum()) + len(rejected) == len(rows)
    assert set(rejected["reason_code"]) <= ROW_REASONS
    assert rejected["reason"].map(lambda text: isinstance(text, str) and len(text) > 10).all()
    assert catalog["video_id"].is_unique and catalog["video_id"].map(KEY.fullmatch).all()
    assert all(math.isfinite(v) for v in catalog["performance"])


def _csv_cell(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


@QUICK
@given(_ROWS)
def test_any_csv_table_is_rejected_whole_or_fully_accounted_for(rows: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["Video URL", "Performance"])
            cells = [(_csv_cell(u), _csv_cell(s)) for u, s in rows]
            writer.writerows(cells)
        _account_for(path, cells)


def _xlsx_cell(value: object) -> object:
    if isinstance(value, str):  # openpyxl refuses control characters in cells
        return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", value)
    if isinstance(value, int) and abs(value) >= 2**53:
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # XLSX cannot hold NaN or inf: openpyxl would save an empty cell
    return value


@settings(QUICK, max_examples=60)
@given(_ROWS)
def test_any_xlsx_table_is_rejected_whole_or_fully_accounted_for(rows: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.xlsx"
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(["Video URL", "Performance"])
        cells = [(_xlsx_cell(u), _xlsx_cell(s)) for u, s in rows]
        for url, score in cells:
            sheet.append([url, score])
        workbook.save(path)
        _account_for(path, cells, lambda v: _blank(v) or _uncomputed_formula(v))


@QUICK
@given(st.lists(st.tuples(canonical_urls(), st.floats(-1e6, 1e6)), min_size=1, max_size=20))
def test_clean_tables_keep_every_row_and_score(rows: list[tuple[str, float]]) -> None:
    """A sheet of valid rows loses nothing: same rows, same scores, in order."""
    assume(len({normalize_url(u) for u, _ in rows}) == len(rows))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clean.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["Video URL", "Performance"])
            writer.writerows((u, repr(s)) for u, s in rows)
        catalog, rejected = build_catalog(read_sheet(path))
    assert rejected.empty
    assert catalog["video_url"].tolist() == [normalize_url(u) for u, _ in rows]
    assert catalog["performance"].tolist() == [s for _, s in rows]
