"""dlib's face recognition ResNet run in PyTorch, with the weights read from dlib's own model file.

dlib's pip wheel (``dlib-bin``) is built without BLAS: its descriptor takes ~90 ms a face on
one core. The same network in PyTorch (oneDNN convolutions, batched) takes ~5 ms a face and
gives the same vectors (within 1e-6 on the shared photos; ``faces/test_dlib_resnet.py``).

The network is the one dlib's ``dnn_face_recognition_ex.cpp`` defines: a 7x7/2 convolution,
3x3/2 max pooling, 14 residual blocks (32, 64, 128, 256, 256 filters; the first block of each
level after the first halves the size, its shortcut is a 2x2 average pool added with dlib's
zero-padding ``add_prev``), a global average and a 128-d ``fc_no_bias``; every batch norm was
frozen into an ``affine`` layer, folded here into the convolution before it.

``read_model`` parses the parts of dlib's serialization it needs (``dlib/serialize.h``,
``dlib/dnn/tensor.h``: variable-length integers, mantissa/exponent floats, tensors as raw
little-endian float32): the input layer's channel means and every ``con_4``, ``affine_`` and
``fc_2`` layer, in the file's (forward) order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from influencer_pipeline.faces.devices import AUTO, resolve_device

_LAYER_NAME = re.compile(rb"\x01([\x04-\x20])(input_rgb_image_sized|con_4|affine_|fc_2)")
_EXPECTED_CONVS = 29


class ModelFileError(ValueError):
    """The file is not the dlib face recognition ResNet this module knows."""


@dataclass(frozen=True)
class Convolution:
    """One ``con_4`` layer followed by its ``affine_`` layer."""

    weight: np.ndarray  # filters x channels x rows x columns
    bias: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    stride: int
    padding: int


@dataclass(frozen=True)
class DlibModel:
    """What ``read_model`` finds in the file."""

    channel_means: tuple[float, float, float]  # red, green, blue
    convolutions: list[Convolution]
    projection: np.ndarray  # inputs x 128


class _Reader:
    """dlib's serialization primitives over bytes."""

    def __init__(self, data: bytes, at: int) -> None:
        self.data, self.at = data, at

    def integer(self) -> int:
        control = self.data[self.at]
        size = control & 0x0F
        value = int.from_bytes(self.data[self.at + 1 : self.at + 1 + size], "little")
        self.at += 1 + size
        return -value if control & 0x80 else value

    def real(self) -> float:
        mantissa = self.integer()
        return float(mantissa) * 2.0 ** self.integer()

    def string(self) -> str:
        size = self.integer()
        self.at += size
        return self.data[self.at - size : self.at].decode("ascii")

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise ModelFileError(f"tensor serialization version {version}, expected 2")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        if self.at + 4 * count > len(self.data):
            raise ModelFileError("a tensor runs past the end of the file")
        values = np.frombuffer(self.data, "<f4", count, self.at).astype(np.float32)
        self.at += 4 * count
        return values.reshape(shape)


