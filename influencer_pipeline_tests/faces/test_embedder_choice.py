"""The embedder a run uses: explicit, else the lake's, else FaceNet where its weights are."""

from __future__ import annotations

from pathlib import Path

import pytest

from influencer_pipeline.faces.embedder_choice import choose_embedder
from influencer_pipeline.faces.weights import FACENET_WEIGHTS_ENV, EmbedderUnavailable


@pytest.fixture()
def weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vggface2.pt"
    monkeypatch.setenv(FACENET_WEIGHTS_ENV, str(path))
    return path


def test_auto_picks_dlib_without_weights_and_facenet_with_them(weights: Path) -> None:
    assert choose_embedder("auto").name == "dlib"
    assert "no FaceNet weights" in choose_embedder(None).reason
    weights.write_bytes(b"state dict")
    assert choose_embedder("").name == "facenet"


def test_auto_keeps_the_lakes_embedder(weights: Path) -> None:
    weights.write_bytes(b"state dict")
    choice = choose_embedder("auto", lake_embedder="dlib")
    assert choice.name == "dlib" and "lake" in choice.reason


def test_a_facenet_lake_without_weights_is_a_clear_error(weights: Path) -> None:
    with pytest.raises(EmbedderUnavailable, match="--embedder dlib"):
        choose_embedder("auto", lake_embedder="facenet")


def test_an_explicit_embedder_wins_and_a_missing_one_fails_early(weights: Path) -> None:
    assert choose_embedder("dlib", lake_embedder="facenet").name == "dlib"
    with pytest.raises(EmbedderUnavailable) as error:
        choose_embedder("facenet")
    assert str(weights) in str(error.value) and error.value.code == "facenet_weights_missing"
    with pytest.raises(ValueError, match="unknown embedder"):
        choose_embedder("arcface")
