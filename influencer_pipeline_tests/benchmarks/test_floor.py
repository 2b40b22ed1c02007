"""``benchmarks/floor.py`` keeps working against the package it measures (its embedding step
reached into a private attribute of the dlib embedder that a refactor removed)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import numpy as np

from influencer_pipeline.faces.detection import Detection
from influencer_pipeline.faces.embedders import DlibEmbedder
from influencer_pipeline_tests.conftest import PROJECT_DIR

LANDMARKS = np.array([[70, 95], [130, 95], [100, 125], [78, 155], [122, 155]], np.float32)


def _benchmark(name: str) -> ModuleType:
    """The script ``benchmarks/<name>.py`` as a module (benchmarks/ is not a package)."""
    key = f"benchmarks_{name}"
    if key not in sys.modules:
        path = PROJECT_DIR / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(key, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[key]


def test_the_floor_embeds_only_faces_past_the_hard_gates_with_the_pipelines_embedder() -> None:
    floor = _benchmark("floor")
    image = np.random.default_rng(0).integers(0, 256, (240, 200, 3), dtype=np.uint8)
    kept = Detection((40.0, 50.0, 160.0, 200.0), 0.99, LANDMARKS)  # 150 px high, score 0.99
    weak = Detection((40.0, 50.0, 160.0, 200.0), 0.50, LANDMARKS)  # under the 0.90 score gate
    small = Detection((10.0, 10.0, 30.0, 30.0), 0.99, LANDMARKS)  # 20 px, under the 24 px gate
    video = floor.FloorFrames("v", [image, image], [True, False], decoded=2, seconds=0.0)
    embedded, seconds = floor.embed_all(DlibEmbedder(), [video], [[[kept, weak, small]]])
    assert embedded == 1
    assert seconds >= 0.0
