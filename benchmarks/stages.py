"""Per-stage seconds per video of the per-video path, single process, on a demo data set.

    python benchmarks/stages.py --demo demo_data            # an existing demo folder
    python benchmarks/stages.py --generate 54               # generate a default-sized demo first

Prints, per stage, the mean and median seconds per video: read (copy into a blob store, hash,
probe and validate), decode (seek-based sampling and downscaling), hashing (JPEG + pHash/dHash
+ blank test), detection (MTCNN over the frames searched for faces, in batches), embedding (dlib
per face) and the outro fingerprint; plus the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

from influencer_pipeline.catalog.urls import normalize_url
from influencer_pipeline.faces.detection import FaceDetector
from influencer_pipeline.faces.embedders import make_embedder
from influencer_pipeline.faces.records import FACE_ROLES, decode_frame
from influencer_pipeline.media.blobs import BlobStore
from influencer_pipeline.media.fetch import FetchPolicy
from influencer_pipeline.media.frames import SamplingConfig, frames_table, sample_frames
from influencer_pipeline.media.video_file import fetch_video
from influencer_pipeline.outro.fingerprint import fingerprint_outro


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(demo: Path, limit: int | None, batch_size: int) -> dict[str, list[float]]:
    """Seconds per video of every stage, over the videos of the demo sheet."""
    sheet = pd.read_excel(demo / "demo_sheet.xlsx")
    urls = list(dict.fromkeys(normalize_url(u, demo) for u in sheet["Video URL"]))[:limit]
    detector, embedder = FaceDetector(batch_size=batch_size), make_embedder("dlib")
    config = SamplingConfig()
    policy = FetchPolicy(local_roots=(demo.resolve(),))
    times: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory() as lake:
        store = BlobStore(lake)
        for i, url in enumerate(urls):
            t0 = time.perf_counter()
            row = fetch_video(f"v{i}", url, store, policy)
            t1 = time.perf_counter()
            result = sample_frames(Path(row["local_path"]), config)
            t2 = time.perf_counter()
            frames = frames_table(f"v{i}", result, config)
            t3 = time.perf_counter()
            searched = frames[frames["role"].isin(FACE_ROLES) & ~frames["is_blank"]]
            images = [decode_frame("v", int(r.frame_index), r.image) for r in searched.itertuples()]
            found = detector.detect(images, batch_size=batch_size)
            t4 = time.perf_counter()
            for image, faces in zip(images, found, strict=True):
                if faces:
                    embedder.embed(image, faces)
            t5 = time.perf_counter()
            fingerprint_outro(frames[frames["role"] == "outro"])
            t6 = time.perf_counter()
            for stage, seconds in zip(
                ("read", "decode", "hashing", "detection", "embedding", "outro"),
                (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5),
                strict=True,
            ):
                times[stage].append(seconds)
            counts["frames"] += len(frames)
            counts["frames_decoded"] += result.frames_decoded
            counts["faces"] += sum(len(f) for f in found)
    times["_counts"] = [float(counts[k]) for k in ("frames", "frames_decoded", "faces")]
    return times


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, help="an existing demo folder")
    parser.add_argument("--generate", type=int, help="generate a demo with about N videos first")
    parser.add_argument("--limit", type=int, help="only the first N videos")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    demo = args.demo
    if demo is None:
        from influencer_tools.demo.config import DemoConfig
        from influencer_tools.demo.generator import generate_demo

        demo = Path(tempfile.mkdtemp(prefix="bench_demo_"))
        influencers = max(1, round((args.generate or 54) / 6))
        generate_demo(demo, DemoConfig(n_face_influencers=influencers))
    times = measure(demo, args.limit, args.batch_size)
    frames, decoded, faces = times.pop("_counts")
    n = len(times["read"])
    print(
        f"videos: {n}; frames sampled: {frames:.0f} ({frames / n:.1f}/video); frames decoded: "
        f"{decoded:.0f} ({decoded / n:.1f}/video); faces: {faces:.0f}"
    )
    print(f"{'stage':<10} {'mean s/video':>13} {'median':>8} {'total s':>8}")
    for stage, values in times.items():
        print(
            f"{stage:<10} {statistics.mean(values):>13.3f} {statistics.median(values):>8.3f} "
            f"{sum(values):>8.1f}"
        )
    total = sum(sum(v) for v in times.values())
    print(f"{'all':<10} {total / n:>13.3f} {'':>8} {total:>8.1f}")
    print(f"peak RSS: {_peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
