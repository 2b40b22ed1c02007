"""Evaluate the pipeline's ``video_influencers`` against a truth table and format the result.

Join rule: each truth URL is mapped with ``normalize`` (the lead passes
``influencer_pipeline.catalog.urls.normalize_url`` bound to the truth file's folder) and matched
to ``video_influencers.video_url`` (already normalized by the pipeline). Truth URLs that map to
the same normalized URL are one video (an error if their labels differ). Truth videos with no
pipeline row, a failed row or no ``influencer_id`` count as singletons (see ``metrics``) and are
listed; pipeline rows with no truth are counted and ignored.

Metrics are computed for all truth videos and separately for ``kind == face`` and
``kind == faceless`` (each subset evaluated on its own videos only, so a cluster mixing a face
and a faceless video is a wrong merge in ``all`` but not inside either subset).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from influencer_pipeline.cells import is_missing
from influencer_pipeline.errors import InputError
from influencer_tools.evaluation.metrics import (
    ClusterError,
    bcubed,
    pairwise,
    splits,
    wrong_merges,
)

PIPELINE_COLUMNS = ("video_id", "video_url", "influencer_id", "method", "status", "duplicate_of")
SECTIONS = ("all", "face", "faceless")


class EvaluationInputError(InputError):
    """Inputs that cannot be evaluated, with a machine-readable ``code``."""


@dataclass
class SectionMetrics:
    """Scores of one subset of the truth videos (all, face or faceless)."""

    name: str
    n_videos: int
    n_true_influencers: int
    n_predicted_influencers: int
    bcubed: tuple[float, float, float]
    pairwise: tuple[float, float, float]
    wrong_merges: list[ClusterError] = field(default_factory=list)
    splits: list[ClusterError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return {
            "name": self.name,
            "n_videos": self.n_videos,
            "n_true_influencers": self.n_true_influencers,
            "n_predicted_influencers": self.n_predicted_influencers,
            "bcubed": dict(zip(("precision", "recall", "f"), self.bcubed, strict=True)),
            "pairwise": dict(zip(("precision", "recall", "f"), self.pairwise, strict=True)),
            "wrong_merges": [e.to_dict() for e in self.wrong_merges],
            "splits": [e.to_dict() for e in self.splits],
        }


@dataclass
class EvaluationReport:
    """Everything the evaluation found; ``sections`` is keyed by ``all``, ``face``, ``faceless``."""

    n_truth_videos: int
    n_matched: int
    n_failed: int
    n_extra_predictions: int
    unmatched_truth_urls: list[str]
    sections: dict[str, SectionMetrics]
    method_by_kind: dict[str, dict[str, int]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form (plain dicts, lists, strings and numbers)."""
        return {
            "n_truth_videos": self.n_truth_videos,
            "n_matched": self.n_matched,
            "n_failed": self.n_failed,
            "n_extra_predictions": self.n_extra_predictions,
            "unmatched_truth_urls": list(self.unmatched_truth_urls),
            "sections": {name: s.to_dict() for name, s in self.sections.items()},
            "method_by_kind": {k: dict(v) for k, v in self.method_by_kind.items()},
        }


def _check_columns(df: pd.DataFrame, needed: tuple[str, ...], what: str) -> None:
    """Raise EvaluationInputError naming the missing columns."""
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise EvaluationInputError(
            "missing_columns", f"{what} lacks column(s) {missing}; it has {list(df.columns)}"
        )


def _normalized_truth(truth: pd.DataFrame, normalize: Callable[[str], str]) -> pd.DataFrame:
    """Truth with a ``key`` column (normalized URL), one row per key; conflicts are errors."""
    df = truth.copy()
    df["key"] = [normalize(str(u)) for u in df["video_url"]]
    if "kind" not in df.columns:
        df["kind"] = None
    for col in ("influencer", "kind"):
        labels = df.groupby("key")[col].nunique(dropna=False)
        bad = labels[labels > 1]
        if len(bad):
            key = bad.index[0]
            urls = sorted(df.loc[df["key"] == key, "video_url"])
            raise EvaluationInputError(
                "conflicting_truth",
                f"truth URLs {urls} normalize to the same video {key!r} but have different {col}",
            )
    return df.drop_duplicates("key", keep="first").reset_index(drop=True)


def _section(
    name: str,
    keys: list[str],
    pred: Mapping[str, Hashable],
    truth: Mapping[str, Hashable],
) -> SectionMetrics:
    """Metrics restricted to ``keys``."""
    sub_truth = {k: truth[k] for k in keys}
    sub_pred = {k: pred[k] for k in keys if k in pred}
    n_pred = len(set(sub_pred.values())) + (len(keys) - len(sub_pred))
    return SectionMetrics(
        name=name,
        n_videos=len(keys),
        n_true_influencers=len(set(sub_truth.values())),
        n_predicted_influencers=n_pred,
        bcubed=bcubed(sub_pred, sub_truth),
        pairwise=pairwise(sub_pred, sub_truth),
        wrong_merges=wrong_merges(sub_pred, sub_truth),
        splits=splits(sub_pred, sub_truth),
    )


