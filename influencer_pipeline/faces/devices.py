"""Where the face networks run: a CUDA GPU when PyTorch sees one, else the CPU.

MTCNN (``faces.detection``), dlib's ResNet in PyTorch (``faces.dlib_resnet``) and FaceNet
(``faces.embedders``) take a ``device``: ``"auto"`` (the default) is the first CUDA GPU when
``torch.cuda.is_available()``, else the CPU; ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` ask for one.
A GPU asked for by name that PyTorch cannot see is an error, never a silent fall back to the
CPU. The pipeline's ``FaceModels`` resource takes its ``device`` setting, else
``$INFLUENCER_DEVICE``, else auto. The device changes the speed, not the vectors (CPU and GPU
agree to float rounding), so it is not part of a model's version: on a GPU the networks run in
full float32, TF32 off (with TF32, measured on an H200, dlib's ResNet components moved by up to
2.9e-4; without, 4.8e-7, as between dlib and the PyTorch port; speed the same:
``benchmarks/devices.py``).

``threads_per_worker`` splits PyTorch's CPU threads among videos processed at once: two
videos in flight on 2 cores with 2 threads each oversubscribe the cores (face step 0.33 against
0.31 s/video with one thread each; ``benchmarks/RESULTS.md``, "Session 12").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from influencer_pipeline.parallel import usable_cores

AUTO = "auto"
_NAME = re.compile(r"^(cpu|cuda(:\d+)?)$")


class DeviceUnavailableError(ValueError):
    """A device was asked for by name that this machine's PyTorch cannot use."""


def resolve_device(requested: str | torch.device | None = AUTO) -> torch.device:
    """The torch device for ``requested`` ("auto", "cpu", "cuda", "cuda:N"; None = auto)."""
    if isinstance(requested, torch.device):
        requested = str(requested)
    name = (requested or AUTO).strip().lower()
    if name == AUTO:
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if not _NAME.match(name):
        raise DeviceUnavailableError(
            f"unknown device {requested!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        )
    if name.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= count:
            raise DeviceUnavailableError(
                f"device {name!r} asked for, but PyTorch sees {count} CUDA GPU(s) here "
                f"(torch {torch.__version__}); use 'auto' or 'cpu'"
            )
        _full_float32()
    return torch.device(name)


def _full_float32() -> None:
    """Float32 convolutions and products on a GPU in full precision (PyTorch's default lets
    cuDNN use TF32): CPU and GPU then give the same vectors."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


@contextmanager
def threads_per_worker(workers: int) -> Iterator[int]:
    """PyTorch's intra-op threads set to usable cores // ``workers`` (at least 1) inside the
    block, for ``workers`` threads running networks at once; the previous count after it."""
    before = torch.get_num_threads()
    threads = max(1, usable_cores() // max(1, int(workers)))
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)
