"""Do the demo's live people look live to the pipeline, as real presenters do?

Each influencer of an identity set is animated by the demo (``demo.motion``: a random head motion
warped onto its first photo, ``face_px`` tall), sampled at 1 fps for ``seconds`` and run through
MTCNN and the liveness measure (``faces.liveness.rigid_pairs``). It prints the share of rigid
frame pairs and the median pair landmark change per person, against the real presenters'
envelope (``shared/real_ads``: 0.00-0.20 rigid, median change 0.11-0.20; ``benchmarks/framing.py``).
A person with >= ``PICTURE_SHARE`` rigid pairs and a median change below ``PICTURE_MEDIAN_SHAPE``
would be judged a picture. It also prints the share of frames MTCNN misses or scores below the
quality gate (a talking person stays detectable).

    python benchmarks/demo_liveness.py [--identities development] [--people 16] [--seconds 18]
        [--set MOUTH_V=0.55 ...]  (try other demo.motion constants)
"""

from __future__ import annotations

import argparse

import numpy as np

from influencer_pipeline.faces.detection import FaceDetector
from influencer_pipeline.faces.liveness import (
    PICTURE_MEDIAN_SHAPE,
    PICTURE_SHARE,
    aligned_patch,
    rigid_pairs,
)
from influencer_pipeline.faces.quality import MIN_DET_SCORE
from influencer_tools.demo import motion
from influencer_tools.demo.photos import load_library, person_layer


def liveness(
    identities: str, n_people: int, seconds: int, face_px: float, seed: int
) -> list[tuple[str, float, float, float]]:
    """(identity, rigid-pair share, median pair change, share of frames MTCNN scores below the
    quality gate or misses) per animated person."""
    detector = FaceDetector(batch_size=8)
    rng = np.random.default_rng(seed)
    library = load_library(identity_set=identities)
    people = [library.photos[i][0] for i in library.identities("influencer")]
    rng.shuffle(people)
    rows = []
    for photo in people[:n_people]:
        layer, box = person_layer(photo, face_px)
        head = motion.random_motion(rng)
        times = np.arange(seconds, dtype=float) + float(rng.uniform(0, 1))
        frames = motion.talking_frames(layer, box, head, times)
        found = detector.detect(frames)
        kept = [(t, f, d[0]) for t, f, d in zip(times, frames, found, strict=True) if d]
        rigid, pairs, shape = rigid_pairs(
            np.array([t for t, _, _ in kept]),
            [d.landmarks for _, _, d in kept],
            [aligned_patch(f, d.landmarks) for _, f, d in kept],
        )
        weak = sum(1 for d in found if not d or d[0].score < MIN_DET_SCORE) / len(found)
        rows.append((photo.identity, rigid / max(pairs, 1), shape, weak))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", default="development")
    parser.add_argument("--people", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=18)
    parser.add_argument("--face-px", type=float, default=110.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a demo.motion constant"
    )
    args = parser.parse_args(argv)
    for assignment in args.set:
        name, value = assignment.split("=", 1)
        if not hasattr(motion, name):
            parser.error(f"demo.motion has no constant {name}")
        setattr(motion, name, float(value))
    motion._keys.cache_clear()  # key poses depend on FACING_SHARE
    rows = liveness(args.identities, args.people, args.seconds, args.face_px, args.seed)
    shares = np.array([r[1] for r in rows])
    shapes = np.array([r[2] for r in rows])
    pictures = int(((shares >= PICTURE_SHARE) & (shapes < PICTURE_MEDIAN_SHAPE)).sum())
    print(f"{args.identities}: {len(rows)} people, {args.seconds} frames at 1 fps each")
    print(
        f"  rigid-pair share: median {np.median(shares):.2f}, 90th percentile "
        f"{np.quantile(shares, 0.9):.2f}, max {shares.max():.2f} (real presenters 0.00-0.20)"
    )
    print(
        f"  median pair change: median {np.median(shapes):.3f}, min {shapes.min():.3f} "
        "(real presenters 0.11-0.20)"
    )
    print(f"  judged pictures by the liveness rule: {pictures} of {len(rows)}")
    weak = np.array([r[3] for r in rows])
    print(
        f"  frames missed or scored below {MIN_DET_SCORE} by MTCNN: {weak.mean():.1%} "
        f"(worst person {weak.max():.0%})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
