"""Re-upload groups: byte-identical copies and the same ad in any placement, one canonical each.

Exact duplicates share a sha256 and form one *unit*; the rest runs between units:

1. Candidates, never all pairs (``dedup_index.close_pairs``): units with at least two frame
   pairs whose whole-frame pHash (same framing, <= 12 bits) or placement hashes (``placement``:
   pHashes of squares around the picture's centre at 8 scales and 5 positions, bars stripped,
   <= 10 bits) are close, found through band buckets and checked on the whole hash.
2. Verification (``reupload_match``): the two timelines are aligned on one offset (and a clock
   rate within +-6 %, for frame dumps taken at "about one per second"), frames are compared by
   whole-frame hashes or, across placements, by ORB features and a RANSAC similarity transform
   (``local_match``); the pair is one edit when most judged frames of both videos inside the
   overlap match and no stretch of more than 2.5 s fails to (another opening or another shot
   order is another cut, not a re-upload). The outro is never compared (one brand's card ends
   many ads; a re-upload may carry another card).

Why this method: whole-frame hashes break with any crop beyond a few per cent, and real
placements crop 20-45 % of a side, scale by 0.56-1.78 and shift the picture off-centre (measured
on shared/real_ads); placement hashes make the candidate search cheap and placement-blind, and
local features + RANSAC read the exact geometry, so the decision can be strict about *time*
(the same edit) without being fooled by framing. Every decision keeps its evidence.

Groups are connected components of verified pairs. The canonical video of a group is the one with
the largest picture (width x height), then the longest, then the smallest video_id. Every member
must also verify directly against the canonical: a unit that does not leaves the group and is
grouped again among the units that left, by the same rule, until every unit has a group (no
chaining: A~B~C with A canonical and A!~C gives {A, B} and {C}).
Rows: one per ok video; the canonical has match_type and the evidence null; a copy with the
canonical's sha256 is "exact" (similarity 1.0); others are "near" with their evidence against the
canonical: ``similarity`` (matched / judged frames), ``matched_frames``, ``compared_frames``,
``offset_s`` and ``time_rate`` (t_canonical = time_rate x t_this + offset_s), ``scale`` (the
canonical's picture in this video, content heights; 1 = same framing), ``shift_x``/``shift_y``
(where the canonical's centre lies in this video, content heights), ``median_inliers`` and a
sentence in ``evidence``. Measured (shared/real_ads, default and validation demos): see
benchmarks/accuracy.py and the README.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import DisjointSet

from influencer_pipeline.lake_schema import DUPLICATE_GROUPS, empty_frame
from influencer_pipeline.media.dedup_index import IndexConfig, candidate_pairs, close_pairs
from influencer_pipeline.media.dedup_prints import (
    DedupInputError,
    ImageSource,
    require_columns,
    video_prints,
)
from influencer_pipeline.media.reupload_match import (
    NO_MATCH,
    PairMatch,
    ReuploadConfig,
    VideoPrint,
    compare_videos,
)
from influencer_pipeline.parallel import usable_cores

__all__ = ["DedupConfig", "DedupInputError", "candidate_pairs", "find_duplicate_groups"]
FILES_COLUMNS = ("video_id", "status", "sha256", "width", "height", "duration_s")


@dataclass(frozen=True)
class DedupConfig:
    """Settings of the candidate index and of the pair verification."""

    index: IndexConfig = field(default_factory=IndexConfig)
    reupload: ReuploadConfig = field(default_factory=ReuploadConfig)


@dataclass(frozen=True)
class Evidence:
    """A pair verdict seen from one member towards the canonical."""

    match: PairMatch
    offset_s: float
    time_rate: float
    scale: float | None
    shift_x: float | None
    shift_y: float | None


def _towards(match: PairMatch, this_is_a: bool) -> Evidence:
    """Express a pair verdict as 'this video against the canonical'."""
    rate, offset = match.rate, match.offset_s
    scale, sx, sy = match.scale, match.shift_x, match.shift_y
    if this_is_a:  # t_canon = rate * t_this + offset; the fit maps this picture into the canonical
        if scale:
            sx = None if sx is None else -sx / scale
            sy = None if sy is None else -sy / scale
            scale = 1.0 / scale
        return Evidence(match, offset, rate, scale, sx, sy)
    return Evidence(match, -offset / rate, 1.0 / rate, scale, sx, sy)


class _Verifier:
    """Pair verdicts between units, computed once and cached."""

    def __init__(self, prints: list[VideoPrint | None], config: DedupConfig) -> None:
        self.prints = prints
        self.config = config
        self.cache: dict[tuple[int, int], PairMatch] = {}

    def __call__(self, u: int, v: int) -> PairMatch:
        key = (min(u, v), max(u, v))
        if key not in self.cache:
            self.cache[key] = self._compare(key)
        return self.cache[key]

    def _compare(self, key: tuple[int, int]) -> PairMatch:
        a, b = self.prints[key[0]], self.prints[key[1]]
        return NO_MATCH if a is None or b is None else compare_videos(a, b, self.config.reupload)

    def prefetch(self, pairs: list[tuple[int, int]], threads: int) -> None:
        """Verify ``pairs`` (u < v) in ``threads`` threads: OpenCV's feature work releases the GIL,
        and each video's features are computed once, by whichever thread needs them first."""
        todo = [pair for pair in pairs if pair not in self.cache]
        if threads < 2 or len(todo) < 2:
            return
        with ThreadPoolExecutor(min(threads, len(todo))) as pool:
            self.cache.update(zip(todo, pool.map(self._compare, todo), strict=True))

    def evidence(self, u: int, canon: int) -> Evidence:
        """The verdict of unit u against its canonical unit, seen from u."""
        match = self(u, canon)
        first_is_u = u < canon
        this_is_a = first_is_u != match.swapped  # A is compare_videos' first arg unless swapped
        return _towards(match, this_is_a)


