"""Input sheets: read XLSX, CSV or Parquet into raw (url, score) rows, and parse score cells.

``read_sheet`` keeps every cell as the raw object the file holds (nothing is coerced), finds the
URL and score columns by name, and numbers rows as a spreadsheet shows them (header = row 1), so
that a rejected row can be found again by the person who wrote the sheet.
"""

from __future__ import annotations

import codecs
import csv
import decimal
import io
import math
import numbers
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from influencer_pipeline.catalog.urls import strip_invisible
from influencer_pipeline.display import show
from influencer_pipeline.errors import InputError

URL_COLUMN_NAMES: tuple[str, ...] = ("Video URL", "video_url", "url")
SCORE_COLUMN_NAMES: tuple[str, ...] = ("Performance", "performance", "Performance Score", "score")
SHEET_COLUMNS: tuple[str, ...] = ("source_sheet", "source_row", "raw_url", "raw_score")
# Largest score magnitude accepted: far above any view count or rate, yet small enough that the
# ranking's sums of squares stay finite (one 1e200 score would turn every influencer's score NaN).
MAX_ABS_SCORE = 1e15

XLSX_EXTENSIONS = (".xlsx", ".xlsm")
CSV_EXTENSIONS = (".csv", ".tsv")
PARQUET_EXTENSIONS = (".parquet", ".pq")
SUPPORTED_EXTENSIONS = XLSX_EXTENSIONS + CSV_EXTENSIONS + PARQUET_EXTENSIONS

