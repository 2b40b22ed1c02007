"""Exact k nearest neighbours: blocked float32 matrix products, candidates re-ranked in float64.

scikit-learn's brute-force search upcasts float32 blocks to float64 before its matrix product
and pushes every pair through a heap; on 100,000 embeddings that was 45 of the 62 s of identity
clustering on 2 cores. Here each unordered pair's score ``-|a - b|^2 / 2`` comes from one float32
product of augmented rows (both halves of the symmetric distance matrix from one product), and
a pair is kept as a candidate only when its score reaches the row's running threshold: the
(k+1)-th best score seen so far minus a bound on float32 rounding. Thresholds only rise and
are always below the final (k+1)-th best, so every true neighbour is kept; candidates are then
ranked by their float64 distances (ties by index), which is what an exact search returns.
Rows are visited in nearest-pivot order so that the first block a row meets holds points near
it and its threshold is tight early.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

BLOCK_ROWS = 2048  # rows (and columns) per float32 product block: 16 MiB of scores
PIVOT_SHARE = 512  # one locality pivot per this many points
PAIR_CHUNK = 16384  # candidate pairs per float64 distance chunk
ROUNDING = 2.0**-24  # unit roundoff of float32


def _augmented(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(A, B, tol): ``A[i] @ B[j] == -|x_i - x_j|^2 / 2`` in float32, within ``tol / 2``.

    Rounding bound: inputs and a length-(d+2) sum, each term at most the largest squared norm
    of the centred points (Higham's gamma_n), doubled for safety.
    """
    centred = x - x.mean(axis=0)
    sq = np.einsum("ij,ij->i", centred, centred)
    n, dim = centred.shape
    a = np.empty((n, dim + 2), dtype=np.float32)
    b = np.empty((n, dim + 2), dtype=np.float32)
    a[:, :dim] = b[:, :dim] = centred
    a[:, dim], a[:, dim + 1] = -sq / 2, 1.0
    b[:, dim], b[:, dim + 1] = 1.0, -sq / 2
    tol = 8 * (dim + 2) * ROUNDING * (float(sq.max()) + 1.0)
    return a, b, tol


