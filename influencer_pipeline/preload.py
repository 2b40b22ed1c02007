"""Import modules in a background thread while this process waits on others.

The definitions load without PyTorch, facenet-pytorch or hdbscan (~2.5 s of imports on one
core): the steps that use them import them. ``video_frames`` waits on its worker processes for
most of its run, so it imports the face stack meanwhile (``FACE_STACK``) and the face step finds
it loaded. An import that fails here fails again, with its traceback, where it is needed. The
imports run under ``memory.modules_loading`` (no cyclic collections meanwhile, objects frozen
after).
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Sequence

from influencer_pipeline.memory import modules_loading

FACE_STACK = ("influencer_pipeline.faces.records", "influencer_pipeline.faces.dominant")


def import_in_background(names: Sequence[str]) -> threading.Thread:
    """Start a daemon thread importing ``names`` in order; errors are left to the next import."""

    def load() -> None:
        if all(name in sys.modules for name in names):
            return  # loaded before (a long-lived worker): nothing to import or freeze
        with modules_loading():
            for name in names:
                try:
                    importlib.import_module(name)
                except Exception:  # the step that needs it raises it again
                    return

    thread = threading.Thread(target=load, name="preload", daemon=True)
    thread.start()
    return thread
