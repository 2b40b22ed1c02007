"""Exact and near-duplicate video groups (re-uploads), one canonical video per group.

Exact duplicates share a sha256; they form one *unit* and near-duplicate detection runs between
units. Near duplicates (re-encoded, resized, slightly cropped, trimmed by a few seconds) are
found in two steps:

1. Candidates, never all pairs: every usable frame (role "body", not blank) is indexed under the
   bit bands of its phash and of its dhash (multi-index hashing). Two units become candidates when
   they share exact band values in at least ``min_index_votes`` (2) buckets. Pigeonhole: with
   ``b`` bands, hashes within ``b - 1`` bits always share a band; farther matches are caught
   because a re-upload has many matching frames and each shared bucket is a vote. ``b`` follows
   the corpus size (``round(64 / log2(frames))``, 2..8), so a bucket holds about one unrelated
   frame by chance and two chance collisions between the same two videos are rare; buckets with
   more than ``max_bucket_units`` units are generic images and are skipped.
2. Verification with temporal alignment (``compare_fingerprints``): frame pairs match when
   phash <= 12 and dhash <= 12 bits apart; each match votes for the time offset between the
   videos; the winning offset is the one agreed by most frames of the shorter video (+- 0.75 s).
   A frame counts only when its aligned match is at least as close as its best frame clearly
   elsewhere in time (> 1.5 s off the alignment): different videos shot in one set-up match at
   every offset, a re-upload matches best where it is aligned. similarity = counted frames /
   usable frames of the shorter video; near duplicate when similarity >= 0.5 and >= 3 frames count.
   Outro frames never count (one brand's videos share the outro card), nor do blank frames.

Groups are connected components of verified pairs. The canonical video of a group is the one with
the largest picture (width x height), then the longest, then the smallest video_id. Every member
must also verify directly against the canonical: a unit that does not leaves the group and is
grouped again among the units that left, by the same rule, until every unit has a group. So a
chain A~B~C where A is canonical and A!~C gives {A, B} and {C} (C may still join others like it).
Rows: one per ok video; the canonical has match_type and similarity null; a copy with the
canonical's sha256 is "exact" (similarity 1.0); others are "near" with their similarity to the
canonical. Videos without usable frames can only be exact duplicates.

Evidence for the thresholds. Eight real clips of ``shared/videos`` and variants of each made with
``transforms.transform_video``; frames sampled with ``frames.sample_frames`` defaults. Hamming
distance of a body frame to the original's frame at the same moment:
- re-encode crf 32: phash max 2 (median 0), dhash max 6; resize 0.75x: phash max 2, dhash max 4;
  trim end 2 s: phash max 2;
- crop 3 % per side: phash median 6, p90 10, max 12; dhash median 6, max 11  -> thresholds 12/12;
- trim start 0.5 s: the 1 fps sampling grids sit 0.5 s apart, the frames are other moments:
  phash median 6, p90 20.
Different frames: frames >= 1 s apart in one clip (628 pairs): phash median 18, but 33 % <= 12
(talking heads barely move), hence alignment and the specificity rule; frames of different clips
(4475 pairs, including two people in the same grey studio): phash min 16, median 30; dhash min 10,
median 30; no pair within 12/12.
Pair level (50 original/variant pairs whose shorter side has >= 3 usable frames; 21 hard negatives
= the same footage reversed, shuffled in 2 s chunks, or cut into halves; 3788 unrelated pairs):
these defaults group 38/50 variants, merge 3/21 hard negatives (all from two near-static
talking-head clips) and 0/3788 unrelated pairs. Without the specificity rule: 44/50, 7/21, 0.
Thresholds 10/10: 35/50, 3/21; 16/16: 41/50, 3/21. Missed variants are trims by a fraction of a
second of fast footage (sampled moments differ) and short clips with fewer than 3 usable frames.
Index at scale (random hashes, 30 frames per video): 2,000 videos (4 bands): 209 k candidate
pairs with one shared bucket, 11 k with two (of 2 M pairs); 100,000 videos (3 M frames,
3 bands): 12.9 M with one, 16.9 k with two, in 10 s and 4.7 GB peak; planted copies with
4 / 8 / 12 flipped bits per frame and hash were found 200 / 196 / 35 times of 200 with two shared
buckets (200 / 198 / 103 with one). On the real variants (6 bands) every verified pair shares
>= 3 buckets, and the groups are the same with 1, 2 or 3 required buckets.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from influencer_pipeline.lake_schema import DUPLICATE_GROUPS, empty_frame
from influencer_pipeline.media.phash import HashFormatError, hamming_matrix, hashes_to_uint64

FILES_COLUMNS = ("video_id", "status", "sha256", "width", "height", "duration_s")
FRAMES_COLUMNS = ("video_id", "role", "timestamp_s", "phash", "dhash", "is_blank")


class DedupInputError(ValueError):
    """The inputs of ``find_duplicate_groups`` are unusable; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DedupConfig:
    """Thresholds of near-duplicate detection (see the module docstring for the evidence)."""

    max_phash_distance: int = 12
    max_dhash_distance: int = 12
    offset_tolerance_s: float = 0.75
    max_offset_s: float = 10.0
    min_similarity: float = 0.5
    min_matched_frames: int = 3
    max_bucket_units: int = 200
    index_bands: int | None = None  # None: from the corpus size (see _band_count)
    min_index_votes: int = 2  # shared buckets a pair needs to become a candidate


