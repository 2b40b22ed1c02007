"""The demo's settings (what the CLI exposes) and the summary that ``generate_demo`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from influencer_tools.demo.errors import DemoError


@dataclass(frozen=True)
class DemoConfig:
    """Settings of one demo data set; the same settings always give the same data set."""

    seed: int = 7
    n_face_influencers: int = 8
    n_faceless_creators: int = 5  # the last 4: a look-alike family (name, colour, price twins)
    videos_per_influencer: tuple[int, int] = (3, 6)
    seconds: tuple[float, float] = (6.0, 10.0)
    width: int = 540
    height: int = 960
    fps: int = 24
    n_reuploads: int = 9  # every kind of demo/reuploads.py once
    outro_seconds: float = 2.0
    brand_card_share: float = 0.4
    exact_duplicate_row: bool = True
    exact_copy: bool = True
    lookalike_outros: bool = True
    second_cut: bool = True  # another edit of one faceless video's shoot (not a re-upload)
    brand_pool: str = "default"  # "validation": brand names never used while tuning
    identities: str = "default"  # people: default | development | validation (demo/folds.py)
    crf: int = 23
    workers: int = 0
    reuse_existing: bool = True

    def __post_init__(self) -> None:
        """Reject settings that cannot make a sensible demo (DemoError code ``bad_config``)."""
        lo, hi = self.videos_per_influencer
        s_lo, s_hi = self.seconds
        checks = [
            (self.n_face_influencers >= 0, "n_face_influencers must be >= 0"),
            (self.n_faceless_creators >= 0, "n_faceless_creators must be >= 0"),
            (
                self.n_face_influencers + self.n_faceless_creators >= 1,
                "at least one creator is needed",
            ),
            (
                1 <= lo <= hi <= 50,
                "videos_per_influencer must be a range (lo, hi) with 1 <= lo <= hi <= 50",
            ),
            (
                1.0 <= s_lo <= s_hi <= 120.0,
                "seconds must be a range (lo, hi) with 1 <= lo <= hi <= 120",
            ),
            (
                self.width % 2 == 0 and self.height % 2 == 0,
                "width and height must be even (yuv420p)",
            ),
            (
                64 <= self.width <= 2160 and 64 <= self.height <= 3840,
                "width/height out of range 64..3840",
            ),
            (1 <= self.fps <= 60, "fps must be in 1..60"),
            (self.n_reuploads >= 0, "n_reuploads must be >= 0"),
            (self.brand_pool in ("default", "validation"), "brand_pool: default or validation"),
            (
                self.identities in ("default", "development", "validation"),
                "identities: default, development or validation",
            ),
            (0.2 <= self.outro_seconds <= 10.0, "outro_seconds must be in 0.2..10"),
            (0.0 <= self.brand_card_share <= 1.0, "brand_card_share must be in 0..1"),
            (0 <= self.crf <= 51, "crf must be in 0..51"),
            (self.workers >= 0, "workers must be >= 0 (0 picks automatically)"),
        ]
        for ok, message in checks:
            if not ok:
                raise DemoError("bad_config", f"{message} (got {self!r})")


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate_demo`` wrote."""

    out_dir: Path
    sheet: Path
    truth: Path
    truth_influencers: Path
    n_rows: int
    n_files: int
    n_influencers: int
    n_rendered: int
    n_reused: int
    seconds: float
    files: tuple[str, ...] = field(default=(), repr=False)
