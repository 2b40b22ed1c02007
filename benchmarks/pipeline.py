"""End-to-end performance of the pipeline against the naive approach and the machine's floor.

    python benchmarks/pipeline.py --videos 54                  # everything, default demo size
    python benchmarks/pipeline.py --videos 200 --naive-videos 6 --json bench.json
    python benchmarks/pipeline.py --demo demo_data --skip-scale
    python benchmarks/pipeline.py --videos 12 --naive-videos 2 --skip-100k   # quick check

Prints (figures, not tests; every section notes how much of the machine other processes used
while it ran, from /proc/stat, so a figure taken under load is recognisable):

1. End to end: ``influencer-pipeline run`` on the demo sheet (fresh lake and DAGSTER_HOME,
   embedder dlib) with each executor (``--executors``): wall seconds, videos per minute, seconds
   per video, peak memory of the process tree (RSS and PSS, step processes included), each
   Dagster run's and step's seconds, and the quality of the result (``evaluate``).
2. Per-stage seconds per video, single process, with the assets' own functions
   (``per_video.py``): read, decode, hashing, detection, embedding, other face work, dominant
   face, outro fingerprint; clustering (identity and outro groups) from the end-to-end run.
3. The floor (``floor.py``): decode only the sampled frames, MTCNN on exactly the searched
   frames in full batches, dlib on exactly the embedded faces; and how close the pipeline is.
4. Naive (``naive.py``) on ``--naive-videos`` videos of the demo: decode every frame, MTCNN on
   every full-size frame, embed every face, the same dominant-face, clustering and assignment
   rules; seconds per video and quality against the pipeline on the same videos.
5. Clustering scale (``identity_scale.py``, ``outro_grouping.py``): 1k/10k/100k videos (time,
   peak memory, accuracy), the clustering variants compared, and the variants' accuracy on the
   demo's real dominant faces.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import identity_scale
import numpy as np
import outro_grouping
import pandas as pd
from demo_sets import DemoSet, load_demo, make_demo, subset
from e2e import RunFigures, run_cli, summarize_quality
from floor import decode_targets, detect_all, embed_all
from naive import lake_tables, naive_assignments, naive_video, naive_video_faces
from per_video import STAGES, measure_path, sheet_urls
from proctree import CpuWatch

from influencer_pipeline.catalog.urls import normalize_url
from influencer_tools.evaluation.report import evaluate_assignments
from influencer_tools.evaluation.truth import load_truth

TARGET_NAIVE_RATIO = 10.0
TARGET_FLOOR_RATIO = 1.5
TARGET_100K_SECONDS = 300.0
TARGET_100K_MIB = 4096.0


def _say(text: str = "") -> None:
    print(text, flush=True)


def _load_note(watch: CpuWatch) -> str:
    share = watch.share()
    return (
        f"[{share.wall_s:.0f} s; this benchmark used {share.own:.0%} of the machine, other "
        f"processes {share.others:.0%}; load average now {os.getloadavg()[0]:.2f}]"
    )


def wait_for_quiet(max_load: float, max_wait_s: float) -> None:
    """Poll the 1-minute load average until it is below ``max_load`` (or give up, noting it)."""
    waited = 0.0
    while os.getloadavg()[0] >= max_load and waited < max_wait_s:
        if waited == 0:
            _say(f"waiting for the 1-minute load average to drop below {max_load} ...")
        time.sleep(30)
        waited += 30
    load = os.getloadavg()
    _say(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (waited {waited:.0f} s)")


def _quality_line(quality: dict[str, Any]) -> str:
    parts = []
    for name in ("all", "face", "faceless"):
        q = quality.get(name)
        if q:
            parts.append(
                f"{name}: BCubed P/R/F {q['bcubed_p']:.3f}/{q['bcubed_r']:.3f}/{q['bcubed_f']:.3f} "
                f"({q['predicted']} found / {q['true']} true, {q['wrong_merges']} wrong merges, "
                f"{q['splits']} splits)"
            )
    return "; ".join(parts) + f"; failed videos: {quality.get('failed', 0)}"


def section_e2e(
    demo: DemoSet, executors: list[str], work: Path, max_concurrent: int
) -> dict[str, RunFigures]:
    """Item 1: the CLI end to end with each executor."""
    _say(f"\n== 1. end to end: influencer-pipeline run, {demo.files} videos ({demo.rows} rows)")
    results = {}
    for executor in executors:
        watch = CpuWatch()
        folder = work / f"e2e_{executor}"
        shutil.rmtree(folder, ignore_errors=True)
        figures = run_cli(
            demo.sheet,
            demo.truth,
            executor,
            folder,
            videos=demo.files,
            max_concurrent=max_concurrent,
        )
        results[executor] = figures
        if figures.returncode != 0:
            _say(f"{executor}: FAILED (exit {figures.returncode})\n{figures.output_tail}")
            continue
        runs = ", ".join(f"{r['job']} {r['seconds']:.1f} s" for r in figures.runs)
        _say(
            f"{executor:>12}: {figures.wall_s:.1f} s wall, {figures.videos_per_minute:.1f} "
            f"videos/min, {figures.seconds_per_video:.2f} s/video; peak memory of the process "
            f"tree: RSS {figures.peak_rss_mib:.0f} MiB, PSS {figures.peak_pss_mib:.0f} MiB "
            f"({figures.max_processes} processes at most) {_load_note(watch)}"
        )
        _say(f"{'':>14}Dagster runs: {runs}")
        _say(f"{'':>14}quality: {_quality_line(figures.quality)}")
    steps = {e: f.steps_s for e, f in results.items() if f.steps_s}
    if steps:
        names = list(dict.fromkeys(k for s in steps.values() for k in s))
        _say(f"\n   Dagster step seconds (start to end event), per video of {demo.files}:")
        _say("   " + f"{'step':<56}" + "".join(f"{e:>14}" for e in steps))
        for name in names:
            cells = "".join(f"{steps[e].get(name, 0.0) / demo.files:>14.3f}" for e in steps)
            _say(f"   {name:<56}{cells}")
    return results


CLUSTERING_STEPS = ("duplicate_groups", "identity_clusters", "outro_groups")


def section_path(
    demo: DemoSet,
    models: tuple[Any, Any],
    work: Path,
    batch_size: int,
    e2e: dict[str, RunFigures],
) -> list:
    """Item 2: per-stage seconds per video with the assets' functions, single process; the
    cross-video clustering steps' seconds per video from the end-to-end runs."""
    _say("\n== 2. per-stage seconds per video (assets' functions, one process, models loaded once)")
    watch = CpuWatch()
    blobs = work / "path_blobs"
    shutil.rmtree(blobs, ignore_errors=True)
    urls = sheet_urls(demo.sheet, demo.folder)
    paths = measure_path(
        urls, [demo.folder], models[0], models[1], blob_root=blobs, batch_size=batch_size
    )
    _say(f"{'stage':<12}{'mean s/video':>14}{'median':>10}{'total s':>10}")
    for stage in STAGES:
        values = [p.seconds[stage] for p in paths]
        _say(
            f"{stage:<12}{statistics.mean(values):>14.3f}{statistics.median(values):>10.3f}"
            f"{sum(values):>10.1f}"
        )
    totals = [sum(p.seconds.values()) for p in paths]
    _say(
        f"{'all':<12}{statistics.mean(totals):>14.3f}{statistics.median(totals):>10.3f}"
        f"{sum(totals):>10.1f}"
    )
    n = len(paths)
    _say(
        f"videos {n}; frames sampled {sum(p.frames for p in paths) / n:.1f}/video, decoded "
        f"{sum(p.frames_decoded for p in paths) / n:.1f}/video, searched for faces "
        f"{sum(sum(p.searched) for p in paths) / n:.1f}/video; faces "
        f"{sum(p.faces for p in paths) / n:.1f}/video {_load_note(watch)}"
    )
    for executor, figures in e2e.items():
        if figures.returncode != 0:
            continue
        steps = {k: figures.steps_s.get(k, 0.0) / demo.files for k in CLUSTERING_STEPS}
        _say(
            f"{'clustering':<12}{sum(steps.values()):>14.3f}  per video, end to end ({executor}): "
            + ", ".join(f"{k} {v:.3f}" for k, v in steps.items())
        )
    return paths


