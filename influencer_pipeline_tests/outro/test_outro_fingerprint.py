"""Outro-card fingerprints: card selection (fades, black tails, animation), robustness, real frames.

The helpers at the top render synthetic brand cards with PIL and turn them into short videos
(product shot, cross-fade into the card, optional fade to black); test_outro_grouping imports them.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw, ImageFont

from influencer_pipeline.lake_schema import VIDEO_FRAMES
from influencer_pipeline.media.blank_frames import classify_blank
from influencer_pipeline.media.encode import write_video
from influencer_pipeline.media.frames import (
    SamplingConfig,
    frames_table,
    sample_frames,
)
from influencer_pipeline.media.phash import hash_image
from influencer_pipeline.media.transforms import transform_video
from influencer_pipeline.outro.fingerprint import (
    FingerprintConfig,
    OutroInputError,
    bits_to_hex,
    card_signature,
    fingerprint_outro,
    hex_to_bits,
    outro_fingerprint,
    rgb_to_lab,
    select_card_frames,
)
from influencer_pipeline.outro.grouping import distance_components, fingerprint_distance
from influencer_pipeline_tests.conftest import gradient_frames

FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
BOLD = str(FONTS / "DejaVuSans-Bold.ttf")
SERIF = str(FONTS / "DejaVuSerif-Bold.ttf")
WIDTH, HEIGHT, FPS = 360, 640, 15


# --- synthetic cards and videos (shared with test_outro_grouping) ----------------------------


@dataclass(frozen=True)
class Card:
    """A brand outro card: background, logo shape, brand name, optional button/price/confetti."""

    name: str = "HUSTLEZY"
    background: tuple[int, int, int] = (255, 255, 255)
    background_bottom: tuple[int, int, int] | None = None  # vertical gradient when set
    accent: tuple[int, int, int] = (240, 130, 50)
    text: tuple[int, int, int] = (20, 20, 20)
    logo: str = "bag"  # bag | circle | star
    font: str = BOLD
    name_size: int = 40
    button: str | None = "SHOP NOW"
    price: str | None = None
    confetti: bool = False


def render_card(card: Card, reveal: float = 1.0) -> np.ndarray:
    """RGB array of ``card`` (``reveal`` < 1 draws the button part-way faded in)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), card.background)
    if card.background_bottom is not None:
        t = np.linspace(0, 1, HEIGHT)[:, None, None]
        top, bottom = np.array(card.background), np.array(card.background_bottom)
        column = top * (1 - t) + bottom * t
        image = Image.fromarray(np.repeat(column, WIDTH, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    cx, cy, s = WIDTH // 2, int(0.3 * HEIGHT), int(0.12 * WIDTH)
    if card.logo == "bag":
        draw.rectangle([cx - s, cy - s // 2, cx + s, cy + s], outline=card.accent, width=6)
        draw.arc([cx - s // 2, cy - s, cx + s // 2, cy], 180, 360, fill=card.accent, width=6)
    elif card.logo == "circle":
        draw.ellipse([cx - s, cy - s, cx + s, cy + s], fill=card.accent)
    else:
        points = []
        for k in range(10):
            r = s if k % 2 == 0 else s * 0.45
            angle = -math.pi / 2 + k * math.pi / 5
            points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
        draw.polygon(points, fill=card.accent)
    y = int(0.45 * HEIGHT)
    name_font = ImageFont.truetype(card.font, card.name_size)
    draw.text((cx, y), card.name, font=name_font, fill=card.text, anchor="mm")
    y += card.name_size
    if card.button and reveal > 0:
        pairs = zip(card.accent, card.background, strict=True)
        colour = tuple(int(b + (a - b) * reveal) for a, b in pairs)
        draw.rectangle([cx - 54, y, cx + 54, y + 34], fill=colour)
        button_font = ImageFont.truetype(BOLD, 18)
        draw.text((cx, y + 17), card.button, font=button_font, fill="white", anchor="mm")
        y += 54
    if card.price:
        price_font = ImageFont.truetype(BOLD, 44)
        draw.text((cx, y + 30), card.price, font=price_font, fill=card.accent, anchor="mm")
    if card.confetti:
        rng = np.random.default_rng(7)
        for _ in range(25):
            x0, y0 = rng.integers(0, WIDTH), rng.integers(0, HEIGHT)
            draw.ellipse([x0 - 5, y0 - 5, x0 + 5, y0 + 5], fill=(150, 190, 230))
    return np.asarray(image)


def outro_video(
    path: Path,
    card: Card,
    *,
    hold_s: float = 1.5,
    fade_out_s: float = 0.0,
    black_s: float = 0.0,
    animate: bool = False,
    seed: int = 0,
) -> Path:
    """Product shot 1.5 s, 0.5 s cross-fade into the card, card held, optional fade to black."""
    frames = gradient_frames(round(1.5 * FPS), WIDTH, HEIGHT, seed)
    full = render_card(card).astype(np.float32)
    last = frames[-1].astype(np.float32)
    n_fade = round(0.5 * FPS)
    for i in range(n_fade):
        a = (i + 1) / (n_fade + 1)
        frames.append((last * (1 - a) + full * a).astype(np.uint8))
    n_hold = round(hold_s * FPS)
    for i in range(n_hold):
        if animate and i < n_hold // 3:
            frames.append(render_card(card, reveal=i / (n_hold // 3)))
        else:
            frames.append(full.astype(np.uint8))
    n_out = round(fade_out_s * FPS)
    for i in range(n_out):
        frames.append((full * (1 - (i + 1) / (n_out + 1))).astype(np.uint8))
    frames.extend(np.zeros((HEIGHT, WIDTH, 3), np.uint8) for _ in range(round(black_s * FPS)))
    return write_video(path, frames, FPS)


def video_frames(path: Path, video_id: str) -> pd.DataFrame:
    """The video_frames rows of a video, sampled as the pipeline samples them."""
    config = SamplingConfig()
    return frames_table(video_id, sample_frames(path, config), config)


def jpeg(rgb: np.ndarray) -> bytes:
    """JPEG bytes of an RGB array."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def image_frames(video_id: str, images: list[bytes], n_outro: int) -> pd.DataFrame:
    """video_frames rows built from JPEGs, one per second; the last ``n_outro`` are outro."""
    rows = []
    for i, data in enumerate(images):
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        phash, dhash = hash_image(rgb)
        luma = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        reason = classify_blank(rgb)
        rows.append(
            {
                "video_id": video_id,
                "frame_index": i,
                "role": "outro" if i >= len(images) - n_outro else "body",
                "timestamp_s": float(i),
                "width": rgb.shape[1],
                "height": rgb.shape[0],
                "image": data,
                "phash": phash,
                "dhash": dhash,
                "mean_luma": float(luma.mean()),
                "std_luma": float(luma.std()),
                "is_blank": reason is not None,
                "blank_reason": reason,
            }
        )
    return pd.DataFrame(rows, columns=VIDEO_FRAMES.names)


def _luma_p99(data: bytes) -> float:
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32)
    return float(np.percentile(rgb @ np.array([0.299, 0.587, 0.114], np.float32), 99))


# --- robustness on videos --------------------------------------------------------------------

TRANSFORMS = {
    "reencode_crf30": {"crf": 30},
    "resize_075": {"scale": 0.75},
    "crop_3pct": {"crop": 0.03},
    "trim_start_07s": {"trim_start_s": 0.7},
    "cut_end_03s_earlier": {"trim_end_s": 0.3},
    "all_at_once": {"crf": 30, "scale": 0.75, "crop": 0.03, "trim_start_s": 0.7},
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The original card video, a fade-out/animated cut of it, and re-uploads of the original."""
    root = tmp_path_factory.mktemp("outro_clips")
    card = Card()
    out = {
        "original": outro_video(root / "original.mp4", card),
        "faded": outro_video(
            root / "faded.mp4", card, fade_out_s=0.5, black_s=0.3, animate=True, seed=3
        ),
    }
    for name, options in TRANSFORMS.items():
        out[name] = transform_video(out["original"], root / f"{name}.mp4", **options)
    return out


@pytest.fixture(scope="module")
def original(clips: dict[str, Path]):
    """Fingerprint of the original clip."""
    fingerprint = outro_fingerprint(video_frames(clips["original"], "original"))
    assert fingerprint is not None
    return fingerprint


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_fingerprint_survives_reupload_transforms(clips, original, transform):
    fingerprint = outro_fingerprint(video_frames(clips[transform], transform))
    assert fingerprint is not None
    bits, delta_e = distance_components(original, fingerprint)
    # measured worst case over 132 synthetic videos: 24 bits, 3.4 delta E (limits 40 and 6)
    assert bits <= 32, bits
    assert delta_e <= 4.5, delta_e
    assert fingerprint_distance(original, fingerprint) <= 1.0


def test_fade_to_black_and_black_tail_are_never_the_fingerprint(clips, original):
    frames = video_frames(clips["faded"], "faded")
    outro = frames[frames.role == "outro"]
    assert outro.sort_values("timestamp_s").is_blank.iloc[-1], "the clip must end on black"
    outcome = fingerprint_outro(frames)
    fingerprint = outcome.fingerprint
    assert fingerprint is not None
    assert max(fingerprint.timestamps_s) < 3.5  # the card is held from 2.0 s to 3.5 s
    assert _luma_p99(fingerprint.representative) > 200  # the white card, not a dark frame
    reasons = dict(outcome.skipped_frames)
    black = outro[outro.is_blank].frame_index.tolist()
    assert black and all(reasons[i] == "blank" for i in black)
    assert "mid_fade" in reasons.values()  # the half-dark frame of the fade-out
    assert fingerprint_distance(original, fingerprint) <= 1.0


def test_animated_card_is_fingerprinted_in_its_settled_state(tmp_path):
    card = Card(accent=(50, 120, 240))
    path = outro_video(tmp_path / "anim.mp4", card, animate=True, hold_s=2.0)
    frames = video_frames(path, "anim")
    outcome = fingerprint_outro(frames)
    assert outcome.fingerprint is not None
    # the frame where the button is still fading in is left out of the card frames
    early = frames[(frames.role == "outro") & (frames.timestamp_s < 2.6)].frame_index.tolist()
    assert early and not set(early) & set(outcome.fingerprint.frame_indices)
    still = outro_fingerprint(video_frames(outro_video(tmp_path / "still.mp4", card), "still"))
    assert still is not None
    assert fingerprint_distance(still, outcome.fingerprint) <= 0.75


def test_moving_content_to_the_end_has_no_fingerprint(make_video):
    frames = video_frames(make_video("moving.mp4", seconds=4.0, width=96, height=160), "moving")
    outcome = fingerprint_outro(frames)
    assert outcome.fingerprint is None
    assert outcome.reason_code == "unstable_outro"
    assert "does not hold still" in outcome.reason


# --- selection rules on frame tables ---------------------------------------------------------


def _black() -> bytes:
    return jpeg(np.zeros((HEIGHT, WIDTH, 3), np.uint8))


def test_all_black_outro_has_no_fingerprint():
    images = [jpeg(render_card(Card()))] * 2 + [_black()] * 3
    outcome = fingerprint_outro(image_frames("v", images, n_outro=3))
    assert outcome.fingerprint is None
    assert outcome.reason_code == "all_blank"
    assert [why for _, why in outcome.skipped_frames] == ["blank"] * 3


def test_black_frame_is_skipped_even_when_not_flagged():
    images = [jpeg(render_card(Card()))] * 3 + [_black()] * 2
    frames = image_frames("v", images, n_outro=5)
    frames["is_blank"] = False  # a table whose blank flag is wrong or missing
    indices, code, _, skipped = select_card_frames(frames)
    assert code is None
    assert indices == [2, 1, 0]
    assert {(3, "blank"), (4, "blank")} <= set(skipped)
    assert outro_fingerprint(frames.drop(columns=["is_blank"])) is not None


def test_no_outro_rows_and_bad_images_are_reported():
    card = jpeg(render_card(Card()))
    frames = image_frames("v", [card, card, card], n_outro=3)
    assert fingerprint_outro(frames.assign(role="body")).reason_code == "no_outro_frames"
    broken = frames.copy()
    broken.loc[0, "image"] = b"not a jpeg"
    outcome = fingerprint_outro(broken)
    assert outcome.fingerprint is not None
    assert (0, "bad_image") in outcome.skipped_frames


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda f: f.drop(columns=["image"]), "missing_columns"),
        (lambda f: f.assign(video_id=["a", "b", "a"]), "mixed_videos"),
        (lambda f: [1, 2, 3], "not_a_table"),
    ],
)
def test_bad_tables_raise_a_coded_error(change, code):
    card = jpeg(render_card(Card()))
    frames = image_frames("v", [card, card, card], n_outro=3)
    with pytest.raises(OutroInputError) as error:
        fingerprint_outro(change(frames))
    assert error.value.code == code


def test_look_alike_cards_are_far_apart():
    def fingerprint(card: Card):
        image = jpeg(render_card(card))
        return outro_fingerprint(image_frames(card.name, [image] * 3, n_outro=3))

    base = fingerprint(Card())
    look_alikes = {
        "other name": Card(name="GIFTORA"),
        "other accent, same luminance": Card(accent=(220, 60, 60)),
        "cream background": Card(background=(250, 238, 220)),
        "price card": Card(price="$49"),
        "confetti (seasonal)": Card(confetti=True),
    }
    for what, card in look_alikes.items():
        assert fingerprint_distance(base, fingerprint(card)) > 1.3, what
    # pHash alone cannot tell an iso-luminant colour change: the Lab grid does
    blue, red = fingerprint(Card(accent=(50, 120, 240))), fingerprint(Card(accent=(220, 60, 60)))
    bits, delta_e = distance_components(blue, red)
    assert bits <= 20 and delta_e > 10


def test_record_and_hex_round_trip():
    image = jpeg(render_card(Card()))
    fingerprint = outro_fingerprint(image_frames("v", [image] * 3, n_outro=3))
    assert fingerprint is not None
    assert len(fingerprint.phash) == 64 and fingerprint.bits().shape == (256,)
    assert fingerprint.lab().shape == (64, 3)
    assert bits_to_hex(hex_to_bits(fingerprint.phash, 256)) == fingerprint.phash
    record = fingerprint.to_record()
    assert record["video_id"] == "v" and record["frame_indices"] == [2, 1, 0]
    assert record["representative"] == image
    with pytest.raises(OutroInputError) as error:
        hex_to_bits("xyz", 256)
    assert error.value.code == "bad_hash"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lab_of_reference_colours_in_either_precision(dtype: type) -> None:
    """Published CIE Lab (D65) values; (5, 5, 5) lies on the linear parts of both curves."""
    colours = [[255, 255, 255], [255, 0, 0], [0, 0, 0], [5, 5, 5]]
    want = [[100, 0, 0], [53.24, 80.09, 67.20], [0, 0, 0], [1.37, 0, 0]]
    lab = rgb_to_lab(np.array(colours, np.float32), dtype)
    assert lab.dtype == dtype
    np.testing.assert_allclose(lab, want, atol=0.05)


def test_float32_lab_of_a_card_is_the_float64_lab_rounded() -> None:
    """A rendered card, blurred as ``verify.patch_of`` blurs it: float32 within 1e-3 of float64
    everywhere (card colour differences are judged against 9 delta E)."""
    from scipy import ndimage

    card = ndimage.gaussian_filter(render_card(Card()).astype(np.float32), (2.5, 2.5, 0))
    np.testing.assert_allclose(
        rgb_to_lab(card, np.float32), rgb_to_lab(card).astype(np.float32), rtol=0, atol=1e-3
    )


def test_lab_conversion_and_signature_basics():
    np.testing.assert_allclose(rgb_to_lab([255, 255, 255]), [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(rgb_to_lab([255, 0, 0]), [53.24, 80.09, 67.20], atol=0.05)
    # a card padded with more background (letterboxing) keeps its content-box signature
    card = render_card(Card())
    padded = np.full((HEIGHT + 80, WIDTH + 40, 3), 255, np.uint8)
    padded[40 : 40 + HEIGHT, 20 : 20 + WIDTH] = card
    a = card_signature(Image.fromarray(card))
    b = card_signature(Image.fromarray(padded))
    assert np.count_nonzero(a.bits != b.bits) <= 32  # same-card limit: 40 bits
    assert b.box[0] > 20 and b.box[2] < WIDTH + 20


def test_config_is_validated():
    with pytest.raises(ValueError):
        FingerprintConfig(min_stable_frames=0)
    assert replace(FingerprintConfig(), hash_size=8).hash_size == 8


# --- real frames ------------------------------------------------------------------------------


def _real(shared_dir: Path, ad: str, black_tail: int = 0) -> pd.DataFrame:
    """Frames table of a real ad (about 1 frame/s): last 4 frames outro, plus black frames."""
    files = sorted((shared_dir / "real_frames" / ad).glob("*.jpg"))
    black = jpeg(np.zeros((640, 640, 3), np.uint8))
    images = [f.read_bytes() for f in files] + [black] * black_tail
    return image_frames(ad, images, n_outro=4 + black_tail)


@pytest.mark.parametrize("black_tail", [0, 2])
def test_real_ads_brand_card_is_the_fingerprint(shared_dir, black_tail):
    ad01 = fingerprint_outro(_real(shared_dir, "ad_01", black_tail))
    ad07 = fingerprint_outro(_real(shared_dir, "ad_07", black_tail))
    assert ad01.fingerprint is not None and ad07.fingerprint is not None
    # ad_01: 011.jpg is the final card; 010.jpg is the same card mid-animation (button still
    # faded, icons not drawn yet): it is left out, the fingerprint is the settled card
    assert ad01.fingerprint.frame_indices == (11,)
    assert (10, "mid_fade") in ad01.skipped_frames
    # ad_07: 025.jpg is the final card; 024.jpg is still typing the URL
    assert ad07.fingerprint.frame_indices == (25,)
    for outcome, n_real in ((ad01, 12), (ad07, 26)):
        assert _luma_p99(outcome.fingerprint.representative) > 200  # white card, never black
        black = {(i, "blank") for i in range(n_real, n_real + black_tail)}
        assert black <= set(outcome.skipped_frames)
    # two different outro templates of the same brand: different cards
    assert fingerprint_distance(ad01.fingerprint, ad07.fingerprint) > 2.0


def test_real_presenter_ad_has_no_card(shared_dir):
    outcome = fingerprint_outro(_real(shared_dir, "ad_00", black_tail=1))
    assert outcome.fingerprint is None
    assert outcome.reason_code == "unstable_outro"
