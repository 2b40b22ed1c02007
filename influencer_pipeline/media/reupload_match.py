"""Is one video a re-upload of another? Align the two timelines, then demand the same picture.

A re-upload is the same edit: the same pictures in the same order at one time offset, whatever
the placement, size, bitrate or trim, and whatever the outro card after the body. Two *cuts* of
one shoot share footage but not the edit: another opening (real v52 / v54: the same unboxing
footage under another hook and other captions), shots in another order or of other lengths.

``compare_videos`` (A = the video with the shorter body, B = the other):
1. Cheap frame matches: whole-frame pHash and dHash within ``max_hash_bits`` (same framing), or
   a placement hash of A within ``max_centre_bits`` of one of B (``placement``: squares around
   the picture's centre at 8 scales and 5 positions). Each votes for the offset ``t_B - t_A``;
   the ``top_offsets`` best supported (clock rate, offset) alignments are tried; without any
   cheap match the pair is not a re-upload (the hashes are what made it a candidate).
2. At an offset, each frame of A is compared with the frames of B within ``offset_tolerance_s``
   of its aligned time: a cheap whole-frame match, or a feature match (``local_match``: ORB +
   RANSAC similarity transform, which reads any crop, scale, shift and bars). Frames with too
   few features to judge (``min_keypoints``; blank frames never get here) are left out.
3. The overlap is the part of each timeline the other one covers at that offset (a trim at
   either end leaves frames outside it, which do not count). Duplicate when at least
   ``min_matched_frames`` frames match, ``min_coverage`` of the judged frames of *each* video in
   the overlap match, and no run of unmatched judged frames inside the overlap lasts longer than
   ``max_gap_s`` (a replaced opening or a swapped shot is such a run; a fast shot sampled at
   other moments is one or two frames), and fewer than ``min_moved_frames`` frames outside the
   overlap show a picture that the other video has elsewhere (a trim removes footage, it never
   moves it: the default demo's second cut, its shots in reverse order, looked like a trim at
   both ends), and at most ``max_uncovered_frames`` judged frames of one of the two lie outside
   the overlap (a trim cuts one copy; two ads sharing a product shot each have their own footage
   beside it). Most candidate pairs are not re-uploads: an alignment whose frames hardly match
   by hashes is not verified (``reupload_screen``), and once ``min_coverage`` is out of reach
   the rest of A's frames are not compared (the verdict cannot change).

Evidence kept: matched and judged frames, the offset, the median scale, shift and agreeing
features of the fits (scale 1, shift 0: the same framing). On shared/real_ads the 7 labelled
groups match at 88-100 % of their frames (never two misses in a row); v52 / v54 match 12 of 16
frames with the 4-frame hook unmatched in a row (gap 4 s): apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from influencer_pipeline.media.local_match import (
    IDENTITY,
    FrameFeatures,
    FrameMatch,
    MatchConfig,
    match_frames,
    overlay,
)
from influencer_pipeline.media.phash import hamming_matrix
from influencer_pipeline.media.placement import centred_distances
from influencer_pipeline.media.reupload_screen import worth_verifying

FeatureSource = Callable[[], list[FrameFeatures] | None]
Distances = tuple[np.ndarray, np.ndarray]  # cheap_distances: whole-frame and placement bits


@dataclass(frozen=True)
class ReuploadConfig:
    """Thresholds of the video-pair decision (see the module doc for the evidence)."""

    max_hash_bits: int = 12
    max_centre_bits: int = 10
    offset_tolerance_s: float = 0.75
    max_offset_s: float = 30.0
    top_offsets: int = 3
    min_cheap_support: int = 2  # frames of A with a cheap match at an offset worth verifying
    min_cheap_coverage: float = 0.35  # ...and this share of A's overlap (reupload_screen)
    min_specific_frames: int = 2  # matched frames that fit the offset better than any other time
    max_differing: float = 0.03  # an overlay with at most this share of other colours is "same"
    min_identical_frames: int = 2  # matched frames that are the same picture, not the same set
    rates: tuple[float, ...] = (0.94, 0.97, 1.0, 1.03, 1.06)  # B's clock against A's
    min_matched_frames: int = 3
    min_coverage: float = 0.7
    max_gap_s: float = 2.5
    min_moved_frames: int = 2  # frames outside the overlap seen elsewhere in the other: a re-edit
    max_uncovered_frames: int = 1  # of the better-covered video, outside the overlap
    match: MatchConfig = field(default_factory=MatchConfig)


@dataclass
class VideoPrint:
    """The usable body frames of one video: times, hashes and (lazily) local features."""

    times: np.ndarray  # float64 seconds, increasing
    phash: np.ndarray  # uint64 whole-frame pHash
    dhash: np.ndarray  # uint64 whole-frame dHash
    centre: np.ndarray  # (n, N_HASHES) uint64 placement hashes, 0 = none
    features: FeatureSource | None = None
    _cache: list[FrameFeatures] | None = field(default=None, repr=False)
    _loaded: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.times)

    def frame_features(self) -> list[FrameFeatures] | None:
        """Local features of every frame (computed once, whichever thread asks first), or None
        when there are no images."""
        with self._lock:
            if not self._loaded:
                self._cache = self.features() if self.features is not None else None
                self._loaded = True
        return self._cache

    @property
    def span(self) -> float:
        """Seconds from the first to the last usable frame."""
        return float(self.times[-1] - self.times[0]) if len(self.times) else 0.0


@dataclass(frozen=True)
class PairMatch:
    """The verdict on two videos and its evidence (``offset_s``: t_B - t_A for A = shorter)."""

    is_duplicate: bool
    similarity: float = 0.0  # matched / judged frames of the shorter video in the overlap
    matched_frames: int = 0
    compared_frames: int = 0
    offset_s: float = 0.0
    rate: float = 1.0  # t_B = rate * t_A + offset_s
    scale: float | None = None  # how large the shorter one's picture is in the other (1: same)
    shift_x: float | None = None  # where its centre lies in the other (share of the height)
    shift_y: float | None = None
    median_inliers: float | None = None
    longest_gap_s: float = 0.0
    reason: str = ""
    swapped: bool = False  # True when A (the shorter) is the second argument
    cheap_share: float = 0.0  # best share of A's frames matching by hashes (reupload_screen)


NO_MATCH = PairMatch(False, reason="no frame of one video matches the other")


def cheap_distances(a: VideoPrint, b: VideoPrint) -> Distances:
    """(len a, len b) bits: whole-frame (worse of pHash and dHash), and best placement hash."""
    whole = np.maximum(hamming_matrix(a.phash, b.phash), hamming_matrix(a.dhash, b.dhash))
    return whole.astype(np.int64), centred_distances(a.centre, b.centre).astype(np.int64)


def cheap_matches(
    a: VideoPrint,
    b: VideoPrint,
    config: ReuploadConfig,
    distances: Distances | None = None,
) -> np.ndarray:
    """(len a, len b) bool: same-framing hash matches or placement-hash matches
    (``distances``: ``cheap_distances(a, b)`` when the caller has them)."""
    whole, centre = cheap_distances(a, b) if distances is None else distances
    return (whole <= config.max_hash_bits) | (centre <= config.max_centre_bits)


def _aligned_cost(
    a: VideoPrint, b: VideoPrint, distance: np.ndarray, rate: float, offsets: np.ndarray
) -> np.ndarray:
    """Per offset: mean cheap distance (bits) of A's frames to the frame of B nearest in time.

    What pins an offset inside a static shot: every frame of the shot votes for every offset up
    to the shot's length, but only the true one lays each frame on its own moment, and the
    frames beside a cut on the same shot. ``a``: only the frames to lay (the same for every
    offset, so that no offset wins by pushing frames out of the overlap).
    """
    aligned = rate * a.times[None, :] + offsets[:, None]  # (offsets, frames of A)
    after = np.clip(np.searchsorted(b.times, aligned), 0, len(b) - 1)
    before = np.clip(after - 1, 0, len(b) - 1)
    nearer = np.abs(b.times[before] - aligned) <= np.abs(b.times[after] - aligned)
    nearest = np.where(nearer, before, after)
    return distance[np.arange(len(a))[None, :], nearest].mean(axis=1)


def _top_offsets(
    a: VideoPrint,
    b: VideoPrint,
    votes: np.ndarray,
    config: ReuploadConfig,
    distance: np.ndarray | None = None,
) -> list[tuple[float, float]]:
    """The best supported (rate, offset) alignments of the voting frame pairs.

    ``distance``: (len a, len b) cheap distances; with it, each chosen offset is pinned to the
    voted offset within ``offset_tolerance_s`` of it that lays the frames closest
    (``_aligned_cost``). Support alone cannot: in a short or static video every offset up to a
    shot's length is supported by every frame, and the least spread votes sit at the edge.
    """
    i_idx, j_idx = np.nonzero(votes)
    if i_idx.size == 0:
        return []
    scored: list[tuple[int, float, float, float, float]] = []  # support, -spread, .., offset
    voted: dict[float, np.ndarray] = {}
    for rate in config.rates:
        offsets = b.times[j_idx] - rate * a.times[i_idx]
        keep = np.abs(offsets) <= config.max_offset_s
        rows, offsets = i_idx[keep], offsets[keep]
        voted[rate] = offsets
        for centre in np.unique(np.round(offsets / 0.05) * 0.05):
            near = np.abs(offsets - centre) <= config.offset_tolerance_s
            support = len(np.unique(rows[near]))
            if support < config.min_cheap_support:
                continue
            refined = float(np.median(offsets[near]))  # where the supporting matches agree
            spread = float(np.mean(np.abs(offsets[near] - refined)))
            scored.append((support, -spread, -abs(rate - 1.0), rate, refined))
    chosen: list[tuple[float, float]] = []
    for *_, rate, centre in sorted(scored, reverse=True):
        tol = 2 * config.offset_tolerance_s
        if not any(r == rate and abs(c - centre) <= tol for r, c in chosen):
            chosen.append((rate, centre))
        if len(chosen) == config.top_offsets:
            break
    if distance is None:
        return chosen
    pinned: list[tuple[float, float]] = []
    tol = config.offset_tolerance_s
    for rate, centre in chosen:
        aligned = rate * a.times + centre
        inside = (aligned >= b.times[0] - tol) & (aligned <= b.times[-1] + tol)
        if not inside.any():
            pinned.append((rate, centre))
            continue
        laid = VideoPrint(a.times[inside], a.phash[inside], a.dhash[inside], a.centre[inside])
        offsets = voted[rate]
        near = np.unique(offsets[np.abs(offsets - centre) <= tol])
        cost = _aligned_cost(laid, b, distance[inside], rate, near)
        best = np.lexsort((np.abs(near - centre), cost))[0]  # the lowest cost, then the nearest
        pinned.append((rate, float(near[best])))
    return pinned


class _Judge:
    """Frame-pair verdicts for one video pair, each computed once."""

    def __init__(self, a: VideoPrint, b: VideoPrint, distances: Distances, config: ReuploadConfig):
        self.a, self.b, self.config = a, b, config
        whole, centre = distances  # cheap_distances(a, b)
        self.same_framing = whole <= config.max_hash_bits  # pHash and dHash (whole: the worse)
        self.cheap = cheap_matches(a, b, config, distances)
        self.distance = np.minimum(whole, centre)
        self.results: dict[tuple[int, int], FrameMatch | bool | None] = {}

    @property
    def fa(self) -> list[FrameFeatures] | None:
        """A's local features (loaded on first use)."""
        return self.a.frame_features()

    @property
    def fb(self) -> list[FrameFeatures] | None:
        """B's local features (loaded on first use)."""
        return self.b.frame_features()

    def judged_a(self, i: int) -> bool:
        """Frame i of A can be judged: a same-framing match, enough features, or no images."""
        if self.same_framing[i].any() or self.fa is None or self.fb is None:
            return True
        return len(self.fa[i]) >= self.config.match.min_keypoints

    def judged_b(self, j: int) -> bool:
        """Frame j of B can be judged: a same-framing match, enough features, or no images."""
        if self.same_framing[:, j].any() or self.fa is None or self.fb is None:
            return True
        return len(self.fb[j]) >= self.config.match.min_keypoints

    def __call__(self, i: int, j: int) -> FrameMatch | bool | None:
        key = (i, j)
        if key not in self.results:
            self.results[key] = self._judge(i, j)
        return self.results[key]

    def _judge(self, i: int, j: int) -> FrameMatch | bool | None:
        same = bool(self.same_framing[i, j])
        if self.fa is None or self.fb is None:
            return True if same else None
        a, b, match = self.fa[i], self.fb[j], self.config.match
        laid: FrameMatch | None = None
        if same and abs(a.aspect - b.aspect) < 0.02:  # the same framing: lay one on the other
            agreement, differing = overlay(a, b, IDENTITY, match)
            laid = FrameMatch(0, 1.0, 0.0, 0.0, 1.0, agreement, differing)
            if differing <= self.config.max_differing:
                return laid
        # hashes close but the pictures not laid right (bars, another crop): read the geometry
        fitted = match_frames(a, b, match)
        if fitted is not None:
            return fitted
        return laid if laid is not None else (True if same else None)