@dataclass(frozen=True)
class Fingerprint:
    """The usable (body, non-blank) frames of one video: times and both hashes, time-ordered."""

    times: np.ndarray  # float64 seconds
    phash: np.ndarray  # uint64
    dhash: np.ndarray  # uint64

    def __len__(self) -> int:
        return len(self.times)


@dataclass(frozen=True)
class PairMatch:
    """Result of comparing two fingerprints with temporal alignment."""

    similarity: float  # matched frames / usable frames of the shorter video
    matched_frames: int  # short-video frames that specifically match at the winning offset
    aligned_frames: int  # frames with a match at the winning offset, specific or not
    offset_s: float  # time in the longer video where the shorter one's t=0 lies
    is_duplicate: bool


NO_MATCH = PairMatch(0.0, 0, 0, 0.0, False)
_FAR = np.int32(1 << 20)  # "no such frame" distance


def compare_fingerprints(a: Fingerprint, b: Fingerprint, config: DedupConfig) -> PairMatch:
    """Align two videos by voting on the time offset of their frame matches; see module doc."""
    if len(a) == 0 or len(b) == 0:
        return NO_MATCH
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    phash_d = hamming_matrix(short.phash, long_.phash)
    dhash_d = hamming_matrix(short.dhash, long_.dhash)
    matches = (phash_d <= config.max_phash_distance) & (dhash_d <= config.max_dhash_distance)
    i_idx, j_idx = np.nonzero(matches)
    if i_idx.size == 0:
        return NO_MATCH
    offsets = long_.times[j_idx] - short.times[i_idx]
    keep = np.abs(offsets) <= config.max_offset_s + config.offset_tolerance_s
    i_idx, j_idx, offsets = i_idx[keep], j_idx[keep], offsets[keep]
    if i_idx.size == 0:
        return NO_MATCH
    distance = phash_d[i_idx, j_idx].astype(np.float64) + dhash_d[i_idx, j_idx]
    # Candidate offsets: every match's own offset (to 0.05 s). Support of a candidate = number of
    # distinct short-video frames with a match within +- tolerance of it.
    centres = np.unique(np.round(offsets / 0.05) * 0.05)
    within = np.abs(offsets[None, :] - centres[:, None]) <= config.offset_tolerance_s
    rows, cols = np.nonzero(within)
    presence = np.zeros((len(centres), len(short)), dtype=bool)
    presence[rows, i_idx[cols]] = True
    support = presence.sum(axis=1)
    mean_distance = (within @ distance) / np.maximum(within.sum(axis=1), 1)
    # best: most frames, then the closest matches, then the smallest shift
    best = int(np.lexsort((np.abs(centres), mean_distance, -support))[0])
    centre = float(centres[best])
    # Temporal specificity: a frame supports the alignment only when it has a match within
    # +- tolerance of it AND nothing clearly elsewhere in time (> 2 x tolerance away) is closer.
    combined = phash_d.astype(np.int32) + dhash_d
    shift = long_.times[None, :] - short.times[:, None] - centre
    aligned = np.abs(shift) <= config.offset_tolerance_s
    elsewhere = np.abs(shift) > 2 * config.offset_tolerance_s
    aligned_best = np.where(aligned & matches, combined, _FAR).min(axis=1)
    elsewhere_best = np.where(elsewhere, combined, _FAR).min(axis=1)
    aligned_frames = int((aligned_best < _FAR).sum())
    matched = int(((aligned_best < _FAR) & (aligned_best <= elsewhere_best)).sum())
    similarity = matched / len(short)
    is_dup = similarity >= config.min_similarity and matched >= config.min_matched_frames
    return PairMatch(similarity, matched, aligned_frames, centre, bool(is_dup))


