"""Builders of hostile input sheets: each writes one sheet into ``folder`` and returns its path.

Whole-sheet failures (empty, header only, missing or duplicate columns, undecodable text, binary
junk, XML entity bombs, overlong CSV fields) and sheets whose bad rows must each be rejected with
a reason (formulas, text/NaN/inf scores, CSV injection payloads, nested Parquet cells, 100k rows).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HEADER = ("Video URL", "Performance")
GOOD_ROW = ("https://cdn.example.com/good.mp4", "0.5")
BIG_ROWS = 100_000


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    """An XLSX file with ``rows`` in its first worksheet (None leaves a cell empty)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(row=r, column=c, value=value)
    workbook.save(path)
    return path


def csv_text(rows: list[tuple[str, ...]]) -> str:
    """Comma-separated text of ``rows`` (cells quoted only where needed)."""
    out = io.StringIO()
    pd.DataFrame(rows).to_csv(out, header=False, index=False, lineterminator="\n")
    return out.getvalue()


# --- unusable as a whole -----------------------------------------------------------------------


def empty_csv(folder: Path) -> Path:
    """A 0-byte CSV."""
    path = folder / "empty.csv"
    path.write_bytes(b"")
    return path


def whitespace_csv(folder: Path) -> Path:
    """A CSV of blank lines, spaces, tabs and a BOM."""
    path = folder / "blank.csv"
    path.write_text("\ufeff  \n\n\t \n , \n")
    return path


def header_only_csv(folder: Path) -> Path:
    """The right header and not one row."""
    path = folder / "header_only.csv"
    path.write_text(",".join(HEADER) + "\n")
    return path


def header_only_xlsx(folder: Path) -> Path:
    """An XLSX with the right header and not one row."""
    return write_xlsx(folder / "header_only.xlsx", [list(HEADER)])


def missing_columns_csv(folder: Path) -> Path:
    """Columns named 'link' and 'views': neither is recognised."""
    path = folder / "missing_columns.csv"
    path.write_text("link,views\nhttps://cdn.example.com/a.mp4,3\n")
    return path


def missing_score_xlsx(folder: Path) -> Path:
    """A URL column and no score column."""
    rows = [["Video URL", "Caption"], ["https://cdn.example.com/a.mp4", "hi"]]
    return write_xlsx(folder / "missing_score.xlsx", rows)


def duplicate_headers_csv(folder: Path) -> Path:
    """Two columns that both could hold the URL ('Video URL' and 'url')."""
    path = folder / "duplicate_headers.csv"
    path.write_text(
        "Video URL,url,Performance\nhttps://a.example/1.mp4,https://b.example/2.mp4,1\n"
    )
    return path


def duplicate_same_name_xlsx(folder: Path) -> Path:
    """The score column twice under the same name."""
    rows = [["Video URL", "Performance", "Performance"], ["https://a.example/1.mp4", 1, 2]]
    return write_xlsx(folder / "duplicate_same_name.xlsx", rows)


def undecodable_csv(folder: Path) -> Path:
    """Bytes that are neither UTF-8 nor cp1252 (0x81 and 0x8D are unassigned in cp1252)."""
    path = folder / "undecodable.csv"
    path.write_bytes(b"Video URL,Performance\nhttps://a.example/\x81\x8d\xff.mp4,1\n")
    return path


def utf16_without_bom_csv(folder: Path) -> Path:
    """UTF-16 text without a byte-order mark (reads as text full of NUL characters)."""
    path = folder / "utf16_no_bom.csv"
    path.write_bytes(csv_text([HEADER, GOOD_ROW]).encode("utf-16-le"))
    return path


def binary_as_xlsx(folder: Path) -> Path:
    """Random bytes named .xlsx."""
    path = folder / "junk.xlsx"
    path.write_bytes(np.random.default_rng(3).bytes(4096))
    return path


def _xlsx_with_sheet_xml(folder: Path, name: str, dtd: str, cell_text: str) -> Path:
    """A real workbook whose worksheet XML gets a DTD and an entity reference in a cell."""
    base = write_xlsx(folder / f"base_{name}", [list(HEADER), ["PLACEHOLDER", 1]])
    path = folder / name
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.namelist():
            data = source.read(item)
            if item == "xl/worksheets/sheet1.xml":
                data = (dtd + data.decode().replace("PLACEHOLDER", cell_text)).encode()
            target.writestr(item, data)
    base.unlink()
    return path


def billion_laughs_xlsx(folder: Path) -> Path:
    """An XLSX whose worksheet XML defines nested entities expanding to 10^9 'lol's."""
    entities = "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "lol") * 10}">' for i in range(1, 10)
    )
    return _xlsx_with_sheet_xml(
        folder, "billion_laughs.xlsx", f"<!DOCTYPE worksheet [{entities}]>", "&lol9;"
    )


def external_entity_xlsx(folder: Path) -> Path:
    """An XLSX whose worksheet XML pulls /etc/passwd in through an external entity (XXE)."""
    dtd = '<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    return _xlsx_with_sheet_xml(folder, "external_entity.xlsx", dtd, "https://a.example/&xxe;")