def _longest_gap(times: np.ndarray, matched: np.ndarray, step: float) -> float:
    """Longest run of consecutive unmatched frames, in seconds (a run of k frames: k steps)."""
    longest = run = 0
    for ok in matched:
        run = 0 if ok else run + 1
        longest = max(longest, run)
    return longest * step


def _specific(
    judge: _Judge, aligned: np.ndarray, matched: np.ndarray, config: ReuploadConfig
) -> int:
    """Matched frames of A whose aligned hashes are closer than anything elsewhere in time.

    Two static videos (one set-up, a talking head) match at every offset: nothing pins the
    alignment, and the pair cannot be called one edit.
    """
    b_times, tol = judge.b.times, config.offset_tolerance_s
    count = 0
    for i in np.flatnonzero(matched):
        near = np.abs(b_times - aligned[i]) <= tol
        far = np.abs(b_times - aligned[i]) > 2 * tol
        here = judge.distance[i, near].min() if near.any() else 64
        there = judge.distance[i, far].min() if far.any() else 65
        count += int(here < there)
    return count


def _moved(
    judge: _Judge,
    rate: float,
    offset: float,
    outside: tuple[np.ndarray, np.ndarray],
    max_gap_s: float,
) -> int:
    """Frames outside the overlap whose picture the other video shows far from where they'd lie.

    A trim removes footage, it never moves it: a frame cut off one video's end may match the
    other only next to the overlap's edge (the rest of the same shot). A shot that the other
    video shows more than ``max_gap_s`` away is footage in another order: another edit.
    """
    a, b = judge.a, judge.b
    outside_a, outside_b = outside
    moved = 0
    for i in np.flatnonzero(outside_a):
        hits = np.flatnonzero(judge.cheap[i])
        if hits.size:
            where = np.clip(rate * a.times[i] + offset, b.times[0], b.times[-1])
            moved += int(np.abs(b.times[hits] - where).min() > max_gap_s)
    for j in np.flatnonzero(outside_b):
        hits = np.flatnonzero(judge.cheap[:, j])
        if hits.size:
            where = np.clip((b.times[j] - offset) / rate, a.times[0], a.times[-1])
            moved += int(np.abs(a.times[hits] - where).min() * rate > max_gap_s)
    return moved


