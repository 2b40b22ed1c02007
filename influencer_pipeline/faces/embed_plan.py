"""Which detected faces to embed: only those whose embedding can change the answer.

Every detected face is kept as a row (counted, measured, thumbnailed); embedding is the costly
step (dlib's ResNet on CPU: ~40 ms a face), so a face is embedded only when it can matter:

- ``hard_gate``: below the detector score or the absolute size the embedder needs
  (``faces.quality``); as before, never embedded.
- ``below_presenter_size``: face height below ``min_rel_height`` of the frame height. The
  dominant person needs a median face of ``DominanceConfig.min_median_rel_height`` (7 %); a face
  under 60 % of that (4.2 %) is a photo on a film strip, a face in a crowd or a person far away,
  and cannot lift any track to that median. Such faces are counted, not embedded.
- ``tube_has_enough``: one more face of a *tube* that already has ``max_per_tube`` embedded
  faces. A tube chains the faces of consecutive searched frames whose boxes overlap
  (IoU >= ``tube_iou``) at about the same size (height ratio <= ``tube_size_ratio``): one person
  (or one photo) held in one place by one shot. Of a longer tube the first and last faces and the
  sharpest, most frontal ones are embedded; the others inherit the tube's track. If the embedded
  faces of a tube disagree (two of them farther apart than the embedder's ``track_distance``: a
  cut between two people at the same place), every face of that tube is embedded after all.

The cap is only used for embedders with a calibrated track distance (``faces.calibration``);
for any other embedder every tube face is embedded.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

SKIP_HARD_GATE = "hard_gate"
SKIP_SMALL = "below_presenter_size"
SKIP_TUBE = "tube_has_enough"
SKIP_REASONS = (SKIP_HARD_GATE, SKIP_SMALL, SKIP_TUBE)


@dataclass(frozen=True)
class EmbedPolicy:
    """Thresholds of the embed/skip decision (module docstring)."""

    min_rel_height: float = 0.042
    max_per_tube: int = 4
    tube_iou: float = 0.5
    tube_size_ratio: float = 1.25

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_rel_height < 1.0:
            raise ValueError(f"min_rel_height must be in [0, 1), got {self.min_rel_height}")
        if self.max_per_tube < 2:
            raise ValueError(f"max_per_tube must be >= 2, got {self.max_per_tube}")
        if not 0.0 < self.tube_iou <= 1.0 or self.tube_size_ratio < 1.0:
            raise ValueError("tube_iou must be in (0, 1] and tube_size_ratio >= 1")


@dataclass(frozen=True)
class FaceSlot:
    """What the plan needs to know of one detected face."""

    frame_order: int  # position of its frame among the searched frames (0, 1, 2, ...)
    box: tuple[float, float, float, float]
    rel_height: float
    hard_fail: bool
    merit: float  # higher = a better witness (sharp, frontal, confident)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def tubes(slots: list[FaceSlot], policy: EmbedPolicy) -> np.ndarray:
    """Tube id per face (-1 for faces that are not candidates); ids 0.. in order of appearance.

    A face continues the tube of the face in the previous searched frame with the highest IoU
    (at least ``tube_iou``, heights within ``tube_size_ratio``); each face continues one tube and
    each tube is continued by one face at most.
    """
    ids = np.full(len(slots), -1, dtype=np.int64)
    by_frame: dict[int, list[int]] = {}
    for index, slot in enumerate(slots):
        if not slot.hard_fail and slot.rel_height >= policy.min_rel_height:
            by_frame.setdefault(slot.frame_order, []).append(index)
    next_id = 0
    frames = sorted(by_frame)
    for frame in frames:
        previous = by_frame.get(frame - 1, [])
        pairs = []
        for i in by_frame[frame]:
            for j in previous:
                overlap = iou(slots[i].box, slots[j].box)
                hi, hj = slots[i].rel_height, slots[j].rel_height
                ratio = max(hi, hj) / max(min(hi, hj), 1e-9)
                if overlap >= policy.tube_iou and ratio <= policy.tube_size_ratio:
                    pairs.append((-overlap, i, j))
        taken_i: set[int] = set()
        taken_j: set[int] = set()
        for _, i, j in sorted(pairs):
            if i not in taken_i and j not in taken_j:
                ids[i] = ids[j]
                taken_i.add(i)
                taken_j.add(j)
        for i in by_frame[frame]:
            if ids[i] < 0:
                ids[i] = next_id
                next_id += 1
    return ids


def plan(
    slots: list[FaceSlot], policy: EmbedPolicy, cap: bool = True
) -> tuple[np.ndarray, list[str | None]]:
    """(tube id per face, skip reason per face: None = embed it); see the module docstring."""
    tube = tubes(slots, policy)
    reasons: list[str | None] = []
    for slot, t in zip(slots, tube, strict=True):
        if slot.hard_fail:
            reasons.append(SKIP_HARD_GATE)
        elif t < 0:
            reasons.append(SKIP_SMALL)
        else:
            reasons.append(None)
    if not cap:
        return tube, reasons
    for t in np.unique(tube[tube >= 0]):
        members = np.flatnonzero(tube == t)  # in frame order
        if len(members) <= policy.max_per_tube:
            continue
        keep = {int(members[0]), int(members[-1])}
        inner = sorted(members[1:-1], key=lambda i: (-slots[i].merit, i))
        keep.update(int(i) for i in inner[: policy.max_per_tube - 2])
        for i in members:
            if int(i) not in keep:
                reasons[int(i)] = SKIP_TUBE
    return tube, reasons


def tube_disagrees(vectors: list[np.ndarray], distance: float) -> bool:
    """True when two of a tube's embedded faces are farther apart than ``distance``."""
    if len(vectors) < 2:
        return False
    matrix = np.stack([np.asarray(v, dtype=np.float64) for v in vectors])
    gram = np.clip(matrix @ matrix.T, -1.0, 1.0)
    return bool(np.sqrt(np.maximum(2.0 - 2.0 * gram, 0.0)).max() > distance)


def frame_orders(frame_indices: list[int]) -> dict[int, int]:
    """Position of each frame index among the sorted distinct indices (consecutive = adjacent)."""
    return {f: k for k, f in enumerate(sorted(set(frame_indices)))}


def consecutive(orders: list[int]) -> bool:
    """True when some two of these frame positions are adjacent."""
    values = sorted(set(orders))
    return any(b - a == 1 for a, b in pairwise(values))
