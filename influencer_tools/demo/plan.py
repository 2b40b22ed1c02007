"""The whole demo as data, before any pixel: creators, videos, re-uploads, duplicates, scores, rows.

Everything is drawn from one seeded generator, so a config always gives the same plan.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from influencer_tools.demo.config import DemoConfig
from influencer_tools.demo.errors import DemoError
from influencer_tools.demo.outros import OutroDesign, creator_designs, shared_brand_card
from influencer_tools.demo.photos import FaceLibrary
from influencer_tools.demo.reuploads import Derived, reupload_kinds, reupload_params, second_cut
from influencer_tools.demo.text import pick_caption
from influencer_tools.demo.timeline import (
    SHOT_SECONDS,
    FaceCast,
    ShotPlan,
    caption_style,
    face_timeline,
    faceless_timeline,
    influencer_frames,
    side_frames,
)

MEAN_RANGE = (0.3, 1.7)
STEADY_MEAN = (1.85, 2.0)
LUCKY_MEAN = (0.9, 1.3)
SD_RANGE = (0.15, 0.45)
MIN_SCORE = 0.001


@dataclass(frozen=True)
class Creator:
    """A true influencer: a face identity or a faceless brand, with its score distribution."""

    label: str  # "face:<identity>" | "outro:<brand>"
    kind: str  # "face" | "faceless"
    true_mean: float
    sd: float
    n_videos: int
    note: str  # "steady_top" | "lucky_single" | "lookalike" | ""
    identity: str | None = None
    outro: OutroDesign | None = None


@dataclass(frozen=True)
class VideoPlan:
    """One original video: its file, creator, length, shots and how it ends."""

    file: str
    key: str
    creator: str
    kind: str
    n_frames: int
    shots: tuple[ShotPlan, ...]
    ending: str  # "outro" | "brand_card" | "none"
    crf: int
    style_seed: int
    grade: tuple[float, float, float]
    caption_style: str
    pinned_caption: str | None
    watermark: bool
    influencer_frames: int
    side_frames: int


@dataclass(frozen=True)
class SheetRow:
    """One row of the demo sheet with its ground truth."""

    video_url: str
    file: str
    influencer: str
    kind: str
    duplicate_group: str
    reupload_of: str
    reupload_kind: str
    performance: float
    true_mean: float
    placement: str = "9:16"  # of a re-upload: "1:1", "4:5 letterboxed", ...
    second_cut_of: str = ""  # another edit of this original's shoot (not a re-upload)
    outro_card: str = ""  # the end card shown (a creator card's key, or "" for none)


@dataclass(frozen=True)
class DemoPlan:
    """Everything ``generate_demo`` writes, as data."""

    config: DemoConfig
    creators: tuple[Creator, ...]
    videos: tuple[VideoPlan, ...]
    derived: tuple[Derived, ...]
    rows: tuple[SheetRow, ...]
    brand_card: OutroDesign

    def creator(self, label: str) -> Creator:
        """The creator with ``label``."""
        return next(c for c in self.creators if c.label == label)

    def video(self, file: str) -> VideoPlan:
        """The original video written to ``file``."""
        return next(v for v in self.videos if v.file == file)


def file_name(seed: int, key: str) -> str:
    """An opaque, stable file name for an internal video key (reveals nothing about the truth)."""
    return "v_" + hashlib.sha256(f"{seed}|{key}".encode()).hexdigest()[:12] + ".mp4"


def _rng(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, *parts]))


def _creators(config: DemoConfig, library: FaceLibrary, rng: np.random.Generator) -> list[Creator]:
    pool = library.identities("influencer")
    if config.n_face_influencers > len(pool):
        raise DemoError(
            "bad_config",
            f"n_face_influencers={config.n_face_influencers} but only {len(pool)} influencer "
            "identities are shipped in influencer_tools/demo/faces",
        )
    lo, hi = config.videos_per_influencer
    chosen = [pool[int(i)] for i in rng.permutation(len(pool))[: config.n_face_influencers]]
    creators = []
    for i, identity in enumerate(chosen):
        if i == 0:
            mean, sd, n, note = rng.uniform(*STEADY_MEAN), 0.15, hi, "steady_top"
        elif i == 1:
            mean, sd, n, note = rng.uniform(*LUCKY_MEAN), 0.3, 1, "lucky_single"
        else:
            mean, sd, n, note = (
                rng.uniform(*MEAN_RANGE),
                rng.uniform(*SD_RANGE),
                int(rng.integers(lo, hi + 1)),
                "",
            )
        creators.append(
            Creator(
                f"face:{identity}",
                "face",
                round(float(mean), 4),
                round(float(sd), 4),
                int(n),
                note,
                identity=identity,
            )
        )
    designs = creator_designs(
        rng, config.n_faceless_creators, lookalike=config.lookalike_outros, pool=config.brand_pool
    )
    family = 4 if config.n_faceless_creators >= 4 else 2
    for i, design in enumerate(designs):
        lookalike = (
            config.lookalike_outros
            and config.n_faceless_creators >= 2
            and i >= len(designs) - family
        )
        creators.append(
            Creator(
                f"outro:{design.key}",
                "faceless",
                round(float(rng.uniform(*MEAN_RANGE)), 4),
                round(float(rng.uniform(*SD_RANGE)), 4),
                int(rng.integers(lo, hi + 1)),
                "lookalike" if lookalike else "",
                outro=design,
            )
        )
    return creators


def _videos(config: DemoConfig, library: FaceLibrary, creators: list[Creator]) -> list[VideoPlan]:
    fps = config.fps
    others = tuple((i, len(library.photos[i])) for i in library.identities("other"))
    videos = []
    for c_index, creator in enumerate(creators):
        photo_order = None
        if creator.identity is not None:
            n_photos = len(library.photos[creator.identity])
            photo_order = _rng(config.seed, 2, c_index).permutation(n_photos)
        low_share_video = int(_rng(config.seed, 3, c_index).integers(creator.n_videos))
        for v in range(creator.n_videos):
            rng = _rng(config.seed, 1, c_index, v)
            key = f"{creator.label}#{v}"
            n_frames = max(2, round(float(rng.uniform(*config.seconds)) * fps))
            seconds = n_frames / fps
            if creator.kind == "face":
                assert photo_order is not None and creator.identity is not None
                cast = FaceCast(
                    creator.identity,
                    int(photo_order[v % len(photo_order)]),
                    bool(rng.integers(2)),
                    others,
                )
                card = (
                    round(min(1.5, 0.25 * seconds) * fps)
                    if rng.random() < config.brand_card_share
                    else 0
                )
                shots = face_timeline(
                    n_frames,
                    fps,
                    card,
                    cast,
                    rng,
                    low_share=(v == low_share_video and creator.n_videos > 1),
                )
                ending = "brand_card" if card else "none"
            else:
                outro = max(1, round(min(config.outro_seconds, 0.3 * seconds) * fps))
                shots = faceless_timeline(n_frames, fps, outro, others, rng)
                ending = "outro"
            grade = tuple(round(float(g), 4) for g in rng.uniform(0.94, 1.06, size=3))
            style = caption_style(rng)
            pinned = None
            if rng.random() < 0.3:
                pinned = pick_caption(rng)
            videos.append(
                VideoPlan(
                    file=file_name(config.seed, key),
                    key=key,
                    creator=creator.label,
                    kind=creator.kind,
                    n_frames=n_frames,
                    shots=tuple(shots),
                    ending=ending,
                    crf=config.crf + int(rng.integers(-2, 3)),
                    style_seed=int(rng.integers(2**31)),
                    grade=grade,  # type: ignore[arg-type]
                    caption_style=style,
                    pinned_caption=pinned,
                    watermark=creator.kind == "face",
                    influencer_frames=influencer_frames(shots),
                    side_frames=side_frames(shots),
                )
            )
    return videos


def _derived(
    config: DemoConfig,
    videos: list[VideoPlan],
    creators: dict[str, Creator],
    lucky: set[str],
    rng: np.random.Generator,
) -> tuple[list[Derived], str | None]:
    """Re-uploads (see ``reuploads``), the byte-for-byte copy, and the row that appears twice."""
    candidates = [v for v in videos if v.creator not in lucky and "#cut2" not in v.key]
    face = [v for v in candidates if v.kind == "face"]
    faceless = [v for v in candidates if v.kind == "faceless"]
    face = [face[int(i)] for i in rng.permutation(len(face))]
    faceless = [faceless[int(i)] for i in rng.permutation(len(faceless))]
    picks: list[VideoPlan] = []
    while face or faceless:  # alternate kinds so both are re-uploaded
        for group in (face, faceless):
            if group:
                picks.append(group.pop(0))
    derived: list[Derived] = []
    kinds = reupload_kinds(config, rng)
    with_card = [v for v in picks if v.kind == "faceless"]
    for i, kind in enumerate(kinds):
        if not picks or (kind == "other_outro" and not with_card):
            continue
        source = with_card[0] if kind == "other_outro" else picks[i % len(picks)]
        design = creators[source.creator].outro
        params = reupload_params(kind, source.n_frames / config.fps, design, rng)
        derived.append(
            Derived(
                file=file_name(config.seed, f"{source.key}|{kind}|{i}"),
                source=source.file,
                kind=kind,
                **params,
            )
        )
    rest = picks[len(kinds) :] or picks
    copy_of = duplicate_of = None
    if config.exact_copy and rest:
        copy_of = rest[0]
        derived.append(
            Derived(
                file=file_name(config.seed, f"{copy_of.key}|copy"),
                source=copy_of.file,
                kind="exact_copy",
            )
        )
    if config.exact_duplicate_row and rest:
        duplicate_of = rest[1 % len(rest)].file
    return derived, duplicate_of


def _second_cut(config: DemoConfig, videos: list[VideoPlan]) -> VideoPlan | None:
    """Another edit of one faceless video's shoot (an original, not a re-upload)."""
    rng = _rng(config.seed, 7)
    for i in rng.permutation(len(videos)):
        video = videos[int(i)]
        longest = round(SHOT_SECONDS[1] * config.fps)
        shots = second_cut(video.shots, rng, longest) if video.kind == "faceless" else None
        if shots is not None:
            key = f"{video.key}#cut2"
            return replace(
                video,
                file=file_name(config.seed, key),
                key=key,
                shots=shots,
                n_frames=sum(s.n_frames for s in shots),
                pinned_caption=pick_caption(rng) if video.pinned_caption else None,
            )
    return None


