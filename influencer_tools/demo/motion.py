"""Live people move: head turns, nods, tilts and a talking mouth, drawn on a still photo.

A photo pasted on a canvas stays rigid as the camera moves, exactly like a printed photo or a
screenshot: to the pipeline it is a picture (``faces.liveness``). A live presenter changes pose
and expression from one sampled frame to the next, so the demo animates its live people
(influencers and side characters): ``warp_head`` bends the person layer with a mesh warp that
models the head as an ellipsoid with a protruding nose, turned by a yaw and a pitch angle, rolled
in the image plane, with the jaw pulled down for an open mouth. The nose then moves against the
eyes and mouth corners, as in a real head turn; pictures (photo frames, film strips,
screenshots) are never animated.

Calibrated so the pipeline sees demo people as it sees real presenters (``faces.liveness``: the
labelled presenters of ``shared/real_ads`` have 0.00-0.20 of their frame pairs rigid, median pair
landmark change 0.11-0.20) while MTCNN keeps finding them. Measured with
``benchmarks/demo_liveness.py`` (development people, 18 s at 1 fps): the mouth had been drawn
below the mouth (its corners, where MTCNN puts them, lie 0.34-0.43 of the head's half height below
its centre, not 0.55), so talking hardly changed the landmarks; with the mouth in place, a wider
smile that lifts the corners (lips purse half as far), fewer still key poses and eyes closed in a
tenth of the key poses rather than four in ten (people blink briefly), the share of rigid pairs
went from median 0.25 (max 0.42; 2 of 15 people judged pictures) to 0.18 (max 0.31; none), with
1.1 % of frames below MTCNN's quality gate (0.4 % before).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

GRID = 24  # mesh cells across the head region (fine enough for the mouth and the eyes)
YAW_DEG = (25.0, 38.0)  # amplitude of the head turn
PITCH_DEG = (6.0, 12.0)
ROLL_DEG = (3.0, 9.0)
SMILE = (0.6, 1.0)  # how far the mouth corners move apart and back (a smile, a word)
KEY_S = 0.35  # a new random key pose every this many seconds
N_KEYS = 64  # key poses per motion (repeating after N_KEYS * KEY_S seconds)
POSE_STEP_S = 1 / 6  # the pose is updated six times a second
SMILE_WIDTH = 0.8  # how much wider (or narrower) the mouth gets at full smile
SMILE_LIFT = 1.0  # how far a full smile lifts the mouth corners (share of the head's half height)
BLINK_FROM = 0.9  # key value above which the eyes close (keys lie in +-[0.45, 1])
PURSE = 0.5  # how far pursed lips narrow the mouth, as a share of a smile's widening
MOUTH_V = 0.40  # height of the mouth corners in the head ellipse (0 = centre, 1 = chin)
JAW_V = 0.47  # height of the jaw's pull (the lower lip)
JAW_DROP = 0.22  # how far a fully open mouth pulls the lower lip down (share of the half height)
FACING_SHARE = 0.1  # key poses that face the camera (head turned less than a tenth of the range)
NOSE = 0.4  # how far the nose stands out of the head (share of its half width)
SWAY = 0.12  # the head moves against what is behind it (share of the head's half width)
RELIGHT = 0.5  # largest change of brightness across the face (gain 1 -/+ RELIGHT)


@dataclass(frozen=True)
class HeadMotion:
    """A smooth random pose trajectory: new random key poses every ``KEY_S`` seconds, eased.

    Amplitudes in degrees (yaw, pitch, roll), mouth opening 0..1 and smile -1..1; ``seed`` draws
    the key poses, so the same motion always gives the same frames.
    """

    seed: int
    yaw: float
    pitch: float
    roll: float
    mouth: float
    smile: float

    def _key(self, k: int) -> np.ndarray:
        return _keys(self.seed)[k % N_KEYS]

    def _eased(self, t: float) -> np.ndarray:
        k = math.floor(t / KEY_S)
        f = t / KEY_S - k
        f = f * f * (3 - 2 * f)
        return self._key(k) * (1 - f) + self._key(k + 1) * f

    def pose(self, t: float) -> tuple[float, float, float, float, float, float]:
        """(yaw, pitch, roll in degrees, mouth 0..1, smile -1..1, blink 0..1) at ``t`` seconds."""
        value = self._eased(t)
        scale = np.array([self.yaw, self.pitch, self.roll, self.mouth, self.smile])
        yaw, pitch, roll, mouth, smile = (float(v) for v in value[:5] * scale)
        closing = (float(value[7]) - BLINK_FROM) / (1.0 - BLINK_FROM)
        blink = min(1.0, max(0.0, closing))  # eyes closed now and then
        return yaw, pitch, roll, min(1.0, max(0.0, mouth)), smile, blink

    def light(self, t: float) -> tuple[float, float]:
        """Shading gradient across (x) and down (y) the face at ``t``: the person moves in the
        room's light."""
        gx, gy = self._eased(t)[5:7]
        return RELIGHT * float(gx), 0.5 * RELIGHT * float(gy)


