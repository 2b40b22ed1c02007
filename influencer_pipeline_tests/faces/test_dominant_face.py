"""The dominant face of a video: synthetic face rows, then the real ads (shared frames)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from influencer_pipeline.faces.dominant import (
    DominanceConfig,
    DominanceInputError,
    choose_dominant,
    picture_reason,
    video_faces_row,
)

DIM = 128


def unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit length."""
    return vector / np.linalg.norm(vector)


def person(seed: int) -> np.ndarray:
    """A random unit vector standing for one person's identity."""
    return unit(np.random.default_rng([seed, 99]).normal(size=DIM))  # apart from face noise


def near(center: np.ndarray, distance: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector ``distance`` from ``center`` (two such draws are ~1.4x ``distance`` apart)."""
    noise = rng.normal(size=DIM)
    noise -= noise.dot(center) * center
    angle = 2 * np.arcsin(distance / 2)
    return (np.cos(angle) * center + np.sin(angle) * unit(noise)).astype(np.float32)


class Video:
    """Builds the face rows of one synthetic video, face by face."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.records: list[dict[str, object]] = []

    def face(
        self,
        frame: int,
        who: np.ndarray | None,
        rel_height: float,
        *,
        passes: bool = True,
        spread: float = 0.2,
        tag: bytes = b"",
        picture: int | None = None,
    ) -> None:
        """Add one face of identity ``who`` (None: not embedded) in ``frame``.

        ``picture``: the face is that printed picture (the same landmarks and pixels every time);
        without it, faces with landmarks and pixels of their own (a live person's pose changes).
        """
        index = sum(1 for r in self.records if r["frame_index"] == frame)
        embedding = None if who is None else near(who, spread, self.rng).tolist()
        self.records.append(
            {
                "video_id": "v1",
                "frame_index": frame,
                "timestamp_s": float(frame),
                "face_index": index,
                "det_score": 0.99,
                "rel_height": rel_height,
                "frontalness": 0.9,
                "passes_quality": passes,
                "quality_flags": "" if passes else "blurry",
                "embedding": embedding,
                "thumbnail": tag or f"{frame}:{rel_height}".encode(),
                "landmarks": self._landmarks(picture),
                "aligned_face": self._patch(picture),
            }
        )

    def _landmarks(self, picture: int | None) -> np.ndarray:
        base = np.array([[40, 50], [70, 50], [55, 68], [43, 85], [67, 85]], dtype=np.float32)
        rng = np.random.default_rng(picture) if picture is not None else self.rng
        return (base + rng.normal(0, 5, size=base.shape)).astype(np.float32).reshape(10)

    def _patch(self, picture: int | None) -> bytes:
        rng = np.random.default_rng(picture) if picture is not None else self.rng
        return rng.integers(0, 255, size=32 * 32, dtype=np.uint8).tobytes()

    def table(self) -> pd.DataFrame:
        """The face rows as a DataFrame (the columns of the face_embeddings table we use)."""
        return pd.DataFrame.from_records(self.records)


def test_presenter_in_a_third_of_frames_beats_many_small_photos() -> None:
    presenter = person(1)
    video = Video(1)
    for frame in range(8, 17):  # 9 of 27 frames, large face
        video.face(frame, presenter, 0.32)
    photo_seed = 100
    for frame in range(0, 27, 2):  # photos on a strip: 2 different small faces per frame
        for _ in range(2):
            photo_seed += 1
            video.face(frame, person(photo_seed), 0.06)
    decision = choose_dominant(video.table(), n_body_frames=27)
    assert decision.has_dominant_face, decision.decision
    assert decision.dominant_frames == 9
    assert decision.frame_share == pytest.approx(9 / 27)
    assert decision.median_rel_height == pytest.approx(0.32)
    assert float(decision.embedding @ presenter) > 0.95
    assert decision.decision.startswith("dominant: track 0 in 9/27 frames (33%)")
    assert decision.n_tracks > 20


def test_small_faces_in_few_frames_each_give_no_dominant_face() -> None:
    video = Video(2)
    for frame in range(14):  # a film strip: a different small photo in a few frames each
        video.face(frame, person(200 + frame // 3), 0.06)
        video.face(frame, person(300 + frame // 2), 0.05)
    decision = choose_dominant(video.table(), n_body_frames=14)
    assert not decision.has_dominant_face
    assert decision.embedding is None and decision.thumbnail is None
    assert decision.decision.startswith("none: strongest track")
    assert "photos on screen" in decision.decision


def test_the_same_small_photo_in_every_frame_is_not_an_influencer() -> None:
    """ad_00's case: one celebrity's photos fill the film strip in most frames, all small."""
    star = person(3)
    video = Video(3)
    for frame in range(2, 14):
        video.face(frame, star, 0.06)
    decision = choose_dominant(video.table(), n_body_frames=14)
    assert not decision.has_dominant_face
    assert "12/14 frames" in decision.decision


def test_a_photo_shown_again_and_again_never_wins_even_large_and_frequent() -> None:
    """A couple's photo on a lamp in 12 of 13 frames, faces 11 % of the frame: a picture."""
    first, second = person(30), person(31)
    video = Video(30)
    for frame in range(1, 13):
        video.face(frame, first, 0.11, spread=0.05, picture=1)
        video.face(frame, second, 0.10, spread=0.05, picture=2)
    decision = choose_dominant(video.table(), n_body_frames=13)
    assert not decision.has_dominant_face, decision.decision
    assert "a picture" in decision.decision and "rigid copies" in decision.decision
    assert decision.n_picture_tracks == 2


def test_a_live_presenter_beside_a_frequent_photo_wins() -> None:
    presenter, photo = person(32), person(33)
    video = Video(32)
    for frame in range(14):
        video.face(frame, photo, 0.12, spread=0.05, picture=3)  # the product's photo, always
        if 5 <= frame < 8:  # the presenter, 3 of 14 frames, small: pose changes every frame
            video.face(frame, presenter, 0.09)
    decision = choose_dominant(video.table(), n_body_frames=14)
    assert decision.has_dominant_face, decision.decision
    assert float(decision.embedding @ presenter) > 0.9
    assert "live:" in decision.decision and "ignored as pictures" in decision.decision


def test_a_brief_picture_with_every_pair_rigid_does_not_block_the_presenter() -> None:
    """A photo on screen for three frames (two and a half seconds: three pairs, too few for a
    share) as large as the presenter: all its pairs are rigid copies, so it is a picture."""
    presenter, photo = person(37), person(38)
    video = Video(37)
    for frame in range(2, 6):
        video.face(frame, presenter, 0.18)
    for frame in (9, 10, 11):
        video.face(frame, photo, 0.22, spread=0.05, picture=4)
    decision = choose_dominant(video.table(), n_body_frames=18)
    assert decision.has_dominant_face, decision.decision
    assert float(decision.embedding @ presenter) > 0.9
    stats = {s.label: s for s in decision.tracks}
    photo_track = next(s for s in stats.values() if s.label != decision.track)
    assert (photo_track.pairs, photo_track.rigid_pairs) == (3, 3)
    without = choose_dominant(video.table(), 18, DominanceConfig(brief_rigid_pairs=0))
    assert not without.has_dominant_face  # the photo alone would block the presenter


def test_one_rigid_pair_is_not_enough_to_call_a_brief_track_a_picture() -> None:
    """A presenter seen twice, a second apart, may hold one pose: one rigid pair proves nothing."""
    presenter = person(39)
    video = Video(39)
    for frame in (4, 5):
        video.face(frame, presenter, 0.30, spread=0.05, picture=5)  # the same pose twice
    decision = choose_dominant(video.table(), n_body_frames=12)
    assert decision.has_dominant_face, decision.decision
    assert decision.tracks[0].pairs == 1 and decision.tracks[0].rigid_pairs == 1


def test_a_framed_photo_seen_for_under_a_second_is_a_picture() -> None:
    """Three sampled frames 0.4 s apart: no pair a second apart, so no share and no rigid pair;
    the picture's border around it in every frame is what says photo."""
    photo = person(40)
    video = Video(40)
    for frame in (6, 7, 8):
        video.face(frame, photo, 0.09, spread=0.05, picture=6)
    table = video.table().assign(timestamp_s=lambda t: t["frame_index"] * 0.4)
    assert choose_dominant(table, n_body_frames=18).has_dominant_face  # nothing says picture
    framed = choose_dominant(table.assign(framed=True), n_body_frames=18)
    assert not framed.has_dominant_face
    assert "inside a picture's border in 3/3 frames" in framed.decision
    off = choose_dominant(table.assign(framed=True), 18, DominanceConfig(brief_picture_cues=0))
    assert off.has_dominant_face


def test_a_couple_in_one_photo_are_both_pictures() -> None:
    """Two faces of one framed photo, seen together twice a second apart: each pair a rigid
    copy. The border is found around one face only; its rigid companion is the other's cue."""
    video = Video(41)
    for frame in (5, 6, 7, 8):
        video.face(frame, person(41), 0.11, spread=0.05, picture=7)
        video.face(frame, person(42), 0.10, spread=0.05, picture=8)
    table = video.table()
    table = table.assign(framed=table["face_index"] == 1)  # the border around the second face
    table = table.assign(timestamp_s=5 + (table["frame_index"] - 5) * 0.4)  # 1.2 s: one pair
    decision = choose_dominant(table, n_body_frames=18)
    assert not decision.has_dominant_face
    assert decision.n_picture_tracks == 2
    reasons = [picture_reason(s, DominanceConfig()) or "" for s in decision.tracks]
    assert any("rigid copy too" in r for r in reasons), reasons
    assert any("picture's border" in r for r in reasons), reasons


def test_a_brief_presenter_beside_a_framed_photo_stays_the_presenter() -> None:
    """A presenter who moves (a live pair) next to a photo in a frame: the photo's rigidity is
    one cue for the presenter, not two."""
    video = Video(43)
    presenter = person(43)
    for frame in (5, 6, 7):
        video.face(frame, presenter, 0.20)  # a new pose every frame
        video.face(frame, person(44), 0.08, spread=0.05, picture=9)
    table = video.table()
    table = table.assign(framed=table["face_index"] == 1)
    decision = choose_dominant(table, n_body_frames=18)
    assert decision.has_dominant_face, decision.decision
    assert float(decision.embedding @ presenter) > 0.9
    winner = next(s for s in decision.tracks if s.label == decision.track)
    assert winner.rigid_companion and winner.rigid_pairs < winner.pairs


def test_the_same_person_in_scattered_single_frames_is_a_photo_coming_back() -> None:
    star = person(34)
    video = Video(34)
    for frame in (1, 4, 8, 11):  # never two frames in a row: photos on a sliding strip
        video.face(frame, star, 0.15)
    decision = choose_dominant(video.table(), n_body_frames=14)
    assert not decision.has_dominant_face
    assert "consecutive frames" in decision.decision


def test_a_row_of_similar_faces_is_a_film_strip() -> None:
    star = person(35)
    video = Video(35)
    for frame in range(3, 9):
        video.face(frame, star, 0.10)
        for k in range(3):  # other photos of the strip, as large, in the same frame
            video.face(frame, person(400 + 10 * frame + k), 0.09)
    decision = choose_dominant(video.table(), n_body_frames=12)
    assert not decision.has_dominant_face
    assert "film strip" in decision.decision


def test_a_brief_presenter_needs_a_presenters_least_presence() -> None:
    presenter = person(36)
    small = Video(36)
    for frame in range(4, 7):  # 3 of 25 frames at 7 %: presence 0.008
        small.face(frame, presenter, 0.07)
    decision = choose_dominant(small.table(), n_body_frames=25)
    assert not decision.has_dominant_face
    assert "presence" in decision.decision
    baby = Video(37)
    for frame in (0, 1):  # 2 of 18 frames at 18 %: presence 0.02
        baby.face(frame, presenter, 0.18)
    assert choose_dominant(baby.table(), n_body_frames=18).has_dominant_face


def test_each_embedder_brings_its_own_track_distance() -> None:
    assert DominanceConfig.for_embedder("dlib").track_distance == pytest.approx(0.42)
    assert DominanceConfig.for_embedder("facenet").track_distance == pytest.approx(0.9)
    with pytest.raises(KeyError, match="no distance calibration"):
        DominanceConfig.for_embedder("sface")


def test_presenter_beats_a_medium_side_character() -> None:
    presenter, side = person(4), person(5)
    video = Video(4)
    for frame in range(0, 20):
        if frame % 5 in (0, 1):  # presenter in 40% of the frames
            video.face(frame, presenter, 0.30)
        if frame % 5 == 3:  # side character alone in 20%, medium size
            video.face(frame, side, 0.20)
    for frame in (0, 5):  # and next to the presenter twice
        video.face(frame, side, 0.18)
    decision = choose_dominant(video.table(), n_body_frames=20)
    assert decision.has_dominant_face, decision.decision
    assert float(decision.embedding @ presenter) > 0.95
    assert decision.dominant_frames == 8
    assert "runner-up track 1 in 6/20 frames" in decision.decision


def test_two_equal_co_stars_have_no_single_dominant_face() -> None:
    first, second = person(6), person(7)
    video = Video(6)
    for frame in range(12):
        video.face(frame, first, 0.30)
        video.face(frame, second, 0.28)
    decision = choose_dominant(video.table(), n_body_frames=12)
    assert not decision.has_dominant_face
    assert decision.n_tracks == 2
    assert "no single dominant face" in decision.decision


def test_faceless_frames_count_in_the_share() -> None:
    presenter = person(8)
    video = Video(8)
    for frame in range(3):
        video.face(frame, presenter, 0.3)
    assert choose_dominant(video.table(), n_body_frames=6).has_dominant_face
    late = choose_dominant(video.table(), n_body_frames=40)
    assert not late.has_dominant_face
    assert "3/40 frames" in late.decision


def test_a_face_in_one_frame_is_a_passer_by() -> None:
    video = Video(9)
    video.face(0, person(9), 0.4)
    decision = choose_dominant(video.table(), n_body_frames=3)
    assert not decision.has_dominant_face
    assert "fewer than 2 frames" in decision.decision


def test_mean_embedding_is_unit_norm_and_prefers_good_faces() -> None:
    presenter = person(10)
    drift = unit(presenter + 0.5 * person(11))  # blurry faces drift away from the identity
    video = Video(10)
    for frame in range(6):
        video.face(frame, presenter, 0.3, spread=0.2)
    for frame in range(6, 10):
        video.face(frame, drift, 0.3, passes=False, spread=0.05)
    decision = choose_dominant(video.table(), n_body_frames=10)
    assert decision.has_dominant_face
    assert decision.embedding.dtype == np.float32
    assert np.linalg.norm(decision.embedding) == pytest.approx(1.0, abs=1e-6)
    assert decision.n_embedded_faces == 3  # the more frontal half of the 6 good faces
    good_mean = unit(np.mean(np.vstack(video.table()["embedding"].iloc[:3].tolist()), axis=0))
    np.testing.assert_allclose(decision.embedding, good_mean, atol=1e-5)


def test_identity_rests_on_the_faces_that_look_at_the_camera() -> None:
    presenter = person(38)
    turned = unit(presenter + 0.3 * person(39))  # a turned head drifts from the identity
    video = Video(38)
    for frame in range(8):
        video.face(frame, presenter if frame % 2 else turned, 0.3, spread=0.05)
    table = video.table()
    table["frontalness"] = [0.9 if frame % 2 else 0.1 for frame in range(8)]
    decision = choose_dominant(table, n_body_frames=8)
    assert decision.has_dominant_face, decision.decision
    assert decision.n_embedded_faces == 4
    assert float(decision.embedding @ presenter) > float(unit(presenter + turned) @ presenter)


def test_mean_embedding_falls_back_to_all_faces_when_none_passes() -> None:
    presenter = person(12)
    video = Video(12)
    for frame in range(5):
        video.face(frame, presenter, 0.3, passes=False)
    decision = choose_dominant(video.table(), n_body_frames=5)
    assert decision.has_dominant_face
    assert decision.n_embedded_faces == 3  # the more frontal half of 5
    assert np.linalg.norm(decision.embedding) == pytest.approx(1.0, abs=1e-6)


def test_best_thumbnail_is_a_large_face_that_passes_quality() -> None:
    presenter = person(13)
    video = Video(13)
    video.face(0, presenter, 0.45, passes=False, tag=b"big-but-blurry")
    video.face(1, presenter, 0.25, tag=b"small-good")
    video.face(2, presenter, 0.35, tag=b"big-good")
    decision = choose_dominant(video.table(), n_body_frames=3)
    assert decision.thumbnail == b"big-good"


def test_no_faces_and_unembedded_faces() -> None:
    empty = Video().table().reindex(columns=["frame_index", "rel_height", "embedding"])
    decision = choose_dominant(empty, n_body_frames=10)
    assert not decision.has_dominant_face
    assert decision.decision == "none: no face in 10 body frames"
    assert choose_dominant(empty, n_body_frames=0).decision == "none: the video has no body frames"
    video = Video()
    video.face(0, None, 0.02)
    unembedded = choose_dominant(video.table(), n_body_frames=4)
    assert not unembedded.has_dominant_face
    assert unembedded.labels.tolist() == [-1]
    assert "none embedded" in unembedded.decision


def test_video_faces_row_has_the_table_columns() -> None:
    presenter = person(14)
    video = Video(14)
    for frame in range(4):
        video.face(frame, presenter, 0.3)
    decision = choose_dominant(video.table(), n_body_frames=8)
    row = video_faces_row("v1", decision, 8, "dlib", "dlib 20.0.1")
    assert list(row) == [
        "video_id",
        "has_dominant_face",
        "embedding",
        "embedder",
        "embedder_version",
        "n_frames",
        "n_tracks",
        "dominant_frames",
        "frame_share",
        "median_rel_height",
        "presence",
        "thumbnail",
        "decision",
        "track_embeddings",
        "n_picture_tracks",
    ]
    assert row["has_dominant_face"] is True
    assert len(row["embedding"]) == DIM and all(isinstance(v, float) for v in row["embedding"])
    assert row["dominant_frames"] == 4 and row["frame_share"] == pytest.approx(0.5)
    assert row["presence"] == pytest.approx(0.15)
    assert isinstance(row["thumbnail"], bytes)
    none_row = video_faces_row("v2", choose_dominant(video.table(), 41), 41, "dlib", "x")
    assert none_row["has_dominant_face"] is False
    assert none_row["embedding"] is None and none_row["thumbnail"] is None
    assert none_row["frame_share"] is None and none_row["dominant_frames"] == 0
    with pytest.raises(DominanceInputError) as caught:
        video_faces_row("v1", decision, 9, "dlib", "x")
    assert caught.value.code == "n_body_frames_mismatch"


def test_bad_inputs_raise_coded_errors() -> None:
    video = Video()
    for frame in range(5):
        video.face(frame, person(15), 0.3)
    table = video.table()
    cases = [
        (table, 3, "frames_exceed_body"),
        (table, -1, "bad_n_body_frames"),
        (table, 2.5, "bad_n_body_frames"),
        (table.drop(columns="rel_height"), 5, "missing_columns"),
        (table.assign(video_id=["a", "b", "a", "a", "a"]), 5, "mixed_videos"),
        (table.assign(rel_height=[0.3, 1.7, 0.3, 0.3, 0.3]), 5, "bad_rel_height"),
    ]
    for faces, n_body, code in cases:
        with pytest.raises(DominanceInputError) as caught:
            choose_dominant(faces, n_body)
        assert caught.value.code == code


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="runner_up_ratio"):
        DominanceConfig(runner_up_ratio=0.5)
    with pytest.raises(ValueError, match="min_frames"):
        DominanceConfig(min_frames=0)


def test_a_big_face_in_a_single_frame_neither_wins_nor_blocks() -> None:
    presenter = person(16)
    video = Video(16)
    for frame in range(3, 7):  # 4 of 20 frames
        video.face(frame, presenter, 0.25)
    video.face(10, person(17), 0.7)  # a close-up passer-by, once
    decision = choose_dominant(video.table(), n_body_frames=20)
    assert decision.has_dominant_face, decision.decision
    assert float(decision.embedding @ presenter) > 0.95


def test_demo_worst_case_side_character_still_loses() -> None:
    """The demo's extremes: influencer in 35 % of frames at 25 %, side character 25 % at 25 %."""
    presenter, side = person(18), person(19)
    video = Video(18)
    for frame in range(7):
        video.face(frame, presenter, 0.25)
    for frame in range(10, 15):
        video.face(frame, side, 0.25)
    decision = choose_dominant(video.table(), n_body_frames=20)
    assert decision.has_dominant_face, decision.decision
    assert decision.dominant_frames == 7


# --- real ads (../shared/real_frames through the shared_dir fixture) ---------------------------


@pytest.fixture(scope="module")
def face_models():
    """The real detector and the offline dlib embedder (loaded once for this module)."""
    from influencer_pipeline.faces.detection import FaceDetector
    from influencer_pipeline.faces.embedders import make_embedder

    return FaceDetector(), make_embedder("dlib")


def folder_faces(folder: Path, face_models) -> tuple[pd.DataFrame, int]:
    """Face rows of an ad whose frames (about 1 per second) are the JPEGs in ``folder``."""
    from influencer_pipeline.faces.records import face_rows

    paths = sorted(folder.glob("*.jpg"))
    frames = pd.DataFrame(
        {
            "frame_index": range(len(paths)),
            "timestamp_s": [float(i) for i in range(len(paths))],
            "role": "body",
            "image": [p.read_bytes() for p in paths],
        }
    )
    detector, embedder = face_models
    return face_rows(folder.name, frames, detector, embedder), len(paths)


def test_real_ad_with_photos_on_a_film_strip_has_no_dominant_face(
    shared_dir: Path, face_models
) -> None:
    faces, n_body = folder_faces(shared_dir / "real_frames" / "ad_00", face_models)
    assert len(faces) > 0  # there are faces: the avatar and the photos on the strip
    decision = choose_dominant(faces, n_body)
    assert not decision.has_dominant_face, decision.decision
    assert decision.decision.startswith("none:")


def test_real_faceless_product_ad_has_no_dominant_face(shared_dir: Path, face_models) -> None:
    faces, n_body = folder_faces(shared_dir / "real_frames" / "ad_01", face_models)
    decision = choose_dominant(faces, n_body)
    assert not decision.has_dominant_face, decision.decision


def test_real_ad_presenter_in_a_third_of_frames_is_dominant(shared_dir: Path, face_models) -> None:
    faces, n_body = folder_faces(shared_dir / "real_frames" / "ad_07", face_models)
    decision = choose_dominant(faces, n_body)
    assert decision.has_dominant_face, decision.decision
    presenter_frames = {7, 8, 9, 10, 11, 21, 22, 23}  # by eye: she is on screen in these 8
    track_frames = set(faces.loc[decision.labels == decision.track, "frame_index"])
    assert track_frames <= presenter_frames
    assert len(track_frames) >= 6
    assert decision.frame_share < 0.5  # a majority-of-frames rule would have missed her
    assert decision.median_rel_height > 0.3
    assert np.linalg.norm(decision.embedding) == pytest.approx(1.0, abs=1e-5)
    with Image.open(io.BytesIO(decision.thumbnail)) as thumb:
        assert thumb.format == "JPEG"
    row = video_faces_row("ad_07", decision, n_body, "dlib", "v")
    assert row["has_dominant_face"] is True and len(row["embedding"]) == 128
