"""Face detection with facenet-pytorch's MTCNN (weights ship inside the package; CPU or GPU).

``FaceDetector`` loads the three MTCNN networks once and detects faces in batches: images of equal
size are stacked into one tensor (MTCNN's batch mode needs equal sizes), in chunks of
``batch_size`` to bound memory. On the CPU the cascade is ``faces.mtcnn_cascade``:
facenet-pytorch's steps with its area resampling cut from integral images and its networks
channels-last, the same detections to float rounding at about half the cost. Each
face is a ``Detection``: a box clipped to the image, the O-net score and five landmarks (left
eye, right eye, nose, left and right mouth corner, as seen in the image) in image pixels.

Inputs are H x W x 3 uint8 RGB arrays; grayscale (H x W or H x W x 1) and RGBA (alpha dropped)
arrays and PIL images are converted. Anything else raises ``DetectionInputError``.
Frames should be downscaled first (long side <= 640 px): MTCNN costs ~2 s per 1080p frame here.

The smallest face looked for: ``min_face_size`` px, and in frames where ``min_rel_height`` of the
height is larger, the pyramid level nearest that share. Faces under 4 % of the height can never
matter to a video's decision (the smallest presenter is 7 %, a row of photos counts faces within
1.6x of its size, nothing under 4.2 % is embedded: ``faces.embed_plan``), and MTCNN's cost is
mostly its finest pyramid levels. Whole levels are dropped from the same pyramid (20 px / 0.709^k),
so the faces it still looks for are found as before: on the 707 frames of ``shared/real_ads``
(360-640 px high), 47 -> 29 ms per frame, faces of >= 7 % of the height 187 -> 188, >= 5 % 269 ->
269 (a floor of exactly 4 %, 25.6 px, a new pyramid, lost 10 of the 187).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import torch
from facenet_pytorch import MTCNN
from PIL import Image

from influencer_pipeline.errors import InputError
from influencer_pipeline.faces.devices import AUTO, resolve_device
from influencer_pipeline.faces.mtcnn_cascade import detect_batch, use_channels_last

DEFAULT_THRESHOLDS: tuple[float, float, float] = (0.6, 0.7, 0.7)
DEFAULT_MIN_FACE_SIZE = 20
DEFAULT_MIN_REL_HEIGHT = 0.04  # of the frame height (see the module doc)
DEFAULT_BATCH_SIZE = 8


class DetectionInputError(InputError):
    """An image that cannot be given to the detector; ``code`` is machine-readable."""


@dataclass(frozen=True)
class Detection:
    """One detected face: box (x1, y1, x2, y2) in image pixels, MTCNN score, 5x2 landmarks."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray  # (5, 2) float32: left eye, right eye, nose, mouth left, mouth right;
    # in image pixels, not clipped (MTCNN may place a point of a face cut by the edge outside)

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.box[3] - self.box[1]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Detection):
            return NotImplemented
        return (
            self.box == other.box
            and self.score == other.score
            and np.array_equal(self.landmarks, other.landmarks)
        )

    def __hash__(self) -> int:
        return hash((self.box, self.score, np.asarray(self.landmarks).tobytes()))