@lru_cache(maxsize=256)
def _keys(seed: int) -> np.ndarray:
    """The key poses of a motion: one stream per seed (signs and sizes drawn independently)."""
    rng = np.random.default_rng(seed)
    keys = rng.choice([-1.0, 1.0], size=(N_KEYS, 8)) * rng.uniform(0.45, 1.0, size=(N_KEYS, 8))
    # now and then a key pose faces the camera; the others turn the head a little or a lot
    facing = rng.random(N_KEYS) < FACING_SHARE
    keys[facing, :2] *= 0.1
    return keys


def random_motion(rng: np.random.Generator) -> HeadMotion:
    """A head motion with amplitudes drawn from the ranges above (a talker)."""
    return HeadMotion(
        seed=int(rng.integers(2**31)),
        yaw=round(float(rng.uniform(*YAW_DEG)), 3),
        pitch=round(float(rng.uniform(*PITCH_DEG)), 3),
        roll=round(float(rng.uniform(*ROLL_DEG)), 3),
        mouth=round(float(rng.uniform(0.6, 1.0)), 3),
        smile=round(float(rng.uniform(*SMILE)), 3),
    )


def _source(
    x: float,
    y: float,
    box: tuple[float, float, float, float],
    pose: tuple[float, float, float, float, float, float],
) -> tuple[float, float]:
    """Where the output pixel (x, y) of the warped layer takes its colour from."""
    yaw, pitch, roll, mouth, smile, blink = pose
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rx, ry = 0.55 * (box[2] - box[0]), 0.62 * (box[3] - box[1])
    u, v = (x - cx) / rx, (y - cy) / ry
    r = math.hypot(u, v)
    weight = 1.0 if r <= 1.0 else max(0.0, 1.0 - (r - 1.0) / 0.7) ** 2
    if weight == 0.0:
        return x, y
    depth = math.sqrt(max(0.0, 1.0 - min(r * r, 1.0)))
    depth += NOSE * math.exp(-(u * u + (v - 0.13) ** 2) / 0.04)  # the nose stands out
    us = u - math.sin(math.radians(yaw)) * depth * weight
    vs = v - math.sin(math.radians(pitch)) * depth * weight
    jaw = JAW_DROP * mouth * math.exp(-(u * u) / 0.12 - ((v - JAW_V) ** 2) / 0.05)
    vs -= jaw * weight
    eyes = math.exp(-((v + 0.19) ** 2) / 0.008 - (u * u) / 0.5)
    vs += 0.9 * blink * (v + 0.19) * eyes * weight  # eyelids: the eye band squeezed shut
    lips = weight * math.exp(-((v - MOUTH_V) ** 2) / 0.03 - (u * u) / 0.5)
    expression = smile if smile > 0 else PURSE * smile  # lips purse less than they smile
    us *= 1.0 - SMILE_WIDTH * expression * lips
    vs += SMILE_LIFT * expression * u * u * lips  # a smile lifts the mouth corners
    head = 1.0 if r <= 0.9 else max(0.0, 1.0 - (r - 0.9) / 0.5)  # the head sways in its place
    us -= SWAY * math.sin(math.radians(yaw) * 3.0) * head
    vs -= 0.5 * SWAY * math.sin(math.radians(pitch) * 3.0) * head
    angle = -math.radians(roll) * weight
    cos, sin = math.cos(angle), math.sin(angle)
    us, vs = cos * us - sin * vs * ry / rx, sin * us * rx / ry + cos * vs
    return cx + rx * us, cy + ry * vs


