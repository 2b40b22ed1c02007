"""Builders of hostile and odd media files: each writes one file into ``folder`` and returns it.

Broken content (empty, HTML, truncated, corrupt, audio-only, images, playlists, resolution and
decompression bombs, absurd declared durations) and valid-but-odd content (one frame, zero
declared duration, rotated, variable frame rate, raw H.264 without timestamps), plus good face
videos made from the photos that ship with the demo. All are small (< 1 MB) and quick to make.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from influencer_pipeline.media.encode import write_video
from influencer_pipeline_tests.conftest import gradient_frames
from influencer_tools.demo.motion import random_motion, warp_head
from influencer_tools.demo.photos import load_library

DEMO_FACES = Path(__file__).resolve().parents[2] / "influencer_tools" / "demo" / "faces"

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Video removed</title></head>"
    b"<body><h1>This video is no longer available</h1></body></html>\n"
)

# The 4-colour picture of the rotated clip, as it must look once turned upright (H x W = 160 x 96).
QUADRANTS = {"top_left": (255, 0, 0), "top_right": (0, 255, 0), "bottom_left": (0, 0, 255)}
QUADRANTS["bottom_right"] = (255, 255, 255)

VFR_PTS_MS = (0, 40, 80, 120, 400, 440, 1000, 1040, 1080, 2000)
HIDDEN_BOMB_SIDE = 6000  # 6000 x 6000 RGBA (36 Mpx): 144 MB once decoded, 0.14 MB on disk
HIDDEN_BOMB_AT_S = 2  # the bomb frame's timestamp in the 5-frame, 1 fps clip


def _clip(folder: Path, name: str, seconds: float = 2.0, **kwargs: object) -> Path:
    frames = gradient_frames(max(1, round(seconds * 25)), 96, 160)
    return write_video(folder / name, frames, 25, **kwargs)  # type: ignore[arg-type]


# --- broken content ----------------------------------------------------------------------------


def zero_bytes(folder: Path) -> Path:
    """An empty file named like a video."""
    path = folder / "zero.mp4"
    path.write_bytes(b"")
    return path


def html_page(folder: Path) -> Path:
    """A saved "video removed" web page named like a video."""
    path = folder / "page.mp4"
    path.write_bytes(HTML_PAGE)
    return path


def random_bytes(folder: Path) -> Path:
    """100 kB of random bytes named like a video."""
    path = folder / "noise.mp4"
    path.write_bytes(np.random.default_rng(7).bytes(100_000))
    return path


def truncated_mp4(folder: Path) -> Path:
    """The first half of an MP4 whose index (moov) is at the end: the index is lost."""
    data = _clip(folder, "whole_a.mp4").read_bytes()
    path = folder / "cut_index_at_end.mp4"
    path.write_bytes(data[: len(data) // 2])
    (folder / "whole_a.mp4").unlink()
    return path


def truncated_faststart(folder: Path) -> Path:
    """60 % of an MP4 with the index at the front: the index promises samples that are gone."""
    source = folder / "whole_b.mp4"
    frames = gradient_frames(100, 96, 160)
    with av.open(str(source), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 160, "yuv420p"
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    data = source.read_bytes()
    source.unlink()
    path = folder / "cut_faststart.mp4"
    path.write_bytes(data[: int(len(data) * 0.6)])
    return path


def corrupt_mp4(folder: Path) -> Path:
    """A complete MP4 whose coded pictures are overwritten with noise (headers intact)."""
    data = bytearray(_clip(folder, "whole_c.mp4").read_bytes())
    (folder / "whole_c.mp4").unlink()
    start = data.find(b"mdat") + 4
    noise = np.random.default_rng(1).bytes(30_000)
    data[start : start + 30_000] = noise
    path = folder / "corrupt.mp4"
    path.write_bytes(bytes(data))
    return path


def audio_only(folder: Path) -> Path:
    """An AAC-only MP4 (a voice note): a container, but no video stream."""
    path = folder / "voice.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        for i in range(20):
            t = (np.arange(1024) + i * 1024) / 44100
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def jpeg_as_mp4(folder: Path) -> Path:
    """A JPEG photo renamed to .mp4."""
    path = folder / "photo.mp4"
    Image.fromarray(gradient_frames(1)[0]).save(path, format="JPEG")
    return path


def hls_playlist(folder: Path, target: Path) -> Path:
    """An HLS playlist named .mp4 that points at another local file (must not be followed)."""
    path = folder / "playlist.mp4"
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n{target}\n#EXT-X-ENDLIST\n")
    return path


def huge_resolution(folder: Path) -> Path:
    """A real one-frame 4608 x 4096 H.264 video (above the 4096 x 4096 limit)."""
    image = np.zeros((4096, 4608, 3), np.uint8)
    image[::64] = 255
    return write_video(folder / "huge.mp4", [image], 1, preset="ultrafast")


def _png(width: int, height: int, color_type: int = 0, depth: int = 8) -> bytes:
    """A black PNG of any size, deflated row by row (a decompression bomb when large)."""
    channels = {0: 1, 2: 3, 6: 4}[color_type]
    row = b"\x00" + bytes(width * channels * depth // 8)
    deflate = zlib.compressobj(9)
    data = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def png_bomb_file(folder: Path) -> Path:
    """A 9000 x 9000 PNG (81 Mpx) of 80 kB, renamed to .mp4: an image bomb, not a video."""
    path = folder / "bomb_image.mp4"
    path.write_bytes(_png(9000, 9000))
    return path


def _png_stream(path: Path, declared: int, pictures: list[bytes]) -> Path:
    """A MOV whose video stream is PNG pictures, one per second, declaring ``declared`` pixels."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("png", rate=1)
        stream.width = stream.height = declared
        stream.pix_fmt = "gray"
        for i, picture in enumerate(pictures):
            packet = av.Packet(picture)
            packet.stream = stream
            packet.pts = packet.dts = i
            packet.duration = 1
            packet.time_base = Fraction(1, 1)
            packet.is_keyframe = True
            container.mux(packet)
    return path