def section_floor(
    paths: list, models: tuple[Any, Any], batch_size: int, e2e: dict[str, RunFigures]
) -> dict[str, Any]:
    """Item 3: the floor, and the pipeline's distance from it."""
    _say("\n== 3. floor: decode only the sampled frames + MTCNN/dlib on exactly those frames")
    watch = CpuWatch()
    videos = [
        decode_targets(f"v{i}", p.local_path, p.timestamps, p.searched) for i, p in enumerate(paths)
    ]
    detections, detect_s = detect_all(models[0], videos, batch_size)
    faces, embed_s = embed_all(models[1], videos, detections)
    n = len(videos)
    decode_s = sum(v.seconds for v in videos)
    floor = (decode_s + detect_s + embed_s) / n
    path_total = sum(sum(p.seconds.values()) for p in paths) / n
    _say(
        f"decode {decode_s / n:.3f} s/video ({sum(v.decoded for v in videos) / n:.1f} frames "
        f"decoded/video), detection {detect_s / n:.3f} s/video (batches of {batch_size}), "
        f"embedding {embed_s / n:.3f} s/video ({faces / n:.1f} faces/video)"
    )
    _say(f"floor: {floor:.3f} s/video {_load_note(watch)}")
    out: dict[str, Any] = {
        "decode_s_per_video": decode_s / n,
        "detection_s_per_video": detect_s / n,
        "embedding_s_per_video": embed_s / n,
        "floor_s_per_video": floor,
        "path_s_per_video": path_total,
        "ratios": {"per-video path": path_total / floor},
    }
    for executor, figures in e2e.items():
        if figures.returncode == 0:
            out["ratios"][f"end to end, {executor}"] = figures.seconds_per_video / floor
    for name, ratio in out["ratios"].items():
        verdict = "meets" if ratio <= TARGET_FLOOR_RATIO else "MISSES"
        _say(f"  {name}: {ratio:.2f} x the floor ({verdict} the {TARGET_FLOOR_RATIO}x target)")
    return out


