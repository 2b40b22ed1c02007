"""dlib's ResNet in PyTorch: the vectors of dlib's own descriptor, from dlib's own model file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from influencer_pipeline.faces.detection import Detection, FaceDetector
from influencer_pipeline.faces.dlib_descriptor import (
    DLIB_FACE_MODEL,
    DLIB_SHAPE_MODEL,
    DlibDescriptor,
    dlib_models_dir,
)
from influencer_pipeline.faces.dlib_resnet import DlibResNet, ModelFileError, read_model
from influencer_pipeline.faces.embedders import DLIB_RUNTIME, DlibEmbedder

# dlib's raw descriptors have norms near 1.4; float32 convolutions in another order differ by
# about 1e-7 per component (measured: 3.6e-7 at most on 151 demo faces)
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def native() -> DlibEmbedder:
    return DlibEmbedder(runtime=DLIB_RUNTIME)


@pytest.fixture(scope="module")
def ported() -> DlibEmbedder:
    return DlibEmbedder()


def _noise_items(count: int) -> list[tuple[np.ndarray, list[Detection]]]:
    """Noise images with one to three boxes (dlib aligns and describes any box), one with none."""
    items = []
    landmarks = np.zeros((5, 2), np.float32)
    for seed in range(count):
        rng = np.random.default_rng(100 + seed)
        image = rng.integers(0, 255, size=(260, 220, 3), dtype=np.uint8)
        boxes = [(30.0 + seed, 40.0, 150.0, 180.0), (5.0, 5.0, 70.0, 80.0), (90.0, 60, 210, 250)]
        items.append((image, [Detection(b, 0.99, landmarks) for b in boxes[: 1 + seed % 3]]))
    items.append((np.zeros((60, 60, 3), np.uint8), []))
    return items


def test_the_model_file_holds_the_known_network() -> None:
    model = read_model(dlib_models_dir() / DLIB_FACE_MODEL)
    # dnn_face_recognition_ex.cpp: 7x7 conv of 32, then residual levels of 32, 64, 128, 256, 256
    assert [c.weight.shape[0] for c in model.convolutions] == (
        [32] + [32] * 6 + [64] * 8 + [128] * 6 + [256] * 6 + [256] * 2
    )
    assert model.convolutions[0].weight.shape == (32, 3, 7, 7)
    assert [c.stride for c in model.convolutions].count(2) == 5
    assert model.projection.shape == (256, 128)
    assert model.channel_means == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)


def test_another_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError):
        read_model(dlib_models_dir() / DLIB_SHAPE_MODEL)
    truncated = tmp_path / "cut.dat"
    truncated.write_bytes((dlib_models_dir() / DLIB_FACE_MODEL).read_bytes()[:2_000_000])
    with pytest.raises(ModelFileError):
        read_model(truncated)


def test_raw_descriptors_equal_dlibs_on_noise_chips() -> None:
    descriptor = DlibDescriptor(mirrored=False)
    network = DlibResNet.from_file(descriptor.model_file)
    for image, detections in _noise_items(4)[:-1]:
        boxes = [d.box for d in detections]
        expected = descriptor.describe(image, boxes)
        got = network.describe(descriptor.chips(image, boxes), batch_size=2)
        assert got.shape == expected.shape == (len(boxes), 128)
        assert np.abs(got - expected).max() < TOLERANCE


def test_embed_many_equals_dlibs_vectors_in_every_batch_shape(
    native: DlibEmbedder, ported: DlibEmbedder
) -> None:
    items = _noise_items(7)
    together = ported.embed_many(items)
    assert [v.shape for v in together] == [(1 + k % 3, 128) for k in range(7)] + [(0, 128)]
    for (image, detections), got in zip(items, together, strict=True):
        expected = native.embed(image, detections)
        alone = ported.embed(image, detections)
        assert got.dtype == alone.dtype == np.float32
        assert got.shape == alone.shape == expected.shape
        assert np.all(np.abs(got - expected) < TOLERANCE)
        assert np.all(np.abs(alone - expected) < TOLERANCE)
    assert ported.embed_many([]) == []


def test_real_faces_get_dlibs_vectors(
    native: DlibEmbedder, ported: DlibEmbedder, shared_dir: Path
) -> None:
    detector = FaceDetector()
    people = sorted(p for p in (shared_dir / "faces").iterdir() if p.is_dir())[:6]
    items = []
    for person in people:
        for path in sorted(person.glob("*.jpg"))[:2]:
            picture = Image.open(path).convert("RGB")
            picture.thumbnail((640, 640))
            image = np.asarray(picture)
            (found,) = detector.detect([image])
            items.append((image, found))
    assert sum(len(d) for _, d in items) >= 10
    for (image, detections), got in zip(items, ported.embed_many(items), strict=True):
        assert np.all(np.abs(got - native.embed(image, detections)) < TOLERANCE)


def test_the_version_names_the_model_not_the_runtime(
    native: DlibEmbedder, ported: DlibEmbedder
) -> None:
    # a lake embedded by either runtime is one embedding space (clustering checks the version)
    assert native.version == ported.version
    assert native.name == ported.name == "dlib"
    with pytest.raises(ValueError, match="runtime"):
        DlibEmbedder(runtime="onnx")


def test_the_face_models_resource_runs_the_network_in_torch_unless_told() -> None:
    from influencer_pipeline.defs.resources import FaceModels

    default = FaceModels(embedder="dlib").face_embedder
    native = FaceModels(embedder="dlib", dlib_runtime="dlib", embed_workers=2).face_embedder
    assert default.runtime == "torch" and default._pool is None
    assert native.runtime == "dlib" and native.workers == 2
