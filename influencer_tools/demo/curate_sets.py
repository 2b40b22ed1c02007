"""Add the development and validation folds of ``../shared/faces`` to the demo's photos.

A developer script (``python -m influencer_tools.demo.curate_sets development validation``):
keeps every shipped file and manifest row, writes ``faces/FOLDS.csv`` and adds the people of the
requested folds as identity sets (manifest column ``identity_set``). In a set, the people with at
least ``MIN_INFLUENCER_PHOTOS`` usable colour photos are influencers, except every third of them by
name hash (side characters and photos on screen come from them, with the people that have fewer
photos). No person is dropped for having dissimilar photos: the folds keep people as hard as they
are.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path

import numpy as np

from influencer_tools.demo.curate_faces import (
    DEFAULT_SHARED,
    FACES_OUT,
    INFLUENCER_CANDIDATES,
    MANIFEST_COLUMNS,
    MAX_INFLUENCER_PHOTOS,
    MAX_OTHER_PHOTOS,
    MIN_INFLUENCER_PHOTOS,
    OTHER_CANDIDATES,
    Curated,
    _curate_photo,
    _describe,
    _detector,
    _distances,
)
from influencer_tools.demo.folds import DEVELOPMENT, VALIDATION, fold_of, write_folds

COLUMNS = [*MANIFEST_COLUMNS, "identity_set"]


def _read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.setdefault("identity_set", "default")
        row["identity_set"] = row["identity_set"] or "default"
    return rows


def _is_other(identity: str) -> bool:
    return int(hashlib.sha256(("role:" + identity).encode()).hexdigest(), 16) % 3 == 0


def _rows(identity: str, role: str, fold: str, photos: list[Curated]) -> list[dict[str, str]]:
    out = []
    for n, photo in enumerate(photos, start=1):
        out.append(
            {
                "path": f"{identity}/{n}.jpg",
                "identity": identity,
                "role": role,
                "shared_path": photo.shared_path,
                **photo.source,
                **dict(zip(COLUMNS[7:11], (str(v) for v in photo.crop_box), strict=True)),
                **dict(zip(COLUMNS[11:15], (str(v) for v in photo.face_box), strict=True)),
                "width": str(photo.image.width),
                "height": str(photo.image.height),
                "det_prob": f"{photo.det_prob:.4f}",
                "identity_set": fold,
            }
        )
    return out


def curate_sets(shared: Path, out: Path, sets: list[str]) -> list[str]:
    """Add the people of the folds ``sets`` to ``out``; return the report lines."""
    with (shared / "faces" / "MANIFEST.csv").open(encoding="utf-8") as handle:
        source_rows = list(csv.DictReader(handle))
    identities = sorted({r["identity"] for r in source_rows})
    default_demo = set(INFLUENCER_CANDIDATES) | set(OTHER_CANDIDATES)
    write_folds(identities, default_demo, out / "FOLDS.csv")
    manifest = _read_manifest(out / "MANIFEST.csv")
    kept = [r for r in manifest if r["identity_set"] not in sets]
    mtcnn = _detector()
    log: list[str] = []
    added: list[dict[str, str]] = []
    for identity in identities:
        fold = fold_of(identity, default_demo)
        if identity in default_demo or fold not in sets:
            continue
        photos = []
        for row in (r for r in source_rows if r["identity"] == identity):
            result = _curate_photo(mtcnn, shared, row, "influencer")
            if isinstance(result, str):
                log.append(f"{fold}/{identity}: skipped {row['path']} ({result})")
            else:
                photos.append(result)
        if not photos:
            log.append(f"{fold}/{identity}: no usable photo")
            continue
        photos.sort(key=lambda p: -(p.crop_box[3] - p.crop_box[1]))
        influencer = len(photos) >= MIN_INFLUENCER_PHOTOS and not _is_other(identity)
        role = "influencer" if influencer else "other"
        photos = photos[: MAX_INFLUENCER_PHOTOS if influencer else MAX_OTHER_PHOTOS]
        if influencer:
            _describe(photos)
            d = _distances(photos, photos)
            spread = float(d[np.triu_indices(len(d), 1)].max()) / 1.43  # ~normalised units
            log.append(f"{fold}/{identity}: influencer, {len(photos)} photos, max {spread:.2f}")
        folder = out / identity
        folder.mkdir(parents=True, exist_ok=True)
        for n, photo in enumerate(photos, start=1):
            photo.image.save(folder / f"{n}.jpg", "JPEG", quality=90)
        added.extend(_rows(identity, role, fold, photos))
    with (out / "MANIFEST.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in kept + added:
            writer.writerow({c: row.get(c, "") for c in COLUMNS})
    for fold in sets:
        rows = [r for r in added if r["identity_set"] == fold]
        people = {r["identity"]: r["role"] for r in rows}
        n_inf = sum(role == "influencer" for role in people.values())
        log.append(f"{fold}: {n_inf} influencers, {len(people) - n_inf} others, {len(rows)} photos")
    return log


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: add the fold sets and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", choices=[DEVELOPMENT, VALIDATION], help="fold sets")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared folder")
    parser.add_argument("--out", type=Path, default=FACES_OUT, help="output folder")
    args = parser.parse_args(argv)
    for line in curate_sets(args.shared, args.out, args.sets):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
