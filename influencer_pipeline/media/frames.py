"""Sample a video's frames by seeking, and turn them into ``video_frames`` rows.

Sampling (``sample_frames``)
- A keyframe index is built by demuxing the video stream's packets without decoding them
  (``packet.is_keyframe`` / ``packet.pts``); it also gives the first and last presentation time.
- Targets: *body* every ``1 / body_fps`` s over ``[0, outro_start)``, spread evenly over that span
  instead when that would give more than ``max_body_frames`` or fewer than ``min_body_frames``
  (a 6 s clip at 1 fps has only 3 body frames: too few to tell a presenter from a side
  character, so short clips are sampled more densely); *outro* every ``1 / outro_fps`` s counted
  back from the last frame down to ``outro_start``, so the last outro frame is the last decodable
  frame.
  ``outro_start = max(duration - outro_seconds, duration / 2)``: the outro is the last
  ``outro_seconds`` but never more than the second half, so a clip shorter than two outro lengths
  still has body frames (a 4 s clip: body [0, 2), outro [2, 4]).
- For each target the decoder seeks to the keyframe at or before it and decodes forward to the first
  frame whose pts >= target (the last decodable frame when the target is past the end). When the
  next target's keyframe is not after the last decoded frame, decoding simply continues: no re-seek
  inside a GOP. Pictures shown before the target that no other picture refers to (most
  B-frames) are not decoded at all (``skip_frame = NONREF``): the same frames reach the targets
  (59 videos of the speed set, ``shared/videos`` and real ads: 9,206 -> 5,705 pictures decoded,
  the same pixels; ``test_frames.py``).
- A frame is kept once even if two targets land on it, and its role follows its own timestamp
  (``outro`` when ``timestamp_s >= outro_start``), so no timestamp ever appears with two roles.
- Timestamps are seconds from the first frame (the stream's first pts is 0 s), even when the
  stream starts later than the container (edit lists, audio priming).
- Images are converted to RGB and downscaled in swscale (area filter) so the longest side is at
  most ``max_side`` (never upscaled; non-square pixels are corrected), then turned upright with the
  display matrix (the turn ffmpeg's autorotate makes; odd angles snap to quarter turns).
- Packets the decoder rejects are skipped and counted (``corrupt_packets``); when not a single
  frame decodes, ``MediaError("corrupt")`` is raised.
- The decoder refuses pictures larger than ``max_pixels`` before allocating them (the probe's
  rule: twice its 4096 x 4096 limit), so a frame that grows mid-stream - e.g. one 8000 x 8000
  16-bit PNG frame in a 64 x 64 stream, 0.5 MB on disk, 0.5 GB decoded - is skipped as a corrupt
  packet instead of being decoded.
- Streams whose packets carry no timestamps (raw H.264/HEVC elementary streams, which the probe
  accepts) cannot seek: they are decoded in order, frame ``i`` at ``i / frame rate``.

Blank frames are judged by ``media.blank_frames``.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd

from influencer_pipeline.errors import InputError
from influencer_pipeline.lake_schema import VIDEO_FRAMES
from influencer_pipeline.media.blank_frames import classify_blank, luma
from influencer_pipeline.media.errors import MediaError
from influencer_pipeline.media.frame_images import encode_jpeg, rotation_degrees, upright_rgb
from influencer_pipeline.media.phash import hash_image
from influencer_pipeline.media.placement import placement_columns
from influencer_pipeline.media.probe import DEFAULT_MAX_PIXELS

ROLE_BODY = "body"
ROLE_OUTRO = "outro"


class SamplingConfigError(InputError):
    """A SamplingConfig field out of range (``code`` = "bad_sampling_config")."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_sampling_config", message)


@dataclass(frozen=True)
class SamplingConfig:
    """Which frames to take and how to store them."""

    body_fps: float = 1.0
    min_body_frames: int = 12
    max_body_frames: int = 48
    outro_seconds: float = 3.0
    outro_fps: float = 2.0
    max_side: int = 640
    jpeg_quality: int = 85
    max_pixels: int = 2 * DEFAULT_MAX_PIXELS  # decoder limit (coded size), as in the probe

    def __post_init__(self) -> None:
        if not (self.body_fps > 0 and self.outro_fps > 0):
            raise SamplingConfigError(
                f"body_fps and outro_fps must be positive, got {self.body_fps}, {self.outro_fps}"
            )
        if not 1 <= self.min_body_frames <= self.max_body_frames or self.max_side < 16:
            raise SamplingConfigError(
                f"need 1 <= min_body_frames <= max_body_frames and max_side >= 16, got "
                f"{self.min_body_frames}, {self.max_body_frames}, {self.max_side}"
            )
        if not self.outro_seconds >= 0:
            raise SamplingConfigError(f"outro_seconds must be >= 0, got {self.outro_seconds}")
        if not 1 <= self.jpeg_quality <= 100:
            raise SamplingConfigError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")
        if self.max_pixels < 1:
            raise SamplingConfigError(f"max_pixels must be positive, got {self.max_pixels}")