CSV_DELIMITERS = (",", ";", "\t")
_SNIFF_BYTES = 64 * 1024

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_NON_FINITE_WORDS = frozenset(
    {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
)
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+")
_SPREADSHEET_ERRORS = frozenset(
    {"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#SPILL!", "#CALC!"}
)

_KEY_JUNK = re.compile(r"[\s_\-]+")


class SheetError(InputError):
    """A sheet that is unusable as a whole; ``code`` is machine-readable."""

    max_chars = 2000


class ScoreRejected(InputError):  # noqa: N818  (name fixed by the catalog contract)
    """A score cell that is not a finite number; ``code`` is machine-readable."""

    max_chars = 1000


# --- scores ------------------------------------------------------------------------------------


def parse_score(raw: object) -> float:
    """The score of a cell as a finite float within +-MAX_ABS_SCORE; raises ScoreRejected."""
    if _is_blank(raw):
        hint = "; a formula saved without its computed value also reads as empty"
        raise ScoreRejected(
            "missing_score", f"the score cell is empty ({_show(raw)}){hint if raw is None else ''}"
        )
    if isinstance(raw, bool | np.bool_):
        raise ScoreRejected(
            "non_numeric_score", f"the score {_show(raw)} is a boolean, not a number"
        )
    if isinstance(raw, str):
        value = _parse_score_text(raw)
    elif isinstance(raw, numbers.Real | decimal.Decimal):
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf
        except ValueError:  # decimal.Decimal("sNaN")
            value = math.nan
    else:
        raise ScoreRejected(
            "non_numeric_score",
            f"the score {_show(raw)} is a {type(raw).__name__}, not a number",
        )
    if not math.isfinite(value):
        raise ScoreRejected("non_finite_score", f"the score {_show(raw)} is not a finite number")
    if abs(value) > MAX_ABS_SCORE:
        raise ScoreRejected(
            "score_out_of_range",
            f"the score {_show(raw)} is beyond +-{MAX_ABS_SCORE:.0e}, the largest magnitude a"
            " score may have",
        )
    return value


def _parse_score_text(raw: str) -> float:
    """A score written as text: a plain decimal number with a point, optional exponent."""
    text = strip_invisible(raw)
    if _NUMBER.fullmatch(text):
        return float(text)  # may overflow to inf: caught as non-finite by the caller
    if text.lower() in _NON_FINITE_WORDS:
        raise ScoreRejected("non_finite_score", f"the score {_show(raw)} is not a finite number")
    if text.upper() in _SPREADSHEET_ERRORS:
        raise ScoreRejected(
            "non_numeric_score", f"the score {_show(raw)} is a spreadsheet error value"
        )
    if _DECIMAL_COMMA.fullmatch(text):
        raise ScoreRejected(
            "non_numeric_score",
            f"the score {_show(raw)} uses a decimal comma; write it with a point",
        )
    raise ScoreRejected("non_numeric_score", f"the score {_show(raw)} is not a number")


# --- cells and headers -------------------------------------------------------------------------


def _show(value: object, limit: int = 120) -> str:
    """A quoted rendering of a cell for messages (``display.show``: redacted, printable)."""
    return f"'{show(value, limit)}'" if isinstance(value, str) else show(repr(value), limit)


def _is_blank(value: object) -> bool:
    """A cell with no content: None, NaN, pandas NA, or only whitespace / invisible chars."""
    if value is None:
        return True
    if isinstance(value, str):
        return not strip_invisible(value)
    # NaN is a value (rejected as non-finite), not an empty cell; pandas' NA/NaT are empty.
    return type(value).__name__ in ("NAType", "NaTType")


def column_key(name: object) -> str:
    """Comparison key of a header cell: lowercase, without spaces, '_' or '-'."""
    if name is None:
        return ""
    return _KEY_JUNK.sub("", strip_invisible(str(name))).lower()


_URL_KEYS = frozenset(column_key(n) for n in URL_COLUMN_NAMES)
_SCORE_KEYS = frozenset(column_key(n) for n in SCORE_COLUMN_NAMES)


def _find_columns(header: Sequence[object], sheet: str) -> tuple[int, int]:
    """Indexes of the URL and score columns in a header row; SheetError when absent/ambiguous."""
    keys = [column_key(cell) for cell in header]
    url_idx = [i for i, k in enumerate(keys) if k in _URL_KEYS]
    score_idx = [i for i, k in enumerate(keys) if k in _SCORE_KEYS]
    found = [cell for cell in header if not _is_blank(cell)]
    for kind, idx in (("URL", url_idx), ("score", score_idx)):
        if len(idx) > 1:
            names = ", ".join(repr(header[i]) for i in idx)
            raise SheetError(
                "ambiguous_column",
                f"{sheet}: several columns could hold the {kind}: {names}; keep exactly one",
            )
    missing = [
        (kind, accepted)
        for kind, idx, accepted in (
            ("URL", url_idx, URL_COLUMN_NAMES),
            ("score", score_idx, SCORE_COLUMN_NAMES),
        )
        if not idx
    ]
    if missing:
        wanted = "; ".join(f"{kind} column: one of {list(accepted)}" for kind, accepted in missing)
        raise SheetError(
            "missing_column",
            f"{sheet}: no {' or '.join(k for k, _ in missing)} column; found columns "
            f"{[str(c) for c in found]}; accepted names (case, spaces, '_' and '-' ignored): "
            f"{wanted}",
        )
    return url_idx[0], score_idx[0]


def _rows_to_frame(
    sheet: str, numbered_rows: Iterable[tuple[int, Sequence[object]]], label: str | None = None
) -> pd.DataFrame:
    """The sheet's frame: header = first non-blank row, then every non-blank data row.

    ``label`` names the sheet in messages (for a workbook: which worksheet was read).
    """
    label = label or sheet
    rows = iter(numbered_rows)
    header: Sequence[object] | None = None
    for _, cells in rows:
        if not all(_is_blank(c) for c in cells):
            header = cells
            break
    if header is None:
        raise SheetError("empty", f"{label}: the sheet has no header row (it is empty)")
    url_i, score_i = _find_columns(header, label)
    width = max(url_i, score_i) + 1
    numbers_out: list[int] = []
    urls: list[object] = []
    scores: list[object] = []
    for number, cells in rows:
        if all(_is_blank(c) for c in cells):
            continue
        padded = cells if len(cells) >= width else [*cells, *([None] * (width - len(cells)))]
        numbers_out.append(number)
        urls.append(padded[url_i])
        scores.append(padded[score_i])
    return pd.DataFrame(
        {
            "source_sheet": pd.Series([sheet] * len(numbers_out), dtype=object),
            "source_row": pd.Series(numbers_out, dtype="int64"),
            "raw_url": pd.Series(urls, dtype=object),
            "raw_score": pd.Series(scores, dtype=object),
        }
    )


# --- formats -----------------------------------------------------------------------------------


def _worksheet_label(sheet: str, worksheet) -> str:
    hidden = "" if worksheet.sheet_state == "visible" else f", {worksheet.sheet_state}"
    return f"{sheet} (worksheet '{worksheet.title}'{hidden})"


def _survey(worksheet) -> tuple[list[str] | None, bool, bool]:
    """(header cells or None when empty, has URL and score columns, has a data row after it)."""
    worksheet.reset_dimensions()  # some writers store a wrong "dimension": read every cell
    header: Sequence[object] | None = None
    fits = False
    for cells in worksheet.iter_rows(values_only=True):
        if all(_is_blank(c) for c in cells):
            continue
        if header is not None:
            return [str(c) for c in header if not _is_blank(c)], fits, True
        header = cells
        keys = {column_key(c) for c in cells}
        fits = bool(keys & _URL_KEYS) and bool(keys & _SCORE_KEYS)
    if header is None:
        return None, False, False
    return [str(c) for c in header if not _is_blank(c)], fits, False


def _choose_worksheet(workbook, sheet: str):
    """The one worksheet holding the URL and score columns (see ``read_sheet``)."""
    worksheets = list(workbook.worksheets)
    if not worksheets:
        raise SheetError("empty", f"{sheet}: the workbook has no worksheet")
    if len(worksheets) == 1:
        return worksheets[0]
    surveyed = [(ws, *_survey(ws)) for ws in worksheets]
    fitting = [entry for entry in surveyed if entry[2]]
    with_rows = [entry for entry in fitting if entry[3]]
    chosen = with_rows or fitting
    if len(chosen) == 1:
        return chosen[0][0]
    if not chosen:
        found = "; ".join(
            f"'{ws.title}': " + ("empty" if header is None else f"columns {header[:8]}")
            for ws, header, _, _ in surveyed
        )
        raise SheetError(
            "missing_column",
            f"{sheet}: none of its {len(worksheets)} worksheets has both a URL column (one of "
            f"{list(URL_COLUMN_NAMES)}) and a score column (one of {list(SCORE_COLUMN_NAMES)}); "
            f"read {found}",
        )
    names = ", ".join(f"'{ws.title}'" for ws, *_ in chosen)
    raise SheetError(
        "ambiguous_worksheet",
        f"{sheet}: the worksheets {names} all have URL and score columns"
        + (" and rows" if with_rows else "")
        + "; keep the videos on one worksheet (or rename the columns of the others)",
    )


def _xlsx_rows(path: Path, sheet: str) -> tuple[str, Iterator[tuple[int, Sequence[object]]]]:
    """(label naming the worksheet read, its (row number, cells)); formulas give their cached
    value or None. The worksheet is the only one with URL and score columns (``read_sheet``)."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise SheetError("unreadable", f"{sheet}: not a readable XLSX workbook ({exc})") from exc
    try:
        worksheet = _choose_worksheet(workbook, sheet)
    except SheetError:
        workbook.close()
        raise
    except Exception as exc:
        workbook.close()
        raise SheetError("unreadable", f"{sheet}: the workbook could not be read ({exc})") from exc
    label = _worksheet_label(sheet, worksheet)
    return label, _worksheet_rows(workbook, worksheet, label)


def _worksheet_rows(workbook, worksheet, label: str) -> Iterator[tuple[int, Sequence[object]]]:
    """(row number, cells) of ``worksheet``; closes ``workbook`` when done."""
    try:
        worksheet.reset_dimensions()  # some writers store a wrong "dimension": read every cell
        try:
            yield from enumerate(worksheet.iter_rows(values_only=True), start=1)
        except SheetError:
            raise
        except Exception as exc:
            raise SheetError(
                "unreadable", f"{label}: the worksheet could not be read ({exc})"
            ) from exc
    finally:
        workbook.close()


def _decode_csv(data: bytes, sheet: str) -> str:
    """Text of a CSV file: BOM-aware UTF-8/UTF-16, then strict UTF-8, then cp1252."""
    boms = (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    for bom, encoding in boms:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SheetError(
                    "unreadable",
                    f"{sheet}: starts with a {encoding} byte-order mark but is not"
                    f" valid {encoding} ({exc})",
                ) from exc
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SheetError("unreadable", f"{sheet}: the text is neither UTF-8, UTF-16 nor cp1252")


def _first_record(text: str, delimiter: str) -> list[str]:
    """The first non-blank record of ``text`` parsed with ``delimiter`` (empty when none)."""
    sample = io.StringIO(text[:_SNIFF_BYTES], newline="")
    try:
        for record in csv.reader(sample, delimiter=delimiter):
            if not all(_is_blank(c) for c in record):
                return record
    except csv.Error:
        return []
    return []


def _choose_delimiter(text: str) -> str:
    """The delimiter (, ; or tab) whose header has most known columns; the sniffer breaks ties."""
    try:
        sniffed = csv.Sniffer().sniff(text[:_SNIFF_BYTES], delimiters="".join(CSV_DELIMITERS))
        preferred = sniffed.delimiter
    except csv.Error:
        preferred = ","
    order = [preferred, *(d for d in CSV_DELIMITERS if d != preferred)]

    def recognized(delimiter: str) -> int:
        keys = {column_key(c) for c in _first_record(text, delimiter)}
        return int(bool(keys & _URL_KEYS)) + int(bool(keys & _SCORE_KEYS))

    return max(order, key=recognized)  # max keeps the first of equals: the sniffed one


def _csv_rows(path: Path, sheet: str) -> Iterator[tuple[int, Sequence[object]]]:
    """(record number, cells) of a CSV file; cells stay text exactly as written."""
    text = _decode_csv(path.read_bytes(), sheet)
    if "\x00" in text:
        raise SheetError(
            "unreadable", f"{sheet}: contains NUL characters (a binary file, or UTF-16 without BOM)"
        )
    delimiter = _choose_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from enumerate(reader, start=1)
    except csv.Error as exc:
        raise SheetError("unreadable", f"{sheet}: malformed CSV ({exc})") from exc


def _parquet_rows(path: Path, sheet: str) -> Iterator[tuple[int, Sequence[object]]]:
    """(row number, cells) of a Parquet file: column names are row 1, data from row 2."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise SheetError("unreadable", f"{sheet}: not a readable Parquet file ({exc})") from exc
    if table.num_columns == 0:
        raise SheetError("empty", f"{sheet}: the Parquet file has no columns")
    yield 1, list(table.column_names)
    columns = [column.to_pylist() for column in table.columns]
    for offset, cells in enumerate(zip(*columns, strict=True)):
        yield offset + 2, cells


def read_sheet(path: Path) -> pd.DataFrame:
    """Raw rows of a sheet: source_sheet, source_row (header = 1), raw_url, raw_score.

    A workbook is read from its one worksheet that has the URL and score columns (the one with
    rows, when others have only the header); several such worksheets are an error naming them,
    and every message says which worksheet was read.
    """
    path = Path(path)
    sheet = path.name
    if not path.exists():
        raise SheetError("file_not_found", f"{path}: the sheet does not exist")
    if not path.is_file():
        raise SheetError("file_not_found", f"{path}: is not a file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise SheetError(
            "unsupported_format",
            f"{sheet}: unsupported file type {suffix or '(none)'!r}; use one of "
            f"{list(SUPPORTED_EXTENSIONS)}",
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SheetError("unreadable", f"{path}: cannot be read ({exc})") from exc
    if size == 0:
        raise SheetError("empty", f"{sheet}: the file is empty (0 bytes)")
    label = sheet
    if suffix in XLSX_EXTENSIONS:
        label, rows = _xlsx_rows(path, sheet)
    elif suffix in CSV_EXTENSIONS:
        rows = _csv_rows(path, sheet)
    else:
        rows = _parquet_rows(path, sheet)
    try:
        return _rows_to_frame(sheet, rows, label)
    except OSError as exc:
        raise SheetError("unreadable", f"{path}: cannot be read ({exc})") from exc