def _match_b(
    judge: _Judge, aligned: np.ndarray, matched_b: np.ndarray, todo: np.ndarray, tol: float
) -> None:
    """Mark frames of B that match a frame of A within ``tol`` of their time (in place).

    B's side is judged like A's: a frame counts when *some* frame of A near its aligned time
    shows the same picture, not only when it happened to be A's nearest match. Otherwise an
    offset off by less than the tolerance (a static shot pins it only to its length) leaves
    B's first or last frames unmatched, and a video sampled more densely than the other can
    never reach ``min_coverage``.
    """
    for j in np.flatnonzero(todo):
        window = np.flatnonzero(np.abs(aligned - judge.b.times[j]) <= tol)
        for i in sorted(window, key=lambda i: abs(aligned[i] - judge.b.times[j])):
            if judge(int(i), int(j)):
                matched_b[j] = True
                break


def _rejected_early(
    rate: float,
    offset: float,
    *,
    matched_a: np.ndarray,
    judged_a: np.ndarray,
    reachable: float,
    config: ReuploadConfig,
) -> PairMatch:
    """The verdict of a pair whose coverage can no longer be reached (counts: frames seen)."""
    n_matched = int((matched_a & judged_a).sum())
    compared = int(judged_a.sum())
    return PairMatch(
        is_duplicate=False,
        similarity=n_matched / max(compared, 1),
        matched_frames=n_matched,
        compared_frames=compared,
        offset_s=offset,
        rate=rate,
        reason=f"at most {reachable:.0%} of frames can match ({config.min_coverage:.0%} needed)",
    )