def to_rgb(image: np.ndarray | Image.Image) -> np.ndarray:
    """Return ``image`` as a contiguous H x W x 3 uint8 RGB array (grayscale/RGBA converted)."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if not isinstance(image, np.ndarray):
        raise DetectionInputError(
            "not_an_array", f"expected a numpy array or PIL image, got {type(image).__name__}"
        )
    if image.dtype != np.uint8:
        raise DetectionInputError(
            "bad_dtype", f"expected a uint8 image (0..255), got dtype {image.dtype}"
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim != 3 or image.shape[2] != 3:
        raise DetectionInputError(
            "bad_shape", f"expected H x W, H x W x 1, x 3 or x 4 pixels, got shape {image.shape}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise DetectionInputError("empty_image", f"image has no pixels (shape {image.shape})")
    return np.ascontiguousarray(image)


def detections_in_image(
    boxes: np.ndarray, scores: np.ndarray, landmarks: np.ndarray, width: int, height: int
) -> list[Detection]:
    """MTCNN's boxes (x1, y1, x2, y2), scores and 5 x 2 landmarks of one image as ``Detection``s:
    boxes clipped to the image, those wholly outside it dropped, best score first."""
    found = []
    for box, score, marks in zip(boxes, scores, landmarks, strict=True):
        x1, x2 = np.clip([box[0], box[2]], 0.0, width)
        y1, y2 = np.clip([box[1], box[3]], 0.0, height)
        if x2 <= x1 or y2 <= y1:  # entirely outside the image: not a face in it
            continue
        clipped = (float(x1), float(y1), float(x2), float(y2))
        found.append(Detection(box=clipped, score=float(score), landmarks=marks.copy()))
    found.sort(key=lambda d: d.score, reverse=True)
    return found


class FaceDetector:
    """MTCNN face detector, loaded once (on ``device``: ``faces.devices``) and reused for every
    batch of frames."""

    def __init__(
        self,
        *,
        min_face_size: int = DEFAULT_MIN_FACE_SIZE,
        min_rel_height: float = DEFAULT_MIN_REL_HEIGHT,
        thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
        factor: float = 0.709,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str = AUTO,
    ) -> None:
        if min_face_size < 12:
            raise ValueError(f"min_face_size must be >= 12 px (MTCNN's cell), got {min_face_size}")
        if not 0.0 <= min_rel_height < 0.5:
            raise ValueError(f"min_rel_height must be in [0, 0.5), got {min_rel_height}")
        if len(thresholds) != 3 or not all(0.0 <= t <= 1.0 for t in thresholds):
            raise ValueError(f"thresholds must be three values in [0, 1], got {list(thresholds)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.min_face_size = int(min_face_size)
        self.min_rel_height = float(min_rel_height)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = float(factor)
        self.batch_size = int(batch_size)
        self.device = resolve_device(device)
        self._mtcnn = MTCNN(
            keep_all=True,
            min_face_size=self.min_face_size,
            thresholds=list(self.thresholds),
            factor=self.factor,
            post_process=False,
            device=self.device,
        ).eval()
        if self.device.type == "cpu":  # the layout of the cascade's inputs (mtcnn_cascade)
            use_channels_last(self._mtcnn.pnet, self._mtcnn.rnet, self._mtcnn.onet)

    @property
    def version(self) -> str:
        """A string identifying the detector and its settings (for lineage metadata)."""
        return (
            f"mtcnn facenet-pytorch {metadata.version('facenet-pytorch')} "
            f"min_face_size={self.min_face_size} min_rel_height={self.min_rel_height} "
            f"thresholds={list(self.thresholds)} "
            f"factor={self.factor}"
        )

    def smallest_face(self, height: int) -> float:
        """The smallest face (px) looked for in frames ``height`` px high (see the module doc)."""
        floor = self.min_rel_height * height
        if floor <= self.min_face_size:
            return float(self.min_face_size)
        levels = round(math.log(floor / self.min_face_size) / math.log(1.0 / self.factor))
        return self.min_face_size / self.factor**levels

    def detect(
        self, images: Sequence[np.ndarray | Image.Image], batch_size: int | None = None
    ) -> list[list[Detection]]:
        """Detect faces in every image; one list of detections (best score first) per image."""
        size = self.batch_size if batch_size is None else int(batch_size)
        if size < 1:
            raise ValueError(f"batch_size must be >= 1, got {size}")
        rgb = [to_rgb(image) for image in images]
        results: list[list[Detection]] = [[] for _ in rgb]
        by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
        for index, image in enumerate(rgb):
            if min(image.shape[:2]) >= self.smallest_face(image.shape[0]):  # else MTCNN fails
                by_size[image.shape[:2]].append(index)
        for (height, width), indices in by_size.items():
            smallest = self.smallest_face(height)
            for start in range(0, len(indices), size):
                chunk = indices[start : start + size]
                batch = np.stack([rgb[i] for i in chunk])
                found = self._detect_batch(batch, width, height, smallest)
                for i, faces in zip(chunk, found, strict=True):
                    results[i] = faces
        return results

    def _detect_batch(
        self, batch: np.ndarray, width: int, height: int, smallest: float
    ) -> list[list[Detection]]:
        # facenet-pytorch's detect_face (what MTCNN.detect calls) with its crops cut at once
        # (faces.mtcnn_cascade) and this frame size's smallest face passed in, not set on the
        # shared model: threads may detect at the same time
        mtcnn = self._mtcnn
        nets = (mtcnn.pnet, mtcnn.rnet, mtcnn.onet)
        with torch.inference_mode():
            boxes, points = detect_batch(
                batch, smallest, nets, thresholds=self.thresholds, factor=self.factor,
                device=mtcnn.device,
            )  # fmt: skip
        out: list[list[Detection]] = []
        for image_boxes, image_points in zip(boxes, points, strict=True):
            found = np.asarray(image_boxes, dtype=np.float64).reshape(-1, 5)
            marks = np.asarray(image_points, dtype=np.float32).reshape(-1, 5, 2)
            out.append(detections_in_image(found[:, :4], found[:, 4], marks, width, height))
        return out
