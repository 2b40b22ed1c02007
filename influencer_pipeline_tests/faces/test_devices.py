"""Where the face networks run: a GPU when PyTorch sees one, the CPU otherwise, never a silent
fall back from a GPU asked for by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from influencer_pipeline.faces.detection import FaceDetector
from influencer_pipeline.faces.devices import (
    DeviceUnavailableError,
    resolve_device,
    threads_per_worker,
)
from influencer_pipeline.faces.dlib_resnet import DlibResNet
from influencer_pipeline.faces.embedders import DlibEmbedder
from influencer_pipeline.parallel import usable_cores


def test_auto_is_a_gpu_exactly_when_torch_sees_one() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected
    assert resolve_device(" CPU ") == torch.device("cpu")


def test_a_gpu_that_is_not_there_is_an_error_naming_what_is() -> None:
    missing = f"cuda:{torch.cuda.device_count()}"  # one past the last GPU on any machine
    with pytest.raises(DeviceUnavailableError, match=r"sees \d+ CUDA GPU"):
        resolve_device(missing)
    with pytest.raises(DeviceUnavailableError, match="unknown device 'gpu'"):
        resolve_device("gpu")
    with pytest.raises(DeviceUnavailableError):
        FaceDetector(device=missing)


def test_the_models_run_where_they_are_told() -> None:
    assert FaceDetector(device="cpu").device == torch.device("cpu")
    embedder = DlibEmbedder(device="cpu")
    assert embedder.device == torch.device("cpu")
    assert embedder._network is not None
    assert {p.device.type for p in embedder._network.parameters()} == {"cpu"}


def test_the_network_gives_the_same_vectors_on_every_device_here() -> None:
    """Every device this machine has (the CPU, and a GPU where there is one) describes the same
    chips alike, to float rounding (GPU in full float32; measured on an H200: 4.8e-7)."""
    path = DlibEmbedder(device="cpu")._descriptor.model_file
    chips = np.random.default_rng(0).integers(0, 256, size=(5, 150, 150, 3), dtype=np.uint8)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    vectors = [DlibResNet.from_file(path, d).describe(chips) for d in devices]
    assert vectors[0].shape == (5, 128)
    for other in vectors[1:]:
        assert np.abs(other - vectors[0]).max() < 1e-5


def test_the_face_models_resource_takes_the_device_setting_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from influencer_pipeline.defs.resources import DEVICE_ENV, FaceModels

    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert FaceModels().torch_device == "auto"
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert FaceModels().torch_device == "cpu"
    assert FaceModels(device="cuda:0").torch_device == "cuda:0"


@pytest.mark.parametrize("workers", [1, 2, 64])
def test_threads_are_shared_among_workers_and_restored(workers: int) -> None:
    before = torch.get_num_threads()
    with threads_per_worker(workers) as threads:
        assert threads == max(1, usable_cores() // workers)
        assert torch.get_num_threads() == threads
    assert torch.get_num_threads() == before


def test_threads_are_restored_when_the_block_fails() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"), threads_per_worker(usable_cores()):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