def _locality_order(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row order that groups points by their nearest of ``n / PIVOT_SHARE`` spread pivots."""
    n = len(a)
    pivots = np.linspace(0, n - 1, max(1, n // PIVOT_SHARE)).astype(np.int64)
    nearest = np.empty(n, dtype=np.int64)
    for start in range(0, n, BLOCK_ROWS):
        nearest[start : start + BLOCK_ROWS] = np.argmax(
            a[start : start + BLOCK_ROWS] @ b[pivots].T, axis=1
        )
    return np.argsort(nearest, kind="stable")


class _Candidates:
    """Per-row best scores seen so far, running thresholds and every pair that reached one."""

    def __init__(self, n: int, keep: int, tol: float) -> None:
        self.top = np.full((n, keep), -np.inf, dtype=np.float32)  # descending per row
        self.threshold = np.full(n, -np.inf, dtype=np.float32)
        self.tol = tol
        self.pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.lock = threading.Lock()

    def scan(self, scores: np.ndarray, rows: np.ndarray, cols: np.ndarray, axis: int) -> None:
        """Record the entries of ``scores`` (rows x cols) that reach their point's threshold.

        ``axis=1``: thresholds of ``rows`` (scores along each row); ``axis=0``: of ``cols``.
        """
        points, others = (rows, cols) if axis == 1 else (cols, rows)
        keep = self.top.shape[1]
        limit = self.threshold[points]
        unseen = np.flatnonzero(np.isneginf(limit))
        if len(unseen) and len(others) >= keep:  # first threshold: its (keep)-th best score here
            seen = np.take(scores, unseen, axis=1 - axis)
            limit[unseen] = np.partition(seen, -keep, axis=axis).take(-keep, axis=axis) - self.tol
        if axis == 1:
            flat = np.flatnonzero(scores >= limit[:, None])
        else:
            flat = np.flatnonzero(scores >= limit[None, :])
        if len(flat) == 0:
            return
        r, c = np.divmod(flat, len(cols))
        p, o = (r, c) if axis == 1 else (c, r)
        self.add(points[p], others[o], scores.ravel()[flat])

    def add(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
        """Keep the pairs and merge their scores into each row's best ``keep`` (thread-safe)."""
        keep = self.top.shape[1]
        touched = np.unique(rows)
        with self.lock:
            self.pairs.append((rows, cols, values))
            point = np.concatenate([np.repeat(touched, keep), rows])
            value = np.concatenate([self.top[touched].ravel(), values])
            order = np.lexsort((-value, point))
            first = np.searchsorted(point[order], touched)
            best = value[order][first[:, None] + np.arange(keep)]
            self.top[touched] = best
            self.threshold[touched] = best[:, -1] - self.tol


def _scan_blocks(a: np.ndarray, b: np.ndarray, found: _Candidates, n_jobs: int) -> None:
    """Score every unordered pair once: diagonal blocks first, then by distance from it.

    ``n_jobs`` threads take blocks in that order, each with a one-thread BLAS product (the
    comparisons between products are single-threaded numpy, so threads keep both cores busy).
    """
    n = len(a)
    spans = [np.arange(s, min(n, s + BLOCK_ROWS)) for s in range(0, n, BLOCK_ROWS)]
    tasks: queue.SimpleQueue[tuple[np.ndarray, np.ndarray, bool]] = queue.SimpleQueue()
    for offset in range(len(spans)):
        for i in range(len(spans) - offset):
            tasks.put((spans[i], spans[i + offset], offset > 0))

    def work() -> None:
        while True:
            try:
                rows, cols, both = tasks.get_nowait()
            except queue.Empty:
                return
            scores = a[rows[0] : rows[-1] + 1] @ b[cols[0] : cols[-1] + 1].T
            found.scan(scores, rows, cols, axis=1)
            if both:
                found.scan(scores, rows, cols, axis=0)

    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(n_jobs) as pool:
        for done in [pool.submit(work) for _ in range(n_jobs)]:
            done.result()


def _distances(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Float64 Euclidean distances of the row pairs (rows, cols), in cache-sized chunks."""
    out = np.empty(len(rows))
    for start in range(0, len(rows), PAIR_CHUNK):
        part = slice(start, start + PAIR_CHUNK)
        diff = np.take(x, rows[part], axis=0).astype(np.float64)
        diff -= np.take(x, cols[part], axis=0)
        out[part] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def exact_neighbours(x: np.ndarray, k: int, n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(distances, indices), each n x (k + 1): every row's k + 1 nearest rows, itself included.

    Euclidean distances between the points' float32 values, computed in float64 (as
    scikit-learn's float32 brute-force search), ascending per row, ties by index; the search
    runs in ``n_jobs`` threads.
    """
    points = np.asarray(x, dtype=np.float32)
    n = len(points)
    keep = k + 1
    if not 0 <= k < n:
        raise ValueError(f"k={k} needs 0 <= k < {n} points")
    a, b, tol = _augmented(points.astype(np.float64))
    order = _locality_order(a, b)
    a, b = a[order], b[order]
    found = _Candidates(n, keep, tol)
    _scan_blocks(a, b, found, max(1, n_jobs))
    del a, b
    rows, cols, values = (np.concatenate(v) for v in zip(*found.pairs, strict=True))
    near = values >= found.top[rows, -1] - tol
    rows, cols = order[rows[near]], order[cols[near]]
    by_row = np.argsort(rows, kind="stable")  # gathers each row's points once, in order
    rows, cols = rows[by_row], cols[by_row]
    dist = _distances(points, rows, cols)
    ranked = np.lexsort((cols, dist, rows))
    first = np.searchsorted(rows[ranked], np.arange(n))
    take = ranked[first[:, None] + np.arange(keep)]
    return dist[take], cols[take]
