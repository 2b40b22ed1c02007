"""Id lineage: when a rebuild moves videos to another influencer id, the old id gets an alias.

``<lake>/influencer_aliases.parquet`` holds one row per (old id, new id) pair that a rebuild
created: ``reason`` is ``merged`` when the old id no longer exists and all of its moved videos went
to one id, ``split`` when its videos now lie under several ids or it still exists for some of them.
``resolve`` follows the rows to today's id (the target that took most of the old id's videos,
newest rows first, chains followed, cycles cut), so a correction, a display name or a report that
names an old id finds the influencer now.

The comparison uses the automatic assignment (before analysts' corrections): a merge or a split
that an analyst made is theirs, not a rebuild's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from influencer_pipeline.lake_schema import INFLUENCER_ALIASES


def empty_aliases() -> pd.DataFrame:
    """An alias table without rows."""
    return INFLUENCER_ALIASES.empty_table().to_pandas()


def _assignment(table: pd.DataFrame | None) -> dict[str, str]:
    if table is None or table.empty:
        return {}
    rows = table.dropna(subset=["influencer_id"])
    return dict(zip(rows["video_id"].astype(str), rows["influencer_id"].astype(str), strict=True))


def new_aliases(
    previous: pd.DataFrame | None,
    current: pd.DataFrame,
    *,
    run_id: str,
    created_at: str,
) -> pd.DataFrame:
    """Alias rows for the ids whose videos moved between two builds.

    ``previous`` and ``current``: video_id, influencer_id (null for failed videos). Videos that
    are in only one of them (new, removed, failed) move nothing.
    """
    before, after = _assignment(previous), _assignment(current)
    live = set(after.values())
    moves: dict[tuple[str, str], int] = {}
    for video_id, old in before.items():
        new = after.get(video_id)
        if new is not None and new != old:
            moves[(old, new)] = moves.get((old, new), 0) + 1
    targets: dict[str, set[str]] = {}
    for old, new in moves:
        targets.setdefault(old, set()).add(new)
    rows = [
        {
            "old_influencer_id": old,
            "influencer_id": new,
            "reason": "merged" if old not in live and len(targets[old]) == 1 else "split",
            "n_videos": n,
            "run_id": run_id,
            "created_at": created_at,
        }
        for (old, new), n in sorted(moves.items())
    ]
    return pd.DataFrame(rows, columns=INFLUENCER_ALIASES.names) if rows else empty_aliases()


def append_aliases(history: pd.DataFrame | None, rows: pd.DataFrame) -> pd.DataFrame:
    """The alias history with ``rows`` appended (the history is never rewritten)."""
    parts = [t for t in (history, rows) if t is not None and len(t)]
    if not parts:
        return empty_aliases()
    out = pd.concat(parts, ignore_index=True)[INFLUENCER_ALIASES.names]
    return out.astype({"n_videos": "int64"})


def resolver(aliases: pd.DataFrame | None, live: Iterable[str]) -> Mapping[str, str]:
    """old id -> today's id, for every retired id that leads to a live one."""
    live_ids = set(live)
    if aliases is None or aliases.empty:
        return {}
    ordered = aliases.iloc[::-1].sort_values("n_videos", ascending=False, kind="stable")
    best = ordered.drop_duplicates("old_influencer_id")  # newest row with most videos per old id
    step = dict(zip(best["old_influencer_id"], best["influencer_id"], strict=True))
    resolved: dict[str, str] = {}
    for old, target in step.items():
        if old in live_ids:
            continue
        seen, current = {old}, target
        while current not in live_ids and current in step and current not in seen:
            seen.add(current)
            current = step[current]
        if current in live_ids:
            resolved[old] = current
    return resolved


def resolve(influencer_id: str, mapping: Mapping[str, str]) -> str:
    """``influencer_id`` as it is called today (itself when it is live or unknown)."""
    return mapping.get(influencer_id, influencer_id)