def _evaluate(judge: _Judge, rate: float, offset: float, config: ReuploadConfig) -> PairMatch:
    a, b, tol = judge.a, judge.b, config.offset_tolerance_s
    aligned = rate * a.times + offset  # A's frames on B's clock
    in_a = (aligned >= b.times[0] - tol) & (aligned <= b.times[-1] + tol)
    in_b = (b.times >= aligned[0] - tol) & (b.times <= aligned[-1] + tol)
    matched_a = np.zeros(len(a), bool)
    matched_b = np.zeros(len(b), bool)
    fits: list[FrameMatch] = []
    identical = 0
    judged_all_a = np.array([judge.judged_a(i) for i in range(len(a))])
    judged_a = judged_all_a & in_a
    n_judged = max(int(judged_a.sum()), 1)
    still_judged = int(judged_a.sum())  # judged frames of A not looked at yet
    for i in np.flatnonzero(in_a):
        reachable = (int((matched_a & judged_a).sum()) + still_judged) / n_judged
        if reachable < config.min_coverage:  # the best cover_a the rest could give
            # too few frames of A are left to reach the coverage: not one edit, whatever the rest
            # of the frames show (the verdict is the same; its counts are those seen so far)
            return _rejected_early(
                rate,
                offset,
                matched_a=matched_a,
                judged_a=judged_a,
                reachable=reachable,
                config=config,
            )
        still_judged -= int(judged_a[i])
        window = np.flatnonzero(np.abs(b.times - aligned[i]) <= tol)
        for j in sorted(window, key=lambda j: abs(b.times[j] - aligned[i])):
            result = judge(int(i), int(j))
            if result:
                matched_a[i] = matched_b[j] = True
                if isinstance(result, FrameMatch):
                    fits.append(result)
                    identical += int(result.differing <= config.max_differing)
                break
    specific = _specific(judge, aligned, matched_a, config)
    judged_all_b = np.array([judge.judged_b(j) for j in range(len(b))])
    judged_b = judged_all_b & in_b
    n_matched = int((matched_a & judged_a).sum())
    cover_a = n_matched / n_judged
    if n_matched >= config.min_matched_frames and cover_a >= config.min_coverage:
        _match_b(judge, aligned, matched_b, judged_b & ~matched_b, tol)
    cover_b = int((matched_b & judged_b).sum()) / max(int(judged_b.sum()), 1)
    step_a = float(np.median(np.diff(a.times))) if len(a) > 1 else 1.0
    step_b = float(np.median(np.diff(b.times))) if len(b) > 1 else 1.0
    gap = max(
        _longest_gap(a.times[judged_a], matched_a[judged_a], step_a),
        _longest_gap(b.times[judged_b], matched_b[judged_b], step_b),
    )
    outside = (judged_all_a & ~in_a, judged_all_b & ~in_b)  # judged frames beyond the overlap
    moved = _moved(judge, rate, offset, outside, config.max_gap_s)
    reasons = []
    if moved >= config.min_moved_frames:
        reasons.append(f"{moved} frames outside the shared stretch appear elsewhere (another edit)")
    uncovered = min(int(outside[0].sum()), int(outside[1].sum()))
    if uncovered > config.max_uncovered_frames:
        reasons.append(f"each video has {uncovered}+ frames outside the shared stretch")
    if n_matched < config.min_matched_frames:
        reasons.append(f"only {n_matched} frames match")
    if min(cover_a, cover_b) < config.min_coverage:
        reasons.append(f"frames matched {cover_a:.0%} / {cover_b:.0%}")
    if gap > config.max_gap_s:
        reasons.append(f"{gap:.1f} s in a row do not match (another cut)")
    with_images = judge.fa is not None and judge.fb is not None
    if with_images and identical < min(config.min_identical_frames, n_matched):
        reasons.append(f"{identical} frames are the same picture (a shared set or product)")
    if specific < config.min_specific_frames:
        reasons.append(f"{specific} frames pin the offset (the pictures hardly change)")
    fits = [f for f in fits if f.inliers > 0] or fits  # feature fits carry the geometry
    return PairMatch(
        is_duplicate=not reasons,
        similarity=cover_a,
        matched_frames=n_matched,
        compared_frames=int(judged_a.sum()),
        offset_s=offset,
        rate=rate,
        scale=float(np.median([f.scale for f in fits])) if fits else (1.0 if n_matched else None),
        shift_x=float(np.median([f.shift_x for f in fits])) if fits else None,
        shift_y=float(np.median([f.shift_y for f in fits])) if fits else None,
        median_inliers=(
            float(np.median([f.inliers for f in fits])) if fits and fits[0].inliers else None
        ),
        longest_gap_s=gap,
        reason="; ".join(reasons),
    )


