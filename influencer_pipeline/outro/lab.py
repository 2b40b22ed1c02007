"""CIE Lab colours of sRGB pixels and the grid colour distance the outro stage uses."""

from __future__ import annotations

import numpy as np

# sRGB (D65) -> XYZ matrix and the D65 white point, for the Lab colour grid.
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float64,
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float64)


def rgb_to_lab(rgb: np.ndarray, dtype: type[np.floating] = np.float64) -> np.ndarray:
    """CIE Lab (D65) of sRGB values in 0-255 (any shape ending in 3), computed in ``dtype``.

    float32 is for whole card patches (``verify.patch_of``, stored as float32 anyway): 14 instead
    of 37 ms for a 320 x 569 patch, within 1e-4 of the float64 values.
    """
    c = np.asarray(rgb, dtype=dtype) / dtype(255.0)
    linear = c / dtype(12.92)
    bright = c > dtype(0.04045)  # the power only where it applies
    linear[bright] = ((c[bright] + dtype(0.055)) / dtype(1.055)) ** dtype(2.4)
    xyz = linear @ _RGB_TO_XYZ.T.astype(dtype) / _WHITE_D65.astype(dtype)
    eps, kappa = dtype(216 / 24389), dtype(24389 / 27)
    f = np.cbrt(xyz)
    dark = xyz <= eps
    f[dark] = (kappa * xyz[dark] + dtype(16)) / dtype(116)
    lightness = dtype(116) * f[..., 1] - dtype(16)
    a = dtype(500) * (f[..., 0] - f[..., 1])
    b = dtype(200) * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)


def colour_delta_e(lab_difference: np.ndarray, quantile: float = 0.9) -> np.ndarray:
    """CIE76 delta E at ``quantile`` over the grid cells (an order statistic, no interpolation).

    ``lab_difference`` has shape (..., cells, 3); with 64 cells and 0.9 it is the 7th largest cell
    difference: a few cells shifted at an element's edge do not decide, a recoloured element does.
    """
    squared = np.einsum("...k,...k->...", lab_difference, lab_difference)
    n_cells = squared.shape[-1]
    k = min(n_cells - 1, max(0, round(quantile * (n_cells - 1))))
    return np.sqrt(np.partition(squared, k, axis=-1)[..., k])