def read_model(path: str | Path) -> DlibModel:
    """The layers of ``dlib_face_recognition_resnet_model_v1.dat`` (ModelFileError otherwise)."""
    data = Path(path).read_bytes()
    means: tuple[float, float, float] | None = None
    convs: list[tuple[np.ndarray, np.ndarray, int, int]] = []
    affines: list[tuple[np.ndarray, np.ndarray]] = []
    projection: np.ndarray | None = None
    for match in _LAYER_NAME.finditer(data):
        if match.group(1)[0] != len(match.group(2)):
            continue
        reader = _Reader(data, match.start())
        name = reader.string()
        if name == "input_rgb_image_sized":
            means = (reader.real(), reader.real(), reader.real())
        elif name == "con_4":
            params = reader.tensor().reshape(-1)
            filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (
                reader.integer() for _ in range(7)
            )
            if stride_y != stride_x or pad_y != pad_x or filters <= 0:
                raise ModelFileError(f"unexpected convolution at byte {match.start()}")
            weights = params.size - filters
            channels = weights // (filters * rows * cols)
            weight = params[:weights].reshape(filters, channels, rows, cols)
            convs.append((weight, params[weights:], stride_y, pad_y))
        elif name == "affine_":
            params = reader.tensor().reshape(-1)
            affines.append((params[: params.size // 2], params[params.size // 2 :]))
        else:
            outputs, inputs = reader.integer(), reader.integer()
            projection = reader.tensor().reshape(-1)[: inputs * outputs].reshape(inputs, outputs)
    if means is None or projection is None or len(convs) != _EXPECTED_CONVS:
        raise ModelFileError(
            f"{path}: expected dlib's face recognition ResNet ({_EXPECTED_CONVS} convolutions, "
            f"an input layer, an fc layer), found {len(convs)} convolutions"
        )
    if len(affines) != len(convs):
        raise ModelFileError(f"{len(convs)} convolutions but {len(affines)} affine layers")
    layers = [
        Convolution(w, b, gamma, beta, stride, pad)
        for (w, b, stride, pad), (gamma, beta) in zip(convs, affines, strict=True)
    ]
    return DlibModel(means, layers, projection)


def _add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev`` of two shapes: the larger shape, each input at the top-left."""
    if a.shape == b.shape:
        return a + b
    out = a.new_zeros([max(x, y) for x, y in zip(a.shape, b.shape, strict=True)])
    out[: a.shape[0], : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[: b.shape[0], : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out


class DlibResNet(nn.Module):
    """The 128-d face descriptor of dlib's ResNet: ``forward`` takes aligned 150 x 150 chips."""

    def __init__(self, model: DlibModel) -> None:
        super().__init__()
        means = torch.tensor(model.channel_means, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("means", means)
        weights, biases = [], []
        for conv in model.convolutions:  # affine(conv(x)) = conv with scaled weights and bias
            gamma = torch.from_numpy(conv.gamma)
            weights.append(torch.from_numpy(conv.weight) * gamma.view(-1, 1, 1, 1))
            biases.append(torch.from_numpy(conv.bias) * gamma + torch.from_numpy(conv.beta))
        self.weights = nn.ParameterList(nn.Parameter(w, requires_grad=False) for w in weights)
        self.biases = nn.ParameterList(nn.Parameter(b, requires_grad=False) for b in biases)
        self.strides = [conv.stride for conv in model.convolutions]
        self.paddings = [conv.padding for conv in model.convolutions]
        self.projection = nn.Parameter(torch.from_numpy(model.projection), requires_grad=False)
        self.eval()

    @classmethod
    def from_file(cls, path: str | Path, device: str = AUTO) -> DlibResNet:
        """The network with the weights of dlib's model file at ``path``, on ``device``
        (``faces.devices``)."""
        return cls(read_model(path)).to(resolve_device(device))

    def _conv(self, x: torch.Tensor, index: int) -> torch.Tensor:
        return functional.conv2d(
            x, self.weights[index], self.biases[index], self.strides[index], self.paddings[index]
        )

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        """N x 150 x 150 x 3 uint8 RGB chips -> N x 128 raw (not normalised) descriptors."""
        x = (chips.permute(0, 3, 1, 2).float() - self.means) / 256.0
        x = functional.max_pool2d(functional.relu(self._conv(x, 0)), 3, 2)
        for first in range(1, len(self.weights), 2):  # residual blocks: two convolutions each
            y = self._conv(functional.relu(self._conv(x, first)), first + 1)
            shortcut = functional.avg_pool2d(x, 2, 2) if self.strides[first] == 2 else x
            x = functional.relu(_add_padded(shortcut, y))
        return x.mean(dim=(2, 3)) @ self.projection

    def describe(self, chips: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Raw float64 descriptors of N x 150 x 150 x 3 uint8 chips, ``batch_size`` at a time."""
        if len(chips) == 0:
            return np.zeros((0, self.projection.shape[1]))
        rows = []
        with torch.inference_mode():
            for start in range(0, len(chips), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(chips[start : start + batch_size]))
                rows.append(self(batch.to(self.means.device)).double().cpu().numpy())
        return np.concatenate(rows)