def _components(nodes: set[int], edges: list[tuple[int, int]]) -> list[list[int]]:
    """The connected groups of ``nodes`` (edges to other nodes ignored), each sorted, ordered by
    their smallest node."""
    sets = DisjointSet(sorted(nodes))
    for u, v in edges:
        if u in sets and v in sets:
            sets.merge(u, v)
    return sorted((sorted(group) for group in sets.subsets()), key=lambda group: group[0])


def _number(value: float) -> float:
    return 0.0 if value is None or math.isnan(value) else float(value)


def _candidates(prints: list[VideoPrint | None], config: DedupConfig) -> set[tuple[int, int]]:
    """Unit pairs from the whole-frame index and from the placement-hash index."""
    units = [u for u, p in enumerate(prints) if p is not None]
    if not units:
        return set()
    frame_unit = np.concatenate([np.full(len(prints[u]), u, np.int64) for u in units])
    phash = np.concatenate([prints[u].phash for u in units])
    bits = config.reupload.max_hash_bits
    frame_ids = np.concatenate([np.arange(len(prints[u])) for u in units])  # within a video
    found = {tuple(p) for p in close_pairs(frame_unit, frame_ids, phash, bits, config.index)}
    centre = np.concatenate([prints[u].centre for u in units])
    frame_id = np.repeat(frame_ids, centre.shape[1])
    square_unit = np.repeat(frame_unit, centre.shape[1])
    flat = centre.reshape(-1)
    usable = flat != 0
    if usable.any():
        pairs = close_pairs(
            square_unit[usable],
            frame_id[usable],
            flat[usable],
            config.reupload.max_centre_bits,
            config.index,
        )
        found |= {tuple(p) for p in pairs.tolist()}
    return found


def _sentence(ev: Evidence) -> str:
    m = ev.match
    geometry = (
        "same framing (whole-frame hashes)"
        if m.median_inliers is None
        else f"features agree at scale {ev.scale:.2f}, centre at ({ev.shift_x:+.2f}, "
        f"{ev.shift_y:+.2f}), median {m.median_inliers:.0f} matches"
    )
    return (
        f"{m.matched_frames} of {m.compared_frames} frames match the canonical "
        f"at {ev.offset_s:+.2f} s (clock x{ev.time_rate:.2f}); {geometry}; "
        f"longest unmatched stretch {m.longest_gap_s:.1f} s"
    )