def _evaluate(video_influencers: pd.DataFrame, truth_path: Path) -> dict[str, Any]:
    truth = load_truth(truth_path)
    base = truth_path.resolve().parent
    report = evaluate_assignments(video_influencers, truth, lambda u: normalize_url(u, base))
    return summarize_quality(report.to_dict())


def section_naive(
    demo: DemoSet,
    n_videos: int,
    *,
    models: tuple[Any, Any],
    work: Path,
    batch_size: int,
    paths: list,
) -> dict[str, Any]:
    """Item 2 (naive): naive vs the pipeline on the same subset, speed and quality."""
    part = subset(demo, n_videos)
    _say(f"\n== 4. naive approach vs pipeline on {part.files} videos ({part.sheet.name})")
    folder = work / "naive_subset_e2e"
    shutil.rmtree(folder, ignore_errors=True)
    watch = CpuWatch()
    e2e = run_cli(part.sheet, part.truth, "in_process", folder, videos=part.files)
    if e2e.returncode != 0:
        _say(f"pipeline on the subset FAILED:\n{e2e.output_tail}")
        return {}
    tables = lake_tables(str(folder / "lake"))
    naive = [
        naive_video(row.video_id, Path(row.local_path), models[0], models[1], batch_size)
        for row in tables["files"].itertuples()
    ]
    naive_quality = _evaluate(naive_assignments(naive_video_faces(naive), tables), part.truth)
    replica = _evaluate(naive_assignments(tables["video_faces"], tables), part.truth)
    subset_urls = set(sheet_urls(part.sheet, part.folder))
    same = [p for p in paths if p.url in subset_urls]
    path_s = sum(sum(p.seconds.values()) for p in same) / max(len(same), 1)
    naive_s = sum(sum(v.seconds.values()) for v in naive) / len(naive)
    stages = {k: sum(v.seconds[k] for v in naive) / len(naive) for k in naive[0].seconds}
    _say(
        f"naive: {naive_s:.2f} s/video ("
        + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
        + f"); {sum(v.frames for v in naive) / len(naive):.0f} full-size frames "
        f"({naive[0].width}x{naive[0].height}) and {sum(v.faces for v in naive) / len(naive):.0f}"
        " faces per video"
    )
    _say(
        f"pipeline, same videos: per-video path {path_s:.2f} s/video; end to end "
        f"(in_process, with Dagster start-up for {part.files} videos) "
        f"{e2e.seconds_per_video:.2f} s/video"
    )
    ratio_path = naive_s / path_s if path_s else float("nan")
    ratio_e2e = naive_s / e2e.seconds_per_video
    for name, ratio in (("per-video path", ratio_path), ("end to end on the subset", ratio_e2e)):
        verdict = "meets" if ratio >= TARGET_NAIVE_RATIO else "MISSES"
        _say(f"  naive / pipeline ({name}): {ratio:.1f}x ({verdict} the {TARGET_NAIVE_RATIO}x)")
    _say(f"  quality, pipeline (lake): {_quality_line(e2e.quality)}")
    _say(f"  quality, pipeline (replica of the cross-video rules): {_quality_line(replica)}")
    _say(f"  quality, naive: {_quality_line(naive_quality)} {_load_note(watch)}")
    no_worse = e2e.quality["all"]["bcubed_f"] >= naive_quality["all"]["bcubed_f"]
    _say(f"  pipeline quality no worse than naive: {no_worse}")
    return {
        "videos": part.files,
        "naive_s_per_video": naive_s,
        "naive_stages_s_per_video": stages,
        "pipeline_path_s_per_video": path_s,
        "pipeline_e2e_s_per_video": e2e.seconds_per_video,
        "ratio_path": ratio_path,
        "ratio_e2e": ratio_e2e,
        "quality_pipeline": e2e.quality,
        "quality_pipeline_replica": replica,
        "quality_naive": naive_quality,
        "quality_no_worse": no_worse,
    }


