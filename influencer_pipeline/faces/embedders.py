"""Face embedders behind one interface: dlib's ResNet descriptor (offline) and FaceNet (VGGFace2).

Every embedder turns the detected faces of one RGB image into an ``n x dim`` float32 matrix of
L2-normalised rows, so cosine similarity is a dot product and the Euclidean distance between
two rows is ``sqrt(2 - 2 cos)``.

- ``DlibEmbedder`` (128-d, works offline): dlib's 5-point shape predictor aligns each face, seeded
  with the MTCNN box as a ``dlib.rectangle``; the ResNet descriptor of ``face_recognition_models``
  embeds the aligned chip, by default run in PyTorch from dlib's own weights (``faces.dlib_resnet``:
  the same vectors, ~15 times faster than dlib's BLAS-less wheel). dlib's raw descriptors are not
  unit vectors (norm 1.24-1.61, median 1.43 on the shared photos), so dlib's rule "same person below
  0.6" becomes about 0.42 after normalisation (``DLIB_SAME_PERSON_DISTANCE``). Measured on
  ``shared/faces`` (595 faces, 146 people, 2,279 same-person and 174,436 different-person pairs,
  faces downscaled to <= 640 px): same-person distance median 0.34 (p95 0.47), different-person
  median 0.57 (p1 0.435); below 0.42: 87.5 % of same-person pairs and 0.47 % of different-person
  pairs (raw < 0.6: 88.1 % and 0.45 %); below 0.45: 92.4 % and 2.0 %; ROC AUC 0.984. Seeding the
  shape predictor with the raw MTCNN box beats a tighter, lower "dlib-like" box (AUC 0.938).
  These figures are of descriptors of the faces as seen (``mirrored=False``); by default each
  face is mirror-averaged (``faces.dlib_descriptor``), which brings one person's photos closer.
- ``FacenetEmbedder`` (512-d): facenet-pytorch's ``InceptionResnetV1`` with the VGGFace2 weights
  loaded from a local file; faces are cropped to 160 x 160 with facenet-pytorch's
  ``extract_face`` and ``fixed_image_standardization`` (its standard pipeline). The weights cannot
  be downloaded on machines without internet: a missing file raises ``EmbedderUnavailable``
  saying where to put it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from facenet_pytorch import InceptionResnetV1
from facenet_pytorch.models.mtcnn import fixed_image_standardization
from facenet_pytorch.models.utils.detect_face import extract_face
from facenet_pytorch.models.utils.download import download_url_to_file
from PIL import Image

from influencer_pipeline import lifetime
from influencer_pipeline.faces.descriptor_pool import DescriptorPool
from influencer_pipeline.faces.detection import Detection, to_rgb
from influencer_pipeline.faces.devices import AUTO, resolve_device
from influencer_pipeline.faces.dlib_descriptor import (
    DESCRIPTOR_DIM,
    Box,
    DlibDescriptor,
    descriptor_version,
    mirror_average,
)
from influencer_pipeline.faces.dlib_resnet import DlibResNet
from influencer_pipeline.faces.vectors import unit_rows
from influencer_pipeline.faces.weights import (
    FACENET_WEIGHTS_ENV,
    FACENET_WEIGHTS_URL,
    EmbedderUnavailable,
    facenet_weights_path,
)

# Euclidean distance between L2-normalised dlib descriptors below which two faces are taken as
# the same person: dlib's own 0.6 on raw descriptors (median norm 1.43) - see the module docstring.
DLIB_SAME_PERSON_DISTANCE = 0.42

FACENET_IMAGE_SIZE = 160


@runtime_checkable
class FaceEmbedder(Protocol):
    """Turns the detected faces of one image into L2-normalised float32 rows (n x dim)."""

    name: str
    version: str
    dim: int

    def embed(self, image: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
        """Embed every detection of ``image`` (H x W x 3 RGB uint8); one row per detection."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows of ``vectors`` scaled to unit L2 norm, as float32."""
    return unit_rows(vectors).astype(np.float32)


