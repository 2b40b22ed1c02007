"""The definitions load without the model libraries; the face stack loads in the background."""

from __future__ import annotations

import subprocess
import sys

from influencer_pipeline.preload import FACE_STACK, import_in_background

HEAVY = ("torch", "torchvision", "facenet_pytorch", "dlib", "hdbscan", "sklearn")


def _in_fresh_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    return done.stdout.strip()


def test_the_definitions_load_without_the_model_libraries() -> None:
    loaded = _in_fresh_python(
        "import sys, influencer_pipeline.definitions as d\n"
        "assert d.defs is not None\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert loaded == ""


def test_the_face_stack_is_imported_in_a_background_thread() -> None:
    loaded = _in_fresh_python(
        "import sys, threading\n"
        "from influencer_pipeline.preload import FACE_STACK, import_in_background\n"
        "thread = import_in_background(FACE_STACK)\n"
        "assert thread.daemon and thread is not threading.main_thread()\n"
        "thread.join()\n"
        "import gc\n"  # collections paused while it loaded, its objects frozen after
        "print(all(m in sys.modules for m in FACE_STACK), 'torch' in sys.modules,\n"
        "      gc.isenabled(), gc.get_freeze_count() > 100_000)"
    )
    assert loaded == "True True True True"


def test_a_failing_import_is_left_to_the_step_that_needs_it() -> None:
    thread = import_in_background(["influencer_pipeline.no_such_module", FACE_STACK[0]])
    thread.join(timeout=300)
    assert not thread.is_alive()  # it gave up at the first failure, quietly
    assert "influencer_pipeline.no_such_module" not in sys.modules