def _score(rng: np.random.Generator, creator: Creator) -> float:
    return round(max(MIN_SCORE, float(rng.normal(creator.true_mean, creator.sd))), 4)


def plan_demo(config: DemoConfig, library: FaceLibrary) -> DemoPlan:
    """The full, deterministic plan of the demo for ``config`` using the shipped photos."""
    rng = _rng(config.seed, 0)
    creators = _creators(config, library, rng)
    by_label = {c.label: c for c in creators}
    videos = _videos(config, library, creators)
    lucky = {c.label for c in creators if c.note == "lucky_single"}
    cut = _second_cut(config, videos) if config.second_cut else None
    cut_of = {}
    if cut is not None:
        cut_of[cut.file] = next(v.file for v in videos if v.key == cut.key.removesuffix("#cut2"))
        videos.append(cut)
        creators = [
            replace(c, n_videos=c.n_videos + 1) if c.label == cut.creator else c for c in creators
        ]
        by_label = {c.label: c for c in creators}
    derived, duplicate_of = _derived(config, videos, by_label, lucky, _rng(config.seed, 4))
    score_rng = _rng(config.seed, 5)
    rows: list[SheetRow] = []
    for video in videos:
        creator = by_label[video.creator]
        rows.append(
            SheetRow(
                f"videos/{video.file}",
                video.file,
                creator.label,
                creator.kind,
                video.file,
                "",
                "",
                _score(score_rng, creator),
                creator.true_mean,
                second_cut_of=cut_of.get(video.file, ""),
                outro_card=_card_key(creator, video),
            )
        )
    source_of = {v.file: v for v in videos}
    for item in derived:
        creator = by_label[source_of[item.source].creator]
        card = item.outro.key + f"@{item.outro.price}" if item.outro is not None else ""
        rows.append(
            SheetRow(
                f"videos/{item.file}",
                item.file,
                creator.label,
                creator.kind,
                item.source,
                item.source,
                item.kind,
                _score(score_rng, creator),
                creator.true_mean,
                placement=item.placement,
                outro_card=card or _card_key(creator, source_of[item.source]),
            )
        )
    if lucky:
        # The lucky video beats the steady top influencer's average, so ranking by the raw mean
        # would put this one-video influencer first; it is a rare but plausible draw (about +3
        # to +4 sd of its own noise), not an impossible one.
        steady = [r.performance for r in rows if by_label[r.influencer].note == "steady_top"]
        reference = float(np.mean(steady)) if steady else 1.5
        lucky_score = round(reference + float(score_rng.uniform(0.2, 0.35)), 4)
        rows = [
            SheetRow(**{**r.__dict__, "performance": lucky_score}) if r.influencer in lucky else r
            for r in rows
        ]
    if duplicate_of is not None:
        rows.append(next(r for r in rows if r.file == duplicate_of))
    order = _rng(config.seed, 6).permutation(len(rows))
    return DemoPlan(
        config=config,
        creators=tuple(creators),
        videos=tuple(videos),
        derived=tuple(derived),
        rows=tuple(rows[int(i)] for i in order),
        brand_card=shared_brand_card(config.brand_pool),
    )


def _card_key(creator: Creator, video: VideoPlan) -> str:
    """The end card a video shows: its creator's card, the shared brand card, or none."""
    if creator.outro is not None:
        return creator.outro.key
    return "brand_card" if video.ending == "brand_card" else ""
