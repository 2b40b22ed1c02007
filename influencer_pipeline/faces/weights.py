"""Where the FaceNet weights file is looked for, without importing torch (cheap to ask)."""

from __future__ import annotations

import os
from pathlib import Path

FACENET_WEIGHTS_ENV = "INFLUENCER_FACENET_WEIGHTS"
FACENET_WEIGHTS_FILE = "20180402-114759-vggface2.pt"
FACENET_WEIGHTS_URL = (
    "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/" + FACENET_WEIGHTS_FILE
)


class EmbedderUnavailable(RuntimeError):  # noqa: N818  (name fixed by the project brief)
    """An embedder cannot be built here (missing model files); ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def torch_home() -> Path:
    """torch's cache folder, as torch and facenet-pytorch compute it ($TORCH_HOME, XDG, ~)."""
    default = os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(os.getenv("TORCH_HOME", default)))


def facenet_weights_path(weights_path: str | Path | None = None) -> Path:
    """The FaceNet weights file: argument, else $INFLUENCER_FACENET_WEIGHTS, else torch cache."""
    if weights_path is not None and str(weights_path).strip():
        return Path(weights_path).expanduser()
    configured = os.environ.get(FACENET_WEIGHTS_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return torch_home() / "checkpoints" / FACENET_WEIGHTS_FILE
