"""dlib descriptors as seen against mirror-averaged: photo pairs of each fold of ``shared/faces``.

    .venv/bin/python benchmarks/mirrored.py [--shared ../shared] [--folds development validation]

For every photo of the fold's people (``influencer_tools/demo/faces/FOLDS.csv``; the long side
scaled to 1280 px at most) the largest MTCNN face is embedded by ``DlibEmbedder`` twice: as seen
(``mirrored=False``) and mirror-averaged (the default). Prints, per fold and variant, the
same-person and different-people distance percentiles and the share of same-person pairs within
the distance that 0.1 % / 0.5 % of different-people pairs are within (recall at a fixed
false-match rate: the question a threshold answers).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image

from influencer_pipeline.faces.detection import FaceDetector
from influencer_pipeline.faces.embedders import DlibEmbedder
from influencer_tools.demo.folds import load_folds

LONG_SIDE = 1280
FALSE_MATCH_RATES = (0.001, 0.005)


def largest_faces(shared: Path, fold: str) -> tuple[list[str], list[tuple[np.ndarray, list]]]:
    """(identity, (image, [largest detection])) of every photo of ``fold`` with a face."""
    folds, detector = load_folds(), FaceDetector(batch_size=8)
    with (shared / "faces" / "MANIFEST.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if folds.get(r["identity"]) == fold]
    ids, items = [], []
    for row in rows:
        image = Image.open(shared / "faces" / row["path"]).convert("RGB")
        image.thumbnail((LONG_SIDE, LONG_SIDE))
        rgb = np.asarray(image)
        found = detector.detect([rgb])[0]
        if found:
            largest = max(found, key=lambda d: d.width * d.height)
            ids.append(row["identity"])
            items.append((rgb, [largest]))
    return ids, items


def pair_figures(ids: list[str], vectors: np.ndarray) -> str:
    """Distance percentiles and recall at fixed false-match rates, in one line."""
    i, j = np.triu_indices(len(ids), 1)
    distances = np.linalg.norm(vectors[i] - vectors[j], axis=1)
    same_person = np.array(ids)[i] == np.array(ids)[j]
    same, other = distances[same_person], distances[~same_person]
    parts = [
        f"same median {np.median(same):.3f} p95 {np.percentile(same, 95):.3f}",
        f"different p1 {np.percentile(other, 1):.3f} median {np.median(other):.3f}",
    ]
    for rate in FALSE_MATCH_RATES:
        limit = np.quantile(other, rate)
        recall = np.mean(same <= limit)
        parts.append(f"recall at {rate:.1%} false matches {recall:.3f} ({limit:.3f})")
    return " | ".join(parts)


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--folds", nargs="+", default=["development", "validation"])
    args = parser.parse_args()
    variants = {"as seen": DlibEmbedder(mirrored=False), "mirrored": DlibEmbedder()}
    for fold in args.folds:
        ids, items = largest_faces(args.shared, fold)
        print(f"{fold}: {len(ids)} photos of {len(set(ids))} people")
        for name, embedder in variants.items():
            vectors = np.concatenate(embedder.embed_many(items))
            print(f"  {name:8s} {pair_figures(ids, vectors)}")


if __name__ == "__main__":
    main()
