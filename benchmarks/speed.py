"""Issue 13: the pipeline with default settings against the straightforward approach, one run.

Commands (from the repository root; figures, not tests):

    .venv/bin/python benchmarks/speed.py                    # about 120 videos in /tmp/speed
    .venv/bin/python benchmarks/speed.py --videos 150 --work /tmp/speed150 \
        --json /tmp/speed150.json
    .venv/bin/python benchmarks/speed.py --videos 8 --work /tmp/speed8   # quick check, ~16 files
    .venv/bin/python benchmarks/speed.py --reuse            # re-print; run only what is missing
    .venv/bin/python benchmarks/speed.py --skip-naive       # only the pipeline (A)
    .venv/bin/python benchmarks/speed.py --videos 150 --abba   # A, B, B, A (twice the time)

The set: ``influencer_tools.demo`` at 540x960, 6-10 s per video (film strips and framed
photos of other people, side characters, outro cards, re-uploads), seed 1013 and the people and
brand names of the *validation* fold (``identities="validation"``, ``brand_pool="validation"``),
so not the default demo's; about ``--videos`` video files (``--videos 8`` gives ~16: every
creator has 3-6 videos, and the set keeps 2 face influencers and 1 faceless creator at least).
It is generated into ``WORK/demo_<N>`` and reused when it is already there.

Side by side on the same videos, one after the other:

A. the pipeline as a user runs it: ``influencer-pipeline run --input SHEET --lake WORK/a/lake``
   with no other option (fresh lake and ``DAGSTER_HOME``), measured from outside (``e2e.py``:
   wall seconds, peak memory of the process tree from ``proctree.py``), per-stage seconds per
   video from the Dagster step events, quality of the lake (``evaluate_lake``);
B. the straightforward approach (``straightforward.py``, in a child process measured the same
   way): decode at 2 fps with PyAV, MTCNN on frames whose long side is 640 px, embed every face
   with the embedder A used, the dominant face as the most frequent face group, the project's
   identity clustering; faceless videos each their own influencer. Quality: the same
   evaluation (``evaluate_assignments``); also B's faces under A's re-upload and outro rules
   (``naive.naive_assignments``), so that "all" compares like with like.

``--abba`` then runs B and A once more (A, B, B, A) and prints each pair's B/A and both pooled:
a slow spell of a few minutes (a shared host) then lands on both sides instead of one.

Prints one table: per stage and end to end s/video for A and B and the speed-up (B/A), peak
memory (GiB), BCubed F of face videos and of all videos; ``--json OUT`` writes every figure.
``--reuse`` takes A's and B's results already in WORK (``a/result.json``, ``b/result.json``)
instead of running them again. Every section notes how much of the machine other processes
used while it ran (``/proc/stat``): figures under load are not the machine's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from demo_sets import DemoSet, load_demo
from e2e import RunFigures, run_cli, summarize_quality
from naive import lake_tables, naive_assignments
from per_video import sheet_urls
from proctree import CpuWatch, TreeMemorySampler
from straightforward import cluster_config

SEED = 1013
HERE = Path(__file__).resolve().parent
GIB = 1024.0
# Dagster steps (asset keys) per stage; any other step counts as "catalog, checks, ranking".
A_STAGES = {
    "read + decode": ("video_files", "video_frames"),
    "faces: detect + embed": ("face_embeddings",),
    "dominant face": ("video_faces",),
    "outro fingerprint": ("outro_fingerprints",),
    "clustering + assignment": (
        "duplicate_groups",
        "identity_clusters",
        "outro_groups",
        "video_influencers",
    ),
}
B_STAGES = {
    "read + decode": ("decode",),
    "faces: detect + embed": ("detection", "embedding"),
    "  detection": ("detection",),
    "  embedding": ("embedding",),
    "dominant face": ("dominant",),
    "outro fingerprint": (),
    "clustering + assignment": ("clustering",),
}


def _say(text: str = "") -> None:
    print(text, flush=True)


def _load_note(watch: CpuWatch) -> dict[str, float]:
    share = watch.share()
    note = {
        "wall_s": round(share.wall_s, 1),
        "own_share": round(share.own, 3),
        "others_share": round(share.others, 3),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    _say(
        f"   [{share.wall_s:.0f} s; this benchmark {share.own:.0%} of the machine, other "
        f"processes {share.others:.0%}; load average {note['load_1min']:.2f}]"
    )
    return note


def speed_config(n_videos: int) -> Any:
    """A demo of about ``n_videos`` files: validation people and brands, seed ``SEED``.

    The default demo's mix: ~60 % of creators with a face, re-uploads ~10 % of the files; a
    creator has 3-6 videos (4.5 on average) and the extras (exact copy, duplicate row, second
    cut, look-alike outros) add a few files. The validation fold has 20 people and its brand
    pool a fixed number of outro designs: beyond those, creators get more videos each.
    """
    from influencer_tools.demo.config import DemoConfig
    from influencer_tools.demo.outros import BRAND_POOLS

    creators = max(3.0, n_videos * 0.9 / 4.5)
    face = min(20, max(2, round(0.6 * creators)))
    faceless = min(len(BRAND_POOLS["validation"][0]), max(1, round(0.4 * creators)))
    mean = n_videos * 0.9 / (face + faceless)  # videos a creator needs on average
    per_creator = (3, 6) if mean <= 4.5 else (3, max(6, round(2 * mean - 3)))
    return DemoConfig(
        seed=SEED,
        n_face_influencers=face,
        n_faceless_creators=faceless,
        videos_per_influencer=per_creator,
        n_reuploads=max(1, round(0.1 * n_videos)),
        identities="validation",
        brand_pool="validation",
    )


def make_set(work: Path, n_videos: int) -> DemoSet:
    """The set in ``WORK/demo_<N>``: generated once, reused afterwards."""
    from influencer_tools.demo.generator import generate_demo

    folder = work / f"demo_{n_videos}"
    if not (folder / "truth.csv").is_file():
        _say(f"generating the set into {folder} ...")
        watch = CpuWatch()
        generate_demo(folder, speed_config(n_videos))
        _load_note(watch)
    return load_demo(folder)


# ---------------------------------------------------------------- A: the pipeline, defaults


def run_pipeline(demo: DemoSet, work: Path, videos: int, name: str = "a") -> dict[str, Any]:
    """A: ``influencer-pipeline run --input SHEET --lake LAKE`` and nothing else."""
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    _say(f"\n== A. influencer-pipeline run --input {demo.sheet} (defaults; fresh lake)")
    watch = CpuWatch()
    figures: RunFigures = run_cli(
        demo.sheet, demo.truth, "default", folder, videos=videos, cli_options=[]
    )
    out = dataclasses.asdict(figures)
    out["load"] = _load_note(watch)
    if figures.returncode != 0:
        _say(f"   FAILED (exit {figures.returncode}):\n{figures.output_tail}")
        return out
    tables = lake_tables(str(folder / "lake"))
    out["embedder"] = str(tables["video_faces"]["embedder"].dropna().iloc[0])
    faces = pd.concat(
        pd.read_parquet(p, columns=["embedding"])
        for p in sorted((folder / "lake" / "face_embeddings").glob("*.parquet"))
    )
    out["faces_detected"] = len(faces)
    out["faces_embedded"] = int(faces["embedding"].notna().sum())
    out["dagster_runs"] = figures.runs
    _say(
        f"   {figures.wall_s:.1f} s wall, {figures.seconds_per_video:.2f} s/video, peak RSS of "
        f"the process tree {figures.peak_rss_mib / GIB:.2f} GiB ({figures.max_processes} "
        f"processes at most); embedder {out['embedder']}; Dagster runs: "
        + ", ".join(f"{r['job']} {r['seconds']:.1f} s" for r in figures.runs)
    )
    return out


# ------------------------------------------------------- B: the straightforward approach


def run_straightforward(
    demo: DemoSet, work: Path, embedder: str, videos: int, name: str = "b"
) -> dict[str, Any]:
    """B: ``straightforward.py`` in a child process, measured from outside."""
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    command = [sys.executable, str(HERE / "straightforward.py"), "--sheet", str(demo.sheet)]
    command += ["--out", str(folder), "--embedder", embedder]
    _say(f"\n== B. straightforward approach: {' '.join(command[1:])}")
    watch = CpuWatch()
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = TreeMemorySampler(proc.pid)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - started
    peak = sampler.stop()
    out: dict[str, Any] = {
        "videos": videos,
        "wall_s": wall,
        "peak_rss_mib": peak.rss_mib,
        "peak_pss_mib": peak.pss_mib,
        "max_processes": peak.processes,
        "returncode": proc.returncode,
        "output_tail": output[-3000:],
        "embedder": embedder,
    }
    out["load"] = _load_note(watch)
    if proc.returncode != 0:
        _say(f"   FAILED (exit {proc.returncode}):\n{output[-3000:]}")
        return out
    stages = json.loads((folder / "stages.json").read_text())
    out.update({k: stages[k] for k in ("setup_s", "stages_s", "frames", "faces", "with_face")})
    assigned = pd.read_parquet(folder / "video_influencers.parquet")
    out["quality"] = quality_of(assigned, demo.truth)
    _say(
        f"   {wall:.1f} s wall, {wall / videos:.2f} s/video, peak RSS of the process tree "
        f"{peak.rss_mib / GIB:.2f} GiB; {stages['frames'] / videos:.1f} frames and "
        f"{stages['faces'] / videos:.1f} faces per video, {stages['with_face']} with a face"
    )
    return out


def quality_of(video_influencers: pd.DataFrame, truth_path: Path) -> dict[str, Any]:
    """The project's evaluation of ``video_influencers`` against the truth file."""
    from influencer_pipeline.catalog.urls import normalize_url
    from influencer_tools.evaluation.report import evaluate_assignments
    from influencer_tools.evaluation.truth import load_truth

    base = truth_path.resolve().parent
    report = evaluate_assignments(
        video_influencers, load_truth(truth_path), lambda u: normalize_url(u, base)
    )
    return summarize_quality(report.to_dict())


