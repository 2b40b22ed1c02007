"""dlib descriptors: dlib in one process, in worker processes, and dlib's ResNet in PyTorch.

    .venv/bin/python benchmarks/descriptor_pool.py DEMO [--videos 6] [--workers 2]

Decodes every 12th frame of the first ``--videos`` videos of ``DEMO/videos`` (640 px long side),
detects their faces with the project's MTCNN, then embeds them with ``DlibEmbedder``: dlib's own
descriptor in this process and in ``--workers`` worker processes (``faces.descriptor_pool``; the
pool is started before timing), and the default runtime, the same network in PyTorch
(``faces.dlib_resnet``). Prints the wall seconds of each, whether the pooled vectors are
identical and the largest difference of the PyTorch vectors.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import av
import numpy as np

from influencer_pipeline.faces.detection import FaceDetector
from influencer_pipeline.faces.embedders import DLIB_RUNTIME, DlibEmbedder, embed_images

FRAME_STEP = 12


def frames(path: Path) -> list[np.ndarray]:
    """Every ``FRAME_STEP``-th frame of ``path`` as a 360 x 640 RGB array."""
    with av.open(str(path)) as container:
        return [
            np.ascontiguousarray(frame.to_ndarray(format="rgb24", width=360, height=640))
            for i, frame in enumerate(container.decode(video=0))
            if i % FRAME_STEP == 0
        ]


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    detector = FaceDetector()
    items = []
    for path in sorted((args.demo / "videos").glob("*.mp4"))[: args.videos]:
        images = frames(path)
        items += [(i, d) for i, d in zip(images, detector.detect(images), strict=True) if d]
    faces = sum(len(d) for _, d in items)
    alone = DlibEmbedder(runtime=DLIB_RUNTIME)
    pooled = DlibEmbedder(workers=args.workers, runtime=DLIB_RUNTIME)
    embed_images(pooled, items[:2])  # start the workers
    started = time.perf_counter()
    expected = embed_images(alone, items)
    one = time.perf_counter() - started
    started = time.perf_counter()
    got = embed_images(pooled, items)
    many = time.perf_counter() - started
    same = all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))
    ported = DlibEmbedder()
    embed_images(ported, items[:2])
    started = time.perf_counter()
    batched = embed_images(ported, items)
    torch_s = time.perf_counter() - started
    gap = max(float(np.abs(a - b).max()) for a, b in zip(expected, batched, strict=True))
    print(f"{faces} faces in {len(items)} frames of {args.videos} videos")
    print(f"dlib, one process: {one:.2f} s; {args.workers} workers: {many:.2f} s")
    print(f"pooled vectors identical: {same}")
    print(f"dlib's ResNet in PyTorch: {torch_s:.2f} s; largest difference {gap:.1e}")


if __name__ == "__main__":
    main()
