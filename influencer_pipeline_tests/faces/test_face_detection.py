"""MTCNN face detection and the face_embeddings rows built from video frames."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from influencer_pipeline.faces.detection import Detection, DetectionInputError, FaceDetector
from influencer_pipeline.faces.records import (
    FACE_COLUMNS,
    FaceRecordError,
    decode_frame,
    face_rows,
)
from influencer_pipeline.lake_schema import FACE_EMBEDDINGS, to_arrow
from influencer_pipeline_tests.conftest import gradient_frames


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def _photo(shared_dir: Path, rel: str, long_side: int = 640) -> np.ndarray:
    picture = Image.open(shared_dir / "faces" / rel).convert("RGB")
    picture.thumbnail((long_side, long_side))
    return np.asarray(picture)


def _jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def test_no_face_in_gradient_or_flat_images(detector: FaceDetector) -> None:
    textured = gradient_frames(2, width=320, height=240)
    flat = np.full((200, 300, 3), 128, dtype=np.uint8)
    assert detector.detect([*textured, flat]) == [[], [], []]


def test_images_smaller_than_min_face_size_give_no_faces(detector: FaceDetector) -> None:
    assert detector.detect([np.zeros((10, 400, 3), dtype=np.uint8)]) == [[]]
    assert detector.detect([]) == []


def test_bad_inputs_raise_specific_errors(detector: FaceDetector) -> None:
    with pytest.raises(DetectionInputError) as dtype_error:
        detector.detect([np.zeros((50, 50, 3), dtype=np.float32)])
    assert dtype_error.value.code == "bad_dtype"
    with pytest.raises(DetectionInputError) as shape_error:
        detector.detect([np.zeros((50, 50, 2), dtype=np.uint8)])
    assert shape_error.value.code == "bad_shape"
    with pytest.raises(ValueError, match="min_face_size"):
        FaceDetector(min_face_size=5)


def test_detects_a_real_face_with_consistent_landmarks(
    detector: FaceDetector, shared_dir: Path
) -> None:
    image = _photo(shared_dir, "barack_obama/1.jpg")
    (faces,) = detector.detect([image])
    assert faces, "no face found in a frontal portrait"
    best = faces[0]
    assert best.score > 0.99
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    x1, y1, x2, y2 = best.box
    assert 0 <= x1 < x2 <= image.shape[1] and 0 <= y1 < y2 <= image.shape[0]
    assert best.height > 100  # the portrait's face is large
    eyes, nose, mouth = best.landmarks[:2], best.landmarks[2], best.landmarks[3:]
    assert best.landmarks.shape == (5, 2) and best.landmarks.dtype == np.float32
    assert eyes[0, 0] < nose[0] < eyes[1, 0]  # nose between the eyes
    assert eyes[:, 1].max() < nose[1] < mouth[:, 1].min()  # eyes above nose above mouth
    assert np.all((best.landmarks >= [x1, y1]) & (best.landmarks <= [x2, y2]))


def test_grayscale_and_rgba_inputs_find_the_same_face(
    detector: FaceDetector, shared_dir: Path
) -> None:
    image = _photo(shared_dir, "joe_biden/2.jpg")
    gray = np.asarray(Image.fromarray(image).convert("L"))
    rgba = np.dstack([image, np.full(image.shape[:2], 255, dtype=np.uint8)])
    rgb_faces, gray_faces, rgba_faces = detector.detect([image, gray, rgba])
    assert rgb_faces and gray_faces and rgba_faces
    assert rgba_faces == rgb_faces  # alpha is dropped
    assert np.allclose(gray_faces[0].box, rgb_faces[0].box, atol=0.1 * rgb_faces[0].height)


def test_box_is_clipped_at_the_frame_edge(detector: FaceDetector, shared_dir: Path) -> None:
    image = _photo(shared_dir, "barack_obama/1.jpg")
    (faces,) = detector.detect([image])
    x1, y1, _, _ = (int(v) for v in faces[0].box)
    cut = np.ascontiguousarray(image[y1 + 25 :, x1 + 20 :])  # top-left of the face cut off
    (cut_faces,) = detector.detect([cut])
    assert cut_faces
    for face in cut_faces:
        assert face.box[0] >= 0 and face.box[1] >= 0
        assert face.box[2] <= cut.shape[1] and face.box[3] <= cut.shape[0]


def test_batching_matches_one_by_one(detector: FaceDetector, shared_dir: Path) -> None:
    names = ["barack_obama/2.jpg", "joe_biden/2.jpg", "kit_harington/1.jpg", "rose_leslie/1.jpg"]
    same_size = [
        np.asarray(Image.fromarray(_photo(shared_dir, name)).resize((320, 400))) for name in names
    ]
    images = [*same_size, _photo(shared_dir, "alex_lacamoire/1.jpg", 300), gradient_frames(1)[0]]
    batched = detector.detect(images, batch_size=3)  # two chunks of the 320x400 group
    single = [detector.detect([image], batch_size=1)[0] for image in images]
    assert sum(len(faces) for faces in single) >= 5
    for batch_faces, single_faces in zip(batched, single, strict=True):
        assert len(batch_faces) == len(single_faces)
        for a, b in zip(batch_faces, single_faces, strict=True):
            assert np.allclose(a.box, b.box, atol=0.5)
            assert a.score == pytest.approx(b.score, abs=1e-4)
            assert np.allclose(a.landmarks, b.landmarks, atol=0.5)


class _FixedDetector:
    """Returns preset detections for every image (records logic without MTCNN)."""

    def __init__(self, detections: list[Detection]) -> None:
        self.detections = detections

    def detect(self, images: list[np.ndarray], batch_size: int | None = None) -> list:
        return [list(self.detections) for _ in images]


class _CountingEmbedder:
    name = "fake"
    version = "fake 1"
    dim = 4

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed(self, image: np.ndarray, detections: list[Detection]) -> np.ndarray:
        self.calls.append(len(detections))
        rows = np.tile(np.array([1.0, 0, 0, 0], dtype=np.float32), (len(detections), 1))
        return rows


def _landmarks(x1: float, y1: float, size: float) -> np.ndarray:
    unit = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]])
    return (unit * size + [x1, y1]).astype(np.float32)


def _frames_table(images: list[np.ndarray], roles: list[str], blanks: list[bool]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "video_id": "vid1",
            "frame_index": np.arange(len(images), dtype=np.int32),
            "role": roles,
            "timestamp_s": np.arange(len(images), dtype=np.float64) * 0.5,
            "width": [i.shape[1] for i in images],
            "height": [i.shape[0] for i in images],
            "image": [_jpeg(i) for i in images],
            "is_blank": blanks,
        }
    )


def test_face_rows_columns_gates_and_skipped_frames() -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, size=(240, 320, 3), dtype=np.uint8)
    good = Detection((100.0, 50.0, 180.0, 150.0), 0.99, _landmarks(100, 50, 100))
    weak = Detection((10.0, 10.0, 40.0, 48.0), 0.80, _landmarks(10, 10, 38))
    frames = _frames_table([image, image, image], ["body", "body", "outro"], [False, True, False])
    embedder = _CountingEmbedder()
    table = face_rows(
        "vid1", frames, _FixedDetector([good, weak]), embedder, batch_size=2, roles=("body",)
    )

    assert list(table.columns) == list(FACE_COLUMNS)
    assert {c: str(t) for c, t in table.dtypes.items()} == FACE_COLUMNS
    assert table["frame_index"].tolist() == [0, 0]  # blank frame 1 and outro frame 2 skipped
    every_role = face_rows("vid1", frames, _FixedDetector([good]), _CountingEmbedder())
    assert every_role["frame_index"].tolist() == [0, 2]  # by default outro frames count too
    assert table["face_index"].tolist() == [0, 1]
    assert embedder.calls == [1]  # only the face past the hard gates is embedded
    first, second = table.iloc[0], table.iloc[1]
    assert first["embedding"].dtype == np.float32 and first["embedding"].shape == (4,)
    assert second["embedding"] is None
    assert "low_score" in second["quality_flags"].split(",")
    assert not second["passes_quality"]
    assert first["rel_height"] == pytest.approx(100 / 240)
    assert (first["frame_width"], first["frame_height"]) == (320, 240)
    assert first["landmarks"].dtype == np.float32 and first["landmarks"].shape == (10,)
    assert first["embedder"] == "fake" and first["embedder_version"] == "fake 1"
    with Image.open(io.BytesIO(first["thumbnail"])) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 96
    arrow = to_arrow(table, FACE_EMBEDDINGS)  # the lake's schema accepts the rows as they are
    assert arrow.num_rows == 2
    assert arrow.column("embedding").to_pylist()[1] is None


def test_face_rows_with_no_faces_is_empty_with_columns() -> None:
    image = gradient_frames(1, 64, 64)[0]
    frames = _frames_table([image], ["body"], [False])
    table = face_rows("vid1", frames, _FixedDetector([]), _CountingEmbedder())
    assert table.empty and list(table.columns) == list(FACE_COLUMNS)
    assert {c: str(t) for c, t in table.dtypes.items()} == FACE_COLUMNS


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_a_frame_jpeg_decodes_to_its_rgb_pixels(mode: str) -> None:
    image = Image.fromarray(gradient_frames(1, 64, 48)[0]).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    rgb = decode_frame("vid1", 0, buffer.getvalue())
    with Image.open(io.BytesIO(buffer.getvalue())) as reference:  # PIL's own RGB conversion
        expected = np.array(reference.convert("RGB"))
    assert rgb.dtype == np.uint8 and rgb.shape == (48, 64, 3)
    assert np.array_equal(rgb, expected)


def test_real_frames_decode_as_pil_decodes_them(shared_dir: Path) -> None:
    # the stage's own JPEGs of real ad frames: OpenCV's decoding gives PIL's pixels
    from influencer_pipeline.media.frame_images import encode_jpeg

    paths = sorted((shared_dir / "real_frames").glob("ad_0*/*.jpg"))[:24]
    assert len(paths) >= 12
    for path in paths:
        with Image.open(path) as picture:
            picture.thumbnail((640, 640))
            data = encode_jpeg(np.asarray(picture.convert("RGB")), 85)
        with Image.open(io.BytesIO(data)) as reference:
            expected = np.asarray(reference)
        assert np.array_equal(decode_frame("v", 0, data), expected), path.name


def test_a_cut_off_frame_jpeg_is_rejected() -> None:
    data = _jpeg(gradient_frames(1, 64, 48)[0])
    with pytest.raises(FaceRecordError) as error:
        decode_frame("vid1", 3, data[: len(data) // 2])
    assert error.value.code == "bad_frame_image" and "frame 3" in str(error.value)


def test_face_rows_rejects_undecodable_frames() -> None:
    frames = _frames_table([gradient_frames(1, 64, 64)[0]], ["body"], [False])
    frames.loc[0, "image"] = b"not a jpeg"
    with pytest.raises(FaceRecordError) as error:
        face_rows("vid1", frames, _FixedDetector([]), _CountingEmbedder())
    assert error.value.code == "bad_frame_image" and "frame 0" in str(error.value)
    with pytest.raises(FaceRecordError) as missing:
        face_rows("vid1", frames.drop(columns=["image"]), _FixedDetector([]), _CountingEmbedder())
    assert missing.value.code == "missing_columns"


def test_face_rows_end_to_end_with_mtcnn_and_dlib(detector: FaceDetector, shared_dir: Path) -> None:
    from influencer_pipeline.faces.embedders import DlibEmbedder

    image = _photo(shared_dir, "joe_biden/2.jpg")
    frames = _frames_table([image, gradient_frames(1, 96, 160)[0]], ["body", "body"], [False] * 2)
    table = face_rows("vid1", frames, detector, DlibEmbedder())
    assert len(table) >= 1 and set(table["frame_index"]) == {0}
    best = table.iloc[0]
    assert best["passes_quality"] and best["quality_flags"] == ""
    assert best["embedding"].shape == (128,)
    assert np.linalg.norm(best["embedding"]) == pytest.approx(1.0, abs=1e-5)


def test_face_rows_are_the_same_with_descriptor_workers(
    detector: FaceDetector, shared_dir: Path
) -> None:
    from influencer_pipeline.faces.embedders import DLIB_RUNTIME, DlibEmbedder

    images = [_photo(shared_dir, rel) for rel in ("joe_biden/2.jpg", "barack_obama/1.jpg")]
    frames = _frames_table(images, ["body", "body"], [False, False])
    alone = face_rows("vid1", frames, detector, DlibEmbedder(runtime=DLIB_RUNTIME))
    pooled_embedder = DlibEmbedder(workers=2, runtime=DLIB_RUNTIME)
    pooled = face_rows("vid1", frames, detector, pooled_embedder)
    assert pooled_embedder._pool is not None  # two frames with faces: the workers embedded them
    assert len(alone) == len(pooled) >= 2
    for a, b in zip(alone["embedding"], pooled["embedding"], strict=True):
        assert (a is None and b is None) or np.array_equal(a, b)
    pd.testing.assert_frame_equal(alone.drop(columns="embedding"), pooled.drop(columns="embedding"))


def test_videos_in_flight_together_get_the_rows_of_one_at_a_time(shared_dir: Path) -> None:
    # what FaceModels.videos_in_flight does: several videos' face rows at once from one detector
    # and one embedder, with frames of other heights (the detector's pyramid per height)
    from influencer_pipeline.faces.embedders import DlibEmbedder
    from influencer_pipeline.parallel import map_isolated

    names = ["joe_biden/2.jpg", "barack_obama/1.jpg", "kit_harington/1.jpg", "rose_leslie/1.jpg"]
    videos = {
        f"vid{k}": _frames_table(
            [_photo(shared_dir, name, side) for side in (640, 420, 300)], ["body"] * 3, [False] * 3
        )
        for k, name in enumerate(names)
    }
    detector, embedder = FaceDetector(), DlibEmbedder()

    def rows(key: str) -> pd.DataFrame:
        return face_rows(key, videos[key], detector, embedder)

    def fail(key: str, exc: BaseException) -> pd.DataFrame:
        raise exc

    alone = map_isolated(rows, list(videos), fail, max_workers=1)
    together = map_isolated(rows, list(videos), fail, max_workers=len(videos))
    assert sum(len(t) for t in alone) >= 8
    for a, b in zip(alone, together, strict=True):
        pd.testing.assert_frame_equal(a.drop(columns="embedding"), b.drop(columns="embedding"))
        for x, y in zip(a["embedding"], b["embedding"], strict=True):
            assert (x is None and y is None) or np.array_equal(x, y)
