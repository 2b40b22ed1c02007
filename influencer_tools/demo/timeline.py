"""One video's timeline: which shots, how long, who is on screen and at what face size."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from influencer_tools.demo.text import CAPTION_STYLES, pick_caption

SHOT_SECONDS = (1.0, 2.5)
TALKING_FACE = (0.29, 0.40)  # face box height / frame height at the shot's middle zoom
WIDE_FACE = (0.10, 0.18)  # a presenter standing back (real ads: 8-30 % of the frame height)
WIDE_SHARE = 0.3  # share of face videos shot wide
SIDE_FACE = (0.195, 0.225)  # in close shots; wide shots scale side characters alike
DUO_INFLUENCER_FACE = (0.26, 0.30)
PHOTO_FACE = (0.055, 0.09)
PICTURE_FACE = (0.07, 0.13)  # couples in screenshots and framed photos: as large as presenters
ZOOM = (1.0, 1.12)
INFLUENCER_SHARE = (0.35, 0.72)
LOW_SHARE = (0.15, 0.45)  # one video per influencer: a presenter between product shots
LOW_SHARE_WIDE = (0.25, 0.45)  # ... shot wide: presence stays >= 15 % x 8 % of real presenters
SIDE_SHARE = (0.10, 0.22)
FACE_SHOTS = ("talking_head", "duo")
PICTURE_SHOTS = ("photo_strip", "photo_frame", "screenshot")
PICTURE_VIDEO_SHARE = 0.35  # faceless videos whose product is a photo shown in many frames


@dataclass(frozen=True)
class PersonUse:
    """A person in a shot: which photo, face height as a fraction of the frame, where, mirrored."""

    identity: str
    photo: int
    face_frac: float
    x: float
    y: float
    flip: bool
    role: str  # "influencer" | "side" | "photo"


@dataclass(frozen=True)
class ShotPlan:
    """One shot: its kind, length, camera move, people and caption."""

    kind: str  # talking_head | side | duo | product | photo_strip | photo_frame | screenshot | card
    n_frames: int
    seed: int
    people: tuple[PersonUse, ...] = ()
    zoom: tuple[float, float] = (1.0, 1.0)
    pan: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    brightness: tuple[float, float] = (1.0, 1.0)
    caption: str | None = None
    caption_pos: str = "bottom"


@dataclass(frozen=True)
class FaceCast:
    """Who may appear in a face video: the influencer's photo and the pool of other people."""

    influencer: str
    photo: int
    flip: bool
    others: tuple[tuple[str, int], ...]  # (identity, number of photos)


