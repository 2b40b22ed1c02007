"""Resources: the lake location, the video fetcher's safety settings and the face models."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field, PrivateAttr

from influencer_pipeline.lake import read_parquet
from influencer_pipeline.media.fetch import FetchPolicy
from influencer_pipeline.paths import lake_root

EMBEDDER_ENV = "INFLUENCER_EMBEDDER"


def default_embedder() -> str:
    """The embedder a run uses unless configured: $INFLUENCER_EMBEDDER (read now), else facenet."""
    return os.environ.get(EMBEDDER_ENV, "") or "facenet"


class LakeResource(dg.ConfigurableResource):
    """The lake root (folder or fsspec URL); empty: ``$INFLUENCER_LAKE`` or ``data_lake/``."""

    root: str = Field(default="", description="Lake root; empty: $INFLUENCER_LAKE or data_lake/.")

    def path(self) -> str:
        """The resolved lake root."""
        return self.root or lake_root()

    def local_path(self) -> Path:
        """The lake root as a local folder (video blobs and decoding need local files)."""
        root = self.path()
        if "://" in root and not root.startswith("file://"):
            raise ValueError(
                f"video blobs need a local lake root; {root} is remote. Mount it or set a local "
                "INFLUENCER_LAKE on the workers."
            )
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
    """The face detector (MTCNN) and embedder, loaded once per process and shared by every video."""

    embedder: str = Field(
        default="",
        description="'facenet' (InceptionResnetV1 vggface2, 512-d; needs its weights file) or "
        "'dlib' (ResNet descriptor, 128-d, offline). Empty: $INFLUENCER_EMBEDDER when the run "
        "starts, else facenet.",
    )
    facenet_weights: str = Field(
        default="", description="Path of the vggface2 state dict; empty: the default location."
    )
    allow_download: bool = Field(
        default=False, description="Let facenet-pytorch download its weights when missing."
    )
    min_face_size: int = Field(default=20, description="Smallest face MTCNN looks for, in px.")
    batch_size: int = Field(default=16, description="Frames per detection batch.")

    _detector: Any = PrivateAttr(default=None)
    _embedder: Any = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from influencer_pipeline.faces.detection import FaceDetector
        from influencer_pipeline.faces.embedders import make_embedder

        options: dict[str, Any] = {}
        if self.embedder_name == "facenet":
            options = {
                "weights_path": self.facenet_weights or None,
                "allow_download": self.allow_download,
            }
        self._embedder = make_embedder(self.embedder_name, **options)
        self._detector = FaceDetector(min_face_size=self.min_face_size, batch_size=self.batch_size)

    @property
    def embedder_name(self) -> str:
        """The embedder in use: the configured one, else $INFLUENCER_EMBEDDER (read now), else
        facenet. Read at run time, not import time, so a process that loaded the definitions
        before the CLI set the variable still uses the embedder the run asked for."""
        return self.embedder or default_embedder()

    @property
    def detector(self) -> Any:
        """The loaded FaceDetector."""
        return self._detector

    @property
    def face_embedder(self) -> Any:
        """The loaded FaceEmbedder."""
        return self._embedder
