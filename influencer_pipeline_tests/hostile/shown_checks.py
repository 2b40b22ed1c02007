"""Collect everything a run shows a person, to check that none of it is unprintable or secret.

Places: the lake's error and reason columns, every string of the Dagster event log (messages,
metadata, step failures), the terminal lines, and the report files (the HTML page, every CSV
cell, every XLSX cell with its type).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import openpyxl
import pyarrow.parquet as pq
from dagster._serdes import serialize_value

from influencer_pipeline.display import FORMULA_STARTS
from influencer_pipeline_tests.hostile.shown import leaks, unsafe

LAKE_TEXT_COLUMNS = {  # asset -> columns people read (errors, reasons, decisions)
    "video_files": ("error",),
    "video_influencers": ("error", "assignment"),
    "rejected_rows": ("reason",),
    "outro_fingerprints": ("reason",),
    "video_faces": ("decision",),
}


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def event_log_strings(dagster_home: Path, run_ids: list[str] | None = None) -> list[str]:
    """Every string in the event log of ``run_ids`` (default: every run), entries serialized
    and walked."""
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    found: list[str] = []
    try:
        if run_ids is None:
            run_ids = [run.run_id for run in instance.get_runs()]
        for run_id in run_ids:
            records = instance.get_records_for_run(run_id, limit=100_000).records
            for record in records:
                entry = json.loads(serialize_value(record.event_log_entry))
                found.extend(_strings(entry))
    finally:
        instance.dispose()
    return found


def lake_problems(lake: Path) -> list[str]:
    """What the lake's error, reason and decision columns show that they must not."""
    found: list[str] = []
    for asset, columns in LAKE_TEXT_COLUMNS.items():
        single = lake / f"{asset}.parquet"
        paths = [single] if single.exists() else sorted((lake / asset).glob("*.parquet"))
        for path in paths:
            table = pq.read_table(path).to_pandas()
            for column in columns:
                texts = [v for v in table[column] if isinstance(v, str)]
                found += problems(texts, f"{asset}.{column}", lines=False)
    return found


def problems(texts: list[str], where: str, lines: bool = True) -> list[str]:
    """One line per text that shows an unprintable character or a planted secret."""
    out = []
    for text in texts:
        bad, secret = unsafe(text, lines), leaks(text)
        if bad or secret:
            out.append(f"{where}: {text[:300]!r} unprintable={bad} secrets={secret}")
    return out


def csv_cells(path: Path) -> list[str]:
    """Every cell of a CSV file."""
    rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
    return [cell for row in rows for cell in row]


def xlsx_cells(path: Path) -> list[tuple[str, str, object]]:
    """(sheet, data type, value) of every non-empty cell of a workbook."""
    workbook = openpyxl.load_workbook(path)
    return [
        (sheet.title, cell.data_type, cell.value)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.value is not None
    ]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def report_problems(folder: Path) -> list[str]:
    """What the report files in ``folder`` show that they must not (see the module doc)."""
    out = problems([(folder / "leaderboard.html").read_text(encoding="utf-8")], "html")
    cells = csv_cells(folder / "leaderboard.csv")
    out += problems(cells, "csv", lines=False)
    out += [f"csv formula {c!r}" for c in cells if c[:1] in FORMULA_STARTS and not _number(c)]
    for sheet, kind, value in xlsx_cells(folder / "leaderboard.xlsx"):
        if kind == "f":
            out.append(f"xlsx {sheet}: live formula {value!r}")
        if isinstance(value, str):
            out += problems([value], f"xlsx {sheet}", lines=False)
    return out
