"""The sheets the project has been given: the catalog is the union of every active one.

A sheet given to ``influencer-pipeline run --input`` or dropped into the inbox is *registered*: a
copy of its bytes is kept in the lake (``<lake>/sheets/<sha256><suffix>``) and a row in the
``sheet_sources`` table names it by its absolute path (``source``). The catalog is built from the
copies of every source that is not retired, so a sheet later deleted or moved keeps its videos.

* the same file given again (same path, same bytes): nothing changes;
* a changed file at a known path replaces that source's copy (new scores, added or removed rows);
* another path with the same bytes as an active source is registered but read once;
* ``retire`` takes a source out of the catalog (its videos leave the ranking); giving the sheet
  again brings it back.

Relative video paths in a sheet stay relative to the sheet's original folder, and that folder
stays the default place local videos may be read from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from influencer_pipeline.catalog.build import build_catalog
from influencer_pipeline.catalog.sheets import SHEET_COLUMNS, SheetError, read_sheet
from influencer_pipeline.errors import InputError
from influencer_pipeline.lake import as_upath, local_copy
from influencer_pipeline.lake_schema import SHEET_SOURCES

SNAPSHOT_DIR = "sheets"
_CHUNK = 1 << 20


class SourcesError(InputError):
    """A registry operation that cannot be done (unknown or ambiguous sheet); ``code`` says why."""


@dataclass(frozen=True)
class SourceChange:
    """What registering or retiring did to one source."""

    source: str
    change: str  # "added", "updated", "unchanged", "retired", "restored"

    def describe(self) -> str:
        """``<file name>: <change>``."""
        return f"{Path(self.source).name}: {self.change}"


def empty_sources() -> pd.DataFrame:
    """A registry without any sheet."""
    return SHEET_SOURCES.empty_table().to_pandas()


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as 64 lowercase hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot_name(sha256: str, suffix: str) -> str:
    """The lake file name of a sheet's copy: its hash plus its (lower-case) type suffix."""
    return f"{sha256}{suffix.lower()}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def register(
    registry: pd.DataFrame, sheets: Sequence[Path], now: str | None = None
) -> tuple[pd.DataFrame, list[SourceChange], list[tuple[Path, str]]]:
    """(new registry, what changed, (sheet, snapshot name) copies to write) for ``sheets``.

    Every sheet must be readable and have at least one data row, else SheetError: an unusable
    sheet is never registered.
    """
    stamp = now or _now()
    table = registry.copy() if len(registry) else empty_sources()
    changes: list[SourceChange] = []
    copies: list[tuple[Path, str]] = []
    for raw in sheets:
        path = Path(raw).expanduser().resolve()
        rows = len(read_sheet(path))  # raises SheetError for an unusable sheet
        sha = file_sha256(path)
        name = snapshot_name(sha, path.suffix)
        source = str(path)
        known = table.index[table["source"] == source]
        if len(known) == 0:
            row = {
                "source": source,
                "sha256": sha,
                "snapshot": name,
                "rows": rows,
                "added_at": stamp,
                "updated_at": stamp,
                "retired_at": None,
            }
            table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
            changes.append(SourceChange(source, "added"))
            copies.append((path, name))
            continue
        i = known[0]
        retired = pd.notna(table.at[i, "retired_at"])
        if table.at[i, "sha256"] == sha and not retired:
            changes.append(SourceChange(source, "unchanged"))
            continue
        changes.append(
            SourceChange(source, "updated" if table.at[i, "sha256"] != sha else "restored")
        )
        table.loc[i, ["sha256", "snapshot", "rows", "updated_at", "retired_at"]] = [
            sha,
            name,
            rows,
            stamp,
            None,
        ]
        copies.append((path, name))
    return _typed(table), changes, copies


def find_source(registry: pd.DataFrame, name: str) -> str:
    """The source a user means by ``name``: an exact path, else a unique file name."""
    sources = list(registry["source"])
    resolved = str(Path(name).expanduser().resolve())
    if name in sources:
        return name
    if resolved in sources:
        return resolved
    matches = [s for s in sources if Path(s).name == name]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = ", ".join(Path(s).name for s in sources) or "none"
        raise SourcesError(
            "unknown_sheet", f"no registered sheet is called {name!r} (known: {known})"
        )
    raise SourcesError(
        "ambiguous_sheet",
        f"{len(matches)} registered sheets are called {name!r}; give the full path: "
        + ", ".join(matches),
    )


def retire(
    registry: pd.DataFrame, names: Iterable[str], now: str | None = None
) -> tuple[pd.DataFrame, list[SourceChange]]:
    """The registry with the sheets ``names`` retired (SourcesError for an unknown one)."""
    stamp = now or _now()
    table = registry.copy()
    changes = []
    for name in names:
        source = find_source(table, name)
        i = table.index[table["source"] == source][0]
        if pd.isna(table.at[i, "retired_at"]):
            table.at[i, "retired_at"] = stamp
            changes.append(SourceChange(source, "retired"))
        else:
            changes.append(SourceChange(source, "unchanged"))
    return _typed(table), changes


def active_sources(registry: pd.DataFrame) -> pd.DataFrame:
    """The sources that make up the catalog: not retired, one per distinct content, oldest first."""
    if registry.empty:
        return registry
    active = registry[registry["retired_at"].isna()]
    return active.sort_values(["added_at", "source"]).drop_duplicates("sha256")


def build_registered_catalog(
    registry: pd.DataFrame, snapshot_dir: Path | str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(catalog, rejected) of every active source, read from its copy in ``snapshot_dir``.

    ``source_sheet`` is the sheet's original path; relative video paths resolve against its
    original folder. A missing copy raises SheetError (code ``snapshot_missing``).
    """
    frames: list[pd.DataFrame] = []
    base_dirs: dict[str, Path] = {}
    for source, snapshot in active_sources(registry)[["source", "snapshot"]].itertuples(
        index=False
    ):
        copy = as_upath(snapshot_dir) / snapshot
        if not copy.is_file():
            raise SheetError(
                "snapshot_missing",
                f"the lake's copy of {source} ({copy}) is missing; give the sheet again",
            )
        with local_copy(copy) as local:  # a download when the lake is on an object store
            frame = read_sheet(local)
        frame["source_sheet"] = source
        base_dirs[source] = Path(source).parent
        frames.append(frame)
    rows = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({c: [] for c in SHEET_COLUMNS})
    )
    return build_catalog(rows, base_dirs)


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    out = table.reset_index(drop=True)
    out["rows"] = out["rows"].astype("int64")
    out["retired_at"] = out["retired_at"].astype(object).where(out["retired_at"].notna(), None)
    return out[SHEET_SOURCES.names]