def hybrid_quality(work: Path, truth: Path, embedder: str) -> dict[str, Any]:
    """B's dominant faces under A's cross-video rules (re-upload groups, outro groups)."""
    tables = lake_tables(str(work / "a" / "lake"))
    faces = pd.read_parquet(work / "b" / "video_faces.parquet")
    urls = pd.read_parquet(work / "b" / "video_influencers.parquet")
    catalog = tables["catalog"]
    to_pipeline = dict(zip(catalog["video_url"], catalog["video_id"], strict=True))
    by_b = {v: to_pipeline.get(u) for v, u in zip(urls["video_id"], urls["video_url"], strict=True)}
    faces["video_id"] = faces["video_id"].map(by_b)
    faces = faces.dropna(subset=["video_id"]).reset_index(drop=True)
    return quality_of(naive_assignments(faces, tables, cluster_config(embedder)), truth)


# ------------------------------------------------------------------------------- report


def stage_rows(a: dict[str, Any], b: dict[str, Any], videos: int) -> list[list[Any]]:
    """[stage, A s/video, B s/video] per stage and end to end (None: not measured/no such)."""
    steps = a.get("steps_s") or {}
    known = {s for names in A_STAGES.values() for s in names}
    b_stages = b.get("stages_s") or {}
    rows: list[list[Any]] = []
    for stage, b_keys in B_STAGES.items():
        a_keys = A_STAGES.get(stage)
        a_s = sum(steps.get(k, 0.0) for k in a_keys) / videos if a_keys and steps else None
        b_s = sum(b_stages[k] for k in b_keys) / videos if b_keys and b_stages else None
        rows.append([stage, a_s, b_s])
    other = sum(v for k, v in steps.items() if k not in known)
    rows.append(["catalog, checks, ranking", other / videos if steps else None, None])
    a_rest = (a["wall_s"] - sum(steps.values())) / videos if steps else None
    b_rest = (b["wall_s"] - sum(b_stages.values())) / videos if b_stages else None
    rows.append(["start-up, models, overhead", a_rest, b_rest])
    a_wall = a["wall_s"] / videos if a.get("returncode") == 0 else None
    b_wall = b["wall_s"] / videos if b.get("returncode") == 0 else None
    rows.append(["END TO END (wall)", a_wall, b_wall])
    return rows


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(b: float | None, a: float | None) -> str:
    return f"{b / a:.2f}x" if a and b is not None and a > 0 else "-"