@dataclass(frozen=True)
class SampledFrame:
    """One sampled frame: its role, presentation time and upright, downscaled RGB pixels."""

    role: str
    timestamp_s: float
    rgb: np.ndarray = field(repr=False)


@dataclass
class SampleResult:
    """The sampled frames in time order plus what it cost to get them."""

    frames: list[SampledFrame]
    frames_decoded: int
    seeks: int
    duration_s: float
    decode_seconds: float
    outro_start_s: float
    packets: int = 0
    keyframes: int = 0
    corrupt_packets: int = 0
    rotation: int = 0


@dataclass
class _StreamIndex:
    keyframes: list[int]  # sorted pts of keyframe packets
    seek_to: list[int]  # per keyframe: the timestamp to seek to (its dts when known, else pts)
    first_pts: int
    last_pts: int
    end_pts: int  # last pts + its duration
    packets: int
    corrupt: int


@dataclass
class _Counters:
    decoded: int = 0
    seeks: int = 0
    corrupt: int = 0
    target: int | None = None  # the pts being decoded towards (None: decode every picture)


class _NoTimestamps(Exception):  # noqa: N818  (a signal, not an error)
    """The stream's packets carry no timestamps (a raw elementary stream): it cannot seek."""

    def __init__(self, packets: int) -> None:
        super().__init__(f"{packets} packets without timestamps")
        self.packets = packets


def _index_stream(
    container: av.container.InputContainer, stream: av.video.VideoStream
) -> _StreamIndex:
    """Demux (no decoding) the video stream once to find keyframes and the time span."""
    keys: list[tuple[int, int]] = []  # (pts, dts) of keyframe packets
    pts_min: int | None = None
    last_pts: int | None = None
    end_pts: int | None = None
    packets = corrupt = untimed = 0
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    default_duration = max(1, round(1 / (rate * stream.time_base))) if stream.time_base else 1
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.pts is None:
                untimed += 1
                continue
            if packet.is_discard:
                continue
            packets += 1
            if packet.is_corrupt:
                corrupt += 1
            pts = int(packet.pts)
            if packet.is_keyframe:
                keys.append((pts, int(packet.dts) if packet.dts is not None else pts))
            pts_min = pts if pts_min is None else min(pts_min, pts)
            if last_pts is None or pts > last_pts:
                last_pts = pts
                end_pts = pts + (int(packet.duration) if packet.duration else default_duration)
    except av.FFmpegError:
        corrupt += 1  # the rest of the file cannot be demuxed: index what was readable
    if pts_min is None or last_pts is None or end_pts is None:
        if untimed:
            raise _NoTimestamps(untimed)
        raise MediaError("corrupt", "the video stream has no readable packets")
    keys.sort()
    if not keys or keys[0][0] > pts_min:
        # the stream does not start with a keyframe: let the first seek go to the very start
        keys.insert(0, (pts_min, pts_min - (end_pts - pts_min)))
    return _StreamIndex(
        [k[0] for k in keys], [k[1] for k in keys], pts_min, last_pts, end_pts, packets, corrupt
    )


def _targets(duration: float, last_t: float, config: SamplingConfig) -> tuple[float, list[float]]:
    """Target times (seconds from the first frame) and the outro start."""
    outro_start = max(duration - config.outro_seconds, duration / 2.0)
    eps = 1e-9
    n_body = math.ceil(outro_start * config.body_fps - eps) if outro_start > 0 else 0
    n_spread = min(max(n_body, config.min_body_frames), config.max_body_frames)
    if outro_start <= 0:
        body = []
    elif n_spread != n_body:
        step = outro_start / n_spread
        body = [i * step for i in range(n_spread)]
    else:
        body = [i / config.body_fps for i in range(n_body)]
    outro: list[float] = []
    t = last_t
    k = 0
    while t >= outro_start - eps:
        outro.append(t)
        k += 1
        t = last_t - k / config.outro_fps
    return outro_start, sorted(body + outro)


def _decoded_frames(
    container: av.container.InputContainer,
    stream: av.video.VideoStream,
    counters: _Counters,
    timed: bool = True,
) -> Iterator[av.VideoFrame]:
    """Frames decoded from the container's current position, skipping packets that fail.

    A packet shown before ``counters.target`` is decoded only when other pictures refer to it
    (the decoder's ``skip_frame = NONREF``): no sampled frame can be such a picture, so the
    frames that reach a target are the same, for less decoding.
    """
    context = stream.codec_context
    skipping: bool | None = None  # unknown: an earlier generator may have left it on
    for packet in container.demux(stream):
        early = packet.pts is not None and counters.target is not None
        early = early and packet.pts < counters.target
        if early != skipping:
            context.skip_frame = "NONREF" if early else "DEFAULT"
            skipping = early
        try:
            frames = packet.decode()
        except av.FFmpegError:
            counters.corrupt += 1
            continue
        for frame in frames:
            if timed and frame.pts is None:
                continue
            counters.decoded += 1
            yield frame


