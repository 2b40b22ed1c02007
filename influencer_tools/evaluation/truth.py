"""Load and validate a truth file: which influencer each video URL really belongs to.

A truth file is CSV, XLSX or Parquet with one row per sheet row (the demo writes ``truth.csv``).
Columns are matched case- and space-insensitively (``Video URL`` == ``video_url``):

- required: ``video_url`` (as written in the sheet; may be a relative path) and ``influencer``
  (the true label, e.g. ``face:<identity>`` or ``outro:<brand>``);
- optional: ``kind`` (``face`` | ``faceless``, any case) and ``duplicate_group`` (the
  original upload of a re-upload); any other columns are kept as they are.

The result has one row per distinct URL: rows repeating a URL with the same influencer (the
same video listed twice in the sheet) are folded into one, with ``n_rows`` counting them; a URL
listed with two different influencers or kinds is an error, as are missing columns or values.
Every error is a :class:`TruthFileError` with a machine-readable ``code``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from influencer_pipeline.errors import InputError

REQUIRED_COLUMNS = ("video_url", "influencer")
OPTIONAL_COLUMNS = ("kind", "duplicate_group")
KINDS = ("face", "faceless")


class TruthFileError(InputError):
    """A truth file that cannot be used, with a machine-readable ``code``."""


def _canonical(name: object) -> str:
    """Column name folded for matching: lower case, spaces and dashes as underscores."""
    return "_".join(str(name).strip().lower().replace("-", " ").split())


def _read(path: Path) -> pd.DataFrame:
    """Read the file as strings (CSV/XLSX) or as stored (Parquet)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if suffix in (".xlsx", ".xlsm"):
            return pd.read_excel(path, dtype=str, keep_default_na=False)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise TruthFileError("unreadable", f"truth file {path} could not be read: {exc}") from exc
    raise TruthFileError(
        "unsupported_format",
        f"truth file {path} has suffix {suffix!r}; use .csv, .xlsx or .parquet",
    )


def _blank(series: pd.Series) -> pd.Series:
    """True where a value is missing or only whitespace."""
    return series.isna() | (series.astype("string").str.strip().fillna("") == "")


def _rows_text(mask: pd.Series) -> str:
    """Spreadsheet row numbers (header = row 1) of the True entries, abbreviated."""
    rows = [int(i) + 2 for i in mask[mask].index[:10]]
    more = int(mask.sum()) - len(rows)
    return ", ".join(map(str, rows)) + (f" and {more} more" if more > 0 else "")


def validate_truth(raw: pd.DataFrame, source: str = "truth") -> pd.DataFrame:
    """Validate a raw truth table and fold repeated URLs; see the module docstring for rules."""
    renamed: dict[str, str] = {}
    for col in raw.columns:
        key = _canonical(col)
        if key in renamed.values():
            raise TruthFileError(
                "duplicate_column", f"{source} has two columns that both mean {key!r}"
            )
        renamed[col] = key
    df = raw.rename(columns=renamed).reset_index(drop=True)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise TruthFileError(
            "missing_columns",
            f"{source} lacks required column(s) {missing}; it has {list(raw.columns)}",
        )
    for col in REQUIRED_COLUMNS:
        blank = _blank(df[col])
        if blank.any():
            raise TruthFileError(
                "missing_value", f"{source} has no {col} in row(s) {_rows_text(blank)}"
            )
        df[col] = df[col].astype(str).str.strip()
    for col in OPTIONAL_COLUMNS:
        if col not in df.columns:
            df[col] = None
        else:
            text = df[col].astype("string").str.strip()
            if col == "kind":
                text = text.str.lower()
            text = text.replace("", pd.NA).astype(object)
            df[col] = text.where(text.notna(), None)
    if "kind" in renamed.values():
        bad = df["kind"].notna() & ~df["kind"].isin(KINDS)
        if bad.any():
            values = sorted(set(df.loc[bad, "kind"]))
            raise TruthFileError(
                "bad_kind",
                f"{source} has kind {values} in row(s) {_rows_text(bad)}; allowed: {list(KINDS)}",
            )
    df["source_row"] = df.index + 2
    for col in ("influencer", "kind"):
        labels = df.groupby("video_url")[col].nunique(dropna=False)
        conflicting = labels[labels > 1]
        if len(conflicting):
            url = conflicting.index[0]
            values = sorted(map(str, df.loc[df["video_url"] == url, col].unique()))
            raise TruthFileError(
                "conflicting_labels",
                f"{source} lists {len(conflicting)} URL(s) with different {col} values, "
                f"e.g. {url!r}: {values}",
            )
    counts = df.groupby("video_url").size().rename("n_rows")
    folded = df.drop_duplicates("video_url", keep="first").set_index("video_url")
    folded = folded.join(counts).reset_index()
    front = ["video_url", "influencer", "kind", "duplicate_group", "n_rows", "source_row"]
    return folded[front + [c for c in folded.columns if c not in front]]


def load_truth(path: str | Path) -> pd.DataFrame:
    """Read and validate a truth file; one row per distinct ``video_url`` (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise TruthFileError("not_found", f"truth file {path} does not exist")
    raw = _read(path)
    return validate_truth(raw, source=f"truth file {path.name}")
