"""The inbox of sheets: which sheets are there, settled, and what changed since the last look.

Users drop sheets into an inbox folder (``<lake>/inbox/`` unless ``$INFLUENCER_INBOX`` names
another). A watcher (the Dagster inbox sensor) keeps an ``InboxState``: the SHA-256 of every sheet
it has handed to the catalog, which registers them (``catalog.sources``). This module is the pure
part: scan the folder, diff it against the state, and say which sheets cannot be used.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from influencer_pipeline.catalog.sheets import SUPPORTED_EXTENSIONS, SheetError, read_sheet
from influencer_pipeline.catalog.sources import file_sha256
from influencer_pipeline.errors import InputError

INBOX_ENV = "INFLUENCER_INBOX"
INBOX_DIR_NAME = "inbox"
# A sheet is read once it has not been modified for this long, so a sheet still being copied in is
# not read half-written (it would be re-read when it changes again, but would cost a catalog run).
DEFAULT_MIN_AGE_S = 5.0
CURSOR_VERSION = 2


class InboxError(InputError):
    """The inbox or the watcher's cursor cannot be used; ``code`` is machine-readable."""


def inbox_dir(lake_root: str) -> Path:
    """The inbox folder: ``$INFLUENCER_INBOX`` if set, else ``<lake_root>/inbox``."""
    configured = os.environ.get(INBOX_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    if "://" in lake_root and not lake_root.startswith("file://"):
        raise InboxError(
            "remote_lake",
            f"the lake {lake_root} is remote; set ${INBOX_ENV} to a local inbox folder",
        )
    return Path(lake_root.removeprefix("file://")) / INBOX_DIR_NAME


def is_sheet_name(name: str) -> bool:
    """True for a file name the inbox reads: a supported sheet, not hidden, not an Excel lock."""
    return not name.startswith((".", "~$")) and Path(name).suffix.lower() in SUPPORTED_EXTENSIONS


def scan_inbox(
    folder: Path, min_age_s: float = DEFAULT_MIN_AGE_S, now: float | None = None
) -> tuple[dict[str, str], list[str]]:
    """(sheet name -> SHA-256 of the settled sheets, names still too fresh to read) of ``folder``.

    A missing folder is an empty inbox; a path that is not a folder raises InboxError.
    """
    if not folder.exists():
        return {}, []
    if not folder.is_dir():
        raise InboxError("not_a_folder", f"the inbox {folder} is not a folder")
    now = time.time() if now is None else now
    sheets: dict[str, str] = {}
    fresh: list[str] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not is_sheet_name(path.name):
            continue
        try:
            if now - path.stat().st_mtime < min_age_s:
                fresh.append(path.name)
                continue
            sheets[path.name] = file_sha256(path)
        except FileNotFoundError:  # removed while we looked: it is simply not there
            continue
    return sheets, fresh


def inbox_digest(sheets: Mapping[str, str]) -> str:
    """One SHA-256 over every (name, content hash) pair: equal digests, equal inboxes."""
    digest = hashlib.sha256()
    for name in sorted(sheets):
        digest.update(f"{name}\0{sheets[name]}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class InboxChange:
    """Sheets added, changed (other content) and removed since the last look."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        """True when anything changed."""
        return bool(self.added or self.changed or self.removed)

    def describe(self) -> str:
        """A short sentence for logs: ``added a.xlsx; changed b.csv``."""
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("added", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
            )
            if names
        ]
        return "; ".join(parts) or "no change"


def diff_inbox(previous: Mapping[str, str], current: Mapping[str, str]) -> InboxChange:
    """What changed between two ``name -> sha256`` maps."""
    return InboxChange(
        added=tuple(sorted(set(current) - set(previous))),
        changed=tuple(sorted(n for n in current if n in previous and previous[n] != current[n])),
        removed=tuple(sorted(set(previous) - set(current))),
    )


@dataclass(frozen=True)
class InboxState:
    """The watcher's memory (its cursor): the SHA-256 of every sheet it has handed to the catalog.

    ``generation`` counts the inbox changes handed on; run keys use it.
    """

    sheets: dict[str, str] = field(default_factory=dict)
    generation: int = 0

    def to_cursor(self) -> str:
        """The state as a JSON cursor string."""
        return json.dumps(
            {
                "version": CURSOR_VERSION,
                "sheets": dict(sorted(self.sheets.items())),
                "generation": self.generation,
            },
            sort_keys=True,
        )

    @classmethod
    def from_cursor(cls, cursor: str | None) -> InboxState:
        """The state of a cursor made by ``to_cursor``; None or "" is the empty state."""
        if not cursor:
            return cls()
        try:
            data = json.loads(cursor)
            if not isinstance(data, dict) or data.get("version") != CURSOR_VERSION:
                raise ValueError(f"expected a version {CURSOR_VERSION} object")
            sheets = data["sheets"]
            if not isinstance(sheets, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in sheets.items()
            ):
                raise ValueError("'sheets' must map file names to hashes")
            return cls(sheets=dict(sheets), generation=int(data.get("generation", 0)))
        except (ValueError, KeyError, TypeError) as exc:
            raise InboxError(
                "bad_cursor",
                f"the inbox sensor's cursor is not one it wrote ({exc}); reset the sensor's "
                "cursor in the Dagster UI to re-read the inbox",
            ) from exc


def unusable_sheets(folder: Path, names: Iterable[str]) -> dict[str, str]:
    """name -> why, for the sheets of ``folder`` that cannot be read or have no data row."""
    problems = {}
    for name in names:
        try:
            if read_sheet(folder / name).empty:
                problems[name] = f"{name}: no data row"
        except SheetError as exc:
            problems[name] = str(exc)
    return problems