def demo_variant_quality(lake: Path, truth: Path) -> dict[str, Any]:
    """Quality on the demo's real dominant faces with each clustering variant."""
    tables = lake_tables(str(lake))
    out = {}
    for name, config in identity_scale.VARIANTS.items():
        assigned = naive_assignments(tables["video_faces"], tables, config)
        out[name] = _evaluate(assigned, truth)
    return out


def section_scale(
    *,
    sizes: list[int],
    outro_sizes: list[int],
    variants: list[str],
    variant_sizes: list[int],
    e2e: dict[str, RunFigures],
    demo: DemoSet,
    work: Path,
) -> dict[str, Any]:
    """Item 4: identity clustering and outro grouping at scale; variants; demo accuracy."""
    _say("\n== 5. clustering scale (each size in its own process; synthetic data)")
    watch = CpuWatch()
    identity = identity_scale.run_sizes(sizes, ["knn"], 0, 1800)
    extra = [v for v in variants if v != "knn"]
    compared = identity_scale.run_sizes(variant_sizes, extra, 0, 900) if extra else []
    outro = outro_grouping.run_sizes(outro_sizes, 0, 1800)
    _say(_load_note(watch))
    for row in identity + outro:
        if "error" in row:
            continue
        seconds, memory = row["total_s"], row["peak_rss_mib"]
        _say(
            f"  {row['stage']} {row.get('variant', '')} {row['videos']:>7} videos: "
            f"{seconds:.1f} s, peak {memory} MiB, BCubed P/R/F {row['bcubed_prf']}"
        )
    lakes = [work / f"e2e_{e}" / "lake" for e, f in e2e.items() if f.returncode == 0]
    demo_quality = demo_variant_quality(lakes[0], demo.truth) if lakes else {}
    for name, quality in demo_quality.items():
        _say(f"  demo, variant {name}: {_quality_line(quality)}")
    return {"identity": identity, "variants": compared, "outro": outro, "demo": demo_quality}


def _verdicts(results: dict[str, Any]) -> None:
    _say("\n== targets")
    naive = results.get("naive") or {}
    if naive:
        ok = naive["ratio_path"] >= TARGET_NAIVE_RATIO and naive["quality_no_worse"]
        _say(
            f"  >= {TARGET_NAIVE_RATIO}x faster than naive with quality no worse: "
            f"{'met' if ok else 'NOT met'} ({naive['ratio_path']:.1f}x per-video path, "
            f"{naive['ratio_e2e']:.1f}x end to end on {naive['videos']} videos)"
        )
    floor = results.get("floor") or {}
    for name, ratio in floor.get("ratios", {}).items():
        ok = ratio <= TARGET_FLOOR_RATIO
        _say(
            f"  within {TARGET_FLOOR_RATIO}x of the floor ({name}): "
            f"{'met' if ok else 'NOT met'} ({ratio:.2f}x)"
        )
    scale = results.get("scale") or {}
    for row in scale.get("identity", []) + scale.get("outro", []):
        if row.get("videos") == 100_000:
            if "error" in row:
                _say(f"  {row['stage']} 100k: NOT met ({row['error']})")
                continue
            ok = row["total_s"] < TARGET_100K_SECONDS and row["peak_rss_mib"] < TARGET_100K_MIB
            _say(
                f"  {row['stage']} 100k under {TARGET_100K_SECONDS:.0f} s and "
                f"{TARGET_100K_MIB / 1024:.0f} GiB: {'met' if ok else 'NOT met'} "
                f"({row['total_s']:.1f} s, {row['peak_rss_mib']} MiB)"
            )