def _seek(
    container: av.container.InputContainer,
    stream: av.video.VideoStream,
    index: _StreamIndex,
    target: int,
    counters: _Counters,
) -> Iterator[av.VideoFrame]:
    """Seek to the keyframe at or before ``target`` and decode from there.

    Demuxers differ in the timestamp they seek by (MP4 and Matroska: pts, MPEG-TS: dts), so when
    the first frame after seeking to the keyframe's pts lies past the target, the keyframe's dts
    is tried, then earlier keyframes, then the very start.
    """
    pos = max(bisect.bisect_right(index.keyframes, target) - 1, 0)
    attempts = [index.keyframes[pos], index.seek_to[pos]]
    attempts += [index.seek_to[p] for p in range(pos - 1, -1, -1)]
    attempts.append(index.first_pts - (index.end_pts - index.first_pts))
    tried: set[int] = set()
    empty_tries = 0
    for seek_ts in attempts:
        if seek_ts in tried:
            continue
        tried.add(seek_ts)
        container.seek(seek_ts, stream=stream, backward=True, any_frame=False)
        counters.seeks += 1
        frames = _decoded_frames(container, stream, counters)
        first = next(frames, None)
        if first is not None and first.pts <= target:
            return _prepend(first, frames)
        frames.close()
        empty_tries = empty_tries + 1 if first is None else 0
        if empty_tries == 2:
            break  # twice nothing decodes from there to the end: the file is broken past it
    # decode from the very start (the target is past the last decodable frame, or seeking is off)
    container.seek(attempts[-1], stream=stream, backward=True, any_frame=False)
    counters.seeks += 1
    return _decoded_frames(container, stream, counters)


def _prepend(first: av.VideoFrame | None, rest: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    if first is not None:
        yield first
    yield from rest


def _seek_decode(
    container: av.container.InputContainer,
    stream: av.video.VideoStream,
    index: _StreamIndex,
    targets_pts: list[int],
    counters: _Counters,
) -> Iterator[av.VideoFrame]:
    """For each target pts, yield the first decodable frame at or after it (or the last frame).

    A frame that serves several targets is yielded once per target; callers drop repeats."""
    frames: Iterator[av.VideoFrame] | None = None
    last: av.VideoFrame | None = None
    exhausted = False
    for target in targets_pts:
        counters.target = target
        if exhausted or (last is not None and last.pts >= target):
            # past the last decodable frame, or already there: reuse it
            if last is not None:
                yield last
            continue
        pos = bisect.bisect_right(index.keyframes, target) - 1
        key = index.keyframes[max(pos, 0)]
        if frames is None or (last is not None and key > last.pts):
            # a keyframe lies between the decoder's position and the target: jump to it
            if frames is not None:
                frames.close()
            frames = _seek(container, stream, index, target, counters)
        for frame in frames:
            last = frame
            if frame.pts >= target:
                break
        else:
            exhausted = True  # end of stream: this and later targets get the last frame
        if last is not None:
            yield last
    if frames is not None:
        frames.close()


def _sample_in_order(
    path: Path, packets: int, config: SamplingConfig, started: float
) -> SampleResult:
    """Sample a stream without timestamps by decoding it in order (frame ``i`` at ``i / rate``)."""
    counters = _Counters()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"max_pixels": str(config.max_pixels)}
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        duration = packets / rate
        outro_start, targets = _targets(duration, (packets - 1) / rate, config)
        sar = stream.sample_aspect_ratio
        frames: list[SampledFrame] = []
        pending = iter(targets)
        target = next(pending, None)
        last: tuple[float, av.VideoFrame] | None = None
        try:
            for i, frame in enumerate(_decoded_frames(container, stream, counters, timed=False)):
                t = i / rate
                last = (t, frame)
                if target is None or t < target - 1e-9:
                    continue
                role = ROLE_OUTRO if t >= outro_start - 1e-9 else ROLE_BODY
                frames.append(SampledFrame(role, t, upright_rgb(frame, config.max_side, sar)))
                while target is not None and target <= t + 1e-9:
                    target = next(pending, None)
        except av.FFmpegError as exc:
            raise MediaError("corrupt", f"decoding {Path(path).name} failed: {exc}") from None
        if target is not None and last is not None:  # targets past the last decodable frame
            t, frame = last
            if not frames or frames[-1].timestamp_s < t:
                role = ROLE_OUTRO if t >= outro_start - 1e-9 else ROLE_BODY
                frames.append(SampledFrame(role, t, upright_rgb(frame, config.max_side, sar)))
    if not frames:
        raise MediaError("corrupt", f"no frame of {Path(path).name} could be decoded")
    return SampleResult(
        frames=frames,
        frames_decoded=counters.decoded,
        seeks=0,
        duration_s=duration,
        decode_seconds=time.perf_counter() - started,
        outro_start_s=outro_start,
        packets=packets,
        corrupt_packets=counters.corrupt,
        rotation=rotation_degrees(last[1]) if last is not None else 0,
    )


