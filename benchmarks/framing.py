"""How often a picture's border is found around real faces (``faces.framing``), live or printed.

Every ``shared/real_ads`` folder (as a 1 fps video) and every real clip of ``shared/videos`` goes
through frames, faces and the dominant-face rule with the border rule switched off; per track
seen in at least two frames with a median face of at least 5 % of the frame height it prints the
share of its frames with a border, beside what the track is: the labelled presenter (the winner
in a ``presenter = yes`` folder), a track in a folder whose faces are pictures, a real clip's
person. The border rule must never fire on presenters or on the clips' live people.

    python benchmarks/framing.py [--shared ../shared] [--work /tmp/framing]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pandas as pd
from faces_accuracy import one_fps_video

from influencer_pipeline.faces.detection import FaceDetector
from influencer_pipeline.faces.dominant import DominanceConfig, choose_dominant
from influencer_pipeline.faces.embedders import make_embedder
from influencer_pipeline.faces.liveness import MIN_PICTURE_PAIRS
from influencer_pipeline.faces.records import FACE_ROLES, face_rows
from influencer_pipeline.faces.track_evidence import track_stats
from influencer_pipeline.media.encode import write_video
from influencer_pipeline.media.frames import SamplingConfig, frames_table, sample_frames

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def track_rows(name: str, path: Path, sampling: SamplingConfig, models: tuple) -> list[dict]:
    """Per track of one video: frames, median size, border share, and whether it won."""
    detector, embedder = models
    frames = frames_table(name, sample_frames(path, sampling), sampling)
    faces = face_rows(name, frames, detector, embedder).reset_index(drop=True)
    searched = int((frames["role"].isin(FACE_ROLES) & ~frames["is_blank"]).sum())
    rule = DominanceConfig.for_embedder("dlib")
    decision = choose_dominant(faces.drop(columns=["framed"]), searched, rule)  # border rule off
    stats = track_stats(faces, decision.labels, searched)
    return [
        {
            "video": name,
            "track": s.label,
            "frames": s.n_frames,
            "height": round(s.median_rel_height, 3),
            "framed": s.framed_frames,
            "share": round(s.framed_share, 2),
            "pairs": s.pairs,
            "rigid": s.rigid_pairs,
            "shape": round(s.median_shape, 3),
            "gallery": s.gallery_frames,
            "winner": decision.track == s.label,
        }
        for s in stats
        if s.n_frames >= 2 and s.median_rel_height >= 0.05
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--work", type=Path, default=Path("/tmp/framing"))
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    models = (FaceDetector(batch_size=16), make_embedder("dlib"))
    rows: list[dict] = []
    with (args.shared / "real_ads" / "labels.csv").open(encoding="utf-8") as handle:
        for label in csv.DictReader(handle):
            name = label["folder"]
            path = one_fps_video(
                args.shared / "real_ads" / name, args.work / f"{name}.mp4", write_video
            )
            for row in track_rows(name, path, SamplingConfig(body_fps=1.0), models):
                presenter = label["presenter"].startswith("yes") and row["winner"]
                pictures = bool(label["faces_that_are_not_the_influencer"])
                kind = "presenter" if presenter else ("pictures" if pictures else "other")
                rows.append({**row, "kind": kind})
    for clip in sorted((args.shared / "videos").glob("*.mp4")):
        for row in track_rows(clip.stem, clip, SamplingConfig(), models):
            rows.append({**row, "kind": "clip"})
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 160)
    print(table.to_string(index=False))
    print("\nframed in >= half of its frames, per kind of track:")
    for kind, part in table.groupby("kind"):
        print(f"  {kind:9s} {int((part['share'] >= 0.5).sum())} of {len(part)} tracks")
    brief = table[table["pairs"] < MIN_PICTURE_PAIRS]
    print(f"\ntoo brief for a rigidity verdict (< {MIN_PICTURE_PAIRS} pairs), per kind of track:")
    for kind, part in brief.groupby("kind"):
        one = int(((part["pairs"] == 1) & (part["rigid"] == 1)).sum())
        several = int(((part["pairs"] >= 2) & (part["rigid"] == part["pairs"])).sum())
        framed = int((part["share"] >= 0.5).sum())
        print(
            f"  {kind:9s} {len(part)} tracks: framed in >= half {framed}; every pair rigid: "
            f"with one pair {one}, with two or three {several}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