def split_frames(frames: int, fps: int, rng: np.random.Generator) -> list[int]:
    """Cut ``frames`` into shots of 1-2.5 s (one shorter shot when the segment is short)."""
    if frames <= 0:
        return []
    lo, hi = SHOT_SECONDS[0] * fps, SHOT_SECONDS[1] * fps
    n = max(1, round(frames / (1.75 * fps)), math.ceil(frames / hi))
    n = min(n, max(1, int(frames // lo)))
    mean = frames / n
    sizes = np.full(n, mean)
    # Move random amounts between neighbours: each shot changes by at most `room`, staying in range.
    room = max(0.0, min(mean - lo, hi - mean, 0.5 * mean))
    for i in range(n - 1):
        shift = rng.uniform(-room / 2, room / 2)
        sizes[i] -= shift
        sizes[i + 1] += shift
    edges = np.round(np.cumsum(sizes)).astype(int)
    edges[-1] = frames
    cut = np.diff(np.concatenate([[0], edges]))
    return [int(s) for s in cut if s > 0]


def _camera(rng: np.random.Generator) -> dict:
    z0 = float(rng.uniform(*ZOOM))
    z1 = float(np.clip(z0 + rng.choice([-1, 1]) * rng.uniform(0.03, 0.10), *ZOOM))
    b0 = float(rng.uniform(0.92, 1.06))
    b1 = float(np.clip(b0 + rng.choice([-1, 1]) * rng.uniform(0.03, 0.08), 0.9, 1.1))
    pan = tuple(float(v) for v in rng.uniform(-0.6, 0.6, size=4))
    return {
        "zoom": (round(z0, 4), round(z1, 4)),
        "brightness": (round(b0, 4), round(b1, 4)),
        "pan": pan,
    }


def _other(rng: np.random.Generator, cast: FaceCast, exclude: set[str]) -> tuple[str, int]:
    pool = [o for o in cast.others if o[0] not in exclude] or list(cast.others)
    identity, n_photos = pool[int(rng.integers(len(pool)))]
    return identity, int(rng.integers(n_photos))


def _photo_people(
    rng: np.random.Generator,
    others: tuple[tuple[str, int], ...],
    kind: str,
    couple: tuple[PersonUse, ...] | None = None,
) -> tuple[PersonUse, ...]:
    """People in a picture: film-strip photos, one or two framed photos, a couple on a screen.

    ``couple``: the same picture again (a product photo shown in several shots).
    """
    if couple is not None:
        return couple
    if not others:
        return ()
    if kind == "photo_strip":
        count, span = int(rng.integers(4, 7)), PHOTO_FACE
    elif kind == "screenshot":
        count, span = 2, PICTURE_FACE
    else:
        count = int(rng.integers(1, 3))
        span = PICTURE_FACE if rng.random() < 0.5 else PHOTO_FACE
    order = rng.permutation(len(others))
    size = float(rng.uniform(*span))
    people = []
    for i in range(count):
        identity, n_photos = others[int(order[i % len(order)])]
        face = size * float(rng.uniform(0.92, 1.08)) if kind != "photo_strip" else None
        people.append(
            PersonUse(
                identity=identity,
                photo=int(rng.integers(n_photos)),
                face_frac=round(face if face is not None else float(rng.uniform(*span)), 4),
                x=0.0,
                y=0.0,
                flip=bool(rng.integers(2)),
                role="photo",
            )
        )
    return tuple(people)


def _shot(
    kind: str,
    n: int,
    rng: np.random.Generator,
    *,
    cast: FaceCast | None,
    others: tuple[tuple[str, int], ...],
    side: tuple[str, int] | None,
    wide: bool = False,
    couple: tuple[PersonUse, ...] | None = None,
) -> ShotPlan:
    """One shot of ``kind``; ``wide``: people stand back (smaller faces, side characters too)."""
    people: tuple[PersonUse, ...] = ()
    scale = (sum(WIDE_FACE) / sum(TALKING_FACE)) if wide else 1.0
    if kind == "talking_head" and cast is not None:
        people = (
            PersonUse(
                cast.influencer,
                cast.photo,
                round(float(rng.uniform(*(WIDE_FACE if wide else TALKING_FACE))), 4),
                round(float(rng.uniform(0.42, 0.58)), 4),
                round(float(rng.uniform(0.36, 0.44)), 4),
                cast.flip,
                "influencer",
            ),
        )
    elif kind in ("side", "duo") and side is not None:
        left = bool(rng.integers(2))
        side_use = PersonUse(
            side[0],
            side[1],
            round(float(rng.uniform(*SIDE_FACE)) * scale, 4),
            round(
                float(rng.uniform(0.42, 0.58)) if kind == "side" else (0.24 if left else 0.76), 4
            ),
            round(float(rng.uniform(0.42, 0.50)), 4),
            bool(rng.integers(2)),
            "side",
        )
        people = (side_use,)
        if kind == "duo" and cast is not None:
            people += (
                PersonUse(
                    cast.influencer,
                    cast.photo,
                    round(float(rng.uniform(*DUO_INFLUENCER_FACE)) * scale, 4),
                    0.69 if left else 0.31,
                    round(float(rng.uniform(0.38, 0.42)), 4),
                    cast.flip,
                    "influencer",
                ),
            )
    elif kind in PICTURE_SHOTS:
        people = _photo_people(rng, others, kind, couple)
    return ShotPlan(
        kind=kind, n_frames=n, seed=int(rng.integers(2**31)), people=people, **_camera(rng)
    )


def _order(shots: list[ShotPlan], rng: np.random.Generator, first: str | None) -> list[ShotPlan]:
    """Shuffle shots, preferring ``first`` at the start and few back-to-back repeats of a kind."""
    best, best_score = shots, None
    for _ in range(12):
        trial = [shots[int(i)] for i in rng.permutation(len(shots))]
        if first is not None:
            starts = [i for i, s in enumerate(trial) if s.kind == first]
            if starts:
                trial.insert(0, trial.pop(starts[0]))
        score = sum(a.kind == b.kind for a, b in pairwise(trial))
        if best_score is None or score < best_score:
            best, best_score = trial, score
    return best


def _captions(shots: list[ShotPlan], rng: np.random.Generator) -> list[ShotPlan]:
    out = []
    for shot in shots:
        if shot.kind != "card" and rng.random() < 0.6:
            position = str(rng.choice(["top", "bottom"]))
            out.append(replace(shot, caption=pick_caption(rng), caption_pos=position))
        else:
            out.append(shot)
    return out


def _broll_kinds(n: int, rng: np.random.Generator, photo_share: float) -> list[str]:
    """Product shots, and pictures of people (film strip, framed photo, phone screenshot)."""
    kinds = []
    for _ in range(n):
        r = rng.random()
        picture = PICTURE_SHOTS[min(2, int(3 * r / photo_share))] if r < photo_share else None
        kinds.append(picture or "product")
    return kinds


def face_timeline(
    n_frames: int,
    fps: int,
    card_frames: int,
    cast: FaceCast,
    rng: np.random.Generator,
    *,
    low_share: bool,
) -> list[ShotPlan]:
    """Shots of a face video: influencer on screen in 35-75 % of frames, side people <= 25 %.

    The ``low_share`` video shows its presenter in only 15-45 % of the frames, between product
    shots, and has no side character (who would then be on screen as long as the presenter).
    A share of the videos is shot wide: presenter and side characters stand back.
    """
    wide = bool(rng.random() < WIDE_SHARE)
    span = (LOW_SHARE_WIDE if wide else LOW_SHARE) if low_share else INFLUENCER_SHARE
    share = float(rng.uniform(*span))
    side_share = float(rng.uniform(*SIDE_SHARE)) if rng.random() < 0.6 and cast.others else 0.0
    if low_share:
        side_share = 0.0
    body = n_frames - card_frames
    influencer = min(body, round(share * n_frames))
    side_total = round(side_share * n_frames)
    duo = side_total if side_total and rng.random() < 0.5 else 0
    side_only = side_total - duo
    talking = max(0, influencer - duo)
    broll = body - talking - duo - side_only
    if broll < 0:
        side_only = max(0, side_only + broll)
        broll = body - talking - duo - side_only
    side = _other(rng, cast, set()) if side_total else None
    segments: list[ShotPlan] = []
    for kind, frames in (("talking_head", talking), ("duo", duo), ("side", side_only)):
        segments += [
            _shot(kind, n, rng, cast=cast, others=cast.others, side=side, wide=wide)
            for n in split_frames(frames, fps, rng)
        ]
    sizes = split_frames(broll, fps, rng)
    for kind, n in zip(_broll_kinds(len(sizes), rng, 0.4), sizes, strict=True):
        segments.append(_shot(kind, n, rng, cast=cast, others=cast.others, side=None))
    first = "product" if low_share else ("talking_head" if rng.random() < 0.7 else None)
    shots = _captions(_order(segments, rng, first), rng)
    if card_frames:
        shots.append(ShotPlan(kind="card", n_frames=card_frames, seed=int(rng.integers(2**31))))
    return shots


def faceless_timeline(
    n_frames: int,
    fps: int,
    outro_frames: int,
    others: tuple[tuple[str, int], ...],
    rng: np.random.Generator,
) -> list[ShotPlan]:
    """Shots of a faceless video: product shots (some with small photos of people), then outro."""
    sizes = split_frames(n_frames - outro_frames, fps, rng)
    kinds = ["product"] * len(sizes)
    couple: tuple[PersonUse, ...] | None = None
    if rng.random() < PICTURE_VIDEO_SHARE and len(sizes) > 2 and others:
        # the product is a photo (a printed couple, a photo plaque): on screen in many frames,
        # as large as a presenter; it never moves as a live person does
        kind = str(rng.choice(["screenshot", "photo_frame"]))
        couple = _photo_people(rng, others, "screenshot")
        picked = rng.permutation(len(sizes))[: max(2, round(0.5 * len(sizes)))]
        for i in picked:
            kinds[int(i)] = kind
    elif rng.random() < 0.5 and len(sizes) > 1:
        kinds[int(rng.integers(len(sizes)))] = str(rng.choice(PICTURE_SHOTS))
    shots = [
        _shot(kind, n, rng, cast=None, others=others, side=None, couple=couple)
        for kind, n in zip(kinds, sizes, strict=True)
    ]
    shots = _captions(shots, rng)
    shots.append(ShotPlan(kind="card", n_frames=outro_frames, seed=int(rng.integers(2**31))))
    return shots


def influencer_frames(shots: list[ShotPlan] | tuple[ShotPlan, ...]) -> int:
    """Frames in which the influencer's face is on screen."""
    return sum(s.n_frames for s in shots if any(p.role == "influencer" for p in s.people))


def side_frames(shots: list[ShotPlan] | tuple[ShotPlan, ...]) -> int:
    """Frames in which a side character is on screen."""
    return sum(s.n_frames for s in shots if any(p.role == "side" for p in s.people))


def caption_style(rng: np.random.Generator) -> str:
    """A video-wide caption style."""
    return str(rng.choice(CAPTION_STYLES))
