"""Resource settings for CLI runs: a YAML file and the CLI's flags, as Dagster run config.

The file holds the same ``resources:`` block the Dagster launchpad takes, e.g.::

    resources:
      fetcher:
        config:
          allow_private_networks: true
          local_roots: [/mnt/videos]
      face_models:
        config:
          embedder: dlib

Flags (``--allow-private-networks``, ``--local-root``) are applied on top of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

RESOURCES = ("fetcher", "face_models", "lake")


class ConfigFileError(ValueError):
    """The resources config file cannot be used; the message says where and why."""


def load_resources_file(path: Path) -> dict[str, Any]:
    """The ``resources`` block of a YAML file, checked for known resources and a config mapping."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigFileError(f"{path}: cannot be read as YAML ({type(exc).__name__})") from exc
    if not isinstance(data, dict) or set(data) - {"resources"}:
        raise ConfigFileError(f"{path}: expected one top-level key 'resources'")
    resources = data.get("resources") or {}
    if not isinstance(resources, dict):
        raise ConfigFileError(f"{path}: 'resources' must be a mapping")
    for name, value in resources.items():
        if name not in RESOURCES:
            raise ConfigFileError(
                f"{path}: unknown resource {name!r}; known: {', '.join(RESOURCES)}"
            )
        if not isinstance(value, dict) or not isinstance(value.get("config", {}), dict):
            raise ConfigFileError(f"{path}: resources.{name} must be {{config: {{...}}}}")
    return {name: {"config": dict(value.get("config") or {})} for name, value in resources.items()}


def cli_resources(
    config_file: Path | None,
    *,
    allow_private_networks: bool = False,
    local_roots: Sequence[str] = (),
) -> dict[str, Any]:
    """The resources run config of one CLI invocation: the file, then the flags on top."""
    resources = load_resources_file(config_file) if config_file else {}
    fetcher = resources.setdefault("fetcher", {"config": {}})["config"]
    if allow_private_networks:
        fetcher["allow_private_networks"] = True
    if local_roots:
        fetcher["local_roots"] = [str(Path(r).expanduser().resolve()) for r in local_roots]
    if not fetcher:
        resources.pop("fetcher")
    return resources
