"""Group faceless videos by their outro card (pure logic, no Dagster).

Distance between two fingerprints (``fingerprint_distance``), one number with explicit limits:
``max(phash_bits / max_phash_bits, colour_delta_e / max_colour_delta_e)``: ``phash_bits`` is the
Hamming distance of the 256-bit content pHashes, ``colour_delta_e`` the 90 % order statistic (7th
largest of 64) of the cells' CIE76 difference over the 8 x 8 Lab grid. Two videos show the same
card when the distance is <= 1, i.e. when BOTH limits hold: pHash guards layout and text, the Lab
grid guards colour (pHash is luminance only: a red and a blue button of equal luminance are 0-20
bits apart).

Measured on 132 synthetic outro videos (12 cards incl. look-alikes; each card in two cuts, one
with an animated button, a fade-out to black and a black tail; re-uploads re-encoded at crf 30,
resized x0.75, cropped 3 %, trimmed 0.7 s at the start, cut 0.3 s earlier at the end, and crf 30 +
x0.75 + 3 % crop at once), sampled with ``media.frames`` (outro: last 3 s at 2 fps):
- same card, any transform (660 pairs): <= 24 bits (p99 20) and <= 3.4 delta E (p99 3.0);
- same layout, other name (HUSTLEZY / GIFTORA / PRESENTLY): >= 82 bits;
- same layout, other colour (orange / red / blue accent, white / cream background, yellow / green
  logo on navy): from 0 bits, but >= 10.9 delta E;
- the card plus a price line: >= 116 bits; plus seasonal confetti: >= 106 bits;
- unrelated cards: >= 86 bits and >= 16.6 delta E;
- a ONE-letter name change (HUSTLEZY / HUSTLEBY): 34-50 bits, 0 delta E: at or under the limit,
  finer than this fingerprint reliably resolves.
Why these hashes (same data; worst same-card value vs nearest other-NAME look-alike): on the
whole frame every hash fails (pHash-256 59 vs 50 bits to an unrelated card, pHash-64 14 vs 8,
dHash-256 40 vs 36, wHash-64 44 vs 15: crops and layout-alike cards dominate). On the content
box: pHash-256 24 vs 80, pHash-144 16 vs 32, pHash-576 65 vs 206 (one-letter change 74), pHash-64
10 vs 10, dHash-256 26 vs 38, dHash-64 7 vs 9, wHash-64 4 vs 0: pHash-256 has the widest margin.
Colour: imagehash.colorhash (42 bits) is 7 for the same card and 4 or less for a recoloured
accent; mean Lab of a 4 x 4 or 8 x 8 grid 1.0-1.8 vs 3 (the accent is a small area), the 90 %
order statistic of the 8 x 8 cells 3.4 vs 10.9: it is the colour term.
Hence ``max_phash_bits`` = 40 and ``max_colour_delta_e`` = 6: about 1.7 x the worst same-card
value on each axis, and the nearest look-alike (other colour) is still at 1.8. The real white
HUSTLEZY outro cards of two ads (two templates of one brand) are 116 bits / 19.9 delta E apart.

Grouping (``group_outros``) is leader/medoid clustering, never single-link, so a chain of cards
that each differ a little never merges its far ends: every member of a group is within distance
1 of the group's representative (its medoid), so no two members are further apart than 2.
1. Leader pass over videos in id order: a video joins the nearest existing leader within 1, else
   it becomes a leader.
2. Up to ``refine_rounds`` rounds: each group's medoid is computed (exactly, or on an even sample
   of ``medoid_sample`` members for large groups) and every video moves to the nearest medoid
   within 1 (its own medoid wins ties); videos near no medoid start new groups by a leader pass.
3. Groups whose medoids are within 1 are merged when every member of both is within 1 of the
   union's medoid (this repairs leaders that the index below failed to pair), then recentred.
Candidates come from an LSH index over the pHash bits, not from an n x n matrix: ``lsh_tables``
random permutations of the bits, each cut into bands of ``lsh_band_bits`` bits; two fingerprints
are compared only when they agree on a whole band. With 2 x 16 bands of 16 bits, fingerprints
within 15 bits always share a band, and ones 24 bits apart (the worst same-card case measured) do
with probability 0.9995; unrelated cards (~128 bits) almost never collide. Exact distances are
then computed for the candidates only (Hamming by ``np.bitwise_count``, colour only for those
within the bit limit). Synthetic fingerprints (templates with 0-20 flipped bits, 20 % one-offs)
group exactly (pairwise F 1.0) in 0.4 s CPU for 1k, 3.5 s for 10k and 18 s for 50k.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from influencer_pipeline.outro.fingerprint import (
    OutroFingerprint,
    OutroInputError,
    colour_delta_e,
)
from influencer_pipeline.outro.verify import CardPatch, VerifyConfig, card_patch, compare_cards

GROUP_COLUMNS = (
    "video_id",
    "group_key",  # smallest video_id of the group
    "group_size",
    "distance_to_medoid",  # combined distance to the representative (<= 1)
    "representative_video_id",  # the group's medoid
    "phash_bits_to_medoid",
    "colour_delta_e_to_medoid",
)
FACE_COLUMNS = (
    "group_key",
    "group_size",
    "n_face_videos",
    "n_faceless_videos",
    "n_unknown",  # members absent from video_has_face
    "face_video_ids",
)


@dataclass(frozen=True)
class GroupingConfig:
    """Same-card limits and the index/refinement settings (see the module doc)."""

    max_phash_bits: int = 40
    max_colour_delta_e: float = 6.0
    colour_quantile: float = 0.9  # order statistic of the cells' delta E (0.9: 7th largest of 64)
    lsh_tables: int = 2
    lsh_band_bits: int = 16
    lsh_seed: int = 20240601
    medoid_sample: int = 200
    refine_rounds: int = 3
    verify: VerifyConfig | None = field(default_factory=VerifyConfig)  # None: hashes decide

    def __post_init__(self) -> None:
        if self.max_phash_bits < 0 or self.max_colour_delta_e <= 0:
            raise ValueError("max_phash_bits must be >= 0 and max_colour_delta_e > 0")
        if not 0 <= self.colour_quantile <= 1:
            raise ValueError("colour_quantile must be in [0, 1]")
        if self.lsh_tables < 1 or not 1 <= self.lsh_band_bits <= 62:
            raise ValueError("lsh_tables must be >= 1 and lsh_band_bits in [1, 62]")
        if self.medoid_sample < 1 or self.refine_rounds < 0:
            raise ValueError("medoid_sample must be >= 1 and refine_rounds >= 0")


def distance_components(
    a: OutroFingerprint, b: OutroFingerprint, config: GroupingConfig | None = None
) -> tuple[int, float]:
    """(pHash Hamming bits, colour delta E quantile over the grid cells) of two fingerprints."""
    config = config or GroupingConfig()
    _check_compatible([a, b])
    bits = int(np.count_nonzero(a.bits() != b.bits()))
    return bits, float(colour_delta_e(a.lab() - b.lab(), config.colour_quantile))


def fingerprint_distance(
    a: OutroFingerprint, b: OutroFingerprint, config: GroupingConfig | None = None
) -> float:
    """Combined distance; <= 1 means the same card."""
    config = config or GroupingConfig()
    bits, delta_e = distance_components(a, b, config)
    return max(bits / max(config.max_phash_bits, 1e-9), delta_e / config.max_colour_delta_e)


def _check_compatible(fingerprints: Sequence[OutroFingerprint]) -> None:
    shapes = {(f.hash_size, f.colour_grid) for f in fingerprints}
    if len(shapes) > 1:
        raise OutroInputError(
            "mixed_configs",
            f"fingerprints were made with different hash_size/colour_grid settings: {shapes}",
        )


class CardChecks:
    """Side-by-side card verdicts by video id, computed once and shared by every grouping of
    cards they are given to (``group_outros(..., checks=)``): each pair is checked once even when
    overlapping card sets are grouped one after the other."""

    def __init__(self, config: VerifyConfig) -> None:
        self.config = config
        self._cards: dict[str, OutroFingerprint] = {}
        self._patches: dict[str, CardPatch | None] = {}  # None: the image cannot be read
        self._verdicts: dict[tuple[str, str], bool] = {}

    def hold(self, video_id: str, fingerprint: OutroFingerprint) -> None:
        """Take ``video_id``'s card; OutroInputError if it already holds another card for it."""
        held = self._cards.setdefault(video_id, fingerprint)
        if held is not fingerprint:
            raise OutroInputError(
                "other_card", f"the card checks already hold another card of video {video_id!r}"
            )

    def _patch(self, video_id: str) -> CardPatch | None:
        if video_id not in self._patches:
            self._patches[video_id] = card_patch(self._cards[video_id], self.config)
        return self._patches[video_id]

    def same(self, first: str, second: str) -> bool:
        """The check of two held cards, ``first`` as compare_cards' first (True when either
        image cannot be read)."""
        if first == second:
            return True
        key = (first, second)
        if key not in self._verdicts:
            a, b = self._patch(first), self._patch(second)
            self._verdicts[key] = (
                True if a is None or b is None else compare_cards(a, b, self.config).same
            )
        return self._verdicts[key]


