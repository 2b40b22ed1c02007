"""Settings of identity clustering (``identities.clustering``), with the evidence for each."""

from __future__ import annotations

import math
from dataclasses import dataclass

ALGORITHMS = (
    "best",
    "generic",
    "prims_kdtree",
    "prims_balltree",
    "boruvka_kdtree",
    "boruvka_balltree",
)


@dataclass(frozen=True)
class ClusterConfig:
    """Clustering settings; the same at every input size.

    identity_threshold: 0.40 (dlib, L2-normalized). Measured on dlib descriptors of the 595
        photos of 146 people in ../shared/faces: same-person pairs 1/5/50/95/99th percentile
        .21/.25/.34/.48/.55, different people .43/.47/.57/.665/.70; at 0.40, 79% of
        same-person pairs and 0.17% of different-people pairs are within it (0.45: 91% /
        2.1%). Clustering those real photos with this module (faces found by the project's
        MTCNN detector, ``benchmarks/clustering.py --faces``): BCubed P/R 0.995/0.857 at 0.38,
        0.990/0.891 at 0.40, 0.986/0.905 at 0.42, 0.980/0.906 at 0.45. Facenet needs its own
        value. The pipeline takes it from ``faces.calibration`` (dlib 0.345, chosen on demos of
        development-fold people; this default stays the synthetic benchmarks' value).
    link_threshold: 0.42 (dlib): the identity limit on video-to-video distances over
        best-matching faces (``identities.video_links``), used instead of
        ``identity_threshold`` when the videos' bags of faces are given; chosen on demos of
        development-fold people only (``faces.calibration``, ``benchmarks/RESULTS.md``).
    pair_ratio: 0.875: two-video clusters need distance <= pair_ratio x identity_threshold
        (0.35 at 0.40; 1.0 = no stricter rule); a ratio, so it follows the threshold set for
        another embedder. On the synthetic 1k sets (benchmarks/clustering.py, 3 seeds,
        t=0.40) it raises BCubed precision 0.972 -> 0.982 for recall 0.871 -> 0.866.
        Synthetic 1k, t=0.38/0.40/0.42/0.45: P/R 0.991/0.838, 0.982/0.866, 0.974/0.883,
        0.963/0.888.
    min_cluster_size / min_samples: HDBSCAN's; 2 / 1 so two-video people form a cluster.
    n_neighbors: neighbours per video in the sparse distance graph (graph="knn"); with 15 the
        partition equals graph="points" on 3k synthetic videos, with 5 it does not.
    graph: "knn" (sparse exact-kNN graph, scales to 100k) or "points" (HDBSCAN's own trees).
    pca_dims: optional PCA before HDBSCAN (None = full space; on the real photos PCA to 16
        dims cut recall 0.861 -> 0.768 and to 32 dims to 0.841, so the default keeps all).
    algorithm: HDBSCAN algorithm for graph="points".
    cluster_selection_method: HDBSCAN's "eom" or "leaf" (leaf over-splits people: final
        BCubed P/R 0.985/0.772 vs eom 0.982/0.866 on the synthetic 1k sets).
    cluster_selection_epsilon: HDBSCAN's; 0.3. With min_cluster_size 2, excess-of-mass picks tight
        sub-clusters of one person (e.g. the videos shot with each of three looks) as separate
        clusters; clusters closer than epsilon are merged back. Measured (BCubed P/R): demo videos
        1.0/0.72 at 0, 1.0/0.94 at 0.3, 1.0/1.0 at 0.4; real photos 0.990/0.891 at 0 and 0.3,
        0.964/0.914 at 0.4; synthetic 10k 0.968/0.804 at 0, 0.964/0.810 at 0.3, 0.925/0.838 at
        0.4. 0.3 is the largest value that costs no precision on the real photos.
    allow_single_cluster: HDBSCAN's; False (True: P/R 0.966/0.883 vs 0.982/0.866 at 1k).
    n_jobs: parallel jobs for the neighbour search.
    max_exact_size: clusters larger than this are split by HDBSCAN instead of an O(m^2)
        average-linkage tree: excess-of-mass without ``cluster_selection_epsilon`` (the epsilon
        merge is what chains the videos of many people into one candidate at 100k videos: one
        of 27,490 on the synthetic 100k set), then "leaf" for a part still that large. Measured
        on that candidate (benchmarks/identity_scale.py, 100k): 9 s, final BCubed P/R
        0.968/0.748; splitting it by "leaf" with epsilon 0.3 instead only peeled its noise off,
        one HDBSCAN run (~10 s) at a time (hours); "leaf" without epsilon: 12 s, P/R 0.970/0.607.
    merge_verified: merge each verified cluster into its nearest cluster (shortest kNN-graph
        link) when that is the only cluster within the identity limit (``merge_margin``) and
        their union passes the identity rule (``identities.merging``; ``graph="knn"`` only),
        shortest link first. Session 10 replaced session 6's "each other's nearest only": one
        person's lone video made from another photo stayed apart whenever that person's cluster
        had a look-alike nearer than the video. BCubed P/R at dlib 0.35, mutual -> now:
        development demo 1.000/0.762 -> 1.000/0.848, default demo 1.000/1.000 both, validation
        demo (reported, not tuned on) 1.000/0.929 -> 1.000/0.946; synthetic
        (``benchmarks/clustering.py``, seed 0) 10k 0.9942/0.7313 -> 0.9943/0.7353 at 0.35 and
        0.9573/0.8121 -> 0.9632/0.8264 at 0.40; the 595 real photos of ``shared/faces`` (one
        photo = one video, ``--faces``) 1.000/0.808 -> 1.000/0.808 at 0.35, 0.9565/0.904 ->
        0.9756/0.895 at 0.40.
    merge_margin: inf: a cluster's nearest is clear when its next link to another cluster
        within the limit is this many times longer; infinite = there is no other.
        ``benchmarks/merge_margin.py``: the development demo keeps its recall (0.848) at every
        margin from 1.00 to infinite; synthetic 10k precision at 0.35 rises with the margin
        (0.9915 at 1.00, 0.9931 at 1.05, 0.9941 at 1.10, 0.9943 from 1.15 on), and on the real
        photos at 0.35 a finite 1.05 let one photo of a singer join three of a look-alike
        singer (P 0.9975), infinite does not. The largest margin that keeps the development
        recall, so infinite.
    """

    identity_threshold: float = 0.40
    link_threshold: float = 0.42
    pair_ratio: float = 0.875
    min_cluster_size: int = 2
    min_samples: int = 1
    n_neighbors: int = 15
    graph: str = "knn"
    pca_dims: int | None = None
    algorithm: str = "best"
    cluster_selection_method: str = "eom"
    cluster_selection_epsilon: float = 0.3
    allow_single_cluster: bool = False
    n_jobs: int = 2
    max_exact_size: int = 4000
    merge_verified: bool = True
    merge_margin: float = math.inf

    def __post_init__(self) -> None:
        """Reject settings that cannot work, with the setting's name in the message."""
        if not 0 < self.identity_threshold <= 2:
            raise ValueError(f"identity_threshold must be in (0, 2], got {self.identity_threshold}")
        if not 0 < self.pair_ratio <= 1:
            raise ValueError(f"pair_ratio must be in (0, 1], got {self.pair_ratio}")
        if self.min_cluster_size < 2 or self.min_samples < 1:
            raise ValueError("min_cluster_size must be >= 2 and min_samples >= 1")
        if self.n_neighbors < max(2, self.min_samples):
            raise ValueError("n_neighbors must be >= 2 and >= min_samples")
        if self.graph not in ("knn", "points"):
            raise ValueError(f"graph must be 'knn' or 'points', got {self.graph!r}")
        if self.pca_dims is not None and self.pca_dims < 2:
            raise ValueError(f"pca_dims must be >= 2 or None, got {self.pca_dims}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.cluster_selection_method not in ("eom", "leaf"):
            raise ValueError("cluster_selection_method must be 'eom' or 'leaf'")
        if self.merge_margin < 1.0:
            raise ValueError(f"merge_margin must be >= 1, got {self.merge_margin}")
        if self.max_exact_size < 2:
            raise ValueError("max_exact_size must be >= 2")

    def limit(self, size: int, bags: bool = False) -> float:
        """The distance limit of the identity rule for a group of ``size`` videos (``bags``: on
        video-to-video distances over best-matching faces, else between mean vectors)."""
        ratio = self.pair_ratio if size == 2 else 1.0
        return (self.link_threshold if bags else self.identity_threshold) * ratio
