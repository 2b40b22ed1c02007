"""The report's CSV and XLSX bytes, and writing the report's files as one set or not at all.

Text cells come from people and sheets (URLs, names, errors, notes), so:

* every text cell is made safe to show (``display.show``: secrets redacted, control characters
  visible; an XLSX file cannot even hold most of them, openpyxl refuses to write it);
* no text cell can become a formula (OWASP CSV injection: a leading ``= + - @``, tab or CR).
  In the CSV such a cell gets a leading ``'``; in the XLSX every text cell is an explicit string
  cell (``data_type 's'``, never ``'f'``), and one that starts like a formula also carries
  Excel's ``quotePrefix`` so that editing it keeps it text.

``write_file_set`` writes every file into a hidden staging folder beside the outputs, then moves
each into place; if a move fails, the files already moved are put back, so the folder holds the
previous set or the new one, never a mix.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from influencer_pipeline.display import FORMULA_STARTS, show, spreadsheet_text
from influencer_pipeline.lake import fsync_dir, write_synced
from influencer_pipeline.xlsx_files import without_save_times

CELL_LIMIT = 2000  # characters of one text cell
# XLSX number formats by column: shares as percent, performance figures with 3 decimals
PERCENT = "0.0%"
DECIMALS = "0.000"
NUMBER_FORMATS = {
    "shrinkage": PERCENT,
    "consistency": PERCENT,
    **dict.fromkeys(
        (
            "performance",
            "mean_performance",
            "median_performance",
            "std_performance",
            "min_performance",
            "max_performance",
            "ci_low",
            "ci_high",
            "score",
            "score_low",
            "score_high",
            "heterogeneity_p",
        ),
        DECIMALS,
    ),
}


def text_cells(frame: pd.DataFrame, rule: Callable[[object, int], str]) -> pd.DataFrame:
    """A copy of ``frame`` with ``rule(value, CELL_LIMIT)`` applied to every text cell."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = [
                rule(value, CELL_LIMIT) if isinstance(value, str) else value
                for value in out[column]
            ]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of ``frame``: text cells safe to show and never a formula."""
    safe = text_cells(frame, spreadsheet_text)
    return safe.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _inert(sheet) -> None:
    """Make every text cell of an openpyxl worksheet an explicit string, never a formula."""
    for row in sheet.iter_rows():
        for cell in row:
            if not isinstance(cell.value, str):
                continue
            if cell.data_type == "f" or cell.value[:1] in FORMULA_STARTS:
                cell.data_type = "s"
                cell.quotePrefix = True


def xlsx_bytes(
    leaderboard: pd.DataFrame, video_rows: pd.DataFrame, about: list[tuple[str, str]]
) -> bytes:
    """The workbook (sheets leaderboard, videos, about) as deterministic XLSX bytes."""
    from openpyxl.utils import get_column_letter

    leaderboard = text_cells(leaderboard, show)
    video_rows = text_cells(video_rows, show)
    about_frame = text_cells(pd.DataFrame(about, columns=["item", "meaning"]), show)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        leaderboard.to_excel(writer, sheet_name="leaderboard", index=False)
        video_rows.to_excel(writer, sheet_name="videos", index=False)
        about_frame.to_excel(writer, sheet_name="about", index=False)
        for name, frame in (("leaderboard", leaderboard), ("videos", video_rows)):
            sheet = writer.sheets[name]
            sheet.freeze_panes = "A2"
            if len(frame.columns):
                last = get_column_letter(len(frame.columns))
                sheet.auto_filter.ref = f"A1:{last}{max(1, len(frame) + 1)}"
            for index, column in enumerate(frame.columns, start=1):
                width = min(60, max(10, len(str(column)) + 2))
                letter = get_column_letter(index)
                sheet.column_dimensions[letter].width = width
                number_format = NUMBER_FORMATS.get(str(column))
                if number_format:
                    for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                        cell.number_format = number_format
        about_sheet = writer.sheets["about"]
        about_sheet.column_dimensions["A"].width = 36
        about_sheet.column_dimensions["B"].width = 120
        for sheet in writer.sheets.values():
            _inert(sheet)
    return without_save_times(buffer.getvalue())


def _keep_old(target: Path, backup: Path) -> bool:
    """Keep a copy of ``target`` at ``backup`` (a hard link, else a copy); False if none."""
    if not target.exists():
        return False
    try:
        os.link(target, backup)
    except OSError:
        shutil.copy2(target, backup)
    return True


def write_file_set(out_dir: Path, files: Mapping[str, bytes]) -> dict[str, Path]:
    """Write ``files`` (name -> bytes) into ``out_dir`` as one set: all new, or all as before."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".report-", suffix=".tmp", dir=out_dir))
    try:
        for name, data in files.items():
            write_synced(staging / name, data)
        backups = staging / "previous"
        backups.mkdir()
        kept = {name for name in files if _keep_old(out_dir / name, backups / name)}
        placed: list[str] = []
        try:
            for name in files:
                os.replace(staging / name, out_dir / name)
                placed.append(name)
        except BaseException:
            for name in placed:  # put the previous set back
                if name in kept:
                    os.replace(backups / name, out_dir / name)
                else:
                    (out_dir / name).unlink(missing_ok=True)
            raise
        fsync_dir(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: out_dir / name for name in files}
