"""Catalog building: merging duplicate URLs, conflicting scores, rejects, and loading sheets."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from influencer_pipeline.catalog.build import CatalogInputError, build_catalog, load_catalog
from influencer_pipeline.catalog.sheets import SheetError
from influencer_pipeline.catalog.urls import normalize_url, video_id_for
from influencer_pipeline.lake_schema import REJECTED_ROWS, VIDEO_CATALOG, to_arrow


def rows_frame(records: list[tuple[str, int, object, object]]) -> pd.DataFrame:
    """A read_sheet-shaped frame from (sheet, row, raw_url, raw_score) tuples."""
    return pd.DataFrame(
        {
            "source_sheet": pd.Series([r[0] for r in records], dtype=object),
            "source_row": pd.Series([r[1] for r in records], dtype="int64"),
            "raw_url": pd.Series([r[2] for r in records], dtype=object),
            "raw_score": pd.Series([r[3] for r in records], dtype=object),
        }
    )


def assert_accounted(rows: pd.DataFrame, catalog: pd.DataFrame, rejected: pd.DataFrame) -> None:
    """Nothing is dropped silently: every input row is in the catalog or in the rejects."""
    assert len(rows) == int(catalog["n_rows"].sum()) + len(rejected)
    placed = {
        (s, r)
        for sheets, nums in zip(catalog["source_sheets"], catalog["source_rows"], strict=True)
        for s, r in zip(sheets, nums, strict=True)
    }
    placed |= set(zip(rejected["source_sheet"], rejected["source_row"], strict=True))
    assert placed == set(zip(rows["source_sheet"], rows["source_row"], strict=True))


def assert_schema(catalog: pd.DataFrame, rejected: pd.DataFrame) -> None:
    """Both tables have exactly the lake columns and convert to their Arrow schemas."""
    assert list(catalog.columns) == VIDEO_CATALOG.names
    assert list(rejected.columns) == REJECTED_ROWS.names
    to_arrow(catalog, VIDEO_CATALOG)
    to_arrow(rejected, REJECTED_ROWS)


def test_duplicates_merge_and_conflicts_are_flagged() -> None:
    rows = rows_frame(
        [
            ("a.xlsx", 2, "https://Example.com/v1.mp4?utm_source=fb", 1.0),
            ("a.xlsx", 3, "https://example.com/v2.mp4", 0.5),
            ("a.xlsx", 4, "https://example.com:443/v1.mp4#t=3", 2.0),
            ("b.csv", 2, " https://EXAMPLE.com/./v1.mp4 ", "3.0"),
            ("b.csv", 3, "https://example.com/v2.mp4?fbclid=x", "0.5"),
            ("b.csv", 4, "https://example.com/v3.mp4", "0.7"),
            ("b.csv", 5, "https://example.com/v3.mp4", 0.7 + 1e-12),
        ]
    )
    catalog, rejected = build_catalog(rows)
    assert rejected.empty
    assert_schema(catalog, rejected)
    assert_accounted(rows, catalog, rejected)
    assert catalog["video_url"].tolist() == [
        "https://example.com/v1.mp4",
        "https://example.com/v2.mp4",
        "https://example.com/v3.mp4",
    ]
    v1, v2, v3 = (catalog.iloc[i] for i in range(3))
    assert v1["scores"] == [1.0, 2.0, 3.0]
    assert v1["performance"] == pytest.approx(2.0)
    assert v1["n_rows"] == 3
    assert bool(v1["score_conflict"]) is True
    assert v1["source_rows"] == [2, 4, 2]
    assert v1["source_sheets"] == ["a.xlsx", "a.xlsx", "b.csv"]
    assert v1["source_urls"] == [
        "https://Example.com/v1.mp4?utm_source=fb",
        "https://example.com:443/v1.mp4#t=3",
        " https://EXAMPLE.com/./v1.mp4 ",
    ]
    assert v1["video_id"] == video_id_for("https://example.com/v1.mp4")
    assert bool(v2["score_conflict"]) is False
    assert v2["scores"] == [0.5, 0.5]
    assert bool(v3["score_conflict"]) is False  # differs by less than 1e-9
    assert v3["n_rows"] == 2


def test_every_bad_row_is_rejected_with_its_code_and_a_sentence() -> None:
    rows = rows_frame(
        [
            ("s.xlsx", 2, "https://e.com/ok", 1.0),
            ("s.xlsx", 3, None, 1.0),
            ("s.xlsx", 4, "ftp://e.com/v", 1.0),
            ("s.xlsx", 5, "https://e.com/a", "abc"),
            ("s.xlsx", 6, "https://e.com/b", float("nan")),
            ("s.xlsx", 7, "https://e.com/c", float("inf")),
            ("s.xlsx", 8, "https://e.com/d", True),
            ("s.xlsx", 9, "https://e.com/e", None),
            ("s.xlsx", 10, "mailto:x@e.com", "abc"),  # both bad: the URL problem wins
            ("s.xlsx", 11, "https://", 1.0),
            ("s.xlsx", 12, "https://e.com/" + "x" * 5000, 1.0),
            ("s.xlsx", 13, "https://e.com/\x07", 1.0),
            ("s.xlsx", 14, "https://e.com/f", "#DIV/0!"),
        ]
    )
    catalog, rejected = build_catalog(rows)
    assert_schema(catalog, rejected)
    assert_accounted(rows, catalog, rejected)
    assert catalog["video_url"].tolist() == ["https://e.com/ok"]
    assert dict(zip(rejected["source_row"], rejected["reason_code"], strict=True)) == {
        3: "missing_url",
        4: "unsupported_scheme",
        5: "non_numeric_score",
        6: "non_finite_score",
        7: "non_finite_score",
        8: "non_numeric_score",
        9: "missing_score",
        10: "unsupported_scheme",
        11: "missing_host",
        12: "url_too_long",
        13: "unparsable_url",
        14: "non_numeric_score",
    }
    by_row = rejected.set_index("source_row")
    assert by_row.loc[4, "reason"].startswith("s.xlsx row 4: ")
    assert "'ftp://e.com/v'" in by_row.loc[4, "reason"]
    assert "'abc'" in by_row.loc[5, "reason"]
    assert by_row.loc[8, "raw_score"] == "True"
    assert by_row.loc[3, "raw_url"] is None
    assert by_row.loc[10, "raw_score"] == "abc"


def test_empty_rows_give_empty_tables_with_the_lake_columns() -> None:
    catalog, rejected = build_catalog(rows_frame([]))
    assert catalog.empty
    assert rejected.empty
    assert_schema(catalog, rejected)


def test_rows_without_the_sheet_columns_are_refused() -> None:
    with pytest.raises(CatalogInputError) as info:
        build_catalog(pd.DataFrame({"url": ["https://e.com"]}))
    assert info.value.code == "missing_column"


def test_relative_paths_use_each_sheets_folder(tmp_path: Path) -> None:
    rows = rows_frame([("a.csv", 2, "clip.mp4", 1), ("b.csv", 2, "clip.mp4", 2)])
    catalog, _ = build_catalog(rows, {"a.csv": tmp_path / "a", "b.csv": tmp_path / "b"})
    assert catalog["video_url"].tolist() == [
        (tmp_path / "a" / "clip.mp4").resolve().as_uri(),
        (tmp_path / "b" / "clip.mp4").resolve().as_uri(),
    ]


# --- load_catalog ------------------------------------------------------------------------------


def test_real_sheet_builds_268_unique_videos(real_sheet: Path) -> None:
    catalog, rejected = load_catalog([real_sheet, real_sheet])  # the same file counts once
    assert len(catalog) == 268
    assert catalog["video_id"].nunique() == 268
    assert rejected.empty
    assert (catalog["n_rows"] == 1).all()
    assert catalog["source_rows"].map(len).sum() == 268
    assert_schema(catalog, rejected)


def test_load_catalog_end_to_end(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    sheet_dir = tmp_path / "sheets"
    sheet_dir.mkdir()
    csv_path = sheet_dir / "batch.csv"
    csv_path.write_text(
        "Video URL;Performance\n"
        "../videos/clip one.mp4;1.5\n"
        "\n"
        f"{(videos / 'clip one.mp4').as_uri()};2.5\n"
        "https://cdn.example.com/x.mp4?sig=1&utm_source=a;1,25\n"
        "https://cdn.example.com/x.mp4?sig=1;0.75\n",
        encoding="utf-8",
    )
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Performance", "Video URL"])
    sheet.append(["=1+1", "https://cdn.example.com/y.mp4"])  # formula without a cached value
    sheet.append([0.5, "https://CDN.example.com/x.mp4?sig=1#frag"])
    xlsx_path = tmp_path / "more.xlsx"
    workbook.save(xlsx_path)

    spelled_twice = sheet_dir / ".." / "sheets" / "batch.csv"
    catalog, rejected = load_catalog([csv_path, xlsx_path, spelled_twice])
    assert_schema(catalog, rejected)
    assert int(catalog["n_rows"].sum()) + len(rejected) == 4 + 2
    clip = (videos / "clip one.mp4").as_uri()
    assert catalog["video_url"].tolist() == [clip, "https://cdn.example.com/x.mp4?sig=1"]
    assert catalog.iloc[0]["scores"] == [1.5, 2.5]
    assert catalog.iloc[1]["scores"] == [0.75, 0.5]
    assert catalog.iloc[1]["source_sheets"] == [str(csv_path), str(xlsx_path)]
    assert catalog.iloc[1]["source_rows"] == [6, 3]
    assert bool(catalog.iloc[1]["score_conflict"]) is True
    assert set(
        zip(rejected["source_sheet"], rejected["source_row"], rejected["reason_code"], strict=True)
    ) == {
        (str(csv_path), 5, "non_numeric_score"),
        (str(xlsx_path), 2, "missing_score"),
    }


def test_same_file_name_in_two_folders_keeps_both(tmp_path: Path) -> None:
    for folder, score in (("one", 1), ("two", 2)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "s.csv").write_text(f"url,score\nclip.mp4,{score}\n")
    catalog, rejected = load_catalog([tmp_path / "one" / "s.csv", tmp_path / "two" / "s.csv"])
    assert rejected.empty
    assert catalog["video_url"].tolist() == [
        (tmp_path / "one" / "clip.mp4").resolve().as_uri(),
        (tmp_path / "two" / "clip.mp4").resolve().as_uri(),
    ]
    assert catalog.iloc[0]["source_sheets"] == [str(tmp_path / "one" / "s.csv")]


def test_symlinked_sheet_counts_once(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("url,score\nhttps://e.com/a,1\n")
    (tmp_path / "alias.csv").symlink_to(tmp_path / "s.csv")
    catalog, _ = load_catalog([tmp_path / "s.csv", tmp_path / "alias.csv"])
    assert catalog["n_rows"].tolist() == [1]


def test_unusable_sheet_raises(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("url,score\nhttps://e.com/a,1\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("link,score\nhttps://e.com/a,1\n")
    with pytest.raises(SheetError) as info:
        load_catalog([good, bad])
    assert info.value.code == "missing_column"
    with pytest.raises(SheetError) as info:
        load_catalog([tmp_path / "missing.xlsx"])
    assert info.value.code == "file_not_found"


def test_no_sheets_gives_empty_tables() -> None:
    catalog, rejected = load_catalog([])
    assert_schema(catalog, rejected)
    assert catalog.empty


def test_hundred_thousand_rows_with_duplicates_and_rejects() -> None:
    n = 100_000
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20_000, size=n)
    urls: list[object] = [f"https://cdn.example.com/v/{i}.mp4?sig=s{i}&utm_source=x" for i in ids]
    scores: list[object] = [float(i % 7) for i in ids]
    for i in range(0, n, 1000):
        urls[i] = None
    rows = rows_frame(
        [("big.csv", k + 2, u, s) for k, (u, s) in enumerate(zip(urls, scores, strict=True))]
    )
    catalog, rejected = build_catalog(rows)
    assert_accounted(rows, catalog, rejected)
    assert len(rejected) == 100
    assert set(rejected["reason_code"]) == {"missing_url"}
    assert catalog["video_id"].is_unique
    assert not catalog["score_conflict"].any()  # every copy of a URL has the same score
    assert math.isclose(catalog["n_rows"].sum(), n - 100)
    assert catalog.iloc[0]["video_url"] == normalize_url(urls[1])
