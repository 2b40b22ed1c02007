"""Face detection (MTCNN) and dlib's ResNet on every device this machine has: speed, agreement.

Prints, per device (the CPU, and each CUDA GPU PyTorch sees: ``faces.devices``), the seconds
per frame of MTCNN on real ad frames and per face of the ResNet on aligned chips, and how far
the GPU's answers are from the CPU's (faces found, box corners, descriptor components). Not a
test: the figures depend on the machine.

    python benchmarks/devices.py [--frames ../shared/real_ads] [--limit 400]
        [--chips chips.npy] [--save-chips chips.npy] [--json out.json]

The chips are cut from the CPU's detections with dlib's aligner (``faces.dlib_descriptor``);
``--chips`` reads them from a file instead, for a machine without dlib (``--save-chips`` writes
them on one that has it).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from influencer_pipeline.faces.detection import Detection, FaceDetector
from influencer_pipeline.faces.dlib_resnet import DlibResNet

T = TypeVar("T")


def load_frames(folder: Path, limit: int) -> list[np.ndarray]:
    """Up to ``limit`` RGB frames of the jpg files under ``folder`` (sorted)."""
    paths = sorted(folder.rglob("*.jpg"))[:limit]
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]


def devices() -> list[str]:
    """The CPU and every CUDA GPU PyTorch sees."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return ["cpu"] + [f"cuda:{i}" for i in range(count)]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def _best(device: str, call: Callable[[], T], repeats: int) -> tuple[float, T]:
    """(best wall seconds of ``call`` over ``repeats`` runs, synchronised on ``device``, the
    last result); the caller warms up first."""
    best, result = float("inf"), None
    for _ in range(repeats):
        _sync(device)
        started = time.perf_counter()
        result = call()
        _sync(device)
        best = min(best, time.perf_counter() - started)
    return best, result  # type: ignore[return-value]


def time_detection(
    device: str, frames: list[np.ndarray], repeats: int = 2
) -> tuple[float, list[list[Detection]]]:
    """(best seconds per frame over ``repeats`` runs after a warm-up, the detections)."""
    detector = FaceDetector(device=device, batch_size=16)
    detector.detect(frames[:16])
    seconds, found = _best(device, lambda: detector.detect(frames), repeats)
    return seconds / len(frames), found


def box_agreement(
    first: list[list[Detection]], second: list[list[Detection]]
) -> tuple[int, int, float]:
    """(frames with another number of faces, faces compared, largest box-corner gap in px)."""
    other_count, compared, gap = 0, 0, 0.0
    for a, b in zip(first, second, strict=True):
        if len(a) != len(b):
            other_count += 1
            continue
        key = lambda d: (round(d.box[0]), round(d.box[1]))  # noqa: E731
        for x, y in zip(sorted(a, key=key), sorted(b, key=key), strict=True):
            gap = max(gap, float(np.abs(np.subtract(x.box, y.box)).max()))
            compared += 1
    return other_count, compared, gap


def cut_chips(frames: list[np.ndarray], found: list[list[Detection]]) -> np.ndarray:
    """dlib-aligned 150 x 150 chips of every detected face (needs dlib)."""
    from influencer_pipeline.faces.dlib_descriptor import DlibDescriptor

    descriptor = DlibDescriptor(mirrored=False)
    chips = [
        descriptor.chips(frame, [d.box for d in faces])
        for frame, faces in zip(frames, found, strict=True)
        if faces
    ]
    return np.concatenate(chips)


def model_file() -> Path:
    """dlib's ResNet model file, from the installed models package (``--model`` elsewhere)."""
    from influencer_pipeline.faces.dlib_descriptor import DLIB_FACE_MODEL, dlib_models_dir

    return dlib_models_dir() / DLIB_FACE_MODEL


def time_network(
    path: Path, device: str, chips: np.ndarray, batch_size: int, repeats: int = 2
) -> tuple[float, np.ndarray]:
    """(best seconds per face, raw descriptors) of the ResNet on ``device``."""
    network = DlibResNet.from_file(path, device)
    network.describe(chips[:batch_size], batch_size)
    seconds, vectors = _best(device, lambda: network.describe(chips, batch_size), repeats)
    return seconds / len(chips), vectors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=Path, default=Path("../shared/real_ads"))
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--chips", type=Path, help="aligned chips (.npy) instead of dlib's")
    parser.add_argument("--save-chips", type=Path)
    parser.add_argument("--model", type=Path, help="dlib_face_recognition_resnet_model_v1.dat")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    frames = load_frames(args.frames, args.limit)
    if not frames:
        parser.error(f"no jpg frames under {args.frames}")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, devices {devices()} "
        "(GPU in full float32: faces.devices)"
    )
    print(f"{len(frames)} frames from {args.frames}")
    figures: dict[str, dict[str, float]] = {}
    reference: list[list[Detection]] = []
    for device in devices():
        seconds, found = time_detection(device, frames)
        faces = sum(len(f) for f in found)
        figures[device] = {"detect_ms_per_frame": round(seconds * 1000, 2), "faces": faces}
        line = f"  {device}: MTCNN {seconds * 1000:.1f} ms/frame, {faces} faces"
        if reference:
            other, compared, gap = box_agreement(reference, found)
            figures[device].update(frames_other_count=other, max_box_gap_px=round(gap, 3))
            line += f"; vs cpu: {other} frames with another count, box gap <= {gap:.3f} px"
            line += f" over {compared} faces"
        else:
            reference = found
        print(line)
    chips = np.load(args.chips) if args.chips else cut_chips(frames, reference)
    if args.save_chips:
        np.save(args.save_chips, chips)
    path = args.model or model_file()
    print(f"{len(chips)} aligned chips")
    base = None
    for device in devices():
        for batch in (32, 256) if device != "cpu" else (32,):
            seconds, vectors = time_network(path, device, chips, batch)
            key = f"{device} batch {batch}"
            figures.setdefault(device, {})[f"embed_ms_per_face_b{batch}"] = round(seconds * 1e3, 3)
            line = f"  {key}: ResNet {seconds * 1000:.2f} ms/face"
            if base is None:
                base = vectors
            else:
                gap = float(np.abs(vectors - base).max())
                figures[device][f"max_descriptor_gap_b{batch}"] = gap
                line += f"; largest component gap vs cpu {gap:.2e}"
            print(line)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
