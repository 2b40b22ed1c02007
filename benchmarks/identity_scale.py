"""Scale of identity clustering: what the ``identity_clusters`` asset computes, 1k to 100k videos.

    python benchmarks/identity_scale.py --sizes 1000 10000 100000 [--variants knn points pca32]

Every (size, variant) runs in a fresh subprocess, so its peak memory (``VmHWM``) is its own: the
figure printed is the whole process (Python, numpy, scikit-learn, hdbscan, the data), with the
resident memory before clustering started for reference.

Timed: ``cluster_video_faces`` on synthetic dominant-face embeddings (``benchmarks/clustering.py``:
dlib-calibrated people, 30 % single-video people, 2-20 video people, a few 50-1000 video
people), then the stable ids (``assign_stable_ids`` with cluster centroids, as the asset calls
it) on a first run (no previous ids) and on a rerun whose previous ids are the first run's (what
every later materialization does). Scores: BCubed and pairwise precision/recall/F against the
generating people, and the wrong merges. Variants (``ClusterConfig``): ``knn`` (the default:
exact 15-NN sparse graph in the full 128-d space), ``points`` (HDBSCAN's own Boruvka KD-tree on
the full points), ``pca32`` (the kNN graph after PCA to 32 dimensions).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
from clustering import _peak_rss_mib, synthetic_embeddings
from proctree import run_json_subprocess

from influencer_pipeline.identities.clustering import ClusterConfig, cluster_video_faces
from influencer_pipeline.identities.stable_ids import assign_stable_ids, centroids_by_label
from influencer_tools.evaluation.metrics import bcubed, pairwise, wrong_merges

# identity_threshold of the identity_clusters asset for dlib (IDENTITY_THRESHOLDS["dlib"] in
# influencer_pipeline/defs/identities/assets.py, a Dagster module the benchmarks do not import)
DLIB_IDENTITY_THRESHOLD = 0.40
VARIANTS: dict[str, ClusterConfig] = {
    "knn": ClusterConfig(identity_threshold=DLIB_IDENTITY_THRESHOLD),
    "points": ClusterConfig(identity_threshold=DLIB_IDENTITY_THRESHOLD, graph="points"),
    "pca32": ClusterConfig(identity_threshold=DLIB_IDENTITY_THRESHOLD, pca_dims=32),
}


def scores(pred: dict[str, object], truth: dict[str, object]) -> dict[str, object]:
    """BCubed and pairwise (P, R, F) and the wrong merges of ``pred`` against ``truth``."""
    merges = wrong_merges(pred, truth)
    return {
        "bcubed_prf": [round(v, 4) for v in bcubed(pred, truth)],
        "pairwise_prf": [round(v, 4) for v in pairwise(pred, truth)],
        "wrong_merges": len(merges),
        "videos_in_wrong_merges": sum(m.n_items for m in merges),
    }


def identity_ids(
    clusters: pd.DataFrame, embeddings: dict[str, object], previous: pd.DataFrame | None
) -> pd.DataFrame:
    """Stable ids of ``clusters`` as the identity_clusters asset assigns them."""
    labels_now = dict(zip(clusters["video_id"], clusters["cluster_key"], strict=True))
    prev_centroids = None
    if previous is not None:
        prev_labels = dict(zip(previous["video_id"], previous["influencer_id"], strict=True))
        prev_centroids = centroids_by_label(prev_labels, embeddings)
    return assign_stable_ids(
        clusters[["video_id", "cluster_key"]],
        previous,
        "F-",
        centroids=centroids_by_label(labels_now, embeddings),
        previous_centroids=prev_centroids,
    )


def identity_one(n: int, variant: str, seed: int) -> dict[str, object]:
    """The identity_clusters computation on ``n`` synthetic videos, timed and scored."""
    config = VARIANTS[variant]
    ids, x, labels = synthetic_embeddings(n, seed)
    faces = pd.DataFrame(
        {"video_id": ids, "embedding": list(x), "embedder": "dlib", "embedder_version": "bench"}
    )
    embeddings = dict(zip(ids, x, strict=True))
    rss_before = _peak_rss_mib()
    clock = time.perf_counter()
    clusters = cluster_video_faces(faces, config)
    cluster_s = time.perf_counter() - clock
    clock = time.perf_counter()
    first = identity_ids(clusters, embeddings, None)
    first_s = time.perf_counter() - clock
    clock = time.perf_counter()
    identity_ids(clusters, embeddings, first[["video_id", "influencer_id"]])
    rerun_s = time.perf_counter() - clock
    truth = dict(zip(ids, labels.tolist(), strict=True))
    pred = dict(zip(clusters["video_id"], clusters["cluster_key"], strict=True))
    return {
        "stage": "identity_clusters",
        "variant": variant,
        "videos": n,
        "people": len(set(labels.tolist())),
        "clusters": int(clusters["cluster_key"].nunique()),
        "cluster_s": round(cluster_s, 2),
        "steps_s": clusters.attrs.get("timings_s"),
        "stable_ids_first_s": round(first_s, 2),
        "stable_ids_rerun_s": round(rerun_s, 2),
        "total_s": round(cluster_s + max(first_s, rerun_s), 2),
        "peak_rss_mib": round(_peak_rss_mib()),
        "rss_before_mib": round(rss_before),
        **scores(pred, truth),
    }


def run_sizes(
    sizes: list[int], variants: list[str], seed: int, timeout_s: float
) -> list[dict[str, object]]:
    """Every (size, variant) in its own subprocess; one result dict each (printed as it ends)."""
    results = []
    for size in sizes:
        for variant in variants:
            command = [sys.executable, str(Path(__file__).resolve()), "--one", str(size)]
            command += ["--variant", variant, "--seed", str(seed)]
            context = {"stage": "identity_clusters", "variant": variant, "videos": size}
            result = run_json_subprocess(command, timeout_s, context)
            print(json.dumps(result), flush=True)
            results.append(result)
    return results


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; run one size here (--one) or every size in subprocesses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--variants", nargs="+", default=["knn"], choices=sorted(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per subprocess")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="knn", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(identity_one(args.one, args.variant, args.seed)))
        return
    run_sizes(args.sizes, args.variants, args.seed, args.timeout)


if __name__ == "__main__":
    main()
