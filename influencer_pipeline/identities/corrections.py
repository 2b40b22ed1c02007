"""Analysts' corrections to influencer assignments, kept in the lake and applied on every build.

``<lake>/corrections.csv`` (UTF-8, one correction per row, applied top to bottom):

| action  | video_id | influencer_id | into     | name          | note |
|---------|----------|---------------|----------|---------------|------|
| merge   |          | F-1111111111  | F-2222222222 |           | same person, new haircut |
| split   | 9f2c...  |               |          |               | a guest host, not the creator |
| split   | 77ab...  |               | F-3333333333 |           | belongs to another influencer |
| rename  |          | F-2222222222  |          | Sarah (@sarah) |      |
| exclude | 0c1d...  |               |          |               | not one of our ads |

* ``merge``: every video of ``influencer_id`` moves to ``into``.
* ``split``: the video leaves its influencer: to ``into`` when given, else to a new influencer of
  its own (``M-`` + 10 hex of the video id's hash, stable across rebuilds).
* ``rename``: a display name for ``influencer_id`` (ids never change, so corrections stay valid).
* ``exclude``: the video stays in the table but is left out of the ranking.

Corrections reference stable ids, so they survive reruns. A correction that cannot be applied (an
unknown id, a failed video) is reported, never silently ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from influencer_pipeline.errors import InputError

ACTIONS = ("merge", "split", "rename", "exclude")
COLUMNS = ("action", "video_id", "influencer_id", "into", "name", "note")
FILE_NAME = "corrections.csv"


class CorrectionsError(InputError):
    """The corrections file cannot be read (bad columns or actions), with a ``code``."""

    max_chars = 1000  # names the analyst's cells


@dataclass(frozen=True)
class Outcome:
    """What happened to one correction row."""

    row: int  # spreadsheet-style row number (header = 1)
    action: str
    applied: bool
    detail: str


def load_corrections(path: Path) -> pd.DataFrame:
    """The corrections table (empty when there is no file); CorrectionsError when malformed."""
    if not path.is_file():
        return pd.DataFrame(columns=list(COLUMNS))
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.columns = [str(c).strip().lower() for c in table.columns]
    unknown_columns = sorted(set(table.columns) - set(COLUMNS))
    if "action" not in table.columns or unknown_columns:
        raise CorrectionsError(
            "bad_columns",
            f"{path}: columns must be {', '.join(COLUMNS)} (action required); "
            f"unexpected: {unknown_columns or 'none'}",
        )
    for column in COLUMNS:
        if column not in table.columns:
            table[column] = ""
    table = table[list(COLUMNS)].apply(lambda s: s.str.strip())
    bad = table[~table["action"].str.lower().isin(ACTIONS)]
    if len(bad):
        first = bad.index[0]
        raise CorrectionsError(
            "bad_action",
            f"{path} row {first + 2}: unknown action {bad.iloc[0]['action']!r}; "
            f"use one of {', '.join(ACTIONS)}",
        )
    table["action"] = table["action"].str.lower()
    return table.reset_index(drop=True)


def _resolved(corrections: pd.DataFrame, aliases: Mapping[str, str]) -> pd.DataFrame:
    """``corrections`` with retired ids in ``influencer_id`` and ``into`` replaced by today's."""
    if not aliases or corrections.empty:
        return corrections
    out = corrections.copy()
    for column in ("influencer_id", "into"):
        out[column] = out[column].map(lambda value: aliases.get(value, value))
    return out


def split_id(video_id: str) -> str:
    """The influencer id a video split off on its own gets (stable for the video)."""
    return "M-" + hashlib.sha256(video_id.encode("utf-8")).hexdigest()[:10]


def apply_corrections(
    videos: pd.DataFrame,
    corrections: pd.DataFrame,
    aliases: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, list[Outcome]]:
    """``videos`` (video_influencers rows) with the corrections applied, and what each one did.

    Adds or updates the columns ``influencer_name`` and ``excluded``; rewrites ``influencer_id`` and
    ``assignment`` of the videos a merge or split touches. ``aliases`` (retired id -> today's id,
    see ``aliases.resolver``) lets a correction written against an id that a rebuild retired find
    the influencer it became.
    """
    corrections = _resolved(corrections, aliases or {})
    out = videos.copy()
    if "influencer_name" not in out.columns:
        out["influencer_name"] = None
    if "excluded" not in out.columns:
        out["excluded"] = False
    outcomes: list[Outcome] = []
    for index, c in corrections.iterrows():
        row = int(index) + 2
        ok = out["status"] == "ok"
        if c["action"] == "merge":
            members = ok & (out["influencer_id"] == c["influencer_id"])
            if not c["influencer_id"] or not c["into"] or not members.any():
                outcomes.append(
                    Outcome(
                        row, "merge", False, f"no ok video has influencer {c['influencer_id']!r}"
                    )
                )
                continue
            out.loc[members, "influencer_id"] = c["into"]
            out.loc[members, "assignment"] = (
                f"correction: merged {c['influencer_id']} into {c['into']}"
            )
            outcomes.append(
                Outcome(
                    row,
                    "merge",
                    True,
                    f"{int(members.sum())} videos of {c['influencer_id']} -> {c['into']}",
                )
            )
        elif c["action"] in ("split", "exclude"):
            target = ok & (out["video_id"] == c["video_id"])
            if not target.any():
                outcomes.append(
                    Outcome(row, c["action"], False, f"no ok video with video_id {c['video_id']!r}")
                )
                continue
            if c["action"] == "exclude":
                out.loc[target, "excluded"] = True
                outcomes.append(
                    Outcome(row, "exclude", True, f"{c['video_id']} left out of the ranking")
                )
                continue
            new_id = c["into"] or split_id(c["video_id"])
            old_id = out.loc[target, "influencer_id"].iloc[0]
            out.loc[target, "influencer_id"] = new_id
            out.loc[target, "assignment"] = f"correction: split from {old_id}"
            outcomes.append(Outcome(row, "split", True, f"{c['video_id']}: {old_id} -> {new_id}"))
        else:  # rename
            members = out["influencer_id"] == c["influencer_id"]
            if not members.any() or not c["name"]:
                outcomes.append(
                    Outcome(
                        row,
                        "rename",
                        False,
                        f"no influencer {c['influencer_id']!r} (or empty name)",
                    )
                )
                continue
            out.loc[members, "influencer_name"] = c["name"]
            outcomes.append(Outcome(row, "rename", True, f"{c['influencer_id']} is {c['name']!r}"))
    # a name given to an influencer follows the videos merged into it
    names = (
        out.dropna(subset=["influencer_name"]).groupby("influencer_id")["influencer_name"].first()
    )
    out["influencer_name"] = (
        out["influencer_id"]
        .map(names)
        .where(out["influencer_id"].isin(names.index), out["influencer_name"])
    )
    out["excluded"] = out["excluded"].fillna(False).astype(bool)
    return out, outcomes
