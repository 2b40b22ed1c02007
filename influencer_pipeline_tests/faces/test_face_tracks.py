"""Within-video face tracks: identity grouping with the same-frame (cannot-link) constraint."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from influencer_pipeline.faces.tracks import (
    DEFAULT_TRACK_DISTANCE,
    TrackInputError,
    group_tracks,
)

DIM = 128


def unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit length."""
    return vector / np.linalg.norm(vector)


def people(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` random unit vectors (different people are ~1.4 apart, like unrelated faces)."""
    rng = np.random.default_rng([seed, 99])  # a stream apart from the face-noise generators
    return [unit(rng.normal(size=DIM)) for _ in range(n)]


def near(center: np.ndarray, distance: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector ``distance`` from ``center`` (two such draws are ~1.4x ``distance`` apart)."""
    noise = rng.normal(size=DIM)
    noise -= noise.dot(center) * center
    noise = unit(noise)
    angle = 2 * np.arcsin(distance / 2)  # chord length -> angle between the unit vectors
    return (np.cos(angle) * center + np.sin(angle) * noise).astype(np.float32)


def rows(faces: list[tuple[int, np.ndarray | None]]) -> pd.DataFrame:
    """A minimal faces table: (frame_index, embedding or None) per face."""
    return pd.DataFrame(
        {
            "frame_index": [f for f, _ in faces],
            "embedding": [None if e is None else list(map(float, e)) for _, e in faces],
        }
    )


def partition(labels: np.ndarray) -> set[frozenset[int]]:
    """The groups of row positions, independent of label numbering (noise excluded)."""
    return {frozenset(np.flatnonzero(labels == k).tolist()) for k in set(labels) - {-1}}


def test_three_people_become_three_tracks() -> None:
    rng = np.random.default_rng(1)
    a, b, c = people(3)
    faces = [(f, near(a, 0.2, rng)) for f in range(10)]
    faces += [(f, near(b, 0.2, rng)) for f in range(2, 8)]
    faces += [(f, near(c, 0.2, rng)) for f in (4, 9)]
    labels = group_tracks(rows(faces))
    assert partition(labels) == {
        frozenset(range(10)),
        frozenset(range(10, 16)),
        frozenset(range(16, 18)),
    }
    # labels are ordered by track size: the person seen most is track 0
    assert set(labels[:10]) == {0} and set(labels[10:16]) == {1} and set(labels[16:]) == {2}


def test_two_faces_in_one_frame_are_never_one_track() -> None:
    rng = np.random.default_rng(2)
    (a,) = people(1)
    faces = [(f, near(a, 0.2, rng)) for f in range(8)]
    # a look-alike (or the same photo twice) next to the presenter in frames 3 and 5
    faces += [(3, near(a, 0.1, rng)), (5, near(a, 0.1, rng))]
    labels = group_tracks(rows(faces))
    table = rows(faces).assign(track=labels)
    assert not table.duplicated(["track", "frame_index"]).any()
    assert table["track"].value_counts().max() >= 7  # the presenter's track stays whole-ish


def test_faces_without_embedding_get_minus_one() -> None:
    rng = np.random.default_rng(3)
    (a,) = people(1)
    table = rows([(0, near(a, 0.2, rng)), (1, None), (2, near(a, 0.2, rng))])
    table.loc[3] = [3, float("nan")]
    labels = group_tracks(table)
    assert labels.tolist() == [0, -1, 0, -1]


def test_empty_and_all_missing_inputs() -> None:
    assert group_tracks(rows([])).tolist() == []
    assert group_tracks(rows([(0, None), (1, None)])).tolist() == [-1, -1]
    (a,) = people(1)
    assert group_tracks(rows([(0, a)])).tolist() == [0]


def test_row_order_does_not_change_the_tracks() -> None:
    rng = np.random.default_rng(4)
    persons = people(4, seed=4)
    faces = [(f, near(persons[f % 4], 0.2, rng)) for f in range(24)]
    faces += [(f, near(persons[(f + 1) % 4], 0.2, rng)) for f in range(0, 24, 3)]
    table = rows(faces)
    labels = group_tracks(table)
    order = np.random.default_rng(5).permutation(len(table))
    shuffled = group_tracks(table.iloc[order].reset_index(drop=True))
    back = np.empty_like(shuffled)
    back[order] = shuffled
    assert partition(back) == partition(labels)
    assert len(partition(labels)) == 4


def test_threshold_separates_same_and_different_people() -> None:
    rng = np.random.default_rng(6)
    a, b = people(2, seed=6)
    b = unit(a + 0.75 * unit(b - a.dot(b) * a))  # a second person ~0.7 from the first
    faces = [(f, near(a, 0.2, rng)) for f in range(6)] + [
        (f, near(b, 0.2, rng)) for f in range(6, 12)
    ]
    assert len(partition(group_tracks(rows(faces)))) == 2
    assert len(partition(group_tracks(rows(faces), distance_threshold=1.9))) == 1


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ([1.0, float("nan"), 0.0], "bad_embedding"),
        ([0.0, 0.0, 0.0], "bad_embedding"),
        ("abc", "bad_embedding"),
        ([1.0, 0.0], "embedding_dim_mismatch"),
    ],
)
def test_bad_embeddings_raise_a_coded_error(value: object, code: str) -> None:
    table = pd.DataFrame({"frame_index": [0, 1], "embedding": [[1.0, 0.0, 0.0], value]})
    with pytest.raises(TrackInputError) as caught:
        group_tracks(table)
    assert caught.value.code == code


def test_missing_columns_and_bad_threshold() -> None:
    with pytest.raises(TrackInputError) as caught:
        group_tracks(pd.DataFrame({"frame_index": [0]}))
    assert caught.value.code == "missing_columns"
    with pytest.raises(TrackInputError) as caught:
        group_tracks(pd.DataFrame({"embedding": [[1.0, 0.0]]}))
    assert caught.value.code == "missing_columns"
    with pytest.raises(TrackInputError) as caught:
        group_tracks(rows([(0, None), (1, None)]).assign(video_id=["a", "b"]))
    assert caught.value.code == "mixed_videos"
    with pytest.raises(ValueError, match="distance_threshold"):
        group_tracks(rows([]), distance_threshold=0.0)
    with pytest.raises(ValueError, match="method"):
        group_tracks(rows([]), method="single")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 2), st.floats(0.05, 0.6)),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["average", "complete"]),
)
def test_no_track_ever_holds_two_faces_of_one_frame(
    faces: list[tuple[int, int, float]], method: str
) -> None:
    rng = np.random.default_rng(0)
    persons = people(3, seed=7)
    table = rows([(f, near(persons[p], d, rng)) for f, p, d in faces])
    labels = group_tracks(table, DEFAULT_TRACK_DISTANCE, method=method)
    assert (labels >= 0).all()
    assert not table.assign(track=labels).duplicated(["track", "frame_index"]).any()


# --- real clips (../shared/videos through the shared_dir fixture) -------------------------------


def clip_frames(path: Path, fps: float = 1.0, max_side: int = 640) -> pd.DataFrame:
    """Body frames of a clip sampled at ``fps`` with PyAV, downscaled, as JPEG rows."""
    import av

    records: list[dict[str, object]] = []
    next_time = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            time = float(frame.pts * stream.time_base)
            if time + 1e-6 < next_time:
                continue
            image = frame.to_image()
            scale = max_side / max(image.size)
            if scale < 1:
                image = image.resize((round(image.width * scale), round(image.height * scale)))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=90)
            records.append(
                {
                    "frame_index": len(records),
                    "timestamp_s": time,
                    "role": "body",
                    "image": buffer.getvalue(),
                }
            )
            while next_time <= time + 1e-6:
                next_time += 1.0 / fps
    return pd.DataFrame.from_records(records)


@pytest.fixture(scope="module")
def clip_faces(shared_dir: Path):
    """Factory: the face rows (real MTCNN + dlib) of a clip of ``shared/videos`` at 1 fps."""
    from influencer_pipeline.faces.detection import FaceDetector
    from influencer_pipeline.faces.embedders import make_embedder
    from influencer_pipeline.faces.records import face_rows

    detector, embedder = FaceDetector(), make_embedder("dlib")

    def _faces(name: str) -> pd.DataFrame:
        frames = clip_frames(shared_dir / "videos" / name)
        return face_rows(name, frames, detector, embedder)

    return _faces


def test_a_talking_head_clip_is_one_track(clip_faces) -> None:
    faces = clip_faces("liveportrait_s32.mp4")
    assert len(faces) >= 5
    labels = group_tracks(faces)
    assert set(labels.tolist()) == {0}


def test_real_clip_singer_is_one_track_and_the_audience_is_not_merged(clip_faces) -> None:
    """Hamilton clip: a singer on stage, a pianist in profile, then several spectators."""
    faces = clip_faces("hamilton_white_house_clip.mp4")
    labels = group_tracks(faces)
    table = faces.assign(track=labels)
    assert not table[table.track >= 0].duplicated(["track", "frame_index"]).any()
    # the singer: the largest frontal face in frames 4-7 (close-ups), seen far away in frames 0-1
    singer = table[table.frame_index.between(4, 7)].sort_values("rel_height").iloc[-1].track
    singer_frames = set(table.loc[table.track == singer, "frame_index"])
    assert {4, 6, 7} <= singer_frames
    assert singer_frames <= {0, 1, 3, 4, 5, 6, 7}  # not the pianist (2), not the audience (8, 9)
    # the spectators seen in both frames 8 and 9 (same seat, same place) pair up across frames
    audience = table[table.frame_index.isin([8, 9]) & (table.track >= 0)]
    paired = audience.groupby("track")["frame_index"].nunique()
    assert (paired == 2).sum() >= 3
