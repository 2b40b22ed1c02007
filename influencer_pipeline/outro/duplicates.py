"""Which outro group a faceless video and its re-uploads belong to, by the cards they all show.

A re-upload can carry another end card than its original (the same body with a changed price
card): whichever copy is the canonical one, its group is the card most of the copies show.
``group_with_copies`` groups the cards of every copy (``group_outros``) and gives each
canonical video the group holding most of its copies' cards; ties go to the group with more
cards overall (a card other videos also end with is the creator's usual one, a one-off price
card is not), then to the canonical's own card. Copies without a card do not vote.

A copy in another placement shows its card cropped and scaled, which the grouping's hashes cannot
match to the whole card; copies of one video in different groups whose cards show the same card
where they overlap (``placed_cards``) vote together, for the largest group among theirs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import pandas as pd
from scipy.cluster.hierarchy import DisjointSet

from influencer_pipeline.outro.fingerprint import OutroFingerprint
from influencer_pipeline.outro.grouping import (
    GROUP_COLUMNS,
    CardChecks,
    GroupingConfig,
    group_outros,
)
from influencer_pipeline.outro.placed_cards import PlacedConfig, compare_placed_cards


def group_with_copies(
    cards: Mapping[str, OutroFingerprint],
    canonical_of: Mapping[str, str],
    config: GroupingConfig | None = None,
    checks: CardChecks | None = None,
) -> pd.DataFrame:
    """``group_outros`` rows for the canonical videos with a voting card (GROUP_COLUMNS).

    ``cards``: fingerprints of canonical videos and of their copies; ``canonical_of``: every
    video -> its canonical video (a canonical maps to itself); ``checks`` as in ``group_outros``.
    """
    config = config or GroupingConfig()
    grouped = group_outros(cards, config, checks).set_index("video_id")
    size = grouped.groupby("group_key").size().to_dict()  # cards in each group, all videos
    members: dict[str, list[str]] = {}
    for video_id in grouped.index:
        members.setdefault(canonical_of.get(video_id, video_id), []).append(video_id)
    placed = PlacedConfig(verify=config.verify) if config.verify is not None else None
    votes: dict[str, Counter] = {}
    for canonical, videos in members.items():
        keys = {v: grouped.at[v, "group_key"] for v in videos}
        if placed is not None:
            keys = _pooled(keys, {v: cards[v] for v in videos}, size, placed)
        votes[canonical] = Counter(keys.values())
    rows = []
    for canonical, counter in sorted(votes.items()):
        own = grouped.at[canonical, "group_key"] if canonical in grouped.index else None
        key = min(counter, key=lambda k: (-counter[k], -size[k], k != own, k))
        voters = [v for v in members[canonical] if grouped.at[v, "group_key"] == key]
        voter = canonical if canonical in voters else min(voters)
        rows.append({**grouped.loc[voter].to_dict(), "video_id": canonical, "group_key": key})
    table = pd.DataFrame(rows, columns=list(GROUP_COLUMNS))
    if table.empty:
        return grouped.reset_index().iloc[0:0][list(GROUP_COLUMNS)]
    table["group_size"] = table.groupby("group_key")["video_id"].transform("size").astype("int64")
    return table.sort_values(["group_key", "video_id"], ignore_index=True)


def _pooled(
    keys: dict[str, str],
    cards: Mapping[str, OutroFingerprint],
    size: Mapping[str, int],
    config: PlacedConfig,
) -> dict[str, str]:
    """Each copy's vote: copies of one video in other groups whose cards show the same card
    where they overlap (``placed_cards``) vote for the largest group among theirs (then the
    smallest key)."""
    videos = sorted(keys)
    sets = DisjointSet(videos)
    for i, first in enumerate(videos):
        for second in videos[i + 1 :]:
            if keys[first] == keys[second] or sets.connected(first, second):
                continue
            if compare_placed_cards(cards[first], cards[second], config).same:
                sets.merge(first, second)
    pooled = {}
    for group in sets.subsets():
        key = min((keys[v] for v in group), key=lambda k: (-size[k], k))
        pooled.update(dict.fromkeys(group, key))
    return pooled
