"""Resources: the lake location, the video fetcher's safety settings and the face models."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr
from upath import UPath

from influencer_pipeline.faces.embedder_choice import AUTO, EmbedderChoice, choose_embedder
from influencer_pipeline.faces.face_workers import ModelSpec
from influencer_pipeline.lake import read_parquet
from influencer_pipeline.media.fetch import FetchPolicy
from influencer_pipeline.memory import cap_onednn_primitive_cache
from influencer_pipeline.paths import lake_root

EMBEDDER_ENV = "INFLUENCER_EMBEDDER"
DEVICE_ENV = "INFLUENCER_DEVICE"
# Models are loaded once per process and shared by every run and step in it (the CLI runs many
# runs in one process; a step worker loads them once).
_MODEL_CACHE: dict[tuple[Any, ...], Any] = {}
_MODEL_LOCK = threading.Lock()  # the threads of a step load a model once


def default_embedder() -> str:
    """The embedder a run asks for unless configured: $INFLUENCER_EMBEDDER (read now), else auto."""
    return os.environ.get(EMBEDDER_ENV, "").strip() or AUTO


def lake_embedder(lake_root: str) -> str | None:
    """The embedder the lake's face clusters were built with (None for a lake without faces)."""
    try:
        used = read_parquet(f"{lake_root}/identity_clusters.parquet", ["embedder"])["embedder"]
    except (FileNotFoundError, KeyError):
        return None
    counts = used.dropna().value_counts()
    return str(counts.index[0]) if len(counts) else None


class LakeResource(dg.ConfigurableResource):
    """The lake root (folder or fsspec URL); empty: ``$INFLUENCER_LAKE`` or ``data_lake/``."""

    root: str = Field(default="", description="Lake root; empty: $INFLUENCER_LAKE or data_lake/.")

    def path(self) -> str:
        """The resolved lake root."""
        return self.root or lake_root()

    def local_path(self) -> Path | UPath:
        """The lake root as a path: a local Path, or for an object-store root (``s3://...``) a
        UPath, whose ``/``, ``is_file``, ``is_dir``, ``iterdir`` and ``open`` go through fsspec.
        (Video blobs no longer need a local root: media.blobs stores them on the object store.)"""
        root = self.path()
        if "://" in root and not root.startswith("file://"):
            return UPath(root)
        return Path(root.removeprefix("file://"))

    def previous(self, asset: str, columns: list[str]) -> pd.DataFrame | None:
        """The last materialization of an unpartitioned asset (to keep ids stable), if any."""
        try:
            return read_parquet(f"{self.path()}/{asset}.parquet", columns)
        except FileNotFoundError:
            return None


