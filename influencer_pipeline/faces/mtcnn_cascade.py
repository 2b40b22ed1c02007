"""MTCNN's cascade over a batch of equal-size frames: facenet-pytorch's, with its costly
resampling done another way for the same values and its networks in the layout oneDNN prefers.

cProfile of facenet-pytorch's ``detect_face`` on 144 demo frames (640 x 360, batches of 16, 2
cores): 2.8 s, of which 0.98 s area resampling (``interpolate(mode="area")``: each pyramid
level reads the whole batch, and every candidate box of the second and third stages is one
more call) and 0.69 s max pooling (PyTorch's NCHW kernel, which also computes indices). Here:

- Area resampling is a mean over whole pixels, so it comes from one integral image per frame
  (OpenCV, exact integer sums), divided as PyTorch divides (``sum / rows / cols`` in float32):
  every pyramid level and all the crops of a stage at once, the same values bit for bit.
- The three networks' weights are channels-last (``use_channels_last``), as these inputs are:
  oneDNN runs the convolutions, PReLUs and ceil-mode pooling without reordering. Per batch on
  one core: P-net 78 -> 47 ms (16 frames, 272 x 153), R-net 26 -> 15 ms (300 crops), O-net 27
  -> 18 ms (64 crops). The sums are added in another order, so results differ in float
  rounding only: on 2,147 frames (80 speed-set videos, ``shared/real_ads``) the same 1,308
  faces in the same frames, boxes and landmarks within 2e-4 px, scores within 2e-6
  (``faces/test_mtcnn_cascade.py`` compares with ``detect_face`` on real frames).

Everything else is facenet-pytorch's own code (networks, NMS, box arithmetic, in its order).
Those 2,147 frames take 39.5 s instead of 50.8 s with the previous cascade (strided-view
pooling, NCHW weights; itself 19 instead of 29 ms a frame against ``detect_face``). On a GPU
``detect_face`` itself runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from facenet_pytorch.models.utils import detect_face as fp

CROP_SIZES = (24, 48)  # R-net and O-net input sizes
CHANNELS = 3  # RGB


def use_channels_last(*nets: torch.nn.Module) -> None:
    """Store the networks' weights channels-last (NHWC), the layout their inputs here have: oneDNN
    then runs convolutions, PReLUs and ceil-mode max pooling without reordering between them."""
    for net in nets:
        net.to(memory_format=torch.channels_last)


def integral_image(frame: np.ndarray) -> np.ndarray:
    """(H+1) x (W+1) x C running sums of an H x W x C uint8 frame, zero first row and column
    (OpenCV's ``integral``: int32 while 255 x H x W fits, else float64, exact either way)."""
    h, w = frame.shape[:2]
    depth = cv2.CV_32S if 255 * h * w < 2**31 else cv2.CV_64F
    return cv2.integral(np.ascontiguousarray(frame), sdepth=depth)


def _cells(start: np.ndarray, stop: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive-pool cells of [start, stop) in ``size`` parts: from start +
    floor(i * n / size) to start + ceil((i + 1) * n / size), n = stop - start."""
    n = (stop - start)[:, None]
    i = np.arange(size)[None, :]
    return start[:, None] + (i * n) // size, start[:, None] + -((-(i + 1) * n) // size)


def _window_sums(
    table: np.ndarray, rows: tuple[np.ndarray, np.ndarray], cols: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """B x R x K x C sums of the frame of ``table`` over rows [rows[0], rows[1]) x columns
    [cols[0], cols[1]) (bounds B x R and B x K)."""
    width, channels = table.shape[1], table.shape[2]
    # one opaque item per pixel (its C sums): a take copies whole pixels, not single numbers
    pixels = np.ascontiguousarray(table).reshape(-1, channels)
    items = pixels.view(np.dtype((np.void, pixels.strides[0])))[:, 0]

    def corner(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        picked = items.take(r[:, :, None] * width + c[:, None, :])
        return picked.view(table.dtype).reshape(*picked.shape, channels)

    (r0, r1), (c0, c1) = rows, cols
    sums = corner(r1, c1)
    sums -= corner(r0, c1)
    sums -= corner(r1, c0)
    sums += corner(r0, c0)
    return sums


def area_crops(
    tables: Sequence[np.ndarray],
    frame_of: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray],
    size: tuple[int, int],
) -> torch.Tensor:
    """B x C x size float32, channels-last: box b of frame ``frame_of[b]``, rows ``rows[0][b]``
    to ``rows[1][b]`` (exclusive) and likewise columns, area-resampled as
    ``interpolate(mode="area")`` does (values and memory layout: the networks' convolutions
    round differently on another layout)."""
    r0, r1 = _cells(rows[0], rows[1], size[0])  # B x size[0]
    c0, c1 = _cells(cols[0], cols[1], size[1])  # B x size[1]
    sums = np.empty((len(frame_of), *size, CHANNELS), dtype=np.float32)  # exact integers
    for frame in np.unique(frame_of):
        mine = np.flatnonzero(frame_of == frame)
        sums[mine] = _window_sums(tables[int(frame)], (r0[mine], r1[mine]), (c0[mine], c1[mine]))
    np.divide(sums, (r1 - r0).astype(np.float32)[:, :, None, None], out=sums)  # as PyTorch:
    np.divide(sums, (c1 - c0).astype(np.float32)[:, None, :, None], out=sums)  # / rows / cols
    return torch.from_numpy(sums).permute(0, 3, 1, 2)


def area_resize(tables: Sequence[np.ndarray], size: tuple[int, int]) -> torch.Tensor:
    """N x C x size float32, channels-last: every frame of ``tables`` area-resampled whole, as
    ``interpolate(mode="area")`` resamples the batch. A level's cells form one grid, so its sums
    are cut in two passes (the table's rows at the row-cell bounds, then those rows' columns at
    the column-cell bounds) instead of four lookups per cell: 28 instead of 47 ms per batch of 16
    640 x 360 frames, the same values."""
    height, width = tables[0].shape[0] - 1, tables[0].shape[1] - 1
    zero = np.zeros(1, dtype=np.int64)
    r0, r1 = (bound[0] for bound in _cells(zero, zero + height, size[0]))
    c0, c1 = (bound[0] for bound in _cells(zero, zero + width, size[1]))
    sums = np.empty((len(tables), *size, CHANNELS), dtype=np.float32)  # exact integers
    for frame, table in enumerate(tables):
        rows = table[r1]
        rows -= table[r0]  # size[0] x (W + 1) x C: column running sums of each row cell
        # one opaque item per pixel (its C sums): a take copies whole pixels, not single numbers
        items = rows.reshape(size[0], -1).view(np.dtype((np.void, CHANNELS * table.itemsize)))
        right, left = (items.take(c, axis=1).view(table.dtype) for c in (c1, c0))
        np.subtract(right, left, out=sums[frame].reshape(right.shape), casting="unsafe")
    np.divide(sums, (r1 - r0).astype(np.float32)[None, :, None, None], out=sums)  # as PyTorch:
    np.divide(sums, (c1 - c0).astype(np.float32)[None, None, :, None], out=sums)  # / rows / cols
    return torch.from_numpy(sums).permute(0, 3, 1, 2)


def _network_input(data: torch.Tensor) -> torch.Tensor:
    """MTCNN's input scaling, ``(data - 127.5) * 0.0078125``, in place."""
    return data.sub_(127.5).mul_(0.0078125)


def _crops(
    tables: Sequence[np.ndarray], boxes: torch.Tensor, frame_of: torch.Tensor, size: int
) -> torch.Tensor | None:
    """A stage's network input for ``boxes`` (None when a box has no pixels: see caller)."""
    height, width = tables[0].shape[0] - 1, tables[0].shape[1] - 1
    y, ey, x, ex = fp.pad(boxes, width, height)
    if not ((ey > y - 1) & (ex > x - 1)).all():
        return None
    frames = frame_of.cpu().numpy()
    return _network_input(area_crops(tables, frames, (y - 1, ey), (x - 1, ex), (size, size)))


def detect_batch(
    frames: np.ndarray,
    minsize: float,
    nets: tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module],
    *,
    thresholds: Sequence[float],
    factor: float,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """``detect_face(frames, minsize, pnet, rnet, onet, thresholds, factor, device)``'s result
    for an N x H x W x 3 uint8 batch, on the CPU; on another device, ``detect_face`` itself."""
    pnet, rnet, onet = nets
    if torch.device(device).type != "cpu":
        return fp.detect_face(frames, minsize, pnet, rnet, onet, thresholds, factor, device)
    tables = [integral_image(f) for f in frames]
    boxes, frame_of = _proposals(
        tables, pnet, minsize=minsize, threshold=thresholds[0], factor=factor
    )
    points = torch.zeros(0, 5, 2)
    if len(boxes):
        data = _crops(tables, boxes, frame_of, CROP_SIZES[0])
        if data is None:  # an empty crop: facenet-pytorch's own path decides what happens
            return fp.detect_face(frames, minsize, pnet, rnet, onet, thresholds, factor, device)
        reg, prob = fp.fixed_batch_process(data, rnet)
        score = prob[:, 1]
        keep = score > thresholds[1]
        boxes = torch.cat((boxes[keep, :4], score[keep].unsqueeze(1)), dim=1)
        frame_of, reg = frame_of[keep], reg[keep]
        pick = fp.batched_nms(boxes[:, :4], boxes[:, 4], frame_of, 0.7)
        boxes = fp.rerec(fp.bbreg(boxes[pick], reg[pick]))
        frame_of = frame_of[pick]
    if len(boxes):
        data = _crops(tables, boxes, frame_of, CROP_SIZES[1])
        if data is None:
            return fp.detect_face(frames, minsize, pnet, rnet, onet, thresholds, factor, device)
        reg, marks, prob = fp.fixed_batch_process(data, onet)
        score = prob[:, 1]
        keep = score > thresholds[2]
        marks = marks[keep].T
        boxes = torch.cat((boxes[keep, :4], score[keep].unsqueeze(1)), dim=1)
        frame_of, reg = frame_of[keep], reg[keep]
        bw = boxes[:, 2] - boxes[:, 0] + 1
        bh = boxes[:, 3] - boxes[:, 1] + 1
        px = bw.repeat(5, 1) * marks[:5, :] + boxes[:, 0].repeat(5, 1) - 1
        py = bh.repeat(5, 1) * marks[5:10, :] + boxes[:, 1].repeat(5, 1) - 1
        points = torch.stack((px, py)).permute(2, 1, 0)
        boxes = fp.bbreg(boxes, reg)
        pick = fp.batched_nms_numpy(boxes[:, :4], boxes[:, 4], frame_of, 0.7, "Min")
        boxes, frame_of, points = boxes[pick], frame_of[pick], points[pick]
    found, marks_np, owner = boxes.numpy(), points.numpy(), frame_of.numpy()
    per_boxes = np.empty(len(frames), dtype=object)
    per_points = np.empty(len(frames), dtype=object)
    for i in range(len(frames)):
        mine = np.flatnonzero(owner == i)
        per_boxes[i], per_points[i] = found[mine].copy(), marks_np[mine].copy()
    return per_boxes, per_points


def _proposals(
    tables: Sequence[np.ndarray],
    pnet: torch.nn.Module,
    *,
    minsize: float,
    threshold: float,
    factor: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """First stage: P-net over the scale pyramid, NMS per scale then per frame, boxes refined
    and squared (``rerec``); (boxes N x 5, frame index per box). Every level is cut from the
    frames' integral images (``area_resize``)."""
    h, w = tables[0].shape[0] - 1, tables[0].shape[1] - 1
    scale, side = 12.0 / minsize, min(h, w) * 12.0 / minsize
    found, owners, picks, offset = [], [], [], 0
    while side >= 12:
        size = (int(h * scale + 1), int(w * scale + 1))
        reg, prob = pnet(_network_input(area_resize(tables, size)))
        boxes, owner = fp.generateBoundingBox(reg, prob[:, 1], scale, threshold)
        found.append(boxes)
        owners.append(owner)
        picks.append(fp.batched_nms(boxes[:, :4], boxes[:, 4], owner, 0.5) + offset)
        offset += boxes.shape[0]
        scale, side = scale * factor, side * factor
    pick = torch.cat(picks)
    boxes, owner = torch.cat(found)[pick], torch.cat(owners)[pick]
    pick = fp.batched_nms(boxes[:, :4], boxes[:, 4], owner, 0.7)
    boxes, owner = boxes[pick], owner[pick]
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    refined = torch.stack(
        [
            boxes[:, 0] + boxes[:, 5] * bw,
            boxes[:, 1] + boxes[:, 6] * bh,
            boxes[:, 2] + boxes[:, 7] * bw,
            boxes[:, 3] + boxes[:, 8] * bh,
            boxes[:, 4],
        ]
    ).permute(1, 0)
    return fp.rerec(refined), owner