def declared_bomb(folder: Path) -> Path:
    """A PNG image stream declaring 9000 x 9000 (81 Mpx a frame) in 0.2 MB."""
    bomb = _png(9000, 9000)
    return _png_stream(folder / "bomb_declared.mov", 9000, [bomb] * 3)


def hidden_bomb(folder: Path) -> Path:
    """A 64 x 64 PNG stream (5 frames, 1 fps) whose frame at 2 s is a 6000 x 6000 RGBA picture."""
    small = _png(64, 64)
    bomb = _png(HIDDEN_BOMB_SIDE, HIDDEN_BOMB_SIDE, color_type=6)
    pictures = [bomb if i == HIDDEN_BOMB_AT_S else small for i in range(5)]
    return _png_stream(folder / "bomb_hidden.mov", 64, pictures)


def _patch_full_box(data: bytearray, kind: bytes, offset_v0: int, offset_v1: int, value: int):
    """Set a 32-bit (version 0) or 64-bit (version 1) field of every ``kind`` box."""
    at = data.find(kind)
    while at >= 0:
        version = data[at + 4]
        field = at + 4 + (offset_v0 if version == 0 else offset_v1)
        size = 4 if version == 0 else 8
        data[field : field + size] = value.to_bytes(size, "big")
        at = data.find(kind, at + 1)


def long_declared(folder: Path) -> Path:
    """A 2 s, 50-frame MP4 whose sample table and headers say it lasts 10 hours (limit: 1 h)."""
    data = bytearray(_clip(folder, "whole_d.mp4").read_bytes())
    (folder / "whole_d.mp4").unlink()
    seconds = 10 * 3600
    scales = {}
    for kind in (b"mvhd", b"mdhd"):
        at = data.find(kind)
        field = at + 4 + (20 if data[at + 4] == 1 else 12)  # the timescale
        scales[kind] = struct.unpack(">I", data[field : field + 4])[0]
    stts = data.find(b"stts")
    entries = struct.unpack(">I", data[stts + 8 : stts + 12])[0]
    counts = [
        struct.unpack(">I", data[stts + 12 + 8 * i : stts + 16 + 8 * i])[0] for i in range(entries)
    ]
    delta = seconds * scales[b"mdhd"] // sum(counts)  # every frame lasts 12 minutes
    for i in range(entries):
        data[stts + 16 + 8 * i : stts + 20 + 8 * i] = struct.pack(">I", delta)
    movie = seconds * scales[b"mvhd"]
    _patch_full_box(data, b"mvhd", 16, 24, movie)  # after version/flags, creation, modification,
    _patch_full_box(data, b"mdhd", 16, 24, seconds * scales[b"mdhd"])  # timescale
    _patch_full_box(data, b"tkhd", 20, 28, movie)  # after ..., track id, reserved
    _patch_full_box(data, b"elst", 8, 8, movie)  # the first edit, after version/flags, count
    path = folder / "ten_hours.mp4"
    path.write_bytes(bytes(data))
    return path