class VideoFetcher(dg.ConfigurableResource):
    """How videos are fetched: timeouts, retries, size cap, allowed addresses and folders."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    total_timeout_s: float = 300.0
    max_bytes: int = Field(default=2 * 1024**3, description="Refuse videos larger than this.")
    retries: int = Field(
        default=3, description="Retries for temporary failures (5xx, 429, timeouts)."
    )
    backoff_s: float = 1.0
    allow_private_networks: bool = Field(
        default=False,
        description="Allow downloads from loopback, private and link-local addresses (SSRF guard).",
    )
    local_roots: list[str] = Field(
        default_factory=list,
        description="Folders that file:// URLs and local paths may read from; empty: the "
        "folders of "
        "the input sheets.",
    )
    max_workers: int = Field(default=8, description="Concurrent downloads within a run.")

    def policy(self, default_roots: list[Path]) -> FetchPolicy:
        """The fetch policy, with ``default_roots`` allowed when no local roots are configured."""
        roots = [Path(r).expanduser().resolve() for r in self.local_roots] or default_roots
        return FetchPolicy(
            connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s,
            total_timeout_s=self.total_timeout_s,
            max_bytes=self.max_bytes,
            retries=self.retries,
            backoff_s=self.backoff_s,
            allow_private_networks=self.allow_private_networks,
            local_roots=tuple(roots),
        )


class FaceModels(dg.ConfigurableResource):
    """The face detector (MTCNN) and embedder: loaded once per process, and only when needed."""

    embedder: str = Field(
        default="",
        description="'auto' (the lake's embedder; for a new lake facenet where its weights are "
        "present, else dlib), 'facenet' (InceptionResnetV1 vggface2, 512-d; needs its weights "
        "file) or 'dlib' (ResNet descriptor, 128-d, offline). Empty: $INFLUENCER_EMBEDDER, "
        "else auto.",
    )
    facenet_weights: str = Field(
        default="", description="Path of the vggface2 state dict; empty: the default location."
    )
    allow_download: bool = Field(
        default=False, description="Let facenet-pytorch download its weights when missing."
    )
    min_face_size: int = Field(default=20, description="Smallest face MTCNN looks for, in px.")
    min_face_rel_height: float = Field(
        default=0.04,
        description="Smallest face MTCNN looks for, as a share of the frame height (the larger "
        "of the two applies; below 4 % a face cannot change a video's decision).",
    )
    batch_size: int = Field(default=16, description="Frames per detection batch.")
    device: str = Field(
        default="",
        description="Where MTCNN and the embedder's network run: 'auto' (a CUDA GPU when PyTorch "
        "sees one, else the CPU), 'cpu', 'cuda' or 'cuda:N' (an error when that GPU is absent). "
        "Empty: $INFLUENCER_DEVICE, else auto.",
    )
    videos_in_flight: int = Field(
        default=2,
        description="Videos of a face step processed at once, in threads (PyTorch and OpenCV "
        "release the GIL): on 2 cores 2 in flight took 0.54 s/video against 0.89 for one. Each "
        "video's networks get cores / this many threads however many videos the run has, so a "
        "video's faces do not depend on the videos beside it.",
    )
    face_worker_processes: int = Field(
        default=0,
        description="Videos of a face step detected and embedded in worker processes beside the "
        "step's own thread (each its own GIL; at most videos_in_flight - 1; CPU only). 1 made "
        "the 157-video face step 41.6 -> 36.8 s on 2 cores, the same faces, but each worker "
        "loads PyTorch and the models again: ~1.2 GiB more resident memory. 0: threads only.",
    )
    dlib_runtime: str = Field(
        default="torch",
        description="Where dlib's ResNet runs: 'torch' (PyTorch with dlib's weights, batched; "
        "the same vectors, ~15x faster than dlib's BLAS-less wheel) or 'dlib' (dlib itself).",
    )
    embed_workers: int = Field(
        default=0,
        description="With dlib_runtime 'dlib': processes computing dlib descriptors (dlib holds "
        "the GIL, so threads would not help); 0: one per CPU core, at most 4; 1: in the step's "
        "own process.",
    )

    _choice: Any = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Decide (and fail for an embedder that cannot load) when the run starts, before any
        # video is fetched; load nothing yet.
        self._choice = self.choose(lake_root())

    def choose(self, lake: str) -> EmbedderChoice:
        """The embedder for a run on ``lake`` (see ``faces.embedder_choice``); loads nothing, and
        reads the lake only for ``auto`` (the CLI and the sensors pass the embedder they chose)."""
        requested = self.embedder or default_embedder()
        auto = requested.strip().lower() == AUTO
        return choose_embedder(
            requested,
            lake_embedder(lake) if auto else None,
            weights_path=self.facenet_weights or None,
        )

    @property
    def choice(self) -> EmbedderChoice:
        """The embedder this run uses and why."""
        if self._choice is None:
            self._choice = self.choose(lake_root())
        return self._choice

    @property
    def embedder_name(self) -> str:
        """The embedder in use (resolved, never 'auto')."""
        return self.choice.name

    @property
    def torch_device(self) -> str:
        """The device setting in use: ``device``, else $INFLUENCER_DEVICE, else auto."""
        return self.device.strip() or os.environ.get(DEVICE_ENV, "").strip() or "auto"

    def model_spec(self) -> ModelSpec:
        """How this run builds its detector and embedder (a face worker builds the same)."""
        name = self.embedder_name
        options: dict[str, Any] = {}
        if name == "dlib":
            from influencer_pipeline.faces.descriptor_pool import default_workers

            options = {"runtime": self.dlib_runtime, "device": self.torch_device}
            if self.dlib_runtime == "dlib":
                options["workers"] = self.embed_workers or default_workers()
        elif name == "facenet":
            options = {
                "weights_path": self.facenet_weights or None,
                "allow_download": self.allow_download,
                "device": self.torch_device,
            }
        detector = {
            "min_face_size": self.min_face_size,
            "min_rel_height": self.min_face_rel_height,
            "batch_size": self.batch_size,
            "device": self.torch_device,
        }
        return ModelSpec(tuple(detector.items()), name, tuple(sorted(options.items())))

    @property
    def detector(self) -> Any:
        """The FaceDetector, loaded on first use."""
        spec = self.model_spec()
        return _loaded(("detector", *(value for _, value in spec.detector)), spec.build_detector)

    @property
    def face_embedder(self) -> Any:
        """The FaceEmbedder, loaded on first use."""
        spec = self.model_spec()
        return _loaded(("embedder", spec.embedder, spec.embedder_options), spec.build_embedder)


def _loaded(key: tuple[Any, ...], load: Callable[[], Any]) -> Any:
    """The process's model for ``key``, loaded by ``load`` on first use (once across threads)."""
    with _MODEL_LOCK:
        if key not in _MODEL_CACHE:
            cap_onednn_primitive_cache()  # before the first convolution (see memory)
            _MODEL_CACHE[key] = load()
        return _MODEL_CACHE[key]


def loaded_models() -> list[str]:
    """What this process has loaded so far and where it runs (for the run's output)."""
    return [
        f"{key[0]} {key[1]} on {getattr(model, 'device', 'cpu')}"
        for key, model in _MODEL_CACHE.items()
    ]
