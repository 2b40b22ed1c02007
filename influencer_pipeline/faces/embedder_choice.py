"""Which face embedder a run uses: one rule for the CLI, the sensors and runs launched in the UI.

* ``dlib`` or ``facenet`` asked for explicitly: that one. FaceNet needs its weights file; when it is
  missing the choice fails before any video is fetched (``EmbedderUnavailable``).
* ``auto`` (the default): the embedder the lake's faces were already embedded with, so a lake never
  mixes embedding spaces by accident; for a new lake FaceNet where its weights are present, else
  dlib (offline, shipped with ``face_recognition_models``).

Choosing loads nothing: models are loaded by the face stage, and only when it has faces to embed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from influencer_pipeline.faces.weights import (
    FACENET_WEIGHTS_ENV,
    EmbedderUnavailable,
    facenet_weights_path,
)

AUTO = "auto"
EMBEDDER_NAMES = ("dlib", "facenet")
CHOICES = (AUTO, *EMBEDDER_NAMES)


@dataclass(frozen=True)
class EmbedderChoice:
    """The embedder to use and why, in words for the run's output."""

    name: str
    reason: str

    def describe(self) -> str:
        """``dlib (auto: ...)``."""
        return f"{self.name} ({self.reason})"


def facenet_available(weights_path: str | Path | None = None) -> bool:
    """True when the FaceNet weights file is where the embedder will look for it."""
    return facenet_weights_path(weights_path).is_file()


def choose_embedder(
    requested: str | None,
    lake_embedder: str | None = None,
    *,
    weights_path: str | Path | None = None,
) -> EmbedderChoice:
    """The embedder for ``requested`` (auto when empty) given the lake's embedder, if any."""
    wanted = (requested or AUTO).strip().lower()
    if wanted not in CHOICES:
        raise ValueError(f"unknown embedder {requested!r}; choose one of: {', '.join(CHOICES)}")
    weights = facenet_weights_path(weights_path)
    if wanted == "facenet" and not weights.is_file():
        raise EmbedderUnavailable(
            "facenet_weights_missing",
            f"the facenet embedder was asked for but its weights file {weights} is missing: put "
            f"20180402-114759-vggface2.pt there (or set ${FACENET_WEIGHTS_ENV}), or use "
            "--embedder dlib / auto",
        )
    if wanted != AUTO:
        return EmbedderChoice(wanted, "asked for")
    if lake_embedder in EMBEDDER_NAMES:
        if lake_embedder == "facenet" and not weights.is_file():
            raise EmbedderUnavailable(
                "facenet_weights_missing",
                f"this lake's faces were embedded with facenet, whose weights file {weights} is "
                "missing now: restore it, or re-embed every face with --embedder dlib",
            )
        return EmbedderChoice(lake_embedder, "auto: the lake's faces were embedded with it")
    if weights.is_file():
        return EmbedderChoice("facenet", f"auto: FaceNet weights found at {weights}")
    return EmbedderChoice("dlib", f"auto: no FaceNet weights at {weights}")


def expected_version(name: str) -> str | None:
    """The ``embedder_version`` the embedder ``name`` writes, known without loading it (dlib's);
    None where only the loaded model knows (FaceNet's names its weights file's hash)."""
    if name != "dlib":
        return None
    from influencer_pipeline.faces.dlib_descriptor import descriptor_version

    return descriptor_version()