def print_table(a: dict[str, Any], b: dict[str, Any], hybrid: dict[str, Any], n: int) -> None:
    """The compact side-by-side table."""
    _say(f"\n== A (pipeline, defaults) vs B (straightforward), {n} videos")
    _say(f"{'':<34}{'A s/video':>11}{'B s/video':>11}{'speed-up B/A':>14}")
    for stage, a_s, b_s in stage_rows(a, b, n):
        _say(f"{stage:<34}{_cell(a_s):>11}{_cell(b_s):>11}{_ratio(b_s, a_s):>14}")
    ok_a, ok_b = a.get("returncode") == 0, b.get("returncode") == 0
    for label, key in (("peak RSS, process tree (GiB)", "rss"), ("peak PSS (GiB)", "pss")):
        cells = [
            a.get(f"peak_{key}_mib") if ok_a else None,
            b.get(f"peak_{key}_mib") if ok_b else None,
        ]
        cells = [None if c is None else c / GIB for c in cells]
        _say(f"{label:<34}{_cell(cells[0], 2):>11}{_cell(cells[1], 2):>11}")
    for label, key in (
        ("faces detected / video", "faces_detected"),
        ("faces embedded / video", "faces_embedded"),
    ):
        a_v = a[key] / n if key in a else None
        b_v = b["faces"] / n if "faces" in b else None
        _say(f"{label:<34}{_cell(a_v, 1):>11}{_cell(b_v, 1):>11}")
    for section in ("face", "all"):
        label = f"BCubed F, {'face videos' if section == 'face' else 'all videos'}"
        a_q = (a.get("quality") or {}).get(section, {}).get("bcubed_f")
        b_q = (b.get("quality") or {}).get(section, {}).get("bcubed_f")
        _say(f"{label:<34}{_cell(a_q):>11}{_cell(b_q):>11}")
    if hybrid:
        _say(
            "B's faces with A's re-upload and outro rules: BCubed F face "
            f"{hybrid['face']['bcubed_f']:.3f}, all {hybrid['all']['bcubed_f']:.3f}"
        )
    for name, side in (("A", a), ("B", b)):
        quality = side.get("quality") or {}
        parts = [
            f"{s} P/R/F {q['bcubed_p']:.3f}/{q['bcubed_r']:.3f}/{q['bcubed_f']:.3f} "
            f"({q['predicted']} found/{q['true']} true, {q['wrong_merges']} merges, "
            f"{q['splits']} splits)"
            for s, q in quality.items()
            if isinstance(q, dict)
        ]
        if parts:
            _say(f"{name}: " + "; ".join(parts))


