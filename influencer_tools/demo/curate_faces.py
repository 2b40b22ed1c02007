"""Curate the demo's shipped face photos from ``../shared/faces`` (one-off developer script).

Not used at demo time: the demo reads only ``influencer_tools/demo/faces/``. Run it again when
the selection below changes::

    .venv/bin/python -m influencer_tools.demo.curate_faces [--shared ../shared] [--out DIR]

``python -m influencer_tools.demo.curate_sets development validation`` then adds the people of
the development and validation folds as further identity sets (``demo/curate_sets.py``).

For every candidate photo it runs facenet-pytorch MTCNN (weights ship in the package), keeps photos
with exactly one dominant face, crops a head-and-shoulders region, resizes it to at most
``LONG_SIDE`` pixels, saves it as JPEG q90 and records the crop box and the face box inside the crop
(found again by MTCNN on the saved crop) in ``MANIFEST.csv``. Then it checks the identities with
dlib's 128-d face descriptor: an influencer's photos must be mutually closer than ``SAME_MAX`` and
every chosen identity must be farther than ``SAME_MAX`` from every other one; identities that fail
are dropped. It writes ``LICENSES.md`` and prints the distance summary.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import dlib
import numpy as np
import torch
from facenet_pytorch import MTCNN
from PIL import Image

FACES_OUT = Path(__file__).resolve().parent / "faces"
DEFAULT_SHARED = Path(__file__).resolve().parents[3] / "shared"

# Colour photos of one clearly visible person, >= 3 photos each (checked below).
INFLUENCER_CANDIDATES = (
    "barack_obama",
    "kit_harington",
    "alex_lacamoire",
    "guido_van_rossum",
    "paul_allen",
    "steve_wozniak",
    "twd_daryl",
    "twd_negan",
    "twd_rick",
    "gofacetestdata_bona",
    "jimin_aoa",
    "compreface_sample_a",
    "ben_affleck",
    "elton_john",
)
# Side characters and photos on screen: shown at 5-25 % of the frame height, so LFW chips suffice.
OTHER_CANDIDATES = (
    "joe_biden",
    "rose_leslie",
    "openface_clapton",
    "openface_lennon",
    "lfw_cindy_crawford",
    "lfw_penelope_cruz",
    "lfw_mariah_carey",
    "lfw_steffi_graf",
    "lfw_demi_moore",
    "lfw_toni_braxton",
    "lfw_tiger_woods",
    "lfw_roger_federer",
    "lfw_justin_timberlake",
    "lfw_jay_leno",
    "lfw_warren_buffett",
    "lfw_paul_mccartney",
    "lfw_allyson_felix",
    "lfw_gloria_trevi",
    "lfw_mary_steenburgen",
    "lfw_arianna_huffington",
    "lfw_naoto_kan",
    "lfw_mukesh_ambani",
)
MAX_INFLUENCER_PHOTOS = 5
MIN_INFLUENCER_PHOTOS = 3
MAX_OTHER_PHOTOS = 2
LONG_SIDE = 360
OTHER_LONG_SIDE = 240
DETECT_SIDE = 640
# MANIFEST.csv's columns as this script writes them (``curate_sets`` adds ``identity_set``)
MANIFEST_COLUMNS = (
    "path",
    "identity",
    "role",
    "shared_path",
    "source_repo",
    "source_path",
    "license_of_repo",
    "crop_x1",
    "crop_y1",
    "crop_x2",
    "crop_y2",
    "face_x1",
    "face_y1",
    "face_x2",
    "face_y2",
    "width",
    "height",
    "det_prob",
)
MIN_PROB = 0.98  # detector confidence of the dominant face
OTHER_FACE_PROB = 0.90  # a second face at this confidence ...
OTHER_FACE_RATIO = 0.30  # ... and at least this fraction of the dominant face's height disqualifies
MIN_FACE_PX = 90  # dominant face height in the source photo
MIN_COLOUR = 6.0  # mean |R-G| + |G-B|: below this a photo is treated as grayscale
SAME_MAX = 0.6  # dlib descriptor distance: same person below, different people above
# Head-and-shoulders crop, in units of the face box height.
CROP_HEIGHT = 2.6
CROP_ASPECT = 0.8  # width / height
CROP_ABOVE = 0.6  # space above the face box


@dataclass
class Curated:
    """One curated photo: where it came from, its crop and the face box inside the saved crop."""

    identity: str
    role: str
    shared_path: str
    source: dict[str, str]
    crop_box: tuple[int, int, int, int]
    image: Image.Image
    face_box: tuple[int, int, int, int] = (0, 0, 0, 0)
    det_prob: float = 0.0
    descriptor: np.ndarray | None = field(default=None, repr=False)


def _detector() -> MTCNN:
    torch.set_num_threads(2)
    return MTCNN(keep_all=True, device="cpu")


def _detect(mtcnn, image: Image.Image) -> list[tuple[tuple[float, float, float, float], float]]:
    scale = min(1.0, DETECT_SIDE / max(image.size))
    small = image
    if scale < 1.0:
        small = image.resize((round(image.width * scale), round(image.height * scale)))
    boxes, probs = mtcnn.detect(small)
    if boxes is None:
        return []
    faces = [
        (tuple(float(v) / scale for v in box), float(p))
        for box, p in zip(boxes, probs, strict=True)
    ]
    return sorted(faces, key=lambda f: -(f[0][3] - f[0][1]))


def _single_face(faces: list) -> tuple[tuple[float, float, float, float], float] | None:
    confident = [f for f in faces if f[1] >= OTHER_FACE_PROB]
    if not confident or confident[0][1] < MIN_PROB:
        return None
    main_h = confident[0][0][3] - confident[0][0][1]
    if any((f[0][3] - f[0][1]) >= OTHER_FACE_RATIO * main_h for f in confident[1:]):
        return None
    return confident[0]


def _crop_box(face: tuple[float, ...], size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    x1, y1, x2, y2 = face
    fh = y2 - y1
    height = min(CROP_HEIGHT * fh, size[1])
    width = min(height * CROP_ASPECT, size[0])
    left = min(max(0.0, (x1 + x2) / 2 - width / 2), size[0] - width)
    top = min(max(0.0, y1 - CROP_ABOVE * fh), size[1] - height)
    box = (round(left), round(top), round(left + width), round(top + height))
    inside = box[0] <= x1 and box[1] <= y1 and box[2] >= x2 and box[3] >= y2
    return box if inside else None


def _colourfulness(image: Image.Image) -> float:
    arr = np.asarray(image, dtype=np.float32)
    return float(
        np.abs(arr[..., 0] - arr[..., 1]).mean() + np.abs(arr[..., 1] - arr[..., 2]).mean()
    )


def _curate_photo(mtcnn, shared: Path, row: dict[str, str], role: str) -> Curated | str:
    image = Image.open(shared / "faces" / row["path"]).convert("RGB")
    if _colourfulness(image) < MIN_COLOUR:
        return "grayscale"
    found = _single_face(_detect(mtcnn, image))
    if found is None:
        return "not exactly one dominant face"
    box, _ = found
    if box[3] - box[1] < MIN_FACE_PX:
        return f"face smaller than {MIN_FACE_PX}px"
    crop_box = _crop_box(box, image.size)
    if crop_box is None:
        return "face cut by the image border"
    crop = image.crop(crop_box)
    long_side = LONG_SIDE if role == "influencer" else OTHER_LONG_SIDE
    scale = min(1.0, long_side / max(crop.size))
    if scale < 1.0:
        crop = crop.resize(
            (round(crop.width * scale), round(crop.height * scale)), Image.Resampling.LANCZOS
        )
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=90)
    saved = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    again = _single_face(_detect(mtcnn, saved))
    if again is None:
        return "crop does not hold exactly one dominant face"
    face_box = tuple(round(v) for v in again[0])
    face_box = (
        max(0, face_box[0]),
        max(0, face_box[1]),
        min(saved.width, face_box[2]),
        min(saved.height, face_box[3]),
    )
    source = {k: row[k] for k in ("source_repo", "source_path", "license_of_repo")}
    return Curated(
        identity=row["identity"],
        role=role,
        shared_path=f"faces/{row['path']}",
        source=source,
        crop_box=crop_box,
        image=saved,
        face_box=face_box,
        det_prob=again[1],
    )


def _dlib_models() -> tuple[object, object]:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "face_recognition_models is not installed (pip install it beside dlib-bin)"
        )
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    rec = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    return shape, rec


def _describe(photos: list[Curated]) -> None:
    shape_predictor, facerec = _dlib_models()
    for photo in photos:
        rgb = np.asarray(photo.image)
        rect = dlib.rectangle(*photo.face_box)
        shape = shape_predictor(rgb, rect)
        photo.descriptor = np.array(facerec.compute_face_descriptor(rgb, shape))


def _distances(a: list[Curated], b: list[Curated]) -> np.ndarray:
    da = np.stack([p.descriptor for p in a])
    db = np.stack([p.descriptor for p in b])
    return np.linalg.norm(da[:, None, :] - db[None, :, :], axis=2)


def _verify(by_id: dict[str, list[Curated]]) -> tuple[dict[str, list[Curated]], list[str]]:
    """Drop photos/identities that break the same < SAME_MAX < different rule; return the log."""
    log: list[str] = []
    kept = dict(by_id)
    for ident in [i for i in kept if kept[i][0].role == "influencer"]:
        photos = kept[ident]
        while len(photos) >= MIN_INFLUENCER_PHOTOS:
            d = _distances(photos, photos)
            if d.max() < SAME_MAX:
                break
            worst = int(np.argmax(d.mean(axis=1)))
            log.append(f"{ident}: dropped {photos[worst].shared_path} (intra max {d.max():.3f})")
            photos = photos[:worst] + photos[worst + 1 :]
        if len(photos) < MIN_INFLUENCER_PHOTOS:
            log.append(f"{ident}: DROPPED (fewer than {MIN_INFLUENCER_PHOTOS} consistent photos)")
            del kept[ident]
        else:
            kept[ident] = photos
    changed = True
    while changed:
        changed = False
        idents = sorted(kept)
        worst: tuple[float, str, str] | None = None
        for i, a in enumerate(idents):
            for b in idents[i + 1 :]:
                dmin = float(_distances(kept[a], kept[b]).min())
                if dmin <= SAME_MAX and (worst is None or dmin < worst[0]):
                    worst = (dmin, a, b)
        if worst is not None:
            dmin, a, b = worst
            # Keep influencers over others; among equals keep the one with more photos.
            rank = {x: (kept[x][0].role == "influencer", len(kept[x])) for x in (a, b)}
            drop = a if rank[a] < rank[b] else b
            log.append(f"{drop}: DROPPED (distance {dmin:.3f} to {a if drop == b else b})")
            del kept[drop]
            changed = True
    return kept, log


def _summary(kept: dict[str, list[Curated]]) -> list[str]:
    lines = []
    influencers = sorted(i for i in kept if kept[i][0].role == "influencer")
    everyone = sorted(kept)
    intra_all, inter_all = [], []
    for ident in influencers:
        d = _distances(kept[ident], kept[ident])
        intra = d[np.triu_indices(len(d), 1)]
        inter = min(float(_distances(kept[ident], kept[o]).min()) for o in everyone if o != ident)
        intra_all.extend(intra.tolist())
        inter_all.append(inter)
        lines.append(
            f"{ident:22s} photos={len(kept[ident])} intra max={intra.max():.3f} "
            f"mean={intra.mean():.3f} nearest other identity={inter:.3f}"
        )
    lines.append(
        f"influencers={len(influencers)} others={len(everyone) - len(influencers)} "
        f"intra max over all={max(intra_all):.3f} min inter={min(inter_all):.3f}"
    )
    return lines


def _write(kept: dict[str, list[Curated]], out: Path) -> None:
    if out.exists():
        for child in out.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            elif child.name in {"MANIFEST.csv", "LICENSES.md"}:
                child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    with (out / "MANIFEST.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for ident in sorted(kept):
            for n, photo in enumerate(kept[ident], start=1):
                rel = f"{ident}/{n}.jpg"
                (out / ident).mkdir(exist_ok=True)
                photo.image.save(out / rel, "JPEG", quality=90)
                writer.writerow(
                    {
                        "path": rel,
                        "identity": ident,
                        "role": photo.role,
                        "shared_path": photo.shared_path,
                        **photo.source,
                        **dict(zip(MANIFEST_COLUMNS[7:11], photo.crop_box, strict=True)),
                        **dict(zip(MANIFEST_COLUMNS[11:15], photo.face_box, strict=True)),
                        "width": photo.image.width,
                        "height": photo.image.height,
                        "det_prob": f"{photo.det_prob:.4f}",
                    }
                )
    _write_licenses(kept, out / "LICENSES.md")


def _write_licenses(kept: dict[str, list[Curated]], path: Path) -> None:
    groups: dict[tuple[str, str], set[str]] = {}
    counts: dict[tuple[str, str], int] = {}
    for ident, photos in kept.items():
        for photo in photos:
            repo = photo.source["source_repo"].split("@")[0]
            key = (repo, photo.source["license_of_repo"])
            groups.setdefault(key, set()).add(ident)
            counts[key] = counts.get(key, 0) + 1
    lines = [
        "# Demo face photos: sources and licences",
        "",
        "The photos under this folder are head-and-shoulders crops (at most 360 px, JPEG q90)",
        "of photos that public open-source repositories ship as face-recognition examples or",
        "test data. They were collected in the project's reference material (`shared/faces/`)",
        "and cut down by `influencer_tools/demo/curate_faces.py`. `MANIFEST.csv` names, for",
        "every file, the repository and path it comes from, the repository's licence, the crop",
        "box and the face box. The photos are used only to render the synthetic demo videos;",
        "the people shown are not connected to the project, and the demo's influencer roles,",
        "brands and scores are invented.",
        "",
        "| source repository | licence of the repository | files | identities |",
        "|---|---|---|---|",
    ]
    for (repo, licence), idents in sorted(groups.items()):
        names = ", ".join(sorted(idents))
        lines.append(f"| {repo} | {licence} | {counts[(repo, licence)]} | {names} |")
    lines += [
        "",
        "Notes",
        "- LFW (Labeled Faces in the Wild) images (`lfw_*`, and some `ben_affleck`/`elton_john`",
        "  files) come from the LFW set as committed in exadel-inc/CompreFace; the LFW images",
        "  themselves carry no licence, the repository is Apache-2.0.",
        "- Kagami/go-face-testdata states no licence; its companion library Kagami/go-face is",
        "  CC0-1.0.",
        "- Files taken from ageitgey/face_recognition pull request 1285 were never merged.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def curate(shared: Path, out: Path) -> list[str]:
    """Run the whole curation from ``shared`` into ``out``; return the report lines."""
    manifest = shared / "faces" / "MANIFEST.csv"
    if not manifest.is_file():
        raise SystemExit(f"{manifest} not found: pass --shared pointing at the shared folder")
    with manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    mtcnn = _detector()
    log: list[str] = []
    by_id: dict[str, list[Curated]] = {}
    for role, candidates, limit in (
        ("influencer", INFLUENCER_CANDIDATES, MAX_INFLUENCER_PHOTOS),
        ("other", OTHER_CANDIDATES, MAX_OTHER_PHOTOS),
    ):
        for ident in candidates:
            photos = []
            for row in (r for r in rows if r["identity"] == ident):
                result = _curate_photo(mtcnn, shared, row, role)
                if isinstance(result, str):
                    log.append(f"{ident}: skipped {row['path']} ({result})")
                else:
                    photos.append(result)
            # Prefer large, sharp faces: most face pixels in the source photo first.
            photos.sort(key=lambda p: -(p.crop_box[3] - p.crop_box[1]))
            needed = MIN_INFLUENCER_PHOTOS if role == "influencer" else 1
            if len(photos) < needed:
                log.append(f"{ident}: DROPPED (only {len(photos)} usable photos)")
                continue
            by_id[ident] = photos[: limit + 2] if role == "influencer" else photos[:limit]
    everyone = [p for photos in by_id.values() for p in photos]
    _describe(everyone)
    kept, verify_log = _verify(by_id)
    for ident, photos in kept.items():
        if photos[0].role == "influencer":
            kept[ident] = photos[:MAX_INFLUENCER_PHOTOS]
    _write(kept, out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return [*log, *verify_log, *_summary(kept), f"total size {size / 1e6:.2f} MB"]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: curate the photos and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared folder")
    parser.add_argument("--out", type=Path, default=FACES_OUT, help="output folder")
    args = parser.parse_args(argv)
    for line in curate(args.shared, args.out):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
