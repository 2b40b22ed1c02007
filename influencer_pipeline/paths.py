"""Where the lake and the Dagster instance live: environment first, then the project folder."""

from __future__ import annotations

import os
from pathlib import Path

LAKE_ENV = "INFLUENCER_LAKE"
PACKAGE_DIR = Path(__file__).resolve().parent


def project_dir() -> Path:
    """The checkout this package runs from (editable install), else the current directory."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").is_file() and (candidate / "workspace.yaml").is_file():
        return candidate
    return Path.cwd()


def lake_root() -> str:
    """The lake root: ``$INFLUENCER_LAKE`` (a path or an fsspec URL) or ``<project>/data_lake``."""
    configured = os.environ.get(LAKE_ENV, "").strip()
    if configured:
        return configured if "://" in configured else str(Path(configured).expanduser().resolve())
    return str(project_dir() / "data_lake")


def default_dagster_home() -> Path:
    """The Dagster instance folder the CLI and ``dagster dev`` share unless DAGSTER_HOME is set."""
    return project_dir() / ".dagster_home"