def compare_videos(x: VideoPrint, y: VideoPrint, config: ReuploadConfig) -> PairMatch:
    """Align two videos and decide whether they are one edit (see the module doc)."""
    if len(x) == 0 or len(y) == 0:
        return NO_MATCH
    swapped = (y.span, len(y)) < (x.span, len(x))
    a, b = (y, x) if swapped else (x, y)
    judge = _Judge(a, b, cheap_distances(a, b), config)
    nominated = _top_offsets(a, b, judge.cheap, config, judge.distance)
    tolerance_s, min_share = config.offset_tolerance_s, config.min_cheap_coverage
    offsets, share = worth_verifying(
        a, b, judge.cheap, nominated, tolerance_s=tolerance_s, min_share=min_share
    )
    if not offsets:  # no feature is read (reupload_screen)
        need = f"{min_share:.0%} needed to compare features"
        reason = f"{share:.0%} of frames match by their hashes ({need})"
        return PairMatch(False, reason=reason, cheap_share=share) if nominated else NO_MATCH

    results = [_evaluate(judge, rate, offset, config) for rate, offset in offsets]
    # max keeps the first of equals: the best supported alignment wins ties
    best = max(results, key=lambda m: (m.is_duplicate, m.matched_frames, -abs(m.rate - 1.0)))
    return PairMatch(**{**best.__dict__, "swapped": swapped, "cheap_share": share})
