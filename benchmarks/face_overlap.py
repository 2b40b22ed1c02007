"""The face step with one video at a time against several in flight, on a lake's stored frames.

    .venv/bin/python benchmarks/face_overlap.py LAKE [--videos 20] [--in-flight 1 2 3]

Reads ``LAKE/video_frames/*.parquet`` (the first ``--videos`` partitions), then runs what the
``face_embeddings`` step runs for each video (``records.face_rows``: MTCNN, quality, embed plan,
dlib's ResNet in PyTorch) over those videos with ``--in-flight`` videos at a
time (``parallel.map_isolated``, as ``FaceModels.videos_in_flight`` does). The models and the
pool are started before timing. Prints wall seconds per video for each setting and whether the
face tables equal the one-at-a-time tables.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from influencer_pipeline.faces.detection import FaceDetector
from influencer_pipeline.faces.embedders import DlibEmbedder
from influencer_pipeline.faces.records import face_rows
from influencer_pipeline.parallel import map_isolated

BATCH = 16  # FaceModels.batch_size


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=Path)
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    args = parser.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    print(f"torch threads: {torch.get_num_threads()}")
    paths = sorted((args.lake / "video_frames").glob("*.parquet"))[: args.videos]
    frames = {p.stem: pd.read_parquet(p) for p in paths}
    detector, embedder = FaceDetector(batch_size=BATCH), DlibEmbedder()
    first = next(iter(frames))
    face_rows(first, frames[first], detector, embedder, BATCH)  # load, start the pool

    def raise_error(key: str, exc: BaseException) -> pd.DataFrame:
        raise exc

    reference: list[pd.DataFrame] | None = None
    for in_flight in args.in_flight:
        started = time.perf_counter()
        tables = map_isolated(
            lambda key: face_rows(key, frames[key], detector, embedder, BATCH),
            list(frames),
            raise_error,
            in_flight,
        )
        seconds = time.perf_counter() - started
        reference = reference or tables
        same = all(
            a.drop(columns=["embedding"]).equals(b.drop(columns=["embedding"]))
            and all(
                (x is None and y is None) or (x == y).all()
                for x, y in zip(a["embedding"], b["embedding"], strict=True)
            )
            for a, b in zip(reference, tables, strict=True)
        )
        faces = sum(len(t) for t in tables)
        print(
            f"{in_flight} in flight: {seconds / len(frames):.3f} s/video "
            f"({len(frames)} videos, {faces} faces, dlib runtime {embedder.runtime}); "
            f"same tables as the first setting: {same}"
        )


if __name__ == "__main__":
    main()