def warp_head(
    layer: Image.Image,
    face_box: tuple[float, float, float, float],
    pose: tuple[float, float, float, float, float, float],
    light: tuple[float, float] = (0.0, 0.0),
) -> Image.Image:
    """``layer`` (RGBA) with the head in ``face_box`` turned to ``pose`` (see ``HeadMotion``)."""
    fw, fh = face_box[2] - face_box[0], face_box[3] - face_box[1]
    left, top = max(0, int(face_box[0] - 0.8 * fw)), max(0, int(face_box[1] - 0.8 * fh))
    right = min(layer.width, math.ceil(face_box[2] + 0.8 * fw))
    bottom = min(layer.height, math.ceil(face_box[3] + 0.8 * fh))
    if right - left < 4 or bottom - top < 4:
        return layer
    xs = np.linspace(left, right, GRID + 1)
    ys = np.linspace(top, bottom, GRID + 1)
    corner = [[_source(float(x), float(y), face_box, pose) for x in xs] for y in ys]
    mesh = []
    for j in range(GRID):
        for i in range(GRID):
            bbox = (round(xs[i]), round(ys[j]), round(xs[i + 1]), round(ys[j + 1]))
            quad = (*corner[j][i], *corner[j + 1][i], *corner[j + 1][i + 1], *corner[j][i + 1])
            mesh.append((bbox, quad))
    region = layer.crop((left, top, right, bottom))
    shifted = [
        ((b[0] - left, b[1] - top, b[2] - left, b[3] - top), _offset(q, left, top)) for b, q in mesh
    ]
    warped = region.transform(
        region.size, Image.Transform.MESH, shifted, resample=Image.Resampling.BILINEAR
    )
    out = layer.copy()
    out.paste(_relight(warped, face_box, left, top, light), (left, top))
    return out


def talking_frames(
    layer: Image.Image,
    face_box: tuple[float, float, float, float],
    head: HeadMotion,
    times: np.ndarray,
    margin: int = 20,
) -> list[np.ndarray]:
    """RGB frames of a person ``layer`` moving by ``head`` at ``times`` (seconds), alone on a
    plain background with ``margin`` px around it: what a liveness check of the motion looks at."""
    frames = []
    for t in times:
        posed = warp_head(layer, face_box, head.pose(float(t)), head.light(float(t)))
        size = (layer.width + 2 * margin, layer.height + 2 * margin)
        frame = Image.new("RGB", size, (120, 110, 100))
        frame.paste(posed, (margin, margin), posed)
        frames.append(np.asarray(frame))
    return frames


def _relight(
    region: Image.Image,
    box: tuple[float, float, float, float],
    left: int,
    top: int,
    light: tuple[float, float],
) -> Image.Image:
    """Soft shading across and down the face (light from one side, from above or below)."""
    rgba = np.asarray(region, dtype=np.float32).copy()
    cx, cy = (box[0] + box[2]) / 2 - left, (box[1] + box[3]) / 2 - top
    u = np.clip((np.arange(region.width, dtype=np.float32) - cx) / (box[2] - box[0]), -1, 1)
    v = np.clip((np.arange(region.height, dtype=np.float32) - cy) / (box[3] - box[1]), -1, 1)
    # light from one side: one half of the face lit, the other in shade, the edge at the nose
    gain = 1.0 + light[0] * np.tanh(u / 0.2)[None, :] + light[1] * v[:, None]
    rgba[..., :3] = np.clip(rgba[..., :3] * gain[..., None], 0, 255)
    return Image.fromarray(rgba.astype(np.uint8), "RGBA")


def _offset(quad: tuple[float, ...], left: int, top: int) -> tuple[float, ...]:
    return tuple(v - (left if k % 2 == 0 else top) for k, v in enumerate(quad))