# --- valid but odd content ---------------------------------------------------------------------


def one_frame(folder: Path) -> Path:
    """A video of exactly one frame."""
    return write_video(folder / "one_frame.mp4", gradient_frames(1, 96, 160), 25)


def private_clip(folder: Path, name: str) -> Path:
    """A small real video whose bytes differ for every ``name`` (a file that must stay private)."""
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
    return write_video(folder / name, gradient_frames(2, 96, 160, seed=seed), 25)


def zero_duration(folder: Path) -> Path:
    """A one-frame MP4 whose headers declare a duration of 0 (movie, track, media and sample)."""
    path = write_video(folder / "zero_duration.mp4", gradient_frames(1, 96, 160, seed=3), 25)
    data = bytearray(path.read_bytes())
    _patch_full_box(data, b"mvhd", 16, 24, 0)  # after version/flags, creation, modification, scale
    _patch_full_box(data, b"tkhd", 20, 28, 0)  # after version/flags, times, track id, reserved
    _patch_full_box(data, b"mdhd", 16, 24, 0)
    stts = data.find(b"stts")
    assert struct.unpack(">I", data[stts + 8 : stts + 12])[0] == 1  # one (count, delta) entry
    data[stts + 16 : stts + 20] = bytes(4)  # the only sample lasts 0 ticks
    path.write_bytes(bytes(data))
    return path


def quadrant_picture() -> np.ndarray:
    """The upright 160 x 96 picture of the rotated clip: four coloured quadrants."""
    image = np.zeros((160, 96, 3), np.uint8)
    image[:80, :48] = QUADRANTS["top_left"]
    image[:80, 48:] = QUADRANTS["top_right"]
    image[80:, :48] = QUADRANTS["bottom_left"]
    image[80:, 48:] = QUADRANTS["bottom_right"]
    return image


def rotated(folder: Path) -> Path:
    """A phone clip: pixels stored turned a quarter left (96 x 160 -> 160 x 96), display matrix
    saying to turn them a quarter right (clockwise 90) to show them upright."""
    coded = np.ascontiguousarray(np.rot90(quadrant_picture(), k=1))
    path = folder / "rotated.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = coded.shape[1], coded.shape[0], "yuv420p"
        stream.set_display_rotation(-90)
        for _ in range(20):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(coded, format="rgb24")))
        container.mux(stream.encode())
    return path


def variable_frame_rate(folder: Path) -> Path:
    """Ten frames at irregular times (``VFR_PTS_MS``) in a nominally 25 fps stream."""
    path = folder / "vfr.mp4"
    frames = gradient_frames(len(VFR_PTS_MS), 96, 160, seed=5)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 160, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for pts, rgb in zip(VFR_PTS_MS, frames, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def raw_h264(folder: Path) -> Path:
    """A raw H.264 elementary stream (no container, no timestamps), 3 s at 25 fps."""
    frames = gradient_frames(75, 96, 160, seed=9)
    return write_video(folder / "raw.h264", frames, 25, container_format="h264")


# --- good videos -------------------------------------------------------------------------------


def face_video(folder: Path, person: str, seconds: float = 4.0, fps: int = 10) -> Path:
    """A 270 x 480 clip of ``person`` talking: a demo photo whose head turns, nods and speaks
    (the demo's head motion), drifting slowly across a grey background. A photo that only
    drifts is a picture, not a presenter (``faces.liveness``)."""
    library = load_library()
    photo = library.photos[person][0]
    image = Image.open(photo.path).convert("RGBA")
    scale = min(230 / image.width, 300 / image.height)
    layer = image.resize((round(image.width * scale), round(image.height * scale)))
    box = tuple(v * scale for v in photo.face_box)
    motion = random_motion(np.random.default_rng(zlib.crc32(person.encode())))
    frames = []
    for i in range(round(seconds * fps)):
        t = i / fps
        head = warp_head(layer, box, motion.pose(t), motion.light(t))  # type: ignore[arg-type]
        canvas = Image.new("RGB", (270, 480), (90, 90, 90))
        canvas.paste(head, (10 + i % 20, 60 + (i * 2) % 30), head)
        frames.append(np.asarray(canvas))
    return write_video(folder / f"{person}.mp4", frames, fps)
