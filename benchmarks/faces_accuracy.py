"""Face figures for ``benchmarks/accuracy.py`` (its ``face_section``): identities and presenters.

- **Demo identities**: a demo built from the people of a fold (``--identities validation``:
  people never used while tuning; ``demo/folds.py``) goes through the real pipeline; the face
  videos' influencers are scored against the truth (BCubed and pairwise P/R/F, wrong merges,
  splits, face videos whose presenter was not found).
- **Curve**: the lake's dominant faces re-clustered at every value of the main threshold without
  rerunning the pipeline, compared as the ``identity_clusters`` asset compares them
  (``USE_TRACK_FACES``: mean vectors and ``identity_threshold``, or best-matching faces and
  ``link_threshold``): precision / recall / F per value.
- **Real ads**: every ``../shared/real_ads`` folder as a 1 fps video through the per-video path
  (frames, faces, dominant face); per folder the label (presenter, photos that must not win) and
  the decision. ``yes (baby)`` and ``yes (child)`` count as ``yes``: a viewer would call them
  the ad's presenter. ``brief`` is not required either way.
- **Work**: faces detected, embedded and skipped (and why) in the demo's lake.
"""

from __future__ import annotations

import csv
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from influencer_pipeline import lake as lake_io
from influencer_pipeline.catalog.urls import normalize_url
from influencer_pipeline.faces.calibration import calibration_for
from influencer_pipeline.identities.clustering import ClusterConfig, cluster_video_faces
from influencer_tools.demo.config import DemoConfig
from influencer_tools.demo.generator import generate_demo
from influencer_tools.evaluation.report import evaluate_assignments
from influencer_tools.evaluation.truth import load_truth

CURVE = (0.30, 0.32, 0.34, 0.345, 0.35, 0.36, 0.38, 0.40, 0.42, 0.44, 0.46)
FACE_DEMO = {"validation": (20260, 20), "development": (11, 15), "default": (7, 8)}


def build_face_demo(out: Path, identities: str) -> Path:
    """The demo of ``identities`` (seed and influencer count of ``FACE_DEMO``); reused if there."""
    seed, influencers = FACE_DEMO[identities]
    config = DemoConfig(seed=seed, identities=identities, n_face_influencers=influencers)
    if identities == "validation":
        config = replace(config, brand_pool="validation")
    started = time.perf_counter()
    summary = generate_demo(out, config)
    print(
        f"face demo ({identities}): {summary.n_files} files ({time.perf_counter() - started:.0f} s)"
    )
    return out


def _face_scores(influencers: pd.DataFrame, demo: Path) -> dict[str, Any]:
    truth = load_truth(demo / "truth.csv")
    report = evaluate_assignments(influencers, truth, lambda url: normalize_url(url, demo))
    section = report.sections["face"]
    return {
        "videos": section.n_videos,
        "people": section.n_true_influencers,
        "predicted": section.n_predicted_influencers,
        "bcubed": section.bcubed,
        "pairwise": section.pairwise,
        "wrong_merges": [e.to_dict() for e in section.wrong_merges],
        "splits": len(section.splits),
        "by_outro": report.method_by_kind.get("face", {}).get("outro", 0),
    }


def _prf(values: tuple[float, float, float]) -> str:
    return "P {:.3f}  R {:.3f}  F {:.3f}".format(*values)


def demo_lines(name: str, scores: dict[str, Any]) -> list[str]:
    """The printed lines of one demo's face figures."""
    merges = scores["wrong_merges"]
    return [
        f"face videos, {name} demo ({scores['videos']} videos, {scores['people']} people, "
        f"{scores['predicted']} predicted influencers)",
        f"  BCubed   {_prf(scores['bcubed'])}",
        f"  pairwise {_prf(scores['pairwise'])}",
        f"  wrong merges {len(merges)}, splits {scores['splits']}, face videos without a "
        f"dominant face (assigned by outro) {scores['by_outro']}",
        *[f"  merged: {m}" for m in merges],
    ]