# --------------------------------------------------------------------------------- main


def _cached(path: Path, reuse: bool) -> dict[str, Any] | None:
    if not (reuse and path.is_file()):
        return None
    result = json.loads(path.read_text())
    if result.get("returncode") != 0:
        return None  # a failed run is run again
    _say(f"reusing {path}")
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse arguments, run A and B on the same set, print and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=120, help="about N video files")
    parser.add_argument("--work", type=Path, default=Path("/tmp/speed"))
    parser.add_argument("--skip-naive", action="store_true", help="leave B out")
    parser.add_argument("--reuse", action="store_true", help="take A's/B's results already in WORK")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--abba",
        action="store_true",
        help="then B and A once more (A, B, B, A): a slow spell of the machine lands on both",
    )
    args = parser.parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    import torch

    load = os.getloadavg()
    _say(
        f"machine: {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} "
        f"threads), Python {sys.version.split()[0]}; load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}; work folder {work}"
    )
    demo = make_set(work, args.videos)
    videos = len(sheet_urls(demo.sheet, demo.folder))
    _say(f"set: {demo.folder} ({videos} distinct videos, {demo.rows} sheet rows)")
    results: dict[str, Any] = {"command": " ".join(sys.argv), "load_start": load}
    results["set"] = {"folder": str(demo.folder), "videos": videos, "rows": demo.rows}
    results["set"]["config"] = dataclasses.asdict(speed_config(args.videos))

    a = _cached(work / "a" / "result.json", args.reuse)
    if a is None:
        a = run_pipeline(demo, work, videos)
        (work / "a" / "result.json").write_text(json.dumps(a, indent=1, default=str))
    embedder = a.get("embedder") or _default_embedder()
    b: dict[str, Any] = {}
    if not args.skip_naive:
        b = _cached(work / "b" / "result.json", args.reuse)
        if b is None:
            b = run_straightforward(demo, work, embedder, videos)
            (work / "b" / "result.json").write_text(json.dumps(b, indent=1, default=str))
    hybrid: dict[str, Any] = {}
    if a.get("returncode") == 0 and b.get("returncode") == 0:
        hybrid = hybrid_quality(work, demo.truth, embedder)
    results.update(a=a, b=b, b_faces_with_a_rules=hybrid)
    b = b or {"wall_s": 0.0}
    results["table"] = [
        {"stage": s, "a_s_per_video": x, "b_s_per_video": y, "b_over_a": y / x if x and y else None}
        for s, x, y in stage_rows(a, b, videos)
    ]
    print_table(a, b, hybrid, videos)
    if args.abba and a.get("returncode") == 0 and b.get("returncode") == 0:
        results["abba"] = abba(demo, work, embedder, videos, first=(a, b))
    load = os.getloadavg()
    results["load_end"] = load
    _say(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        _say(f"figures written to {args.json}")
    return results


def abba(
    demo: DemoSet, work: Path, embedder: str, videos: int, *, first: tuple[dict, dict]
) -> dict[str, Any]:
    """B and A once more after the ``first`` A and B (folders ``b2``, ``a2``); each pair's B/A
    and both pooled (the sum of B's walls over the sum of A's)."""
    a, b = first
    b2 = run_straightforward(demo, work, embedder, videos, name="b2")
    a2 = run_pipeline(demo, work, videos, name="a2")
    if a2.get("returncode") != 0 or b2.get("returncode") != 0:
        return {"a2": a2, "b2": b2}
    walls = [(a["wall_s"], b["wall_s"]), (a2["wall_s"], b2["wall_s"])]
    ratios = [wb / wa for wa, wb in walls]
    pooled = sum(wb for _, wb in walls) / sum(wa for wa, _ in walls)
    _say(
        f"\n== A, B, B, A: s/video A {walls[0][0] / videos:.3f} / {walls[1][0] / videos:.3f}, "
        f"B {walls[0][1] / videos:.3f} / {walls[1][1] / videos:.3f}; B/A "
        f"{ratios[0]:.2f}x / {ratios[1]:.2f}x, pooled {pooled:.2f}x; peak RSS of A's second "
        f"run {a2['peak_rss_mib'] / GIB:.2f} GiB"
    )
    return {"a2": a2, "b2": b2, "ratios": ratios, "pooled": pooled}


def _default_embedder() -> str:
    """The embedder ``--embedder auto`` picks for a new lake (A failed or was reused without)."""
    from influencer_pipeline.faces.embedder_choice import choose_embedder

    return choose_embedder(None).name


if __name__ == "__main__":
    main()
