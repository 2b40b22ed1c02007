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


def lake_root(configured: str | None = None) -> str:
    """The lake root: ``configured``, else ``$INFLUENCER_LAKE`` (a path or an fsspec URL), else
    ``<project>/data_lake``."""
    configured = (configured or os.environ.get(LAKE_ENV, "")).strip()
    if configured:
        return configured if "://" in configured else str(Path(configured).expanduser().resolve())
    return str(project_dir() / "data_lake")


def dagster_home() -> Path:
    """The Dagster instance folder the CLI and ``dagster dev`` share: ``$DAGSTER_HOME``, else
    ``<project>/.dagster_home``."""
    configured = os.environ.get("DAGSTER_HOME", "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    return project_dir() / ".dagster_home"
