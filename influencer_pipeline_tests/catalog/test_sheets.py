"""Input sheets: a corpus of good and bad XLSX/CSV/Parquet files, each with its expected outcome."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from influencer_pipeline.catalog.sheets import (
    SHEET_COLUMNS,
    ScoreRejected,
    SheetError,
    column_key,
    parse_score,
    read_sheet,
)
from influencer_pipeline_tests.hostile.sheets import write_xlsx


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """A text file in ``encoding`` with exactly ``text`` (no newline translation)."""
    path.write_bytes(text.encode(encoding))
    return path


def sheet_error(path: Path) -> SheetError:
    """The SheetError that reading ``path`` raises."""
    with pytest.raises(SheetError) as info:
        read_sheet(path)
    assert str(info.value)
    return info.value


def as_records(frame: pd.DataFrame) -> list[tuple[int, object, object]]:
    """(source_row, raw_url, raw_score) of each row."""
    return list(frame[["source_row", "raw_url", "raw_score"]].itertuples(index=False, name=None))


# --- scores ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1.25, 1.25),
        (" 1.25 ", 1.25),
        ("\u00a02.5\u200b", 2.5),
        ("-0.5", -0.5),
        ("+.5", 0.5),
        ("1e3", 1000.0),
        ("7", 7.0),
        (3, 3.0),
        (np.float64(2.5), 2.5),
        (np.int64(4), 4.0),
        (decimal.Decimal("1.5"), 1.5),
        (0, 0.0),
    ],
)
def test_parse_score_accepts_numbers(raw: object, expected: float) -> None:
    assert parse_score(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, "missing_score"),
        ("", "missing_score"),
        ("   ", "missing_score"),
        (pd.NA, "missing_score"),
        ("1,25", "non_numeric_score"),
        ("abc", "non_numeric_score"),
        ("#DIV/0!", "non_numeric_score"),
        ("#N/A", "non_numeric_score"),
        ("1_000", "non_numeric_score"),
        ("１２", "non_numeric_score"),  # full-width digits
        ("12%", "non_numeric_score"),
        (True, "non_numeric_score"),
        (False, "non_numeric_score"),
        (np.bool_(True), "non_numeric_score"),
        (dt.datetime(2024, 1, 1), "non_numeric_score"),
        (float("nan"), "non_finite_score"),
        ("NaN", "non_finite_score"),
        (float("inf"), "non_finite_score"),
        (float("-inf"), "non_finite_score"),
        ("-Infinity", "non_finite_score"),
        ("inf", "non_finite_score"),
        ("1e400", "non_finite_score"),
        (10**400, "non_finite_score"),
        (decimal.Decimal("NaN"), "non_finite_score"),
    ],
)
def test_parse_score_rejects_with_code(raw: object, code: str) -> None:
    with pytest.raises(ScoreRejected) as info:
        parse_score(raw)
    assert info.value.code == code
    assert isinstance(info.value, ValueError)


def test_decimal_comma_message_says_how_to_fix() -> None:
    with pytest.raises(ScoreRejected, match="decimal comma"):
        parse_score("1,25")


# --- column matching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Video URL", "videourl"),
        (" video_url ", "videourl"),
        ("VIDEO-Url", "videourl"),
        ("Performance Score", "performancescore"),
        ("performance_score", "performancescore"),
        (None, ""),
        (1.5, "1.5"),
    ],
)
def test_column_key(header: object, key: str) -> None:
    assert column_key(header) == key


# --- XLSX --------------------------------------------------------------------------------------


def test_real_sheet_loads(real_sheet: Path) -> None:
    frame = read_sheet(real_sheet)
    assert list(frame.columns) == list(SHEET_COLUMNS)
    assert len(frame) == 268
    assert frame["source_row"].iloc[0] == 2
    assert (frame["source_sheet"] == "Assignment_Data.xlsx").all()
    assert frame["raw_url"].map(lambda u: isinstance(u, str) and u.startswith("https://")).all()
    # the sheet's =RAND() formulas come back as their cached values
    assert frame["raw_score"].map(lambda s: isinstance(s, float)).all()


def test_xlsx_blank_rows_extra_columns_and_row_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "s.xlsx",
        [
            ["Notes", "Performance", "Video URL"],
            ["n1", 1.5, "https://e.com/a"],
            [None, None, None],  # blank row: skipped, still counts for numbering
            [None, "  ", None],  # only whitespace: blank too
            ["only a note", None, None],  # not blank: kept (rejected later, never dropped)
            [None, 2, "https://e.com/b"],
        ],
    )
    frame = read_sheet(path)
    assert as_records(frame) == [
        (2, "https://e.com/a", 1.5),
        (5, None, None),
        (6, "https://e.com/b", 2),
    ]
    assert frame["raw_url"].dtype == object
    assert frame["raw_score"].dtype == object
    assert frame["source_row"].dtype == np.int64


def test_xlsx_raw_values_are_not_coerced(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "s.xlsx",
        [["url", "score"], ["https://e.com/a", True], ["https://e.com/b", "1.25"], [7, "#DIV/0!"]],
    )
    assert as_records(read_sheet(path)) == [
        (2, "https://e.com/a", True),
        (3, "https://e.com/b", "1.25"),
        (4, 7, "#DIV/0!"),
    ]


def test_xlsx_formula_without_cached_value_reads_as_none(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "s.xlsx", [["url", "score"], ["https://e.com/a", "=1+1"], ["=A1", 2.0]]
    )
    # openpyxl saves formulas without a computed value: the cell reads as empty
    assert as_records(read_sheet(path)) == [(2, "https://e.com/a", None), (3, None, 2.0)]


def test_xlsx_header_only_gives_zero_rows(tmp_path: Path) -> None:
    frame = read_sheet(write_xlsx(tmp_path / "s.xlsx", [["Video URL", "Performance"]]))
    assert frame.empty
    assert list(frame.columns) == list(SHEET_COLUMNS)


def test_xlsx_leading_blank_rows_keep_real_row_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "s.xlsx", [[None], [None, None], ["url", "score"], ["https://e.com/a", 1]]
    )
    assert as_records(read_sheet(path)) == [(4, "https://e.com/a", 1)]


def test_xlsx_with_no_cells_is_empty(tmp_path: Path) -> None:
    assert sheet_error(write_xlsx(tmp_path / "s.xlsx", [])).code == "empty"


@pytest.mark.parametrize("suffix", [".xlsx", ".csv", ".parquet"])
def test_zero_byte_file_is_empty(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"s{suffix}"
    path.write_bytes(b"")
    assert sheet_error(path).code == "empty"


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_corrupt_binary_is_unreadable(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"s{suffix}"
    path.write_bytes(b"this is not a spreadsheet at all\n" * 10)
    assert sheet_error(path).code == "unreadable"


def test_missing_file_and_unsupported_format(tmp_path: Path) -> None:
    assert sheet_error(tmp_path / "nope.xlsx").code == "file_not_found"
    assert sheet_error(tmp_path).code == "file_not_found"
    old = tmp_path / "s.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    assert sheet_error(old).code == "unsupported_format"
    assert sheet_error(write_text(tmp_path / "s.txt", "url,score\n")).code == "unsupported_format"


# --- header problems (every format) ------------------------------------------------------------


def test_missing_column_lists_found_and_accepted_names(tmp_path: Path) -> None:
    error = sheet_error(write_text(tmp_path / "s.csv", "Link,Performance\nhttps://e.com,1\n"))
    assert error.code == "missing_column"
    assert "'Link'" in error.message
    assert "Video URL" in error.message
    error = sheet_error(write_xlsx(tmp_path / "s.xlsx", [["Video URL", "Views"]]))
    assert error.code == "missing_column"
    assert "score" in error.message
    assert "Performance Score" in error.message


@pytest.mark.parametrize(
    "header",
    [
        "url,url,score",  # literally duplicated header
        "Video URL,video_url,Performance",  # two URL-like columns
        "Video URL,Performance,Performance Score",  # two score-like columns
        "url,SCORE,score",
    ],
)
def test_ambiguous_columns(tmp_path: Path, header: str) -> None:
    path = write_text(tmp_path / "s.csv", header + "\nhttps://e.com/a,1,2\n")
    assert sheet_error(path).code == "ambiguous_column"


def test_duplicate_headers_in_xlsx_and_parquet(tmp_path: Path) -> None:
    xlsx = write_xlsx(tmp_path / "s.xlsx", [["Performance", "url", "Performance"], [1, "u", 2]])
    assert sheet_error(xlsx).code == "ambiguous_column"
    table = pa.Table.from_arrays(
        [pa.array(["u"]), pa.array([1.0]), pa.array(["v"])], names=["url", "score", "URL"]
    )
    pq.write_table(table, tmp_path / "s.parquet")
    assert sheet_error(tmp_path / "s.parquet").code == "ambiguous_column"


def test_header_matching_ignores_case_spaces_underscores_dashes(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "s.csv", " VIDEO-url ;Extra; performance_SCORE \nhttps://e.com;x;1.5\n"
    )
    assert as_records(read_sheet(path)) == [(2, "https://e.com", "1.5")]


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_whitespace_only_is_empty(tmp_path: Path) -> None:
    assert sheet_error(write_text(tmp_path / "s.csv", "\n  \n,,\n")).code == "empty"


def test_csv_header_only_gives_zero_rows(tmp_path: Path) -> None:
    assert read_sheet(write_text(tmp_path / "s.csv", "Video URL,Performance\n")).empty


def test_csv_cells_stay_text_and_blank_lines_count(tmp_path: Path) -> None:
    text = (
        "Performance,Video URL\r\n"
        "1.106,https://e.com/a\r\n"
        "\r\n"
        ",\r\n"
        "abc,https://e.com/b\r\n"
        '" 2 ","https://e.com/c?x=1,2"\r\n'
        "3\r\n"  # short row: URL padded as None
    )
    frame = read_sheet(write_text(tmp_path / "s.csv", text))
    assert as_records(frame) == [
        (2, "https://e.com/a", "1.106"),
        (5, "https://e.com/b", "abc"),
        (6, "https://e.com/c?x=1,2", " 2 "),
        (7, None, "3"),
    ]


def test_csv_multiline_cell_counts_as_one_row(tmp_path: Path) -> None:
    text = 'url,score,note\nhttps://e.com/a,1,"two\nlines"\nhttps://e.com/b,2,x\n'
    assert as_records(read_sheet(write_text(tmp_path / "s.csv", text))) == [
        (2, "https://e.com/a", "1"),
        (3, "https://e.com/b", "2"),
    ]


def test_semicolon_csv(tmp_path: Path) -> None:
    text = "Video URL;Performance\nhttps://e.com/a?x=1,2;1.5\nhttps://e.com/b;1,25\n"
    assert as_records(read_sheet(write_text(tmp_path / "s.csv", text))) == [
        (2, "https://e.com/a?x=1,2", "1.5"),
        (3, "https://e.com/b", "1,25"),
    ]


def test_tab_separated_csv(tmp_path: Path) -> None:
    text = "score\turl\n0.5\thttps://e.com/a;b,c\n"
    assert as_records(read_sheet(write_text(tmp_path / "s.tsv", text))) == [
        (2, "https://e.com/a;b,c", "0.5")
    ]


def test_cp1252_csv_with_non_ascii_path(tmp_path: Path) -> None:
    text = "Video URL,Performance\nvidéos/clip à.mp4,1.5\nhttps://e.com/café.mp4,2\n"
    path = write_text(tmp_path / "s.csv", text, encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    assert as_records(read_sheet(path)) == [
        (2, "vidéos/clip à.mp4", "1.5"),
        (3, "https://e.com/café.mp4", "2"),
    ]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-8"])
def test_unicode_csv_encodings(tmp_path: Path, encoding: str) -> None:
    text = "Video URL,Performance\nhttps://e.com/ünï.mp4,1\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path = tmp_path / "s.csv"
    path.write_bytes(data)
    assert as_records(read_sheet(path)) == [(2, "https://e.com/ünï.mp4", "1")]


def test_undecodable_or_binary_csv_is_unreadable(tmp_path: Path) -> None:
    # 0x81 is invalid in UTF-8 and undefined in cp1252
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"url,score\nhttps://e.com/\x81,1\n")
    assert sheet_error(bad).code == "unreadable"
    nul = tmp_path / "nul.csv"
    nul.write_bytes("url,score\n".encode("utf-16-le"))  # UTF-16 without BOM
    assert sheet_error(nul).code == "unreadable"


# --- Parquet -----------------------------------------------------------------------------------


def test_parquet_values_stay_raw(tmp_path: Path) -> None:
    table = pa.table(
        {
            "Video URL": ["https://e.com/a", None, "https://e.com/c", None],
            "performance": [1.5, 2.0, float("nan"), None],
            "other": [1, 2, 3, None],
        }
    )
    pq.write_table(table, tmp_path / "s.parquet")
    records = as_records(read_sheet(tmp_path / "s.parquet"))
    assert records[:2] == [(2, "https://e.com/a", 1.5), (3, None, 2.0)]
    assert records[2][:2] == (4, "https://e.com/c")
    assert math.isnan(records[2][2])
    assert len(records) == 3  # the all-null row 5 is blank: skipped


def test_parquet_header_only(tmp_path: Path) -> None:
    table = pa.table({"url": pa.array([], pa.string()), "score": pa.array([], pa.float64())})
    pq.write_table(table, tmp_path / "s.parquet")
    assert read_sheet(tmp_path / "s.parquet").empty


# --- size ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_hundred_thousand_rows(tmp_path: Path, fmt: str) -> None:
    n = 100_000
    source = pd.DataFrame(
        {
            "Video URL": [f"https://e.com/v/{i}.mp4" for i in range(n)],
            "Performance": np.arange(n) / 7,
        }
    )
    path = tmp_path / f"big.{fmt}"
    if fmt == "csv":
        source.to_csv(path, index=False)
    else:
        source.to_parquet(path, index=False)
    frame = read_sheet(path)
    assert len(frame) == n
    assert frame["source_row"].iloc[-1] == n + 1
    assert frame["raw_url"].iloc[n - 1] == f"https://e.com/v/{n - 1}.mp4"