def main_threshold() -> str:
    """The name of the threshold the ``identity_clusters`` asset decides with."""
    from influencer_pipeline.defs.identities.assets import USE_TRACK_FACES

    return "link_threshold" if USE_TRACK_FACES else "identity_threshold"


def recluster(
    lake: Path, demo: Path, threshold: float, embedder: str = "dlib", **settings: Any
) -> dict:
    """The face figures with the dominant faces re-clustered as the asset does, with its main
    threshold (``main_threshold``) set to ``threshold`` (other ``ClusterConfig`` ``settings``
    changed too when given)."""
    faces = lake_io.read_parquet_many(sorted((lake / "video_faces").glob("*.parquet")))
    groups = lake_io.read_parquet(lake / "duplicate_groups.parquet")
    influencers = lake_io.read_parquet(lake / "video_influencers.parquet")
    canonical = set(groups.loc[groups["is_canonical"], "video_id"])
    faces = faces[faces["has_dominant_face"] & faces["video_id"].isin(canonical)]
    calibration = calibration_for(embedder)
    values = {
        "identity_threshold": calibration.identity_threshold,
        "link_threshold": calibration.link_threshold,
        main_threshold(): threshold,
        **settings,
    }
    config = ClusterConfig(**values)
    bags = main_threshold() == "link_threshold"
    clusters = cluster_video_faces(faces.reset_index(drop=True), config, use_bags=bags)
    label = dict(zip(clusters["video_id"], clusters["cluster_key"], strict=True))
    source = influencers["duplicate_of"].fillna(influencers["video_id"])
    influencers = influencers.assign(
        influencer_id=[
            f"C-{label[s]}" if s in label else i
            for s, i in zip(source, influencers["influencer_id"], strict=True)
        ]
    )
    return _face_scores(influencers, demo)


def curve_lines(lake: Path, demo: Path, name: str) -> tuple[list[str], list[dict]]:
    """Precision / recall over the main threshold (face videos of one demo lake)."""
    lines = [f"precision/recall over {main_threshold()} ({name} demo, BCubed / pairwise)"]
    rows = []
    for t in CURVE:
        s = recluster(lake, demo, t)
        rows.append({"threshold": t, "bcubed": s["bcubed"], "pairwise": s["pairwise"]})
        lines.append(
            f"  {t:.3f}  BCubed {_prf(s['bcubed'])}   pairwise {_prf(s['pairwise'])}   "
            f"wrong merges {len(s['wrong_merges'])}"
        )
    return lines, rows


def work_lines(lake: Path) -> tuple[list[str], dict[str, Any]]:
    """Faces detected, embedded and skipped (and why) in a lake."""
    faces = lake_io.read_parquet_many(
        sorted((lake / "face_embeddings").glob("*.parquet")), ["embedding", "embed_skip"]
    )
    embedded = int(faces["embedding"].map(lambda v: v is not None).sum())
    why = faces["embed_skip"].dropna().value_counts().to_dict()
    videos = len(list((lake / "face_embeddings").glob("*.parquet")))
    line = (
        f"faces: {len(faces)} detected in {videos} videos, {embedded} embedded, "
        f"{len(faces) - embedded} skipped {why}"
    )
    return [line], {"detected": len(faces), "embedded": embedded, "skipped": why}


