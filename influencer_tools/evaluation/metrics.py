"""Clustering metrics against a truth labelling: BCubed, pairwise, wrong merges and splits.

Both functions take ``pred`` and ``truth`` as mappings item -> label. Conventions (all documented
here because the edge cases decide what a number means):

- The evaluated items are the keys of ``truth``. Items only in ``pred`` have no truth and are
  ignored. Items of ``truth`` missing from ``pred``, or predicted as ``None``/NaN (e.g. a failed
  video), count as singletons: each is its own predicted cluster.
- A truth label of ``None``/NaN is an error (:class:`MetricsInputError`, code ``missing_truth``).
- Pairwise precision is 1.0 when there are no predicted pairs (all singletons: nothing was wrongly
  joined) and pairwise recall is 1.0 when there are no true pairs (nothing could be missed).
- With no items at all every score is 1.0 (nothing was done wrong); callers that care report
  the item count beside the scores.
- F is the harmonic mean of precision and recall, 0.0 when both are 0.

BCubed (Bagga & Baldwin 1998; Amigó et al. 2009): for each item, precision is the share of its
predicted cluster that has its true label, recall the share of its true class that is in its
predicted cluster; both averaged over items. Computed from the contingency counts n(c, l), so it
is linear in the number of items.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from influencer_pipeline.cells import is_missing
from influencer_pipeline.errors import InputError


class MetricsInputError(InputError):
    """Invalid input to a metric, with a machine-readable ``code``."""


class _Singleton:
    """Unique predicted label of an item with no prediction (never equal to any real label)."""

    __slots__ = ("item",)

    def __init__(self, item: Hashable) -> None:
        self.item = item

    def __repr__(self) -> str:
        return f"<singleton {self.item!r}>"


def _aligned(pred: Mapping, truth: Mapping) -> list[tuple[Hashable, Hashable, Hashable]]:
    """(item, predicted, true label) per truth item; missing predictions become singletons."""
    rows = []
    for item, true_label in truth.items():
        if is_missing(true_label):
            raise MetricsInputError("missing_truth", f"item {item!r} has no truth label")
        label = pred.get(item)
        if is_missing(label):
            label = _Singleton(item)
        rows.append((item, label, true_label))
    return rows


def _f(precision: float, recall: float) -> float:
    """Harmonic mean; 0.0 when both are 0."""
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def bcubed(pred: Mapping, truth: Mapping) -> tuple[float, float, float]:
    """BCubed (precision, recall, F) of ``pred`` against ``truth`` over the truth's items."""
    rows = _aligned(pred, truth)
    n = len(rows)
    if n == 0:
        return 1.0, 1.0, 1.0
    joint = Counter((p, t) for _, p, t in rows)
    pred_sizes = Counter(p for _, p, _ in rows)
    true_sizes = Counter(t for _, _, t in rows)
    precision = sum(c * c / pred_sizes[p] for (p, _), c in joint.items()) / n
    recall = sum(c * c / true_sizes[t] for (_, t), c in joint.items()) / n
    return precision, recall, _f(precision, recall)


def _pairs(count: int) -> int:
    """Number of unordered pairs among ``count`` items."""
    return count * (count - 1) // 2


def pairwise(pred: Mapping, truth: Mapping) -> tuple[float, float, float]:
    """Pairwise (precision, recall, F): pairs of items put together vs pairs truly together."""
    rows = _aligned(pred, truth)
    joint = Counter((p, t) for _, p, t in rows)
    together = sum(_pairs(c) for c in joint.values())
    pred_pairs = sum(_pairs(c) for c in Counter(p for _, p, _ in rows).values())
    true_pairs = sum(_pairs(c) for c in Counter(t for _, _, t in rows).values())
    precision = 1.0 if pred_pairs == 0 else together / pred_pairs
    recall = 1.0 if true_pairs == 0 else together / true_pairs
    return precision, recall, _f(precision, recall)


def _sort_key(value: Any) -> tuple[int, str]:
    """Order labels/items of mixed types deterministically (``None`` last)."""
    return (1, "") if value is None else (0, str(value))


@dataclass(frozen=True)
class ClusterError:
    """One wrong merge (``label`` = predicted label) or split (``label`` = true label).

    ``parts`` lists (label on the other side, members) largest part first; for a split the
    other-side label is ``None`` for members that had no prediction (each its own singleton).
    """

    label: Hashable
    parts: list[tuple[Hashable | None, list[Hashable]]] = field(default_factory=list)

    @property
    def n_items(self) -> int:
        """Number of items involved."""
        return sum(len(members) for _, members in self.parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (labels and items as strings; ``None`` kept)."""
        return {
            "label": _jsonable(self.label),
            "parts": [
                {"label": _jsonable(lab), "members": [_jsonable(m) for m in members]}
                for lab, members in self.parts
            ],
        }


def _jsonable(value: Any) -> Any:
    """Strings, numbers and None pass; anything else becomes its ``str``."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _errors(rows: list[tuple[Hashable, Hashable, Hashable]], by_pred: bool) -> list[ClusterError]:
    """Group rows by one side and keep groups that span more than one label of the other side."""
    groups: dict[Hashable, dict[Hashable, list[Hashable]]] = defaultdict(lambda: defaultdict(list))
    for item, p, t in rows:
        key, other = (p, t) if by_pred else (t, p)
        groups[key][other].append(item)
    found = []
    for key, parts in groups.items():
        if len(parts) <= 1:
            continue
        listed = []
        for other, members in parts.items():
            shown = None if isinstance(other, _Singleton) else other
            listed.append((shown, sorted(members, key=_sort_key)))
        listed.sort(key=lambda part: (-len(part[1]), _sort_key(part[0]), _sort_key(part[1][0])))
        found.append(ClusterError(label=key, parts=listed))
    found.sort(key=lambda e: (-e.n_items, _sort_key(e.label)))
    return found


def wrong_merges(pred: Mapping, truth: Mapping) -> list[ClusterError]:
    """Predicted clusters that contain more than one true label, with their members per label."""
    return _errors(_aligned(pred, truth), by_pred=True)


def splits(pred: Mapping, truth: Mapping) -> list[ClusterError]:
    """True labels whose items are spread over more than one predicted cluster."""
    return _errors(_aligned(pred, truth), by_pred=False)
