"""Evaluate what is in the lake (influencers and re-upload groups) against a truth file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from influencer_pipeline import lake
from influencer_pipeline.catalog.urls import normalize_url
from influencer_pipeline.paths import lake_root
from influencer_tools.evaluation.metrics import pairwise, splits, wrong_merges
from influencer_tools.evaluation.report import evaluate_assignments, format_report
from influencer_tools.evaluation.truth import load_truth


def duplicate_group_report(
    groups: pd.DataFrame, influencers: pd.DataFrame, truth: pd.DataFrame, base_dir: Path
) -> tuple[str, dict[str, Any]]:
    """Compare ``duplicate_groups`` with the truth's ``duplicate_group`` column (per video URL)."""
    urls = dict(zip(influencers["video_id"], influencers["video_url"], strict=True))
    pred = {
        urls[v]: g for v, g in zip(groups["video_id"], groups["group_id"], strict=True) if v in urls
    }
    true = {
        normalize_url(u, base_dir): g
        for u, g in zip(truth["video_url"], truth["duplicate_group"], strict=True)
    }
    common = {k: true[k] for k in true if k in pred}
    p, r, f = pairwise({k: pred[k] for k in common}, common)
    merges, split = wrong_merges(pred, common), splits(pred, common)
    exact = not merges and not split and len(common) == len(true)
    lines = [
        "re-upload groups (duplicate_groups vs truth duplicate_group)",
        f"  videos compared: {len(common)} of {len(true)}; pairwise P {p:.3f} R {r:.3f} F {f:.3f}",
        f"  wrong merges: {len(merges)}; splits: {len(split)}; exact match: {exact}",
    ]
    return "\n".join(lines), {
        "videos": len(common),
        "pairwise": {"precision": p, "recall": r, "f": f},
        "wrong_merges": len(merges),
        "splits": len(split),
        "exact_match": exact,
    }


def evaluate_lake(truth_path: Path, root: str | None = None) -> tuple[str, dict[str, Any]]:
    """The evaluation text and a JSON-ready dict for the lake at ``root`` (default: the lake)."""
    root = root or lake_root()
    truth = load_truth(truth_path)
    base_dir = truth_path.resolve().parent
    influencers = lake.read_parquet(f"{root}/video_influencers.parquet")
    report = evaluate_assignments(influencers, truth, lambda url: normalize_url(url, base_dir))
    text = format_report(report)
    payload: dict[str, Any] = {"influencers": report.to_dict()}
    if "duplicate_group" in truth.columns:
        groups = lake.read_parquet(f"{root}/duplicate_groups.parquet")
        dup_text, payload["duplicate_groups"] = duplicate_group_report(
            groups, influencers, truth, base_dir
        )
        text = f"{text}\n\n{dup_text}"
    return text, payload
