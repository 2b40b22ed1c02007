"""The cheap-hash screen of re-upload candidates (``media/reupload_screen.py``): shares and cost.

    python benchmarks/reupload_screen.py --lake LAKE [--lake LAKE2] --real-ads ../shared/real_ads

For each set (a finished lake, or shared/real_ads as 1 fps videos, see ``real_ads.py``): every
candidate pair's cheap share at its best nominated alignment, split by the verdict of the full
verification (screen off), as a histogram; then ``find_duplicate_groups`` (two threads) with the
screen off (``min_cheap_coverage`` 0) and at each ``--shares`` value: wall and CPU seconds, and
whether the groups table is identical to the unscreened one. Figures, not tests.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import real_ads  # noqa: E402
from accuracy_stages import _table  # noqa: E402

from influencer_pipeline.media import dedup  # noqa: E402
from influencer_pipeline.media import reupload_match as match  # noqa: E402
from influencer_pipeline.media.dedup_prints import (  # noqa: E402
    ImageSource,
    lake_frame_images,
    video_prints,
)

Inputs = tuple[pd.DataFrame, pd.DataFrame, ImageSource | None]


def shares(inputs: Inputs) -> list[tuple[bool, float]]:
    """(re-upload by the unscreened verification, best cheap share) per candidate pair."""
    files, frames, images = inputs
    unscreened = match.ReuploadConfig(min_cheap_coverage=0.0)
    prints_by_video, _ = video_prints(frames, images, unscreened.match)
    ids = [
        v for v in sorted(files.loc[files["status"] == "ok", "video_id"]) if v in prints_by_video
    ]
    prints = [prints_by_video[v] for v in ids]
    out = []
    for u, v in sorted(dedup._candidates(prints, dedup.DedupConfig(reupload=unscreened))):
        verdict = match.compare_videos(prints[u], prints[v], unscreened)
        out.append((verdict.is_duplicate, verdict.cheap_share))
    return out


def grouping(inputs: Inputs, share: float) -> tuple[pd.DataFrame, float, float]:
    """The groups table with ``min_cheap_coverage`` = share, its wall and CPU seconds."""
    files, frames, images = inputs
    config = dedup.DedupConfig(reupload=match.ReuploadConfig(min_cheap_coverage=share))
    wall, cpu = time.perf_counter(), time.process_time()
    groups = dedup.find_duplicate_groups(files, frames, config, images=images, threads=2)
    return groups, time.perf_counter() - wall, time.process_time() - cpu


def report(name: str, inputs: Inputs, screen_shares: list[float]) -> None:
    """Print one set's histogram and timings."""
    pairs = shares(inputs)
    print(f"\n{name}: {len(pairs)} candidate pairs, {sum(d for d, _ in pairs)} re-uploads")
    for label, wanted in (("re-uploads", True), ("other pairs", False)):
        values = [s for d, s in pairs if d == wanted]
        bins = collections.Counter(min(int(s * 10), 9) / 10 for s in values if s > 0)
        shown = ", ".join(f"{b:.1f}-{b + 0.1:.1f}: {n}" for b, n in sorted(bins.items()))
        lowest = f"lowest {min(values):.2f}; " if values else ""
        print(f"  {label}: {lowest}none nominated {sum(s == 0 for s in values)}; {shown}")
    base, wall, cpu = grouping(inputs, 0.0)
    print(f"  screen off: {wall:.2f} s wall, {cpu:.2f} s CPU")
    for share in screen_shares:
        groups, wall, cpu = grouping(inputs, share)
        same = "identical groups" if groups.equals(base) else "GROUPS DIFFER"
        print(f"  share >= {share}: {wall:.2f} s wall, {cpu:.2f} s CPU, {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, action="append", default=[])
    parser.add_argument("--real-ads", type=Path, help="shared/real_ads (labels.csv and folders)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/reupload_screen"))
    parser.add_argument("--shares", type=float, nargs="+", default=[0.35, 0.5, 0.7])
    args = parser.parse_args()
    for lake in args.lake:
        frames = _table(lake, "video_frames").drop(columns=["image"])
        report(
            str(lake),
            (_table(lake, "video_files"), frames, lake_frame_images(str(lake))),
            args.shares,
        )
    if args.real_ads:
        args.work.mkdir(parents=True, exist_ok=True)
        folders = real_ads.labels(args.real_ads)
        videos = {f: real_ads.folder_video(args.real_ads / f, args.work) for f in folders}
        files, frames = real_ads.tables(videos)
        report("shared/real_ads", (files, frames, None), args.shares)


if __name__ == "__main__":
    main()
