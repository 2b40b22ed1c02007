"""The case and outcome types of the hostile corpus, and where a pipeline corpus lives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from influencer_pipeline_tests.hostile import media

# --- expected outcomes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    """The row is in ``rejected_rows`` with this ``reason_code``."""

    reason_code: str


@dataclass(frozen=True)
class Failed:
    """The row's video partition is ``status == "failed"`` with this ``error_code``."""

    error_code: str


@dataclass(frozen=True)
class Ok:
    """The row's partition is ``status == "ok"``; ``check(files_row, frames)`` asserts more."""

    check: Callable[[pd.Series, pd.DataFrame], None] | None = None


@dataclass(frozen=True)
class SheetFails:
    """Reading the sheet raises ``SheetError`` with this ``code``."""

    code: str


@dataclass(frozen=True)
class Loads:
    """The sheet loads; ``check(catalog, rejected)`` asserts what became of its rows."""

    check: Callable[[pd.DataFrame, pd.DataFrame], None]


# --- where a pipeline corpus lives -------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """The corpus sheet's folder (the allowed local root), a folder outside it, the server."""

    sheet_dir: Path
    outside: Path
    port: int  # the hostile server every default policy must refuse (127.0.0.1)
    open_port: int = 0  # a server the corpus run may reach (127.0.0.2, see pipeline.py)

    def secret(self, name: str) -> Path:
        """A real video outside the allowed folder (one per case: same file, same video)."""
        path = self.outside / name
        return path if path.exists() else media.private_clip(self.outside, name)


@dataclass(frozen=True)
class RowCase:
    """One sheet row of the pipeline corpus: ``cell(where)`` makes its files, returns its URL."""

    id: str
    cell: Callable[[Where], str]
    expect: Rejected | Failed | Ok
    score: str = "0.5"


@dataclass(frozen=True)
class SheetCase:
    """A whole sheet: ``build(folder)`` writes it and returns its path."""

    id: str
    build: Callable[[Path], Path]
    expect: SheetFails | Loads


@dataclass(frozen=True)
class FetchCase:
    """A server route fetched with the default policy (127.0.0.1 counted as public)."""

    id: str
    route: str
    code: str
    policy: dict[str, object] = field(default_factory=dict)