def sample_frames(path: Path, config: SamplingConfig) -> SampleResult:
    """Decode only the frames the sampling plan needs (body + outro) by seeking; see module doc."""
    started = time.perf_counter()
    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise MediaError("file_not_found", f"video file not found: {path}") from None
    except av.FFmpegError as exc:
        raise MediaError("not_video", f"cannot open {Path(path).name} as a video: {exc}") from None
    with container:
        if not container.streams.video:
            raise MediaError("no_video_stream", f"{Path(path).name} has no video stream")
        stream = container.streams.video[0]
        stream.codec_context.options = {"max_pixels": str(config.max_pixels)}
        time_base = stream.time_base or Fraction(1, 90000)
        try:
            index = _index_stream(container, stream)
        except _NoTimestamps as untimed:
            return _sample_in_order(path, untimed.packets, config, started)
        duration = float((index.end_pts - index.first_pts) * time_base)
        last_t = float((index.last_pts - index.first_pts) * time_base)
        outro_start, targets = _targets(duration, last_t, config)
        targets_pts = [index.first_pts + math.floor(t / time_base + 1e-6) for t in targets]
        counters = _Counters(corrupt=index.corrupt)
        sar = stream.sample_aspect_ratio
        frames: list[SampledFrame] = []
        seen: set[int] = set()
        rotation = 0
        try:
            # convert each chosen frame at once: only small RGB copies are kept, never the
            # decoder's full-size frames
            for frame in _seek_decode(container, stream, index, targets_pts, counters):
                if frame.pts in seen:
                    continue
                seen.add(frame.pts)
                t = float((frame.pts - index.first_pts) * time_base)
                role = ROLE_OUTRO if t >= outro_start - 1e-9 else ROLE_BODY
                rotation = rotation_degrees(frame)
                frames.append(SampledFrame(role, t, upright_rgb(frame, config.max_side, sar)))
        except av.FFmpegError as exc:
            raise MediaError("corrupt", f"decoding {Path(path).name} failed: {exc}") from None
        if not frames:
            raise MediaError(
                "corrupt", f"no frame of {Path(path).name} could be decoded (all packets rejected)"
            )
    frames.sort(key=lambda f: f.timestamp_s)
    return SampleResult(
        frames=frames,
        frames_decoded=counters.decoded,
        seeks=counters.seeks,
        duration_s=duration,
        decode_seconds=time.perf_counter() - started,
        outro_start_s=outro_start,
        packets=index.packets,
        keyframes=len(index.keyframes),
        corrupt_packets=counters.corrupt,
        rotation=rotation,
    )


def frames_table(video_id: str, result: SampleResult, config: SamplingConfig) -> pd.DataFrame:
    """The ``video_frames`` rows of one video (exactly VIDEO_FRAMES' columns, time order)."""
    rows = []
    ordered = sorted(result.frames, key=lambda f: f.timestamp_s)
    box, centres = placement_columns(
        [f.rgb for f in ordered], [f.role == ROLE_BODY for f in ordered]
    )
    for i, frame in enumerate(ordered):
        y = luma(frame.rgb)
        phash, dhash = hash_image(frame.rgb)
        reason = classify_blank(frame.rgb)
        rows.append(
            {
                "video_id": video_id,
                "frame_index": i,
                "role": frame.role,
                "timestamp_s": float(frame.timestamp_s),
                "width": int(frame.rgb.shape[1]),
                "height": int(frame.rgb.shape[0]),
                "image": encode_jpeg(frame.rgb, config.jpeg_quality),
                "phash": phash,
                "dhash": dhash,
                "mean_luma": float(y.mean()),
                "std_luma": float(y.std()),
                "is_blank": reason is not None,
                "blank_reason": reason,
                "centre_hashes": centres[i],
                "content_box": list(box),
            }
        )
    table = pd.DataFrame(rows, columns=VIDEO_FRAMES.names)
    return table.astype(
        {
            "frame_index": "int32",
            "timestamp_s": "float64",
            "width": "int32",
            "height": "int32",
            "mean_luma": "float32",
            "std_luma": "float32",
            "is_blank": "bool",
        }
    )