TORCH_RUNTIME, DLIB_RUNTIME = "torch", "dlib"


class DlibEmbedder:
    """dlib's 128-d ResNet face descriptor, aligned by its 5-point shape predictor.

    ``runtime="torch"`` (default): the network runs in PyTorch (``faces.dlib_resnet``), all faces
    of an ``embed_many`` call in batches, on ``device`` (``faces.devices``: a CUDA GPU when
    there is one). ``runtime="dlib"``: dlib's own descriptor; there
    ``workers`` > 1 spreads the images over that many processes (``faces.descriptor_pool``).
    Either way the vectors are the same (to 1e-6), so the version names the model, not the
    runtime, and a lake may hold both.
    """

    name = "dlib"
    dim = DESCRIPTOR_DIM

    def __init__(
        self,
        *,
        models_dir: str | Path | None = None,
        padding: float = 0.25,
        workers: int = 1,
        runtime: str = TORCH_RUNTIME,
        mirrored: bool = True,
        device: str = AUTO,
    ) -> None:
        if runtime not in (TORCH_RUNTIME, DLIB_RUNTIME):
            raise ValueError(f"runtime must be 'torch' or 'dlib', got {runtime!r}")
        self._descriptor = DlibDescriptor(models_dir, padding, mirrored)
        self.padding = self._descriptor.padding
        self.mirrored = self._descriptor.mirrored
        self.runtime = runtime
        self._network = (
            DlibResNet.from_file(self._descriptor.model_file, device)
            if runtime == TORCH_RUNTIME
            else None
        )
        self.device = self._network.means.device if self._network else torch.device("cpu")
        self.workers = max(1, int(workers))
        self._pool: DescriptorPool | None = None
        self._pool_lock = threading.Lock()  # the threads of a step share one pool
        self.version = descriptor_version(self.mirrored)

    def embed(self, image: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
        """Embed every detection of ``image``; one L2-normalised 128-d float32 row each."""
        if not detections:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._network is not None:
            return self.embed_many([(image, detections)])[0]
        return l2_normalize(self._descriptor.describe(*_descriptor_job(image, detections)))

    def embed_many(
        self, items: Sequence[tuple[np.ndarray, Sequence[Detection]]]
    ) -> list[np.ndarray]:
        """``embed`` of every (image, detections) item: in batches (torch runtime), or in worker
        processes when there are some (dlib runtime)."""
        if self._network is not None:
            if not items:
                return []
            chips = [self._descriptor.chips(*_descriptor_job(i, d)) for i, d in items]
            every = np.concatenate(chips)
            raw = self._network.describe(every)
            if self.mirrored:
                raw = mirror_average(raw, self._network.describe(every[:, :, ::-1]))
            ends = np.cumsum([len(c) for c in chips])
            return [
                l2_normalize(part) if len(part) else np.zeros((0, self.dim), np.float32)
                for part in np.split(raw, ends[:-1])
            ]
        if self.workers < 2 or len(items) < 2 or not lifetime.can_start_processes():
            return [self.embed(image, detections) for image, detections in items]
        with self._pool_lock:
            if self._pool is None:  # started on first use, kept for the life of the embedder
                self._pool = DescriptorPool(
                    self.workers, str(self._descriptor.models_dir), self.padding, self.mirrored
                )
            pool = self._pool
        jobs = [_descriptor_job(image, detections) for image, detections in items]
        try:
            raws = pool.describe_many(jobs)
        except BrokenProcessPool:  # a worker was killed (out of memory?): this call in process
            with self._pool_lock:
                if self._pool is pool:
                    pool.close()
                    self._pool = None
            return [self.embed(image, detections) for image, detections in items]
        return [l2_normalize(raw) for raw in raws]  # (0 x 128 for an image without faces)


def _descriptor_job(
    image: np.ndarray, detections: Sequence[Detection]
) -> tuple[np.ndarray, list[Box]]:
    """What ``DlibDescriptor.describe`` takes for ``detections`` of ``image``: RGB and boxes."""
    return to_rgb(image), [d.box for d in detections]


def embed_images(
    embedder: FaceEmbedder, items: Sequence[tuple[np.ndarray, Sequence[Detection]]]
) -> list[np.ndarray]:
    """``embedder.embed`` of every (image, detections) item: through its ``embed_many`` (several
    processes) when it has one, else one image at a time."""
    many = getattr(embedder, "embed_many", None)
    return many(items) if many is not None else [embedder.embed(i, d) for i, d in items]


def _missing_weights_message(path: Path, detail: str = "") -> str:
    return (
        f"FaceNet weights file {path.name} is missing: expected at {path}. "
        f"Put the file there, or set the environment variable {FACENET_WEIGHTS_ENV} to its path. "
        f"It is published by facenet-pytorch at {FACENET_WEIGHTS_URL}. "
        "The dlib embedder works offline: run with `--embedder dlib`."
        + (f" (download attempt failed: {detail})" if detail else "")
    )


class FacenetEmbedder:
    """facenet-pytorch InceptionResnetV1 (VGGFace2 weights from a local file), 512-d."""

    name = "facenet"
    dim = 512

    def __init__(
        self,
        *,
        weights_path: str | Path | None = None,
        allow_download: bool = False,
        margin: int = 0,
        batch_size: int = 32,
        device: str = AUTO,
    ) -> None:
        path = facenet_weights_path(weights_path)
        if not path.is_file():
            if not allow_download:
                raise EmbedderUnavailable("facenet_weights_missing", _missing_weights_message(path))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                download_url_to_file(FACENET_WEIGHTS_URL, str(path), progress=False)
            except Exception as exc:
                raise EmbedderUnavailable(
                    "facenet_weights_missing", _missing_weights_message(path, str(exc))
                ) from exc
            if not path.is_file():
                raise EmbedderUnavailable("facenet_weights_missing", _missing_weights_message(path))
        model = InceptionResnetV1(pretrained=None, classify=False)
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            # The published file also holds the VGGFace2 classifier ("logits.*"): not needed.
            state = {k: v for k, v in state.items() if not k.startswith("logits.")}
            model.load_state_dict(state, strict=True)
        except Exception as exc:
            raise EmbedderUnavailable(
                "facenet_weights_invalid",
                f"FaceNet weights file {path} could not be loaded as an InceptionResnetV1 "
                f"state dict ({exc}); replace it with {FACENET_WEIGHTS_URL} "
                "or run with `--embedder dlib`.",
            ) from exc
        self.weights_path = path
        self.margin = int(margin)
        self.batch_size = int(batch_size)
        self.device = resolve_device(device)
        self._model = model.eval().to(self.device)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        self.version = (
            f"facenet-pytorch {metadata.version('facenet-pytorch')}; InceptionResnetV1; "
            f"{path.name} sha256:{digest}"
        )

    def embed(self, image: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
        """Embed every detection of ``image``; one L2-normalised 512-d float32 row each."""
        if not detections:
            return np.zeros((0, self.dim), dtype=np.float32)
        picture = Image.fromarray(to_rgb(image))
        crops = [
            fixed_image_standardization(
                extract_face(picture, list(d.box), FACENET_IMAGE_SIZE, self.margin)
            )
            for d in detections
        ]
        rows = []
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                batch = torch.stack(crops[start : start + self.batch_size])
                rows.append(self._model(batch.to(self.device)).cpu().numpy())
        return l2_normalize(np.concatenate(rows))


EMBEDDERS: dict[str, type] = {"dlib": DlibEmbedder, "facenet": FacenetEmbedder}


def make_embedder(name: str, **options: Any) -> FaceEmbedder:
    """Build the embedder called ``name`` ("dlib" or "facenet") with its keyword options."""
    key = str(name).strip().lower()
    if key not in EMBEDDERS:
        raise ValueError(f"unknown embedder {name!r}; choose one of: {', '.join(EMBEDDERS)}")
    return EMBEDDERS[key](**options)