def overlong_field_csv(folder: Path) -> Path:
    """A CSV cell of 200,000 characters (beyond the csv module's 131,072-character field limit)."""
    path = folder / "overlong_field.csv"
    path.write_text(csv_text([HEADER, ("https://a.example/" + "a" * 200_000, "1"), GOOD_ROW]))
    return path


def unsupported_extension(folder: Path) -> Path:
    """A sheet saved as .txt."""
    path = folder / "sheet.txt"
    path.write_text(csv_text([HEADER, GOOD_ROW]))
    return path


def missing_file(folder: Path) -> Path:
    """A path where there is no file."""
    return folder / "no_such_sheet.xlsx"


# --- usable sheets whose bad rows are rejected one by one --------------------------------------

# (URL cell, score cell, expected reason_code or None for a good row), used by the builders below.
FORMULA_ROWS: list[tuple[object, object, str | None]] = [
    ('=HYPERLINK("https://a.example/1.mp4")', 1, "missing_url"),  # no cached value: empty
    ("https://a.example/2.mp4", "=1/0", "missing_score"),
    ("https://a.example/3.mp4", "=A1*2", "missing_score"),
    ("https://a.example/4.mp4", 4, None),
]
SCORE_ROWS: list[tuple[str, str, str | None]] = [
    ("https://a.example/s1.mp4", "abc", "non_numeric_score"),
    ("https://a.example/s2.mp4", "NaN", "non_finite_score"),
    ("https://a.example/s3.mp4", "inf", "non_finite_score"),
    ("https://a.example/s4.mp4", "-Infinity", "non_finite_score"),
    ("https://a.example/s5.mp4", "1e999", "non_finite_score"),
    ("https://a.example/s6.mp4", "", "missing_score"),
    ("https://a.example/s7.mp4", "1,5", "non_numeric_score"),
    ("https://a.example/s8.mp4", "#DIV/0!", "non_numeric_score"),
    ("https://a.example/s9.mp4", "TRUE", "non_numeric_score"),
    ("https://a.example/s10.mp4", "=1+1", "non_numeric_score"),  # CSV injection payloads
    ("https://a.example/s11.mp4", "@SUM(1+1)*cmd|' /C calc'!A0", "non_numeric_score"),
    ("https://a.example/s12.mp4", "-2e15", "score_out_of_range"),
    ("https://a.example/s13.mp4", "  42.5 ", None),
]
CP1252_URL = "https://a.example/café/vidéo.mp4"  # written in cp1252: é is one byte, 0xE9


def formulas_xlsx(folder: Path) -> Path:
    """Formula cells saved without computed values (as scripts and some exporters save them)."""
    rows: list[list[object]] = [list(HEADER)] + [[url, score] for url, score, _ in FORMULA_ROWS]
    return write_xlsx(folder / "formulas.xlsx", rows)


def text_scores_csv(folder: Path) -> Path:
    """Text, NaN, infinite, huge, empty, decimal-comma, error-value and formula scores."""
    path = folder / "scores.csv"
    path.write_text(csv_text([HEADER, *[(url, score) for url, score, _ in SCORE_ROWS]]))
    return path


def nan_inf_parquet(folder: Path) -> Path:
    """Real float NaN and +-inf scores in a Parquet file."""
    path = folder / "nan_inf.parquet"
    table = pa.table(
        {
            "url": [
                "https://a.example/p1.mp4",
                "https://a.example/p2.mp4",
                "https://a.example/p3.mp4",
            ],
            "score": [float("nan"), float("inf"), 1.0],
        }
    )
    pq.write_table(table, path)
    return path


def nested_cells_parquet(folder: Path) -> Path:
    """URL cells that are structs and lists, not text."""
    path = folder / "nested.parquet"
    table = pa.table(
        {
            "Video URL": pa.array(
                [{"href": "https://a.example/n1.mp4"}, {"href": None}],
                pa.struct([("href", pa.string())]),
            ),
            "Performance": [1.0, 2.0],
        }
    )
    pq.write_table(table, path)
    return path


def cp1252_csv(folder: Path) -> Path:
    """A CSV saved by Excel on Windows (cp1252), with accented letters in a URL."""
    path = folder / "cp1252.csv"
    path.write_bytes(csv_text([HEADER, (CP1252_URL, "0.5")]).encode("cp1252"))
    return path


def hundred_thousand_rows_csv(folder: Path) -> Path:
    """100,000 rows: every 10th a repeat of an earlier URL, every 100th a text score."""
    n = BIG_ROWS
    ids = np.arange(n)
    urls = [f"https://cdn.example.com/v/{i - 1 if i % 10 == 9 else i}.mp4" for i in ids]
    scores = [("n/a" if i % 100 == 50 else f"{i / 7:.3f}") for i in ids]
    path = folder / "hundred_thousand.csv"
    pd.DataFrame({"Video URL": urls, "Performance": scores}).to_csv(path, index=False)
    return path