def _band_count(n_frames: int, config: DedupConfig) -> int:
    if config.index_bands:
        return config.index_bands
    return int(min(8, max(2, round(64 / math.log2(max(n_frames, 4))))))


def band_keys(hashes: np.ndarray, bands: int) -> list[np.ndarray]:
    """Split uint64 hashes into ``bands`` nearly equal bit bands (one key array per band)."""
    edges = np.linspace(0, 64, bands + 1).round().astype(int)
    keys = []
    for lo, hi in itertools.pairwise(edges):
        mask = np.uint64((1 << int(hi - lo)) - 1)
        keys.append((hashes >> np.uint64(lo)) & mask)
    return keys


def _unique_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and how often each occurs (a sort, much faster than np.unique)."""
    ordered = np.sort(values)
    if ordered.size == 0:
        return ordered, np.empty(0, np.int64)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return ordered[starts], np.diff(np.r_[starts, ordered.size])


def candidate_pairs(
    unit_of_frame: np.ndarray, hash_arrays: list[np.ndarray], config: DedupConfig
) -> np.ndarray:
    """Unit pairs (u < v) sharing exact band values in >= ``min_index_votes`` buckets: (k, 2)."""
    units_all = np.asarray(unit_of_frame, dtype=np.int64)
    n = len(units_all)
    if n == 0:
        return np.empty((0, 2), np.int64)
    n_units = int(units_all.max()) + 1
    bands = _band_count(n, config)
    found: list[np.ndarray] = []
    for hashes in hash_arrays:
        for key in band_keys(np.asarray(hashes, dtype=np.uint64), bands):
            # one entry per (band value, unit), sorted by band value
            code, _ = _unique_counts(key.astype(np.int64) * n_units + units_all)
            keys, units = code // n_units, code % n_units
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            sizes = np.diff(np.r_[starts, len(keys)])
            keep = (sizes >= 2) & (sizes <= config.max_bucket_units)
            if not keep.any():
                continue
            # every position in a kept bucket pairs with the later positions of its bucket
            bucket_of = np.repeat(np.arange(len(starts)), sizes)
            pos = np.flatnonzero(keep[bucket_of])
            later = (starts + sizes)[bucket_of[pos]] - pos - 1
            first = np.repeat(pos, later)
            step = np.arange(first.size) - np.repeat(np.cumsum(later) - later, later)
            found.append(units[first] * n_units + units[first + 1 + step])
    if not found:
        return np.empty((0, 2), np.int64)
    # units within a bucket are sorted, so u < v; a pair's count = buckets it shares
    pair_codes, votes = _unique_counts(np.concatenate(found))
    pair_codes = pair_codes[votes >= config.min_index_votes]
    return np.stack([pair_codes // n_units, pair_codes % n_units], axis=1)


def _require_columns(table: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise DedupInputError("not_a_table", f"{name} must be a pandas DataFrame")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DedupInputError("missing_columns", f"{name} lacks the columns {missing}")


def fingerprints(frames: pd.DataFrame) -> dict[str, Fingerprint]:
    """Per video: its body, non-blank frames with both hashes, in time order."""
    _require_columns(frames, FRAMES_COLUMNS, "frames")
    usable = frames[
        (frames["role"] == "body")
        & ~frames["is_blank"].fillna(False).astype(bool)
        & frames["phash"].notna()
        & frames["dhash"].notna()
    ].sort_values(["video_id", "timestamp_s"], kind="stable")
    result: dict[str, Fingerprint] = {}
    for video_id, group in usable.groupby("video_id", sort=True):
        try:
            phash = hashes_to_uint64(group["phash"])
            dhash = hashes_to_uint64(group["dhash"])
        except HashFormatError as exc:
            raise DedupInputError(
                "bad_hash", f"frames of video {video_id} hold an invalid hash: {exc.message}"
            ) from None
        result[str(video_id)] = Fingerprint(
            group["timestamp_s"].to_numpy(dtype=np.float64), phash, dhash
        )
    return result


class _Verifier:
    """Pair comparisons between units, computed once and cached."""

    def __init__(self, prints: list[Fingerprint | None], config: DedupConfig) -> None:
        self.prints = prints
        self.config = config
        self.cache: dict[tuple[int, int], PairMatch] = {}

    def __call__(self, u: int, v: int) -> PairMatch:
        key = (min(u, v), max(u, v))
        if key not in self.cache:
            a, b = self.prints[key[0]], self.prints[key[1]]
            self.cache[key] = (
                NO_MATCH if a is None or b is None else compare_fingerprints(a, b, self.config)
            )
        return self.cache[key]


def _components(nodes: set[int], edges: list[tuple[int, int]]) -> list[list[int]]:
    parent = {n: n for n in nodes}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in edges:
        if u in parent and v in parent:
            ru, rv = find(u), find(v)
            if ru != rv:
                parent[max(ru, rv)] = min(ru, rv)
    groups: dict[int, list[int]] = {}
    for n in sorted(nodes):
        groups.setdefault(find(n), []).append(n)
    return list(groups.values())


def _number(value: float) -> float:
    return 0.0 if value is None or math.isnan(value) else float(value)


def find_duplicate_groups(
    files: pd.DataFrame, frames: pd.DataFrame, config: DedupConfig | None = None
) -> pd.DataFrame:
    """One ``duplicate_groups`` row per video with status "ok" in ``files``; see module doc."""
    config = config or DedupConfig()
    _require_columns(files, FILES_COLUMNS, "files")
    ok = files[files["status"] == "ok"].sort_values("video_id", kind="stable")
    if ok["video_id"].isna().any():
        raise DedupInputError("missing_video_id", "files has an ok row without a video_id")
    dupes = ok["video_id"][ok["video_id"].duplicated()].unique().tolist()
    if dupes:
        raise DedupInputError("duplicate_video_id", f"files lists these videos twice: {dupes[:5]}")
    if ok.empty:
        return empty_frame(DUPLICATE_GROUPS)
    prints_by_video = fingerprints(frames)

    video_ids = ok["video_id"].astype(str).tolist()
    sha = [s if isinstance(s, str) and s else None for s in ok["sha256"]]
    area = pd.to_numeric(ok["width"], errors="coerce") * pd.to_numeric(
        ok["height"], errors="coerce"
    )
    duration = pd.to_numeric(ok["duration_s"], errors="coerce")
    # canonical order: largest picture, then longest, then smallest video_id
    rank_key = {
        vid: (-_number(a), -_number(d), vid)
        for vid, a, d in zip(video_ids, area.tolist(), duration.tolist(), strict=True)
    }

    # exact copies (same sha256) form one unit; near-duplicate detection runs between units
    unit_key = [
        s if s is not None else f"video:{vid}" for vid, s in zip(video_ids, sha, strict=True)
    ]
    unit_index: dict[str, int] = {}
    members: list[list[str]] = []
    for vid, key in zip(video_ids, unit_key, strict=True):
        u = unit_index.setdefault(key, len(members))
        if u == len(members):
            members.append([])
        members[u].append(vid)
    prints: list[Fingerprint | None] = []
    for vids in members:
        found = next(
            (prints_by_video[v] for v in vids if len(prints_by_video.get(v, ())) > 0), None
        )
        prints.append(found)

    frame_unit = [np.full(len(p), u, np.int64) for u, p in enumerate(prints) if p is not None]
    verify = _Verifier(prints, config)
    edges: list[tuple[int, int]] = []
    if frame_unit:
        units = np.concatenate(frame_unit)
        phash = np.concatenate([p.phash for p in prints if p is not None])
        dhash = np.concatenate([p.dhash for p in prints if p is not None])
        for u, v in candidate_pairs(units, [phash, dhash], config).tolist():
            if verify(u, v).is_duplicate:
                edges.append((u, v))

    def best_video(u: int) -> str:
        return min(members[u], key=rank_key.__getitem__)

    # groups = connected components; every unit must also verify against its group's canonical;
    # the units that do not are grouped again among themselves in the next round, same rule.
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
        for vid in members[u]:
            is_canonical = vid == canonical_video
            if is_canonical:
                match_type, similarity = None, None
            elif u == canon:
                match_type, similarity = "exact", 1.0
            else:
                match_type, similarity = "near", verify(u, canon).similarity
            rows.append(
                {
                    "video_id": vid,
                    "group_id": canonical_video,
                    "canonical_video_id": canonical_video,
                    "is_canonical": is_canonical,
                    "match_type": match_type,
                    "similarity": similarity,
                    "sha256": sha_of[vid],
                }
            )
    table = pd.DataFrame(rows)
    table["group_size"] = table.groupby("group_id")["video_id"].transform("size").astype("int64")
    table["similarity"] = table["similarity"].astype("float64")
    table["is_canonical"] = table["is_canonical"].astype(bool)
    table = table.sort_values(
        ["group_id", "is_canonical", "video_id"], ascending=[True, False, True]
    )
    return table[DUPLICATE_GROUPS.names].reset_index(drop=True)
