"""dlib's face descriptor on RGB arrays: 5-point alignment seeded by a box, then the 128-d ResNet.

Imports dlib and numpy only (no torch), so the worker processes of ``faces.descriptor_pool``
start light. ``chips`` gives the aligned 150 x 150 crops dlib's descriptor reads, for the same
network run in PyTorch (``faces.dlib_resnet``). ``faces.embedders.DlibEmbedder`` wraps both
behind the embedder interface.

Each face is described twice, as seen and mirrored left to right, and the two unit vectors are
summed (``mirror_average``): a face turned left then looks like one turned right, so one person
in several photos comes closer. On the photos of ``shared/faces`` (the largest face of each,
``benchmarks/mirrored.py``), same-person pairs within the distance that 0.1 % of different-people
pairs are within: development fold 78.5 % -> 83.4 %, validation fold 87.6 % -> 91.4 %.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import dlib
import numpy as np

from influencer_pipeline.faces.vectors import unit_rows
from influencer_pipeline.faces.weights import EmbedderUnavailable

DLIB_SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
DLIB_FACE_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
DESCRIPTOR_DIM = 128
CHIP_SIZE = 150  # the descriptor's input: aligned chips of 150 x 150 pixels
MIRRORED = "mirrored average"  # named in the embedder version: such vectors never mix with others
Box = tuple[float, float, float, float]


def descriptor_version(mirrored: bool = True) -> str:
    """The ``embedder_version`` of the descriptors made here: dlib, its models, the averaging."""
    version = f"dlib {dlib.__version__}; {DLIB_SHAPE_MODEL}; {DLIB_FACE_MODEL}"
    return f"{version}; {MIRRORED}" if mirrored else version


def mirror_average(raw: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """The sum of the unit vectors of each face's descriptor and of its mirror image's (n x 128;
    not normalised again: the embedder does that)."""
    return unit_rows(raw) + unit_rows(mirrored)


def dlib_models_dir() -> Path:
    """The ``models/`` folder of the installed ``face_recognition_models`` (not imported)."""
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        folder = Path(location) / "models"
        if folder.is_dir():
            return folder
    raise EmbedderUnavailable(
        "dlib_models_missing",
        "the package face_recognition_models is not installed (or has no models/ folder); "
        "install it with `pip install face-recognition-models==0.3.0`",
    )


def dlib_rectangle(box: Box) -> dlib.rectangle:
    """An MTCNN box (x1, y1, x2, y2) as the integer ``dlib.rectangle`` the shape predictor takes."""
    x1, y1, x2, y2 = (round(v) for v in box)
    return dlib.rectangle(int(x1), int(y1), int(max(x2, x1 + 1)), int(max(y2, y1 + 1)))


class DlibDescriptor:
    """dlib's shape predictor (loaded once) and ResNet descriptor (loaded on first use)."""

    def __init__(
        self, models_dir: str | Path | None = None, padding: float = 0.25, mirrored: bool = True
    ) -> None:
        folder = Path(models_dir) if models_dir is not None else dlib_models_dir()
        shape_file, face_file = folder / DLIB_SHAPE_MODEL, folder / DLIB_FACE_MODEL
        for file in (shape_file, face_file):
            if not file.is_file():
                raise EmbedderUnavailable(
                    "dlib_models_missing",
                    f"dlib model file {file} is missing; reinstall face-recognition-models==0.3.0",
                )
        self.models_dir = folder
        self.model_file = face_file
        self.padding = float(padding)
        self.mirrored = bool(mirrored)
        self._shape_predictor = dlib.shape_predictor(str(shape_file))
        self._descriptor: dlib.face_recognition_model_v1 | None = None

    def _shapes(self, rgb: np.ndarray, boxes: Sequence[Box]) -> dlib.full_object_detections:
        shapes = dlib.full_object_detections()
        for box in boxes:
            shapes.append(self._shape_predictor(rgb, dlib_rectangle(box)))
        return shapes

    def describe(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """Descriptors (not normalised) of the faces at ``boxes`` of a contiguous H x W x 3 uint8
        RGB image, mirror-averaged when ``mirrored``: one float64 row of 128 per box."""
        if not boxes:
            return np.zeros((0, DESCRIPTOR_DIM))
        if self._descriptor is None:
            self._descriptor = dlib.face_recognition_model_v1(str(self.model_file))
        if not self.mirrored:
            shapes = self._shapes(rgb, boxes)
            rows = self._descriptor.compute_face_descriptor(rgb, shapes, 0, self.padding)
            return np.array([np.asarray(row) for row in rows])
        chips = self.chips(rgb, boxes)
        both = [np.ascontiguousarray(c) for c in (*chips, *chips[:, :, ::-1])]
        rows = np.array([np.asarray(row) for row in self._descriptor.compute_face_descriptor(both)])
        return mirror_average(rows[: len(chips)], rows[len(chips) :])

    def chips(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """The aligned chips ``describe`` embeds (dlib's 5-point alignment with this padding):
        len(boxes) x 150 x 150 x 3 uint8."""
        if not boxes:
            return np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
        chips = dlib.get_face_chips(rgb, self._shapes(rgb, boxes), CHIP_SIZE, self.padding)
        return np.stack([np.asarray(chip, dtype=np.uint8) for chip in chips])