def _row(vid: str, canonical: str, sha: str | None, kind: str | None, ev: Evidence | None) -> dict:
    row = {
        "video_id": vid,
        "group_id": canonical,
        "canonical_video_id": canonical,
        "is_canonical": vid == canonical,
        "match_type": kind,
        "similarity": 1.0 if kind == "exact" else None,
        "sha256": sha,
        "evidence": "byte-identical to the canonical (same sha256)" if kind == "exact" else None,
    }
    if ev is not None:
        row |= {
            "similarity": ev.match.similarity,
            "matched_frames": ev.match.matched_frames,
            "compared_frames": ev.match.compared_frames,
            "offset_s": ev.offset_s,
            "time_rate": ev.time_rate,
            "scale": ev.scale,
            "shift_x": ev.shift_x,
            "shift_y": ev.shift_y,
            "median_inliers": ev.match.median_inliers,
            "evidence": _sentence(ev),
        }
    return row


def find_duplicate_groups(
    files: pd.DataFrame,
    frames: pd.DataFrame,
    config: DedupConfig | None = None,
    images: ImageSource | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """One ``duplicate_groups`` row per video with status "ok" in ``files``; see module doc.

    ``images``: frame images by video (video_id -> {frame_index: JPEG}) when ``frames`` has no
    ``image`` column; without either, only same-framing re-uploads can be verified.
    ``threads``: candidate pairs verified at once (None: one per usable core).
    """
    config = config or DedupConfig()
    require_columns(files, FILES_COLUMNS, "files")
    ok = files[files["status"] == "ok"].sort_values("video_id", kind="stable")
    if ok["video_id"].isna().any():
        raise DedupInputError("missing_video_id", "files has an ok row without a video_id")
    dupes = ok["video_id"][ok["video_id"].duplicated()].unique().tolist()
    if dupes:
        raise DedupInputError("duplicate_video_id", f"files lists these videos twice: {dupes[:5]}")
    if ok.empty:
        return empty_frame(DUPLICATE_GROUPS)
    prints_by_video, _ = video_prints(frames, images, config.reupload.match)

    video_ids = ok["video_id"].astype(str).tolist()
    sha = [s if isinstance(s, str) and s else None for s in ok["sha256"]]
    area = pd.to_numeric(ok["width"], errors="coerce") * pd.to_numeric(
        ok["height"], errors="coerce"
    )
    duration = pd.to_numeric(ok["duration_s"], errors="coerce")
    rank_key = {
        vid: (-_number(a), -_number(d), vid)
        for vid, a, d in zip(video_ids, area.tolist(), duration.tolist(), strict=True)
    }
    unit_index: dict[str, int] = {}
    members: list[list[str]] = []
    for vid, s in zip(video_ids, sha, strict=True):
        u = unit_index.setdefault(s if s is not None else f"video:{vid}", len(members))
        if u == len(members):
            members.append([])
        members[u].append(vid)
    prints = [
        next((prints_by_video[v] for v in vids if v in prints_by_video), None) for vids in members
    ]
    verify = _Verifier(prints, config)
    pairs = sorted(_candidates(prints, config))
    verify.prefetch(pairs, usable_cores() if threads is None else threads)
    edges = [(u, v) for u, v in pairs if verify(u, v).is_duplicate]

    def best_video(u: int) -> str:
        return min(members[u], key=rank_key.__getitem__)

    canonical_unit_of: dict[int, int] = {}
    remaining = set(range(len(members)))
    while remaining:
        for component in _components(remaining, edges):
            canon = min(component, key=lambda u: rank_key[best_video(u)])
            for u in component:
                if u == canon or verify(u, canon).is_duplicate:
                    canonical_unit_of[u] = canon
                    remaining.discard(u)

    sha_of = dict(zip(video_ids, sha, strict=True))
    rows = []
    for u, canon in canonical_unit_of.items():
        canonical_video = best_video(canon)
        evidence = verify.evidence(u, canon) if u != canon else None
        for vid in members[u]:
            if vid == canonical_video:
                rows.append(_row(vid, canonical_video, sha_of[vid], None, None))
            elif u == canon:
                rows.append(_row(vid, canonical_video, sha_of[vid], "exact", None))
            else:
                rows.append(_row(vid, canonical_video, sha_of[vid], "near", evidence))
    table = pd.DataFrame(rows).reindex(columns=DUPLICATE_GROUPS.names)
    table["group_size"] = table.groupby("group_id")["video_id"].transform("size").astype("int64")
    for column in ("matched_frames", "compared_frames"):
        table[column] = table[column].astype("Int64")
    table["is_canonical"] = table["is_canonical"].astype(bool)
    table = table.sort_values(
        ["group_id", "is_canonical", "video_id"], ascending=[True, False, True]
    )
    return table[DUPLICATE_GROUPS.names].reset_index(drop=True)
