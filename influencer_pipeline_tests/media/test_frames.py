"""Frame sampling by seeking, downscaling, rotation, blank frames and the video_frames table."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

from influencer_pipeline.lake_schema import VIDEO_FRAMES, to_arrow
from influencer_pipeline.media.blank_frames import blank_stats, classify_blank, luma
from influencer_pipeline.media.encode import write_video
from influencer_pipeline.media.errors import MediaError
from influencer_pipeline.media.frames import (
    SamplingConfig,
    SamplingConfigError,
    frames_table,
    sample_frames,
)
from influencer_pipeline.media.phash import hash_image
from influencer_pipeline_tests.conftest import gradient_frames

B_PICTURE = 3  # FFmpeg's AV_PICTURE_TYPE_B (PyAV gives the number)


def _times(result, role: str) -> list[float]:
    return [f.timestamp_s for f in result.frames if f.role == role]


def test_ten_seconds_at_25fps_gives_seven_body_and_six_outro_frames(make_video) -> None:
    path = make_video("ten.mp4", seconds=10, fps=25)
    result = sample_frames(path, SamplingConfig(min_body_frames=1))
    assert result.duration_s == pytest.approx(10.0, abs=0.05)
    assert result.outro_start_s == pytest.approx(7.0, abs=0.05)
    assert _times(result, "body") == pytest.approx([0, 1, 2, 3, 4, 5, 6], abs=1e-6)
    outro = _times(result, "outro")
    # targets every 0.5 s counted back from the last frame (9.96 s) down to the outro start;
    # each takes the first frame at or after it on the 0.04 s grid (9.46 -> 9.48)
    assert outro == pytest.approx([7.48, 7.96, 8.48, 8.96, 9.48, 9.96], abs=1e-6)
    assert all(7.0 <= t <= 10.0 for t in outro)
    stamps = [f.timestamp_s for f in result.frames]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(f.rgb.shape == (160, 96, 3) and f.rgb.dtype == np.uint8 for f in result.frames)


def test_short_clips_get_at_least_min_body_frames_spread_evenly(make_video) -> None:
    path = make_video("six.mp4", seconds=6, fps=25)
    result = sample_frames(path, SamplingConfig(min_body_frames=8))
    body = _times(result, "body")
    # outro starts at 3 s; 1 fps would give 3 body frames, so 8 are spread over [0, 3)
    assert len(body) == 8
    assert body == pytest.approx([i * 0.375 for i in range(8)], abs=0.04)
    assert all(t < 3.0 for t in body)


def test_sampled_pixels_equal_a_sequential_decode(make_video) -> None:
    path = make_video("pixels.mp4", seconds=6, fps=25)
    result = sample_frames(path, SamplingConfig())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        by_time = {
            round(float(frame.time), 3): frame.to_ndarray(format="rgb24")
            for frame in container.decode(stream)
        }
    for frame in result.frames:
        assert np.array_equal(frame.rgb, by_time[round(frame.timestamp_s, 3)])


def test_one_gop_with_b_frames_skips_unreferenced_pictures_and_keeps_the_pixels(
    tmp_path: Path,
) -> None:
    # one keyframe for 8 s (as the demo's and many uploads' encoders write): every target lies
    # in the same GOP, so only pictures nothing refers to can be left undecoded
    path = write_video(tmp_path / "onegop.mp4", gradient_frames(200, 96, 160), fps=25, gop=200)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
    assert sum(int(f.pict_type) == B_PICTURE for f in decoded) > 50  # the encoder wrote B-frames
    by_time = {round(float(f.time), 3): f.to_ndarray(format="rgb24") for f in decoded}
    result = sample_frames(path, SamplingConfig())
    assert result.keyframes == 1 and result.packets == 200
    for frame in result.frames:
        assert np.array_equal(frame.rgb, by_time[round(frame.timestamp_s, 3)])
    assert result.frames_decoded < 150  # measured: 200 decoded before non-reference skipping


def test_long_videos_spread_body_frames_evenly(tmp_path: Path) -> None:
    path = write_video(tmp_path / "long.mp4", gradient_frames(300, 64, 64), fps=5, gop=10)
    config = SamplingConfig(max_body_frames=48)
    result = sample_frames(path, config)  # 60 s: body [0, 57) would be 57 frames at 1 fps
    body = _times(result, "body")
    assert len(body) == 48
    steps = np.diff(body)
    assert steps.min() >= 1.0 and steps.max() <= 1.4  # 57 / 48 = 1.19 s, on a 0.2 s frame grid
    assert body[-1] < result.outro_start_s


def test_short_clip_keeps_body_frames_and_never_repeats_a_timestamp(make_video) -> None:
    path = make_video("short.mp4", seconds=2, fps=25)
    result = sample_frames(path, SamplingConfig(min_body_frames=8))
    assert result.outro_start_s == pytest.approx(1.0, abs=0.05)  # outro <= the second half
    # 8 body targets spread over [0, 1) s land on the 0.04 s frame grid
    assert _times(result, "body") == pytest.approx([0.0, 0.16, 0.28, 0.40, 0.52, 0.64, 0.76, 0.88])
    assert _times(result, "outro") == pytest.approx([1.48, 1.96], abs=1e-6)
    stamps = [f.timestamp_s for f in result.frames]
    assert len(set(stamps)) == len(stamps)


def test_single_frame_video(tmp_path: Path) -> None:
    path = write_video(tmp_path / "one.mp4", gradient_frames(1), fps=25)
    result = sample_frames(path, SamplingConfig())
    assert [(f.role, f.timestamp_s) for f in result.frames] == [("body", 0.0)]


def test_seeking_decodes_far_fewer_frames_than_the_file_holds(tmp_path: Path) -> None:
    path = write_video(tmp_path / "gop25.mp4", gradient_frames(500, 96, 160), fps=25, gop=25)
    result = sample_frames(path, SamplingConfig())
    assert result.packets == 500
    assert result.keyframes == 20
    assert len(result.frames) == 23  # 17 body + 6 outro
    assert result.seeks >= 10
    assert result.frames_decoded < 250  # measured: 92 of 500


def test_vertical_720x1280_is_downscaled_to_360x640(tmp_path: Path) -> None:
    path = write_video(tmp_path / "vertical.mp4", gradient_frames(10, 720, 1280), fps=10)
    result = sample_frames(path, SamplingConfig(max_side=640))
    assert {f.rgb.shape for f in result.frames} == {(640, 360, 3)}
    table = frames_table("v1", result, SamplingConfig())
    assert set(zip(table["width"], table["height"], strict=True)) == {(360, 640)}


def test_small_videos_are_not_upscaled(make_video) -> None:
    result = sample_frames(make_video("small.mp4", seconds=1), SamplingConfig(max_side=640))
    assert {f.rgb.shape for f in result.frames} == {(160, 96, 3)}


def _write_rotated(path: Path, degrees: int) -> Path:
    """A 128x64 (coded, landscape) clip: top half red, bottom half blue, with a display matrix."""
    image = np.zeros((64, 128, 3), np.uint8)
    image[:32] = (255, 0, 0)
    image[32:] = (0, 0, 255)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
        stream.set_display_rotation(degrees)
        for _ in range(10):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_display_matrix_rotation_is_applied(tmp_path: Path) -> None:
    # A phone's portrait clip: landscape pixels with a -90 degree display matrix (ffmpeg shows it
    # turned 90 degrees clockwise), so the coded top half (red) ends up on the right.
    result = sample_frames(_write_rotated(tmp_path / "rot.mp4", -90), SamplingConfig())
    assert result.rotation == -90
    rgb = result.frames[0].rgb
    assert rgb.shape == (128, 64, 3)
    assert rgb[:, 40:, 0].mean() > 200 and rgb[:, 40:, 2].mean() < 60  # right: red
    assert rgb[:, :24, 2].mean() > 200 and rgb[:, :24, 0].mean() < 60  # left: blue


def test_upside_down_clip_is_turned_upright(tmp_path: Path) -> None:
    result = sample_frames(_write_rotated(tmp_path / "rot180.mp4", 180), SamplingConfig())
    rgb = result.frames[0].rgb
    assert rgb.shape == (64, 128, 3)
    assert rgb[40:, :, 0].mean() > 200  # red moved to the bottom
    assert rgb[:24, :, 2].mean() > 200


def test_corrupt_packets_are_skipped_and_counted(tmp_path: Path) -> None:
    path = write_video(tmp_path / "ok.mp4", gradient_frames(250, 96, 160), fps=25, gop=25)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = np.random.default_rng(0).bytes(3000)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    result = sample_frames(broken, SamplingConfig())
    assert result.corrupt_packets > 0
    assert len(result.frames) >= 10


def test_undecodable_stream_raises_media_error_corrupt(tmp_path: Path) -> None:
    path = write_video(tmp_path / "ok.mp4", gradient_frames(50, 96, 160), fps=25)
    data = bytearray(path.read_bytes())
    start = data.find(b"mdat") + 4
    end = data.find(b"moov") - 4
    assert 0 < start < end
    data[start:end] = bytes(end - start)  # the sample table is intact, every packet is zeros
    broken = tmp_path / "zeros.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(MediaError) as info:
        sample_frames(broken, SamplingConfig())
    assert info.value.code == "corrupt"


def test_not_a_video_and_missing_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(MediaError) as info:
        sample_frames(text, SamplingConfig())
    assert info.value.code == "not_video"
    with pytest.raises(MediaError) as info:
        sample_frames(tmp_path / "absent.mp4", SamplingConfig())
    assert info.value.code == "file_not_found"


def test_bad_sampling_config_is_rejected() -> None:
    with pytest.raises(SamplingConfigError) as info:
        SamplingConfig(body_fps=0)
    assert info.value.code == "bad_sampling_config"
    with pytest.raises(SamplingConfigError):
        SamplingConfig(jpeg_quality=0)


def test_frames_table_matches_the_schema(make_video) -> None:
    path = make_video("table.mp4", seconds=5, fps=25)
    config = SamplingConfig()
    result = sample_frames(path, config)
    table = frames_table("vid1", result, config)
    assert list(table.columns) == VIDEO_FRAMES.names
    to_arrow(table, VIDEO_FRAMES)  # raises on a wrong column or type
    assert table["frame_index"].tolist() == list(range(len(result.frames)))
    assert table["timestamp_s"].is_monotonic_increasing
    roles = table["role"].tolist()
    assert roles == sorted(roles)  # every body frame comes before every outro frame
    for row, frame in zip(table.itertuples(), result.frames, strict=True):
        image = Image.open(io.BytesIO(row.image))
        assert image.format == "JPEG"
        assert image.size == (row.width, row.height)
        assert (row.phash, row.dhash) == hash_image(frame.rgb)
        assert 0 <= row.mean_luma <= 255 and row.std_luma > 0
        assert not row.is_blank and row.blank_reason is None


def test_frames_table_flags_black_frames(tmp_path: Path) -> None:
    frames = gradient_frames(50, 96, 160) + [np.zeros((160, 96, 3), np.uint8)] * 100
    path = write_video(tmp_path / "fade.mp4", frames, fps=25)
    config = SamplingConfig()
    table = frames_table("vid2", sample_frames(path, config), config)
    early = table[table["timestamp_s"] < 2]
    late = table[table["timestamp_s"] >= 2.1]
    assert not early["is_blank"].any()
    assert late["is_blank"].all() and set(late["blank_reason"]) == {"black"}
    assert late["mean_luma"].max() < 5


# --- blank classification --------------------------------------------------------------------


def _logo_card(background: tuple[int, int, int], ink: tuple[int, int, int]) -> np.ndarray:
    """A 360x640 brand card: plain background, a 50 px outlined logo and a line of text."""
    card = Image.new("RGB", (360, 640), background)
    draw = ImageDraw.Draw(card)
    draw.rectangle([155, 220, 205, 270], outline=ink, width=6)
    draw.text((110, 300), "HUSTLEZY SHOP", fill=ink, font_size=26)
    return np.asarray(card)


@pytest.mark.parametrize(
    ("background", "ink"),
    [
        ((255, 255, 255), (235, 125, 45)),
        ((10, 10, 10), (240, 240, 240)),
        ((30, 60, 200), (255,) * 3),
    ],
)
def test_logo_cards_are_not_blank(background, ink) -> None:
    card = _logo_card(background, ink)
    assert classify_blank(card) is None
    assert blank_stats(card)["outlier_share"] > 0.015


def test_black_dark_noise_grey_and_fades_are_blank() -> None:
    rng = np.random.default_rng(0)
    shape = (640, 360, 3)
    assert classify_blank(np.zeros(shape, np.uint8)) == "black"
    dark_noise = np.clip(12 + rng.normal(0, 8, shape), 0, 255).astype(np.uint8)
    assert classify_blank(dark_noise) == "black"
    grey = np.clip(128 + rng.normal(0, 8, shape), 0, 255).astype(np.uint8)
    assert classify_blank(grey) == "uniform"
    assert classify_blank(np.full(shape, (240, 140, 50), np.uint8)) == "uniform"
    content = np.kron(rng.integers(0, 256, (40, 23, 3)), np.ones((16, 16, 1)))[:640, :360]
    assert classify_blank(content.astype(np.uint8)) is None
    for level in (0.15, 0.1, 0.05):
        assert classify_blank((content * level).astype(np.uint8)) == "black"
    assert classify_blank((content * 0.5).astype(np.uint8)) is None


def test_real_white_outro_cards_are_not_blank(shared_dir: Path) -> None:
    for name in ("ad_01/010", "ad_01/011", "ad_07/024", "ad_07/025"):
        rgb = np.asarray(Image.open(shared_dir / "real_frames" / f"{name}.jpg").convert("RGB"))
        assert classify_blank(rgb) is None, name
        assert blank_stats(rgb)["outlier_share"] > 0.04, name  # measured 4.2 % .. 9.0 %
    for path in sorted((shared_dir / "real_frames").glob("*/*.jpg")):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        assert classify_blank(rgb) is None, path.name


def test_luma_is_bt601_in_float32_for_uint8_and_float_frames() -> None:
    rng = np.random.default_rng(21)
    rgb = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    expected = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    got = luma(rgb)
    assert got.dtype == np.float32 and got.shape == (48, 64)
    assert np.abs(got - expected).max() < 1e-4
    assert np.array_equal(luma(rgb.astype(np.float32)), got)  # the blank rule's float cells
    assert luma(np.full((2, 2, 3), 255, np.uint8)).max() == pytest.approx(255.0, abs=1e-4)