def real_ads_presenters(shared: Path, work: Path) -> tuple[list[str], dict[str, Any]]:
    """Per ``shared/real_ads`` folder: its label and the dominant-face decision."""
    from influencer_pipeline.faces.detection import FaceDetector
    from influencer_pipeline.faces.dominant import DominanceConfig, choose_dominant
    from influencer_pipeline.faces.embedders import make_embedder
    from influencer_pipeline.faces.records import FACE_ROLES, face_rows
    from influencer_pipeline.media.encode import write_video
    from influencer_pipeline.media.frames import SamplingConfig, frames_table, sample_frames

    folder = shared / "real_ads"
    if not (folder / "labels.csv").is_file():
        return [f"real ads: {folder} is not here, skipped"], {}
    detector, embedder = FaceDetector(batch_size=16), make_embedder("dlib")
    sampling, rule = SamplingConfig(body_fps=1.0), DominanceConfig.for_embedder("dlib")
    videos = work / "real_ads_1fps"
    videos.mkdir(parents=True, exist_ok=True)
    with (folder / "labels.csv").open(encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    lines, rows = ["real ads (shared/real_ads): presenter and photo decisions"], []
    for label in labels:
        name = label["folder"]
        path = one_fps_video(folder / name, videos / f"{name}.mp4", write_video)
        frames = frames_table(name, sample_frames(path, sampling), sampling)
        faces = face_rows(name, frames, detector, embedder)
        searched = int((frames["role"].isin(FACE_ROLES) & ~frames["is_blank"]).sum())
        decision = choose_dominant(faces, searched, rule)
        rows.append({**label, "dominant": decision.has_dominant_face, "why": decision.decision})
    required = [r for r in rows if r["presenter"].startswith("yes")]
    forbidden = [r for r in rows if r["faces_that_are_not_the_influencer"]]
    found = [r for r in required if r["dominant"]]
    wrong = [r for r in forbidden if r["dominant"]]
    others = [r for r in rows if r not in required and r["dominant"]]
    lines.append(
        f"  presenter = yes (baby/child included): {len(found)} of {len(required)} get a dominant "
        f"face; folders with photos that must not win: {len(wrong)} of {len(forbidden)} get one; "
        f"other folders with a dominant face: {[r['folder'] for r in others]}"
    )
    for r in rows:
        flag = "ok"
        if r in required and not r["dominant"]:
            flag = "MISSED"
        elif r in forbidden and r["dominant"]:
            flag = "WRONG"
        label_text = f"{r['presenter']}; not: {r['faces_that_are_not_the_influencer'] or '-'}"
        lines.append(f"  {r['folder']} [{label_text}] {flag}: {r['why']}")
    return lines, {
        "found": len(found),
        "required": len(required),
        "wrong": len(wrong),
        "rows": rows,
    }


def one_fps_video(folder: Path, out: Path, write_video) -> Path:
    """The folder's frames (about one per second) as a 1 fps H.264 video (even size)."""
    if out.is_file():
        return out
    images = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.jpg"))]
    h, w = images[0].shape[:2]
    images = [
        np.asarray(Image.fromarray(i).resize((w, h))) if i.shape[:2] != (h, w) else i
        for i in images
    ]
    images = [i[: h // 2 * 2, : w // 2 * 2] for i in images]
    return write_video(out, images, fps=1.0, gop=5)


def face_figures(
    work: Path, shared: Path, identities: list[str], run: bool = True
) -> tuple[list[str], dict[str, Any]]:
    """Every face figure: each demo's identities, the curve, the work done, the real ads."""
    lines: list[str] = []
    figures: dict[str, Any] = {}
    for name in identities:
        demo, lake = work / f"faces_{name}" / "demo", work / f"faces_{name}" / "lake"
        if run:
            build_face_demo(demo, name)
            from accuracy import run_pipeline  # the same command as the other sections

            run_pipeline(demo, lake, work / f"faces_{name}" / "dagster_home")
        influencers = lake_io.read_parquet(lake / "video_influencers.parquet")
        scores = _face_scores(influencers, demo)
        curve, rows = curve_lines(lake, demo, name)
        work_text, work_figures = work_lines(lake)
        lines += demo_lines(name, scores) + curve + work_text
        figures[name] = {**scores, "curve": rows, "work": work_figures}
    real_lines, real = real_ads_presenters(shared, work)
    lines += real_lines
    figures["real_ads"] = {k: v for k, v in real.items() if k != "rows"}
    return lines, figures
