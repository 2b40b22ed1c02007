"""What re-upload detection and outro fingerprints cost, per video and for 10k videos.

    python benchmarks/reupload_cost.py --lake /tmp/acc/lake            # per video, on a lake
    python benchmarks/reupload_cost.py --videos 10000                  # grouping at scale

Per video (on a lake's ``video_frames``): the placement columns that ``frames_table`` adds
(content box + 40 placement hashes per frame, from the stored JPEGs), the outro fingerprint
(``fingerprint_outro``), and ``find_duplicate_groups`` over the whole lake (reading images
lazily, ORB features only for verified candidates) divided by its videos.

At scale (``--videos N``): N synthetic videos of 20 body frames with random whole-frame and
placement hashes, 10 % of them re-uploads of another (every hash with 0-6 flipped bits, times
shifted by a trim): the candidate index (``dedup._candidates``) and the hash-level verification
of every candidate pair (no images: feature matching runs only for pairs with cheap matches,
whose count is printed with the per-pair feature cost measured on the lake).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from accuracy_stages import _table  # noqa: E402

from influencer_pipeline.media import dedup  # noqa: E402
from influencer_pipeline.media.dedup_prints import lake_frame_images  # noqa: E402
from influencer_pipeline.media.local_match import decode_rgb  # noqa: E402
from influencer_pipeline.media.placement import N_HASHES, placement_columns  # noqa: E402
from influencer_pipeline.media.reupload_match import (  # noqa: E402
    ReuploadConfig,
    VideoPrint,
    cheap_matches,
)
from influencer_pipeline.outro.fingerprint import fingerprint_outro  # noqa: E402


def per_video(lake: Path) -> None:
    """Seconds per video of the placement columns, the outro fingerprint and the grouping."""
    frames = _table(lake, "video_frames")
    files = _table(lake, "video_files")
    videos = sorted(frames["video_id"].unique())
    placement = outro = 0.0
    for video_id in videos:
        rows = frames[frames["video_id"] == video_id]
        rgbs = [decode_rgb(b) for b in rows["image"]]
        started = time.perf_counter()
        placement_columns(rgbs, list(rows["role"] == "body"))
        placement += time.perf_counter() - started
        started = time.perf_counter()
        fingerprint_outro(rows)
        outro += time.perf_counter() - started
    started = time.perf_counter()
    dedup.find_duplicate_groups(
        files, frames.drop(columns=["image"]), images=lake_frame_images(str(lake))
    )
    grouping = time.perf_counter() - started
    n = len(videos)
    print(f"{n} videos of {lake}")
    print(f"  placement columns (frames_table's addition): {placement / n:.3f} s per video")
    print(f"  outro fingerprint: {outro / n:.3f} s per video")
    print(
        f"  duplicate_groups (index + verification): {grouping:.2f} s, {grouping / n:.3f} s/video"
    )


def _synthetic(n: int, seed: int = 5) -> list[VideoPrint]:
    rng = np.random.default_rng(seed)
    frames = 20

    def random_hashes(shape: tuple[int, ...]) -> np.ndarray:
        return rng.integers(0, 2**63, size=shape, dtype=np.int64).astype(np.uint64) * 2 + 1

    prints = []
    for k in range(n):
        if k >= 10 and rng.random() < 0.1:
            source = prints[int(rng.integers(k))]
            flips = rng.integers(0, 7, size=(frames, 2 + N_HASHES))
            masks = np.array(
                [
                    [sum(1 << int(b) for b in rng.choice(64, f, replace=False)) for f in row]
                    for row in flips
                ],
                dtype=np.uint64,
            )
            prints.append(
                VideoPrint(
                    source.times + 0.4,
                    source.phash ^ masks[:, 0],
                    source.dhash ^ masks[:, 1],
                    source.centre ^ masks[:, 2:],
                )
            )
        else:
            prints.append(
                VideoPrint(
                    np.arange(frames, dtype=np.float64),
                    random_hashes((frames,)),
                    random_hashes((frames,)),
                    random_hashes((frames, N_HASHES)),
                )
            )
    return prints


def at_scale(n: int) -> None:
    """Index and hash-level verification of ``n`` synthetic videos."""
    prints = _synthetic(n)
    config = dedup.DedupConfig()
    started = time.perf_counter()
    candidates = dedup._candidates(prints, config)
    indexed = time.perf_counter() - started
    started = time.perf_counter()
    reupload = ReuploadConfig()
    needs_features = sum(
        int(cheap_matches(prints[u], prints[v], reupload).sum() >= 2) for u, v in candidates
    )
    checked = time.perf_counter() - started
    print(f"{n} synthetic videos (20 body frames, 10 % re-uploads)")
    print(f"  candidate index: {indexed:.1f} s, {len(candidates)} candidate pairs")
    print(
        f"  cheap matches of every candidate: {checked:.1f} s; {needs_features} pairs need features"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the measurements asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path)
    parser.add_argument("--videos", type=int)
    args = parser.parse_args(argv)
    if args.lake:
        per_video(args.lake)
    if args.videos:
        at_scale(args.videos)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
