"""Benchmark identity clustering on synthetic dominant-face embeddings (prints figures; not a test).

Usage: ``python benchmarks/clustering.py [--sizes 1000 10000 100000] [--seed 0]
[--threshold 0.35] [--distances] [--faces ../shared/faces]`` (``--faces`` also clusters real
labelled photos with the project's MTCNN detector and dlib embedder; several minutes on 2 cores).

Each size runs in its own subprocess so that peak memory (``VmHWM``) belongs to that size
alone. Printed per size: videos, true people, predicted clusters, seconds for the clustering
call, peak RSS of the process (and the RSS before clustering, i.e. Python + libraries + data),
BCubed and pairwise precision/recall/F against the generating labels, and the wrong merges.

Synthetic data (``synthetic_embeddings``), calibrated on dlib descriptors of the 146 labelled
people in ../shared/faces (normalized vectors; see the numbers in ``Calibration`` below):

- people: ~30% of videos are single-video people; the rest belong to people with 2-20 videos
  (power law, most with 2-4) plus a few large ones (50-1000 videos, about one per 2,000 videos);
- a person's centre and each video's deviation from it are Gaussian with the covariance
  spectra of real dlib descriptors (see ``Calibration``), so distances, look-alikes and the
  dimensionality match real faces; per-video noise strength varies (lighting, pose, age).
  Photos of one person taken years apart vary more than videos of one creator, so this is
  the hard case: real dominant-face embeddings (track means) should cluster at least as well.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from influencer_pipeline.identities.clustering import ClusterConfig, cluster_identities
from influencer_tools.evaluation.metrics import bcubed, pairwise, wrong_merges


@dataclass(frozen=True)
class Calibration:
    """Generator parameters, fitted to dlib descriptors of ../shared/faces (595 photos, 146 people).

    Model: a person's centre is a common direction (norm ``common_norm``) plus a Gaussian offset
    with total variance ``between_var`` spread over the first ``rank`` axes of a random basis
    (variance of axis j proportional to j^-``between_power`` exp(-j / ``between_decay``)); a
    video is its centre plus Gaussian noise of total variance ``within_var`` on the same axes
    (proportional to exp(-j / ``within_decay``), up to ``rank`` + 6 axes) times a per-video
    log-normal strength (sigma ``noise_spread``); then L2-normalized. The spectra are fitted to
    the eigenvalues of the between-person and within-person covariances of the real photos.

    Real (normalized) distance percentiles 1/5/50/95/99: same person .21/.25/.34/.48/.55,
    different people .43/.47/.57/.665/.70; nearest other person per photo 5/50/95%:
    .33/.405/.44; PCA variance in 8/16/24/32/48/64 dims .42/.61/.73/.81/.92/.98. This
    generator with the same 146 people sizes: same .20/.23/.33/.48/.55, different
    .41/.45/.55/.68/.75, nearest other .34/.39/.47, PCA .42/.62/.75/.84/.94/.99. Clustering
    reacts alike: on both, PCA to 16 dims loses recall (real .861 -> .768, synthetic .80 ->
    .71) and 32 dims about matches the full space.
    """

    dim: int = 128
    rank: int = 64
    common_norm: float = 0.916
    between_var: float = 0.10
    between_power: float = 0.3
    between_decay: float = 26.0
    within_var: float = 0.062
    within_decay: float = 32.0
    noise_spread: float = 0.29
    singleton_share: float = 0.30


def cluster_sizes(n_videos: int, rng: np.random.Generator, cal: Calibration) -> list[int]:
    """People sizes summing to ``n_videos``: singletons, 2-20 power law, a few large."""
    sizes: list[int] = []
    n_large = n_videos // 2000 if n_videos >= 2000 else int(n_videos >= 200)
    for _ in range(n_large):
        size = rng.integers(50, 50 + max(60, n_videos // 100))
        sizes.append(int(min(1000, n_videos // 4, size)))
    n_single = round(cal.singleton_share * n_videos)
    budget = n_videos - n_single - sum(sizes)
    ks = np.arange(2, 21)
    p = ks**-1.6
    p /= p.sum()
    while budget > 1:
        k = int(min(rng.choice(ks, p=p), budget))
        sizes.append(k)
        budget -= k
    sizes += [1] * (n_videos - sum(sizes))
    return sizes


def synthetic_embeddings(
    n_videos: int, seed: int = 0, cal: Calibration | None = None, sizes: list[int] | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(video ids, n x dim normalized float32 embeddings, true person label per video)."""
    cal = cal or Calibration()
    rng = np.random.default_rng(seed)
    sizes = sizes if sizes is not None else cluster_sizes(n_videos, rng, cal)
    j = np.arange(1, cal.dim + 1)
    between = np.where(j <= cal.rank, j**-cal.between_power * np.exp(-j / cal.between_decay), 0)
    between *= cal.between_var / between.sum()
    within = np.where(j <= cal.rank + 6, np.exp(-(j - 1) / cal.within_decay), 0)
    within *= cal.within_var / within.sum()
    basis = np.linalg.qr(rng.normal(size=(cal.dim, cal.dim)))[0]
    common = basis[:, -1] * cal.common_norm  # outside the axes that vary between faces
    labels = np.repeat(np.arange(len(sizes)), sizes)
    centres = common + (rng.normal(size=(len(sizes), cal.dim)) * np.sqrt(between)) @ basis.T
    strength = np.exp(cal.noise_spread * rng.normal(size=len(labels)))
    strength /= np.sqrt(np.mean(strength**2))
    noise = (rng.normal(size=(len(labels), cal.dim)) * np.sqrt(within)) @ basis.T
    x = centres[labels] + strength[:, None] * noise
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    perm = rng.permutation(len(labels))
    ids = [f"v{i:07d}" for i in range(len(labels))]
    return ids, x[perm].astype(np.float32), labels[perm]