class _Space:
    """Packed fingerprints and vectorized distances between them."""

    def __init__(
        self,
        ids: Sequence[str],
        fingerprints: Sequence[OutroFingerprint],
        config: GroupingConfig,
        checks: CardChecks | None = None,
    ) -> None:
        self.config = config
        self.ids = ids
        self.checks: CardChecks | None = None  # None: hashes decide (config.verify is None)
        if config.verify is not None:
            if checks is None:
                checks = CardChecks(config.verify)
            elif checks.config != config.verify:
                raise ValueError("the card checks were made with other verify settings")
            for video_id, fingerprint in zip(ids, fingerprints, strict=True):
                checks.hold(video_id, fingerprint)
            self.checks = checks
        bits = np.stack([f.bits() for f in fingerprints])
        self.bits = bits
        n_words = -(-bits.shape[1] // 64)
        padded = np.zeros((bits.shape[0], n_words * 64), dtype=bool)
        padded[:, : bits.shape[1]] = bits
        self.words = np.packbits(padded, axis=1).view(np.uint64)
        self.lab = np.stack([f.lab() for f in fingerprints]).astype(np.float32)
        self.band_keys = _band_keys(bits, config)
        self.bit_scale = 1.0 / max(config.max_phash_bits, 1e-9)
        self.colour_scale = 1.0 / config.max_colour_delta_e

    def components(self, i: int, js: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hamming bits and colour delta E from item i to items js (all computed)."""
        js = np.asarray(js, dtype=np.int64)
        bits = np.bitwise_count(self.words[js] ^ self.words[i]).sum(axis=1).astype(np.int64)
        delta_e = colour_delta_e(self.lab[js] - self.lab[i], self.config.colour_quantile)
        return bits, delta_e

    def distances(self, i: int, js: np.ndarray, exact: bool = False) -> np.ndarray:
        """Combined distances from i to js; inf beyond the bit limit unless ``exact``.

        Unless ``exact``, a pair within 1 that fails the side-by-side check (``verify``) is inf.
        """
        js = np.asarray(js, dtype=np.int64)
        bits = np.bitwise_count(self.words[js] ^ self.words[i]).sum(axis=1).astype(np.int64)
        out = np.full(len(js), np.inf)
        near = np.ones(len(js), dtype=bool) if exact else bits <= self.config.max_phash_bits
        if near.any():
            diff = self.lab[js[near]] - self.lab[i]
            delta_e = colour_delta_e(diff, self.config.colour_quantile)
            out[near] = np.maximum(bits[near] * self.bit_scale, delta_e * self.colour_scale)
        if not exact and self.config.verify is not None:
            for k in np.flatnonzero(out <= 1.0):
                if not self.same_card(i, int(js[k])):
                    out[k] = np.inf
        return out

    def same_card(self, i: int, j: int) -> bool:
        """The side-by-side check of two cards (True when either image cannot be read)."""
        if i == j or self.checks is None:
            return True
        first, second = min(i, j), max(i, j)  # the lower index (id) first, as ever
        return self.checks.same(self.ids[first], self.ids[second])

    def block(self, items: np.ndarray, chunk: int = 64) -> np.ndarray:
        """Combined distances between all pairs of ``items`` (len x len)."""
        out = np.empty((len(items), len(items)))
        words, lab = self.words[items], self.lab[items]
        for start in range(0, len(items), chunk):
            rows = slice(start, start + chunk)
            bits = np.bitwise_count(words[rows, None, :] ^ words[None, :, :]).sum(axis=2)
            diff = lab[rows, None] - lab[None]
            delta_e = colour_delta_e(diff, self.config.colour_quantile)
            out[rows] = np.maximum(bits * self.bit_scale, delta_e * self.colour_scale)
        return out


def _band_keys(bits: np.ndarray, config: GroupingConfig) -> np.ndarray:
    """LSH keys (n, bands): ``lsh_tables`` bit permutations, each cut into whole bands."""
    n_bits = bits.shape[1]
    width = min(config.lsh_band_bits, n_bits)
    rng = np.random.default_rng(config.lsh_seed)
    weights = np.left_shift(np.int64(1), np.arange(width, dtype=np.int64))
    columns = []
    for _ in range(config.lsh_tables):
        order = rng.permutation(n_bits)
        for start in range(0, n_bits - width + 1, width):
            columns.append(bits[:, order[start : start + width]].astype(np.int64) @ weights)
    return np.stack(columns, axis=1)


class _BandIndex:
    """LSH buckets over some items: candidates share a whole band of pHash bits with the query."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = keys
        self.buckets: list[dict[int, list[int]]] = [defaultdict(list) for _ in range(keys.shape[1])]

    def add(self, i: int) -> None:
        """Index item i."""
        for band, key in enumerate(self.keys[i].tolist()):
            self.buckets[band][key].append(i)

    def candidates(self, i: int) -> np.ndarray:
        """Indexed items that share at least one band with item i (sorted)."""
        found: set[int] = set()
        for band, key in enumerate(self.keys[i].tolist()):
            hit = self.buckets[band].get(key)
            if hit:
                found.update(hit)
        return np.fromiter(sorted(found), dtype=np.int64, count=len(found))


def _leader_pass(items: Sequence[int], space: _Space, config: GroupingConfig) -> dict[int, int]:
    """item -> leader: each item joins the nearest leader within 1, else leads."""
    index = _BandIndex(space.band_keys)
    assign: dict[int, int] = {}
    for i in items:
        candidates = index.candidates(i)
        if len(candidates):
            d = space.distances(i, candidates)
            best = int(np.argmin(d))
            if d[best] <= 1.0:
                assign[i] = int(candidates[best])
                continue
        assign[i] = i
        index.add(i)
    return assign


def _medoid(members: Sequence[int], space: _Space, config: GroupingConfig) -> int:
    """The member with the least total distance to the (sampled) members."""
    members = np.asarray(sorted(members), dtype=np.int64)
    if len(members) > config.medoid_sample:
        picks = np.unique(np.linspace(0, len(members) - 1, config.medoid_sample).round())
        members = members[picks.astype(np.int64)]
    if len(members) <= 2:
        return int(members[0])
    return int(members[int(np.argmin(space.block(members).sum(axis=1)))])


def _groups(assign: Mapping[int, int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for item, ref in assign.items():
        groups[ref].append(item)
    return groups


def _to_medoids(
    items: Sequence[int], assign: Mapping[int, int], space: _Space, config: GroupingConfig
) -> dict[int, int]:
    """Recenter: each item moves to the nearest medoid within 1, or starts a new group."""
    medoid_of = {ref: _medoid(members, space, config) for ref, members in _groups(assign).items()}
    medoids = sorted(set(medoid_of.values()))
    index = _BandIndex(space.band_keys)
    for m in medoids:
        index.add(m)
    moved: dict[int, int] = {}
    homeless: list[int] = []
    for i in items:
        own = medoid_of[assign[i]]
        candidates = np.concatenate([[own], index.candidates(i)]).astype(np.int64)
        d = space.distances(i, candidates)
        best = int(np.argmin(d))
        if d[best] <= 1.0:
            moved[i] = int(candidates[best])
        else:
            homeless.append(i)
    moved.update(_leader_pass(homeless, space, config))
    return moved


def _merge(assign: dict[int, int], space: _Space, config: GroupingConfig) -> dict[int, int]:
    """Merge groups with representatives within 1 if the union stays within 1 of its medoid."""
    groups = _groups(assign)
    refs = sorted(groups)
    index = _BandIndex(space.band_keys)
    pairs: list[tuple[float, int, int]] = []
    for ref in refs:
        candidates = index.candidates(ref)
        if len(candidates):
            d = space.distances(ref, candidates)
            pairs.extend(
                (float(x), int(c), ref) for x, c in zip(d, candidates, strict=True) if x <= 1.0
            )
        index.add(ref)
    owner = {ref: ref for ref in refs}

    def root(ref: int) -> int:
        while owner[ref] != ref:
            ref = owner[ref]
        return ref

    for _, a, b in sorted(pairs):
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        union = groups[ra] + groups[rb]
        centre = _medoid(union, space, config)
        if np.all(space.distances(centre, np.asarray(union)) <= 1.0):
            owner[ra] = owner[rb] = centre
            owner[centre] = centre
            groups[centre] = union
    return {item: root(ref) for item, ref in assign.items()}


def group_outros(
    fingerprints: Mapping[str, OutroFingerprint],
    config: GroupingConfig | None = None,
    checks: CardChecks | None = None,
) -> pd.DataFrame:
    """One row per video: its outro group (see the module doc for the method and limits).

    ``checks``: card verdicts to reuse and extend (made with ``config.verify``), e.g. shared with
    an earlier grouping of an overlapping set; the groups are the same with or without them."""
    config = config or GroupingConfig()
    if not isinstance(fingerprints, Mapping):
        raise OutroInputError(
            "not_a_mapping", f"expected a mapping video_id -> fingerprint, got {type(fingerprints)}"
        )
    ids = sorted(fingerprints)
    for video_id in ids:
        value = fingerprints[video_id]
        if not isinstance(value, OutroFingerprint):
            raise OutroInputError(
                "not_a_fingerprint",
                f"value for video {video_id!r} is {type(value).__name__}, not an OutroFingerprint",
            )
        if value.video_id != video_id:
            raise OutroInputError(
                "id_mismatch",
                f"key {video_id!r} holds the fingerprint of video {value.video_id!r}",
            )
    if not ids:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in GROUP_COLUMNS})
    prints = [fingerprints[v] for v in ids]
    _check_compatible(prints)
    space = _Space(ids, prints, config, checks)
    items = list(range(len(ids)))
    assign = _leader_pass(items, space, config)
    for _ in range(config.refine_rounds):
        moved = _to_medoids(items, assign, space, config)
        if moved == assign:
            break
        assign = moved
    assign = _merge(assign, space, config)
    assign = _to_medoids(items, assign, space, config) if config.refine_rounds else assign
    return _table(ids, assign, space)


def _dtype(column: str) -> str:
    if column in ("group_size", "phash_bits_to_medoid"):
        return "int64"
    if column in ("distance_to_medoid", "colour_delta_e_to_medoid"):
        return "float64"
    return "object"


def _table(ids: Sequence[str], assign: Mapping[int, int], space: _Space) -> pd.DataFrame:
    rows = []
    for ref, members in _groups(assign).items():
        members_arr = np.asarray(sorted(members), dtype=np.int64)
        bits, delta_e = space.components(ref, members_arr)
        combined = space.distances(ref, members_arr, exact=True)
        key = ids[int(members_arr.min())]
        for k, m in enumerate(members_arr.tolist()):
            rows.append(
                {
                    "video_id": ids[m],
                    "group_key": key,
                    "group_size": len(members_arr),
                    "distance_to_medoid": float(combined[k]),
                    "representative_video_id": ids[ref],
                    "phash_bits_to_medoid": int(bits[k]),
                    "colour_delta_e_to_medoid": float(delta_e[k]),
                }
            )
    table = pd.DataFrame(rows, columns=list(GROUP_COLUMNS))
    table = table.astype({c: _dtype(c) for c in GROUP_COLUMNS if _dtype(c) != "object"})
    return table.sort_values(["group_key", "video_id"], ignore_index=True)


def faces_in_outro_groups(groups: pd.DataFrame, video_has_face: Mapping[str, bool]) -> pd.DataFrame:
    """Outro groups that contain videos with a dominant face (one row per such group).

    Makes the assumption "a creator posts either with a face or without" checkable: a group listed
    here mixes both kinds. Members missing from ``video_has_face`` are counted in ``n_unknown``.
    """
    if not isinstance(groups, pd.DataFrame) or not {"video_id", "group_key"} <= set(groups.columns):
        raise OutroInputError(
            "missing_columns", "groups must be a DataFrame with video_id and group_key columns"
        )
    rows = []
    for key, members in groups.groupby("group_key", sort=True):
        ids = sorted(str(v) for v in members["video_id"])
        known = [v for v in ids if v in video_has_face]
        with_face = [v for v in known if bool(video_has_face[v])]
        if with_face:
            rows.append(
                {
                    "group_key": key,
                    "group_size": len(ids),
                    "n_face_videos": len(with_face),
                    "n_faceless_videos": len(known) - len(with_face),
                    "n_unknown": len(ids) - len(known),
                    "face_video_ids": with_face,
                }
            )
    return pd.DataFrame(rows, columns=list(FACE_COLUMNS))
