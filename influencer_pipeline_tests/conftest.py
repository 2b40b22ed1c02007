"""Shared fixtures: the optional ../shared material and small generated videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from influencer_pipeline.media.encode import write_video
from influencer_tools.demo.config import DemoConfig

PROJECT_DIR = Path(__file__).resolve().parents[1]
SHARED_DIR = PROJECT_DIR.parent / "shared"
# The small demo of the whole-pipeline tests (16 videos: faces, faceless cards, re-uploads).
TINY_DEMO = DemoConfig(
    seed=11,
    n_face_influencers=3,
    n_faceless_creators=2,
    videos_per_influencer=(2, 3),
    seconds=(4.0, 5.0),
    width=270,
    height=480,
    n_reuploads=3,
)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip with a clear message if absent."""
    if not (SHARED_DIR / "DESIGN.md").is_file():
        pytest.skip(f"../shared is not present at {SHARED_DIR}; this test needs its real material")
    return SHARED_DIR


@pytest.fixture(scope="session")
def real_sheet(shared_dir: Path) -> Path:
    """The real assignment sheet (268 rows, hosts unreachable from here)."""
    return shared_dir / "data" / "Assignment_Data.xlsx"


def gradient_frames(n: int, width: int = 96, height: int = 160, seed: int = 0) -> list[np.ndarray]:
    """``n`` distinct, textured RGB frames (a moving pattern), so every frame hashes differently."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(height // 8, width // 8, 3), dtype=np.uint8)
    base = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))
    frames = []
    for i in range(n):
        shifted = np.roll(base, shift=(i * 3, i * 2), axis=(0, 1))
        frames.append(shifted)
    return frames


@pytest.fixture()
def make_video(tmp_path: Path):
    """Factory: ``make_video(name, seconds, fps=..., width=..., height=...)`` writes an mp4."""

    def _make(
        name: str = "clip.mp4",
        seconds: float = 4.0,
        fps: float = 25.0,
        width: int = 96,
        height: int = 160,
        seed: int = 0,
    ) -> Path:
        frames = gradient_frames(max(1, round(seconds * fps)), width, height, seed)
        return write_video(tmp_path / name, frames, fps)

    return _make