def _load_models(batch_size: int) -> tuple[Any, Any]:
    from influencer_pipeline.faces.detection import FaceDetector
    from influencer_pipeline.faces.embedders import make_embedder

    return FaceDetector(batch_size=batch_size), make_embedder("dlib")


def _jsonable(value: Any) -> Any:
    if isinstance(value, RunFigures):
        data = dict(value.__dict__)
        data.update(videos_per_minute=value.videos_per_minute)
        return _jsonable(data)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the sections asked for, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--demo", type=Path, help="an existing demo folder")
    source.add_argument(
        "--videos", type=int, default=54, help="generate (or reuse) a demo of about N videos"
    )
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument(
        "--executors",
        nargs="+",
        default=["in_process", "multiprocess"],
        choices=["in_process", "multiprocess"],
    )
    parser.add_argument("--max-concurrent", type=int, default=0)
    parser.add_argument("--naive-videos", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=16, help="MTCNN frames per batch")
    parser.add_argument("--scale-sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--outro-sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["knn", "points", "pca32"],
        choices=sorted(identity_scale.VARIANTS),
    )
    parser.add_argument("--variant-sizes", type=int, nargs="+", default=[1000, 10000])
    for name in ("e2e", "path", "floor", "naive", "scale"):
        parser.add_argument(f"--skip-{name}", action="store_true")
    parser.add_argument(
        "--skip-100k", action="store_true", help="leave the 100,000-video clustering sizes out"
    )
    parser.add_argument(
        "--wait-load",
        type=float,
        default=0.0,
        help="first wait until the 1-minute load average is below this",
    )
    parser.add_argument("--wait-max", type=float, default=1800.0)
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.skip_100k:
        args.scale_sizes = [n for n in args.scale_sizes if n < 100_000]
        args.outro_sizes = [n for n in args.outro_sizes if n < 100_000]

    work = args.work or Path(tempfile.mkdtemp(prefix="influencer_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.wait_load:
        wait_for_quiet(args.wait_load, args.wait_max)
    import torch

    load = os.getloadavg()
    _say(
        f"machine: {os.cpu_count()} CPUs, torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads, Python {sys.version.split()[0]}; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; work folder {work}"
    )
    demo = (
        load_demo(args.demo) if args.demo else make_demo(work / f"demo_{args.videos}", args.videos)
    )
    _say(f"demo: {demo.folder} ({demo.files} video files, {demo.rows} sheet rows)")
    results: dict[str, Any] = {"command": " ".join(sys.argv), "load_start": load}
    e2e = {} if args.skip_e2e else section_e2e(demo, args.executors, work, args.max_concurrent)
    results["e2e"] = e2e
    models = None
    paths: list = []
    if not (args.skip_path and args.skip_floor and args.skip_naive):
        models = _load_models(args.batch_size)
    if not args.skip_path or not args.skip_floor or not args.skip_naive:
        paths = section_path(demo, models, work, args.batch_size, e2e)
        results["path"] = [
            {"url": p.url, "seconds": p.seconds, "frames": p.frames, "faces": p.faces}
            for p in paths
        ]
    if not args.skip_floor:
        results["floor"] = section_floor(paths, models, args.batch_size, e2e)
    if not args.skip_naive:
        results["naive"] = section_naive(
            demo,
            args.naive_videos,
            models=models,
            work=work,
            batch_size=args.batch_size,
            paths=paths,
        )
    if not args.skip_scale:
        results["scale"] = section_scale(
            sizes=args.scale_sizes,
            outro_sizes=args.outro_sizes,
            variants=args.variants,
            variant_sizes=args.variant_sizes,
            e2e=e2e,
            demo=demo,
            work=work,
        )
    _verdicts(results)
    load = os.getloadavg()
    _say(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    results["load_end"] = load
    if args.json:
        args.json.write_text(json.dumps(_jsonable(results), indent=2))
        _say(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
