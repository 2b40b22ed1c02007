"""Face embedders: dlib (offline) and FaceNet (weights from a local file), behind one interface."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from facenet_pytorch import InceptionResnetV1
from PIL import Image

from influencer_pipeline.faces import embedders
from influencer_pipeline.faces.detection import Detection, FaceDetector
from influencer_pipeline.faces.embedders import (
    DLIB_SAME_PERSON_DISTANCE,
    DlibEmbedder,
    FaceEmbedder,
    FacenetEmbedder,
    make_embedder,
)
from influencer_pipeline.faces.weights import (
    FACENET_WEIGHTS_ENV,
    FACENET_WEIGHTS_FILE,
    FACENET_WEIGHTS_URL,
    EmbedderUnavailable,
)

PEOPLE = {
    "barack_obama": ["1.jpg", "2.jpg", "3.jpg"],
    "joe_biden": ["1.jpg", "2.jpg"],
    "kit_harington": ["1.jpg", "2.jpg"],
    "rose_leslie": ["1.jpg", "2.jpg"],
}


@pytest.fixture(scope="module")
def dlib_embedder() -> DlibEmbedder:
    return DlibEmbedder()


@pytest.fixture(scope="module")
def faces(shared_dir: Path) -> list[tuple[str, np.ndarray, Detection]]:
    """(identity, image, best detection) for a few people of the shared photo set."""
    detector = FaceDetector()
    out = []
    for person, files in PEOPLE.items():
        for name in files:
            picture = Image.open(shared_dir / "faces" / person / name).convert("RGB")
            picture.thumbnail((640, 640))
            image = np.asarray(picture)
            (found,) = detector.detect([image])
            assert found, f"no face in {person}/{name}"
            out.append((person, image, found[0]))
    return out


def _synthetic_detection() -> tuple[np.ndarray, Detection]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(200, 200, 3), dtype=np.uint8)
    landmarks = np.array([[80, 90], [120, 90], [100, 110], [85, 130], [115, 130]], np.float32)
    return image, Detection((60.0, 60.0, 140.0, 150.0), 0.99, landmarks)


def test_dlib_embeddings_are_unit_norm_float32(dlib_embedder: DlibEmbedder) -> None:
    image, detection = _synthetic_detection()
    vectors = dlib_embedder.embed(image, [detection, detection])
    assert vectors.shape == (2, 128) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[1])
    assert dlib_embedder.embed(image, []).shape == (0, 128)
    assert isinstance(dlib_embedder, FaceEmbedder)
    assert "dlib_face_recognition_resnet_model_v1.dat" in dlib_embedder.version


def test_dlib_same_person_closer_than_different_people(
    dlib_embedder: DlibEmbedder, faces: list[tuple[str, np.ndarray, Detection]]
) -> None:
    vectors = np.concatenate([dlib_embedder.embed(image, [det]) for _, image, det in faces])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    same, different = [], []
    for (i, a), (j, b) in itertools.combinations(enumerate(faces), 2):
        distance = float(np.linalg.norm(vectors[i] - vectors[j]))
        (same if a[0] == b[0] else different).append(distance)
    assert max(same) < min(different)
    assert max(same) < DLIB_SAME_PERSON_DISTANCE <= min(different)


def test_facenet_missing_weights_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere" / FACENET_WEIGHTS_FILE
    monkeypatch.setenv(FACENET_WEIGHTS_ENV, str(missing))
    with pytest.raises(EmbedderUnavailable) as error:
        make_embedder("facenet")
    message = str(error.value)
    assert error.value.code == "facenet_weights_missing"
    for needed in (FACENET_WEIGHTS_FILE, str(missing), FACENET_WEIGHTS_ENV, FACENET_WEIGHTS_URL):
        assert needed in message
    assert "--embedder dlib" in message
    assert not missing.exists()


def test_facenet_default_path_is_the_torch_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(FACENET_WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    expected = tmp_path / "torch" / "checkpoints" / FACENET_WEIGHTS_FILE
    assert embedders.facenet_weights_path() == expected
    with pytest.raises(EmbedderUnavailable, match=str(expected)):
        FacenetEmbedder()


def test_facenet_download_failure_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def failing_download(url: str, dst: str, **kwargs: object) -> None:
        calls.append(url)
        raise OSError("network is unreachable")

    monkeypatch.setattr(embedders, "download_url_to_file", failing_download)
    target = tmp_path / FACENET_WEIGHTS_FILE
    with pytest.raises(EmbedderUnavailable) as error:
        FacenetEmbedder(weights_path=target, allow_download=True)
    assert calls == [FACENET_WEIGHTS_URL]
    assert "network is unreachable" in str(error.value) and str(target) in str(error.value)


def test_facenet_invalid_weights_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a state dict")
    with pytest.raises(EmbedderUnavailable) as error:
        FacenetEmbedder(weights_path=bad)
    assert error.value.code == "facenet_weights_invalid"


def test_facenet_with_a_self_written_state_dict(tmp_path: Path) -> None:
    torch.manual_seed(0)
    weights = tmp_path / "random-facenet.pt"
    torch.save(InceptionResnetV1(pretrained=None).state_dict(), weights)
    embedder = make_embedder("facenet", weights_path=weights)
    assert isinstance(embedder, FaceEmbedder)
    assert embedder.name == "facenet" and embedder.dim == 512
    assert "random-facenet.pt" in embedder.version
    image, detection = _synthetic_detection()
    other = Detection((0.0, 0.0, 90.0, 100.0), 0.95, detection.landmarks - 60)
    vectors = embedder.embed(image, [detection, other, detection])
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2], atol=1e-5)  # deterministic (eval mode)
    assert embedder.embed(image, []).shape == (0, 512)


def test_make_embedder_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="dlib, facenet"):
        make_embedder("arcface")
    assert isinstance(make_embedder(" DLIB "), DlibEmbedder)
