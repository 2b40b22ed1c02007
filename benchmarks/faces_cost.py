"""CPU seconds of face detection and embedding per video, for comparing two trees of the project.

    OMP_NUM_THREADS=1 PYTHONPATH=/tmp/base python benchmarks/faces_cost.py /tmp/base DEMO base.json
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/faces_cost.py . DEMO now.json

Runs the first ``--limit`` videos of ``DEMO/demo_sheet.xlsx`` through ``benchmarks/per_video.py``
of the tree at ``ROOT`` (its ``measure_path``: the assets' own functions, models loaded once) and
writes the mean seconds per stage. Seconds are *CPU* seconds of this process
(``time.process_time``), single-threaded, so other processes on the machine do not change them
(wall seconds and multi-threaded CPU seconds both do: idle threads spin under contention).
Run the two trees alternately (base, now, now, base) and compare the means.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    """Measure one tree on one demo and write the JSON figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the project tree (also first on PYTHONPATH)")
    parser.add_argument("demo", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--limit", type=int, default=16)
    args = parser.parse_args(argv)
    time.perf_counter = time.process_time  # per_video times with perf_counter: make it CPU time
    sys.path.insert(0, str(args.root / "benchmarks"))
    from per_video import measure_path, sheet_urls  # the tree's own

    import influencer_pipeline
    from influencer_pipeline.faces.detection import FaceDetector
    from influencer_pipeline.faces.embedders import make_embedder

    package = Path(influencer_pipeline.__file__).resolve()
    if not package.is_relative_to(args.root.resolve()):
        raise SystemExit(f"influencer_pipeline comes from {package}: put {args.root} on PYTHONPATH")
    urls = sheet_urls(args.demo / "demo_sheet.xlsx", args.demo)[: args.limit]
    detector, embedder = FaceDetector(batch_size=16), make_embedder("dlib")
    with tempfile.TemporaryDirectory() as blobs:
        paths = measure_path(urls, [args.demo], detector, embedder, blob_root=Path(blobs))
    means = {k: statistics.mean(p.seconds[k] for p in paths) for k in paths[0].seconds}
    result = {
        "tree": str(args.root),
        "videos": len(paths),
        "faces": sum(p.faces for p in paths),
        "mean_cpu_s": means,
        "detection_plus_embedding_s": means["detection"] + means["embedding"],
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
