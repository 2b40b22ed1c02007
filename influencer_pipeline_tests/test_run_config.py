"""Resource settings for CLI runs: a YAML file, then the flags on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from influencer_pipeline.run_config import ConfigFileError, cli_resources


def test_flags_alone(tmp_path: Path) -> None:
    assert cli_resources(None) == {}
    config = cli_resources(None, allow_private_networks=True, local_roots=[str(tmp_path)])
    assert config == {
        "fetcher": {"config": {"allow_private_networks": True, "local_roots": [str(tmp_path)]}}
    }


def test_file_then_flags(tmp_path: Path) -> None:
    file = tmp_path / "resources.yaml"
    file.write_text(
        "resources:\n  fetcher:\n    config:\n      retries: 1\n"
        "  face_models:\n    config:\n      embedder: dlib\n"
    )
    config = cli_resources(file, allow_private_networks=True)
    assert config["fetcher"]["config"] == {"retries": 1, "allow_private_networks": True}
    assert config["face_models"]["config"] == {"embedder": "dlib"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("resources: [1, 2]\n", "must be a mapping"),
        ("other: 1\n", "one top-level key"),
        ("resources:\n  gpu: {config: {}}\n", "unknown resource 'gpu'"),
        ("resources:\n  fetcher: 3\n", "resources.fetcher"),
        ("resources: {fetcher: [\n", "cannot be read as YAML"),
    ],
)
def test_bad_files_say_why(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "resources.yaml"
    file.write_text(text)
    with pytest.raises(ConfigFileError, match=message):
        cli_resources(file)