def distance_summary(x: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, list[float]]:
    """Percentiles (1, 5, 50, 95, 99) of same-person and different-people distances (sampled)."""
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(x), 200_000)
    j = rng.integers(0, len(x), 200_000)
    d = np.linalg.norm(x[i] - x[j], axis=1)
    diff = d[(labels[i] != labels[j])]
    same_pairs = []
    for lab in np.unique(labels):
        members = np.flatnonzero(labels == lab)
        head = x[members[:10]]  # all pairs among (at most) the first 10 videos of a person
        dist = np.linalg.norm(head[:, None] - head[None], axis=2)
        same_pairs.extend(dist[np.triu_indices(len(head), 1)].tolist())
    q = [1, 5, 50, 95, 99]
    return {
        "same": [round(float(v), 3) for v in np.percentile(same_pairs, q)],
        "different": [round(float(v), 3) for v in np.percentile(diff, q)],
    }


def _peak_rss_mib() -> float:
    """Peak resident memory of this process: VmHWM (reset by exec, unlike ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_peaks_mib() -> float:
    """Sum of the peak RSS (VmHWM) of this process's live children (HDBSCAN's joblib workers)."""
    total = 0.0
    me = str(os.getpid())
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == me and "VmHWM" in fields:
            total += int(fields["VmHWM"].split()[0]) / 1024
    return total


def run_one(n_videos: int, seed: int, threshold: float | None = None) -> dict[str, object]:
    """Generate, cluster and score one size (in this process)."""
    ids, x, labels = synthetic_embeddings(n_videos, seed)
    rss_before = _peak_rss_mib()
    start = time.perf_counter()
    config = ClusterConfig() if threshold is None else ClusterConfig(identity_threshold=threshold)
    out = cluster_identities(ids, x, config)
    seconds = time.perf_counter() - start
    rss_peak = _peak_rss_mib()
    workers = _worker_peaks_mib()
    truth = dict(zip(ids, labels.tolist(), strict=True))
    pred = dict(zip(out["video_id"], out["cluster_key"], strict=True))
    merges = wrong_merges(pred, truth)
    return {
        "videos": n_videos,
        "identity_threshold": config.identity_threshold,
        "people": len(set(labels.tolist())),
        "clusters": int(out["cluster_key"].nunique()),
        "singletons": int(out["is_singleton"].sum()),
        "true_singletons": int(sum(np.bincount(labels) == 1)),
        "seconds": round(seconds, 2),
        "steps_s": out.attrs.get("timings_s"),
        "hdbscan_clusters": out.attrs.get("n_hdbscan_clusters"),
        "peak_rss_mib": round(rss_peak),
        "rss_before_mib": round(rss_before),
        "worker_peak_rss_mib": round(workers),
        "peak_total_mib_upper_bound": round(rss_peak + workers),
        "bcubed": [round(v, 4) for v in bcubed(pred, truth)],
        "pairwise": [round(v, 4) for v in pairwise(pred, truth)],
        "wrong_merges": len(merges),
        "videos_in_wrong_merges": sum(m.n_items for m in merges),
    }


def real_photo_embeddings(faces_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """dlib embeddings of the largest face in every ``<identity>/<n>.jpg`` under ``faces_dir``."""
    from PIL import Image

    from influencer_pipeline.faces.detection import FaceDetector
    from influencer_pipeline.faces.embedders import make_embedder

    detector, embedder = FaceDetector(), make_embedder("dlib")
    ids, vectors, labels = [], [], []
    for path in sorted(faces_dir.glob("*/*.jpg")):
        image = Image.open(path).convert("RGB")
        image.thumbnail((640, 640))
        rgb = np.asarray(image)
        found = detector.detect([rgb])[0]
        if not found:
            continue
        face = max(found, key=lambda d: d.height)
        vectors.append(embedder.embed(rgb, [face])[0])
        ids.append(f"{path.parent.name}/{path.name}")
        labels.append(path.parent.name)
    return ids, np.array(vectors), np.array(labels)


def run_real(faces_dir: Path) -> None:
    """Cluster real labelled photos (e.g. ../shared/faces) at several thresholds; print scores."""
    ids, x, labels = real_photo_embeddings(faces_dir)
    print("real photos:", len(ids), "people:", len(set(labels.tolist())))
    print("distance percentiles (1,5,50,95,99):", distance_summary(x, labels))
    truth = dict(zip(ids, labels.tolist(), strict=True))
    for threshold in (0.35, 0.38, 0.40, 0.42, 0.45):
        out = cluster_identities(ids, x, ClusterConfig(identity_threshold=threshold))
        pred = dict(zip(out["video_id"], out["cluster_key"], strict=True))
        scores = [round(v, 4) for v in bcubed(pred, truth) + pairwise(pred, truth)]
        print(f"threshold {threshold}: BCubed P/R/F and pairwise P/R/F {scores}")


def main(argv: list[str] | None = None) -> None:
    """Run every size in a fresh subprocess and print one line per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--distances", action="store_true", help="print distance percentiles")
    parser.add_argument("--faces", type=Path, help="also cluster real photos <dir>/<person>/*.jpg")
    parser.add_argument(
        "--threshold", type=float, help="identity_threshold (default: ClusterConfig's, 0.40)"
    )
    args = parser.parse_args(argv)
    if args.faces:
        run_real(args.faces)
    if args.one:
        print(json.dumps(run_one(args.one, args.seed, args.threshold)))
        return
    if args.distances:
        _, x, labels = synthetic_embeddings(min(args.sizes), args.seed)
        print("synthetic distance percentiles (1,5,50,95,99):", distance_summary(x, labels))
    for size in args.sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--seed", str(args.seed)]
            + ([] if args.threshold is None else ["--threshold", str(args.threshold)]),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(f"size {size}: failed\n{proc.stderr}")
            continue
        print(proc.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
