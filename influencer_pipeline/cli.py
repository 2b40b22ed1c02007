"""The ``influencer-pipeline`` command: demo data, pipeline runs, reports, evaluation and the UI."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _demo(args: argparse.Namespace) -> int:
    from influencer_pipeline.demo.config import DemoConfig
    from influencer_pipeline.demo.errors import DemoError
    from influencer_pipeline.demo.generator import generate_demo

    try:
        config = DemoConfig(
            seed=args.seed,
            n_face_influencers=args.influencers,
            n_faceless_creators=args.faceless_creators,
            videos_per_influencer=tuple(args.videos_per_influencer),
            seconds=tuple(args.seconds),
            width=args.width,
            height=args.height,
            fps=args.fps,
            n_reuploads=args.reuploads,
            workers=args.workers,
        )
        summary = generate_demo(Path(args.out), config)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        f"demo data set in {summary.out_dir}: {summary.n_rows} sheet rows, {summary.n_files} video "
        f"files, {summary.n_influencers} influencers ({summary.n_rendered} rendered, "
        f"{summary.n_reused} reused) in {summary.seconds:.1f} s\n"
        f"  sheet: {summary.sheet}\n  truth: {summary.truth}"
    )
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from influencer_pipeline.run_pipeline import (
        PipelineInputError,
        PipelineRunError,
        run_pipeline,
    )
    from influencer_pipeline.summary import print_summary

    sheets = [Path(p).expanduser().resolve() for p in args.input]
    missing = [str(p) for p in sheets if not p.is_file()]
    if missing:
        print(f"error: input sheet not found: {', '.join(missing)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        report = run_pipeline(
            sheets,
            args.lake,
            embedder=args.embedder,
            force=args.force,
            videos_per_run=args.videos_per_run,
            executor=args.executor,
            max_concurrent=args.max_concurrent,
        )
    except PipelineInputError as exc:
        print(f"error: the input is unusable: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PipelineRunError as exc:
        print(f"error: a pipeline run failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print_summary(report)
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    from influencer_pipeline.evaluation.lake import evaluate_lake
    from influencer_pipeline.evaluation.report import EvaluationInputError
    from influencer_pipeline.evaluation.truth import TruthFileError
    from influencer_pipeline.run_pipeline import use_lake

    use_lake(args.lake)
    try:
        text, payload = evaluate_lake(Path(args.truth))
    except (TruthFileError, EvaluationInputError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from influencer_pipeline.ranking.report import ReportInputError, load_and_write_report
    from influencer_pipeline.run_pipeline import use_lake

    root = use_lake(args.lake)
    try:
        files = load_and_write_report(root, Path(args.out))
    except (FileNotFoundError, ReportInputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"leaderboard written:\n  {files.html}\n  {files.csv}\n  {files.xlsx}\n  {files.png}")
    return EXIT_OK


def _ui(args: argparse.Namespace) -> int:
    from influencer_pipeline.paths import project_dir
    from influencer_pipeline.run_pipeline import configure_environment

    configure_environment(args.lake)
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(project_dir() / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    print(
        f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})"
    )
    return subprocess.call(command, cwd=project_dir())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="influencer-pipeline",
        description="Find the influencers in a sheet of videos and rank them by performance.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="write a synthetic demo data set (videos, sheet, truth)")
    demo.add_argument("--out", required=True, help="output folder")
    demo.add_argument("--seed", type=int, default=7, help="same seed, same data set")
    demo.add_argument("--influencers", type=int, default=8, help="influencers who show their face")
    demo.add_argument("--faceless-creators", type=int, default=3, help="creators without a face")
    demo.add_argument(
        "--videos-per-influencer", type=int, nargs=2, default=(3, 6), metavar=("MIN", "MAX")
    )
    demo.add_argument(
        "--seconds",
        type=float,
        nargs=2,
        default=(6.0, 10.0),
        metavar=("MIN", "MAX"),
        help="video length range",
    )
    demo.add_argument("--width", type=int, default=540)
    demo.add_argument("--height", type=int, default=960)
    demo.add_argument("--fps", type=int, default=24)
    demo.add_argument("--reuploads", type=int, default=6, help="re-uploaded variants of videos")
    demo.add_argument("--workers", type=int, default=0, help="render processes (0: automatic)")
    demo.set_defaults(func=_demo)

    run = sub.add_parser("run", help="materialize every asset for a sheet through Dagster")
    run.add_argument(
        "--input",
        required=True,
        action="append",
        help="sheet (XLSX, CSV or Parquet); repeat for several sheets",
    )
    run.add_argument("--lake", help="lake folder (default: $INFLUENCER_LAKE or ./data_lake)")
    run.add_argument("--embedder", choices=["dlib", "facenet"], help="face embedder")
    run.add_argument("--force", action="store_true", help="reprocess videos already in the lake")
    run.add_argument(
        "--videos-per-run",
        type=int,
        default=64,
        help="videos per Dagster run of the per-video stages (bounds a run's memory)",
    )
    run.add_argument(
        "--executor",
        choices=["multiprocess", "in_process"],
        default="multiprocess",
        help="Dagster executor of the per-video runs: a process per step, or every step in this "
        "process (the catalog and cross-video runs always run in this process)",
    )
    run.add_argument(
        "--max-concurrent",
        type=int,
        default=0,
        help="multiprocess executor: steps running at once (0: one per CPU)",
    )
    run.set_defaults(func=_run)

    report = sub.add_parser(
        "report", help="write the leaderboard as HTML, CSV, XLSX and a PNG plot"
    )
    report.add_argument("--lake", help="lake folder (default: $INFLUENCER_LAKE or ./data_lake)")
    report.add_argument("--out", required=True, help="output folder")
    report.set_defaults(func=_report)

    evaluate = sub.add_parser("evaluate", help="score video_influencers against a truth file")
    evaluate.add_argument("--truth", required=True, help="truth CSV (video_url, influencer, ...)")
    evaluate.add_argument("--lake", help="lake folder (default: $INFLUENCER_LAKE or ./data_lake)")
    evaluate.add_argument("--json", help="also write the metrics as JSON to this file")
    evaluate.set_defaults(func=_evaluate)

    ui = sub.add_parser("ui", help="open the Dagster UI on this project's instance")
    ui.add_argument("--lake")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    warnings.filterwarnings("ignore", category=UserWarning, module="dagster")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
