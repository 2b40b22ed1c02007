"""Real influencer ads (frames of ../shared/real_frames and ../shared/real_ads turned into 1 fps
videos) through the per-video stages: frames, faces, dominant face and outro fingerprint.

The labelled ``real_ads`` folders check the presenter/photo decisions: a presenter (also a baby
or a child a viewer would call the presenter) gets a dominant face; photos on products, film
strips, posters and a stage clip never do. These folders are the development set the liveness
thresholds were read from (``faces.liveness``); more labelled ads are kept for acceptance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from influencer_pipeline.faces.detection import FaceDetector
from influencer_pipeline.faces.dominant import DominanceConfig, choose_dominant
from influencer_pipeline.faces.embedders import make_embedder
from influencer_pipeline.faces.records import FACE_ROLES, face_rows
from influencer_pipeline.media.encode import write_video
from influencer_pipeline.media.frames import SamplingConfig, frames_table, sample_frames
from influencer_pipeline.outro.fingerprint import fingerprint_outro

# ad_07: the presenter is on screen in these frames (checked by eye on the shared frames)
PRESENTER_FRAMES_AD_07 = {7, 8, 9, 10, 11, 21, 22, 23}


@pytest.fixture(scope="module")
def models() -> tuple[FaceDetector, object]:
    return FaceDetector(batch_size=16), make_embedder("dlib")


def _ad_video(shared_dir: Path, name: str, out: Path) -> Path:
    """The ad's frames (about one per second, in order) as an H.264 video at 1 fps."""
    frames = [
        np.asarray(Image.open(p).convert("RGB"))
        for p in sorted((shared_dir / "real_frames" / name).glob("*.jpg"))
    ]
    return write_video(out / f"{name}.mp4", frames, fps=1.0, gop=5)


def _analyse(shared_dir: Path, name: str, tmp_path: Path, models):
    config = SamplingConfig(body_fps=1.0)
    result = sample_frames(_ad_video(shared_dir, name, tmp_path), config)
    frames = frames_table(name, result, config)
    detector, embedder = models
    faces = face_rows(name, frames, detector, embedder)
    searched = int((frames["role"].isin(FACE_ROLES) & ~frames["is_blank"]).sum())
    return frames, faces, choose_dominant(faces, searched)


def test_film_strip_photos_are_not_an_influencer(shared_dir: Path, tmp_path: Path, models) -> None:
    _, faces, dominant = _analyse(shared_dir, "ad_00", tmp_path, models)
    assert len(faces) > 0  # the strip does show faces...
    assert not dominant.has_dominant_face, dominant.decision  # ...but none dominates


def test_presenter_on_screen_a_third_of_the_time_is_the_influencer(
    shared_dir: Path, tmp_path: Path, models
) -> None:
    _, faces, dominant = _analyse(shared_dir, "ad_07", tmp_path, models)
    assert dominant.has_dominant_face, dominant.decision
    track = faces.reset_index(drop=True)[dominant.labels == dominant.track]
    seconds = {round(t) for t in track["timestamp_s"]}
    assert seconds <= PRESENTER_FRAMES_AD_07, dominant.decision
    assert dominant.frame_share < 0.5  # a majority-of-frames rule would have missed her
    assert np.linalg.norm(dominant.embedding) == pytest.approx(1.0, abs=1e-5)


def test_faceless_product_ad_ends_with_its_card_as_fingerprint(
    shared_dir: Path, tmp_path: Path, models
) -> None:
    frames, _, dominant = _analyse(shared_dir, "ad_01", tmp_path, models)
    assert not dominant.has_dominant_face, dominant.decision
    outcome = fingerprint_outro(frames[frames["role"] == "outro"])
    assert outcome.fingerprint is not None, outcome.reason
    last = frames["timestamp_s"].max()
    assert outcome.fingerprint.representative_timestamp_s == pytest.approx(last)
    card = np.asarray(Image.open(shared_dir / "real_frames" / "ad_01" / "011.jpg").convert("L"))
    assert card.mean() > 200  # the white HUSTLEZY card, not a black or product frame


def _real_ad_video(shared_dir: Path, folder: str, out: Path) -> Path:
    """A ``real_ads`` folder's frames as a 1 fps video (odd sizes lose one row or column)."""
    frames = [
        np.asarray(Image.open(p).convert("RGB"))
        for p in sorted((shared_dir / "real_ads" / folder).glob("*.jpg"))
    ]
    h, w = frames[0].shape[:2]
    frames = [f[: h // 2 * 2, : w // 2 * 2] for f in frames]
    return write_video(out / f"{folder}.mp4", frames, fps=1.0, gop=5)


def _real_ad_decision(shared_dir: Path, folder: str, tmp_path: Path, models):
    config = SamplingConfig(body_fps=1.0)
    frames = frames_table(
        folder, sample_frames(_real_ad_video(shared_dir, folder, tmp_path), config), config
    )
    detector, embedder = models
    faces = face_rows(folder, frames, detector, embedder)
    searched = int((frames["role"].isin(FACE_ROLES) & ~frames["is_blank"]).sum())
    return choose_dominant(faces, searched, DominanceConfig.for_embedder("dlib"))


@pytest.mark.parametrize(
    "folder",
    [
        "v14",  # presenter yes: 5 of 20 frames, between product shots
        "v32",  # yes (baby): 2 of 18 frames
        "v38",  # yes (child): 3 of 16 frames, face under 8 % of the frame height
        "v69",  # yes: 8 of 13 frames, a close-up, a small photo on screen in 4 of them
    ],
)
def test_labelled_presenters_get_a_dominant_face(
    shared_dir: Path, tmp_path: Path, models, folder: str
) -> None:
    decision = _real_ad_decision(shared_dir, folder, tmp_path, models)
    assert decision.has_dominant_face, decision.decision
    assert "live:" in decision.decision


@pytest.mark.parametrize(
    ("folder", "why"),
    [
        ("v15", "a picture"),  # a couple's photo on a lamp in 12 of 13 frames
        ("v17", "a picture"),  # a singer on stage before a poster
        ("v45", "a picture"),  # a couple's photo on a plaque in 11 of 21 frames
        ("v59", "film strip"),  # wedding photos on a sliding film strip
        ("v68", "a picture"),  # a family photo shown in 4 of 22 frames
    ],
)
def test_photos_posters_and_strips_never_win(
    shared_dir: Path, tmp_path: Path, models, folder: str, why: str
) -> None:
    decision = _real_ad_decision(shared_dir, folder, tmp_path, models)
    assert not decision.has_dominant_face, decision.decision
    assert why in decision.decision
