"""The card check's alignment and stroke search against plain per-shift computations."""

from __future__ import annotations

import numpy as np
import pytest

from influencer_pipeline.outro.verify import _best_shift, _unexplained


def _plain_best_shift(a: np.ndarray, b: np.ndarray, ry: int, rx: int) -> tuple[int, int]:
    padded = np.pad(b.astype(np.float64), ((ry, ry), (rx, rx)), mode="edge")
    centre = a.astype(np.float64) - a.mean(dtype=np.float64)
    h, w = a.shape
    best, best_score = (0, 0), -np.inf
    for dy in range(-ry, ry + 1):
        for dx in range(-rx, rx + 1):
            moved = padded[ry - dy : ry - dy + h, rx - dx : rx - dx + w]
            score = float((centre * (moved - moved.mean())).sum())
            if score > best_score:
                best, best_score = (dy, dx), score
    return best


def _card(seed: int, shape: tuple[int, int] = (90, 64)) -> np.ndarray:
    """A grey card: a few bright bars and blobs on a flat background, slightly blurred."""
    rng = np.random.default_rng(seed)
    card = np.full(shape, 40.0, dtype=np.float32)
    for _ in range(8):
        y, x = rng.integers(0, shape[0] - 10), rng.integers(0, shape[1] - 10)
        card[y : y + rng.integers(2, 10), x : x + rng.integers(2, 20)] = rng.uniform(120, 250)
    return card


@pytest.mark.parametrize("shift", [(0, 0), (3, -2), (-7, 4), (10, 1)])
def test_the_best_shift_undoes_a_known_move(shift: tuple[int, int]) -> None:
    card = _card(1)
    dy, dx = shift
    moved = np.roll(card, (-dy, -dx), axis=(0, 1))  # b shifted back by (dy, dx) is the card
    a = card - card.mean()
    assert _best_shift(a, moved, 10, 4) == shift


@pytest.mark.parametrize("seed", range(6))
def test_the_best_shift_equals_a_plain_search_over_every_shift(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _card(seed), _card(seed + 100)
    b = b + rng.normal(scale=5.0, size=b.shape).astype(np.float32)
    centre = a - a.mean()
    assert _best_shift(centre, b, 10, 4) == _plain_best_shift(a, b, 10, 4)


def test_unexplained_is_the_least_difference_over_the_slack_window() -> None:
    a, b = _card(7), _card(8)
    slack = 2
    padded = np.pad(b, slack, mode="edge")
    h, w = a.shape
    expected = np.min(
        [
            np.abs(a - padded[slack - dy : slack - dy + h, slack - dx : slack - dx + w])
            for dy in range(-slack, slack + 1)
            for dx in range(-slack, slack + 1)
        ],
        axis=0,
    )
    np.testing.assert_array_equal(_unexplained(a, b, slack), expected)
