"""The shipped face photos: read ``faces/MANIFEST.csv``; cut people out at a requested face size."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from influencer_tools.demo.errors import DemoError

FACES_DIR = Path(__file__).resolve().parent / "faces"
ROLES = ("influencer", "other")
# People the demo is built from (manifest column ``identity_set``; ``demo/folds.py``): the default
# demo's people, and the development and validation folds of ../shared/faces (validation: people
# never used while tuning any threshold).
IDENTITY_SETS = ("default", "development", "validation")
_REQUIRED = ("path", "identity", "role", "face_x1", "face_y1", "face_x2", "face_y2")


@dataclass(frozen=True)
class FacePhoto:
    """One shipped head-and-shoulders photo and the face box inside it (pixels of the file)."""

    identity: str
    role: str
    path: Path
    face_box: tuple[int, int, int, int]

    @property
    def face_height(self) -> int:
        """Height of the face box in the photo's pixels."""
        return self.face_box[3] - self.face_box[1]


@dataclass(frozen=True)
class FaceLibrary:
    """All shipped photos, by identity (photo order as in the manifest)."""

    photos: dict[str, tuple[FacePhoto, ...]]

    def identities(self, role: str) -> list[str]:
        """Sorted identities that have ``role`` ("influencer" or "other")."""
        return sorted(i for i, photos in self.photos.items() if photos[0].role == role)


def load_library(faces_dir: Path = FACES_DIR, identity_set: str = "default") -> FaceLibrary:
    """Read the people of ``identity_set`` from ``faces_dir/MANIFEST.csv`` (DemoError if it or a
    listed file is missing)."""
    if identity_set not in IDENTITY_SETS:
        raise DemoError(
            "bad_config", f"unknown identity set {identity_set!r}; use one of {IDENTITY_SETS}"
        )
    manifest = faces_dir / "MANIFEST.csv"
    if not manifest.is_file():
        raise DemoError("faces_missing", f"the demo's face manifest {manifest} does not exist")
    with manifest.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise DemoError("faces_manifest", f"{manifest} lacks the columns {missing}")
        rows = list(reader)
    photos: dict[str, list[FacePhoto]] = {}
    for row in rows:
        if (row.get("identity_set") or "default") != identity_set:
            continue
        path = faces_dir / row["path"]
        if not path.is_file():
            raise DemoError(
                "faces_missing", f"{manifest} lists {row['path']}, which does not exist"
            )
        if row["role"] not in ROLES:
            raise DemoError("faces_manifest", f"{row['path']}: unknown role {row['role']!r}")
        box = tuple(int(row[k]) for k in ("face_x1", "face_y1", "face_x2", "face_y2"))
        if box[2] <= box[0] or box[3] <= box[1]:
            raise DemoError("faces_manifest", f"{row['path']}: empty face box {box}")
        photos.setdefault(row["identity"], []).append(
            FacePhoto(row["identity"], row["role"], path, box)  # type: ignore[arg-type]
        )
    return FaceLibrary({k: tuple(v) for k, v in photos.items()})


@lru_cache(maxsize=64)
def _load(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


@lru_cache(maxsize=32)
def _feather_mask(size: tuple[int, int], face_box: tuple[int, int, int, int]) -> Image.Image:
    """An opaque head-and-shoulders silhouette with soft edges that never cuts into the face box."""
    w, h = size
    x1, y1, x2, y2 = face_box
    margin = max(2, min(x1, y1, w - x2))
    radius = max(1.0, min(0.10 * (y2 - y1), margin / 2.5))
    inset = int(radius)
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    corner = int(min(0.25 * min(w, h), max(margin, 2 * radius)))
    draw.rounded_rectangle((inset, inset, w - 1 - inset, h + corner), radius=corner, fill=255)
    return mask.filter(ImageFilter.GaussianBlur(radius / 2))


def person_layer(
    photo: FacePhoto,
    face_height: float,
    *,
    flip: bool = False,
    width_faces: float | None = None,
) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """The photo scaled so its face box is ``face_height`` px tall, as RGBA with feathered edges.

    ``width_faces`` narrows the layer to that many face widths around the face (so a person
    standing beside someone does not cover them). Returns the layer and the face box in layer
    pixels (mirrored when ``flip``).
    """
    image = _load(photo.path)
    scale = face_height / photo.face_height
    size = (max(2, round(image.width * scale)), max(2, round(image.height * scale)))
    sx, sy = size[0] / image.width, size[1] / image.height
    x1, y1, x2, y2 = photo.face_box
    box = (x1 * sx, y1 * sy, x2 * sx, y2 * sy)
    rgb = image.resize(size, Image.Resampling.BICUBIC)
    if width_faces is not None:
        half = width_faces * (box[2] - box[0]) / 2
        centre = (box[0] + box[2]) / 2
        left, right = max(0, round(centre - half)), min(size[0], round(centre + half))
        rgb = rgb.crop((left, 0, right, size[1]))
        box = (box[0] - left, box[1], box[2] - left, box[3])
        size = rgb.size
    mask = _feather_mask(size, tuple(round(v) for v in box))  # type: ignore[arg-type]
    layer = rgb.convert("RGBA")
    layer.putalpha(mask)
    if flip:
        layer = layer.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        box = (size[0] - box[2], box[1], size[0] - box[0], box[3])
    return layer, box


def print_photo(
    photo: FacePhoto, face_height: float, *, border: int = 4, flip: bool = False
) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """The photo as a small print (white border) with its face box ``face_height`` px tall."""
    image = _load(photo.path)
    scale = face_height / photo.face_height
    size = (max(2, round(image.width * scale)), max(2, round(image.height * scale)))
    rgb = image.resize(size, Image.Resampling.BICUBIC)
    x1, y1, x2, y2 = photo.face_box
    sx, sy = size[0] / image.width, size[1] / image.height
    box = (x1 * sx, y1 * sy, x2 * sx, y2 * sy)
    if flip:
        rgb = rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        box = (size[0] - box[2], box[1], size[0] - box[0], box[3])
    framed = Image.new("RGB", (size[0] + 2 * border, size[1] + 2 * border), (245, 243, 238))
    framed.paste(rgb, (border, border))
    return framed, (box[0] + border, box[1] + border, box[2] + border, box[3] + border)