def evaluate_assignments(
    video_influencers: pd.DataFrame,
    truth: pd.DataFrame,
    normalize: Callable[[str], str] | None = None,
) -> EvaluationReport:
    """Compare predicted influencers with the truth (from ``load_truth``); see module docstring."""
    _check_columns(video_influencers, PIPELINE_COLUMNS, "video_influencers")
    _check_columns(truth, ("video_url", "influencer"), "truth")
    normalize = normalize or (lambda url: url)
    dupes = video_influencers["video_url"].duplicated()
    if dupes.any():
        raise EvaluationInputError(
            "duplicate_predictions",
            f"video_influencers has {int(dupes.sum())} repeated video_url(s), "
            f"e.g. {video_influencers.loc[dupes, 'video_url'].iloc[0]!r}",
        )
    t = _normalized_truth(truth, normalize)
    rows = video_influencers.set_index("video_url")
    truth_labels = dict(zip(t["key"], t["influencer"], strict=True))
    pred: dict[str, Hashable] = {}
    n_failed = 0
    method_by_kind: dict[str, dict[str, int]] = {}
    unmatched = []
    for key, kind in zip(t["key"], t["kind"], strict=True):
        kind_name = "unknown" if is_missing(kind) else str(kind)
        if key not in rows.index:
            unmatched.append(key)
            method = "missing"
        else:
            row = rows.loc[key]
            failed = str(row["status"]) != "ok" or is_missing(row["influencer_id"])
            n_failed += int(failed)
            method = "failed" if failed else str(row["method"])
            if not failed:
                pred[key] = row["influencer_id"]
        counts = method_by_kind.setdefault(kind_name, {})
        counts[method] = counts.get(method, 0) + 1
    keys = list(t["key"])
    sections = {"all": _section("all", keys, pred, truth_labels)}
    for kind in ("face", "faceless"):
        subset = [k for k, kd in zip(t["key"], t["kind"], strict=True) if kd == kind]
        sections[kind] = _section(kind, subset, pred, truth_labels)
    return EvaluationReport(
        n_truth_videos=len(keys),
        n_matched=len(keys) - len(unmatched),
        n_failed=n_failed,
        n_extra_predictions=int((~rows.index.isin(keys)).sum()),
        unmatched_truth_urls=sorted(unmatched),
        sections=sections,
        method_by_kind=method_by_kind,
    )


def _prf(values: tuple[float, float, float]) -> str:
    """'P 0.950 R 0.900 F 0.924'."""
    return "P {:.3f}  R {:.3f}  F {:.3f}".format(*values)


def _error_lines(errors: list[ClusterError], title: str, limit: int) -> list[str]:
    """Indented listing of wrong merges or splits, at most ``limit`` of them."""
    if not errors:
        return [f"  {title}: none"]
    lines = [f"  {title}: {len(errors)}"]
    for err in errors[:limit]:
        lines.append(f"    {err.label} ({err.n_items} videos)")
        for label, members in err.parts:
            shown = "(no prediction)" if label is None else label
            lines.append(f"      {shown}: {', '.join(map(str, members))}")
    if len(errors) > limit:
        lines.append(f"    ... and {len(errors) - limit} more")
    return lines


def format_report(report: EvaluationReport, limit: int = 20) -> str:
    """A readable multi-line text block of ``report`` (lists cut to ``limit`` entries each)."""
    lines = [
        "Evaluation against truth",
        f"  truth videos: {report.n_truth_videos}  matched: {report.n_matched}  "
        f"failed: {report.n_failed}  not in the pipeline output: {len(report.unmatched_truth_urls)}"
        f"  pipeline rows without truth: {report.n_extra_predictions}",
    ]
    for url in report.unmatched_truth_urls[:limit]:
        lines.append(f"    missing: {url}")
    lines.append("  assignment method by true kind:")
    for kind, counts in sorted(report.method_by_kind.items()):
        text = ", ".join(f"{m} {n}" for m, n in sorted(counts.items()))
        lines.append(f"    {kind}: {text}")
    for name in SECTIONS:
        s = report.sections[name]
        lines += [
            "",
            f"[{name}] {s.n_videos} videos, influencers: predicted {s.n_predicted_influencers}, "
            f"true {s.n_true_influencers}",
            f"  BCubed    {_prf(s.bcubed)}",
            f"  pairwise  {_prf(s.pairwise)}",
        ]
        lines += _error_lines(
            s.wrong_merges, "wrong merges (one predicted id, several people)", limit
        )
        lines += _error_lines(s.splits, "splits (one person, several predicted ids)", limit)
    return "\n".join(lines)
