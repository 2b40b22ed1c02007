"""The ``influencer-pipeline`` command: demo data, pipeline runs, reports, evaluation and the UI."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

from influencer_pipeline.memory import limit_malloc_arenas, modules_loading, spare_exit_collections
from influencer_pipeline.planning import CLI_VIDEOS_PER_RUN

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _demo(args: argparse.Namespace) -> int:
    from influencer_tools.demo.config import DemoConfig
    from influencer_tools.demo.errors import DemoError
    from influencer_tools.demo.generator import generate_demo

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
            brand_pool=args.brands,
            workers=args.workers,
            identities=args.identities,
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


def _say(line: str) -> None:
    """Print a progress or summary line safely (``display.show``: redacted, printable)."""
    from influencer_pipeline.display import show_lines

    print(show_lines(str(line), 2000))


def _error(message: object) -> None:
    """Print an error line to stderr safely (``display.show``: redacted, printable)."""
    from influencer_pipeline.display import show_lines

    print(show_lines(f"error: {message}", 4000), file=sys.stderr)


def _resources_config(args: argparse.Namespace) -> dict:
    """Run config of the resources: ``--config FILE``, then the fetcher flags."""
    from influencer_pipeline.run_config import cli_resources

    return cli_resources(
        Path(args.config) if args.config else None,
        allow_private_networks=args.allow_private_networks,
        local_roots=args.local_root or (),
    )


def _run(args: argparse.Namespace) -> int:
    with modules_loading():  # Dagster and the definitions, ~2.5 s on one core
        import influencer_pipeline.definitions  # noqa: F401  (the runs load it)
        from influencer_pipeline import lifetime
        from influencer_pipeline.run_config import ConfigFileError
        from influencer_pipeline.run_pipeline import (
            PipelineInputError,
            PipelineRunError,
            run_pipeline,
        )
        from influencer_pipeline.summary import print_summary

    sheets = [Path(p).expanduser().resolve() for p in args.input]
    missing = [str(p) for p in sheets if not p.is_file()]
    if missing:
        _error(f"input sheet not found: {', '.join(missing)}")
        return EXIT_BAD_INPUT
    lifetime.mark_parent()  # step workers end with this process, even on kill -9
    try:
        resources = _resources_config(args)
        report = run_pipeline(
            sheets,
            args.lake,
            embedder=args.embedder,
            force=args.force,
            videos_per_run=args.videos_per_run,
            executor=args.executor,
            max_concurrent=args.max_concurrent,
            resources=resources,
            emit=_say,
            verbose=args.verbose,
        )
    except (PipelineInputError, ConfigFileError) as exc:
        _error(f"the input is unusable: {exc}")
        return EXIT_BAD_INPUT
    except PipelineRunError as exc:
        _error(f"a pipeline run failed: {exc}")
        return EXIT_FAILED
    print_summary(report, emit=_say)
    _say(f"face embedder: {report.embedder}; models loaded: {', '.join(report.models) or 'none'}")
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    from influencer_pipeline.paths import lake_root
    from influencer_tools.evaluation.lake import evaluate_lake
    from influencer_tools.evaluation.report import EvaluationInputError
    from influencer_tools.evaluation.truth import TruthFileError

    try:
        text, payload = evaluate_lake(Path(args.truth), lake_root(args.lake))
    except (TruthFileError, EvaluationInputError, FileNotFoundError) as exc:
        _error(exc)
        return EXIT_BAD_INPUT
    _say(text)
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from influencer_pipeline import lake
    from influencer_pipeline.defs.ranking.leaderboard import copy_report
    from influencer_pipeline.paths import lake_root
    from influencer_pipeline.run_pipeline import (
        PipelineInputError,
        PipelineRunError,
        materialize_leaderboard,
    )

    root = lake_root(args.lake)
    if not lake.as_upath(f"{root}/ranked_influencers.parquet").exists():
        _error(f"no ranking in the lake {root}: run the pipeline first (influencer-pipeline run)")
        return EXIT_BAD_INPUT
    try:
        materialize_leaderboard(root, emit=_say, verbose=args.verbose)
        files = copy_report(root, Path(args.out))
    except PipelineInputError as exc:
        _error(exc)
        return EXIT_BAD_INPUT
    except (PipelineRunError, FileNotFoundError) as exc:
        _error(f"the leaderboard could not be written: {exc}")
        return EXIT_FAILED
    _say("leaderboard written:\n" + "\n".join(f"  {f}" for f in files))
    return EXIT_OK


def _sheets(args: argparse.Namespace) -> int:
    from influencer_pipeline import lake
    from influencer_pipeline.catalog.sources import active_sources
    from influencer_pipeline.paths import lake_root
    from influencer_pipeline.run_pipeline import PipelineInputError, PipelineRunError, run_pipeline

    root = lake_root(args.lake)
    if args.retire:
        try:
            run_pipeline([], root, retire=args.retire, emit=_say, verbose=args.verbose)
        except PipelineInputError as exc:
            _error(exc)
            return EXIT_BAD_INPUT
        except PipelineRunError as exc:
            _error(f"a pipeline run failed: {exc}")
            return EXIT_FAILED
    try:
        registry = lake.read_parquet(f"{root}/sheet_sources.parquet")
    except FileNotFoundError:
        _say(f"no sheet registered in the lake {root} yet")
        return EXIT_OK
    active = set(active_sources(registry)["source"])
    for row in registry.itertuples(index=False):
        state = (
            "retired " + str(row.retired_at)
            if row.retired_at
            else ("active" if row.source in active else "same content as another sheet")
        )
        _say(f"{row.source}  ({row.rows} rows, updated {row.updated_at}; {state})")
    return EXIT_OK


def _ui(args: argparse.Namespace) -> int:
    from influencer_pipeline.paths import LAKE_ENV, lake_root, project_dir
    from influencer_pipeline.run_pipeline import prepare_dagster_home

    home = prepare_dagster_home()
    # `dagster dev` is another process: it learns the lake and the instance from its environment
    env = {**os.environ, LAKE_ENV: lake_root(args.lake), "DAGSTER_HOME": str(home)}
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
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={env['DAGSTER_HOME']})")
    return subprocess.call(command, cwd=project_dir(), env=env)


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
    demo.add_argument("--faceless-creators", type=int, default=5, help="creators without a face")
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
    demo.add_argument("--reuploads", type=int, default=9, help="re-uploaded variants of videos")
    demo.add_argument(
        "--brands",
        choices=("default", "validation"),
        default="default",
        help="brand names of the outro cards (validation: names never used while tuning)",
    )
    demo.add_argument("--workers", type=int, default=0, help="render processes (0: automatic)")
    demo.add_argument(
        "--identities",
        choices=["default", "development", "validation"],
        default="default",
        help="people of the demo: the default set, or the development or validation fold of the "
        "labelled photos (validation: people never used while tuning)",
    )
    demo.set_defaults(func=_demo)

    run = sub.add_parser("run", help="materialize every asset for a sheet through Dagster")
    run.add_argument(
        "--input",
        required=True,
        action="append",
        help="sheet (XLSX, CSV or Parquet); repeat for several sheets. Each is added to the "
        "lake's catalog, which keeps every sheet given before",
    )
    run.add_argument("--lake", help="lake folder (default: $INFLUENCER_LAKE or ./data_lake)")
    run.add_argument(
        "--embedder",
        choices=["auto", "dlib", "facenet"],
        help="face embedder (default auto: the lake's own; for a new lake facenet where its "
        "weights are present, else dlib)",
    )
    run.add_argument("--force", action="store_true", help="reprocess videos already in the lake")
    run.add_argument(
        "--allow-private-networks",
        action="store_true",
        help="let videos be downloaded from loopback, private and link-local addresses",
    )
    run.add_argument(
        "--local-root",
        action="append",
        metavar="DIR",
        help="a folder local video paths may be read from (repeatable; default: the sheets' "
        "folders)",
    )
    run.add_argument(
        "--config",
        metavar="FILE",
        help="YAML file with a `resources:` block (fetcher, face_models), as in the launchpad",
    )
    run.add_argument(
        "--videos-per-run",
        type=int,
        default=CLI_VIDEOS_PER_RUN,
        help=f"videos per Dagster run of the per-video stages (bounds a run's memory; default "
        f"{CLI_VIDEOS_PER_RUN})",
    )
    run.add_argument(
        "--executor",
        choices=["default", "in_process", "multiprocess"],
        default="default",
        help="Dagster executor of the per-video runs: the code location's (default: in this "
        "process, the fastest measured; Celery or Kubernetes where $INFLUENCER_EXECUTOR says), "
        "every step in this process, or a process per step",
    )
    run.add_argument(
        "--max-concurrent",
        type=int,
        default=0,
        help="multiprocess executor: steps running at once (0: one per CPU)",
    )
    run.add_argument(
        "--verbose", action="store_true", help="print Dagster's own log lines and tracebacks"
    )
    run.set_defaults(func=_run)

    report = sub.add_parser(
        "report", help="rebuild the leaderboard asset and copy its HTML, CSV, XLSX and PNG"
    )
    report.add_argument("--lake", help="lake folder (default: $INFLUENCER_LAKE or ./data_lake)")
    report.add_argument("--out", required=True, help="output folder")
    report.add_argument("--verbose", action="store_true", help="print Dagster's own log lines")
    report.set_defaults(func=_report)

    sheets = sub.add_parser("sheets", help="list the sheets the catalog is made of; retire one")
    sheets.add_argument("--lake", help="lake folder (default: $INFLUENCER_LAKE or ./data_lake)")
    sheets.add_argument(
        "--retire",
        action="append",
        metavar="SHEET",
        help="take a registered sheet (path or file name) out of the catalog and rebuild",
    )
    sheets.add_argument("--verbose", action="store_true", help="print Dagster's own log lines")
    sheets.set_defaults(func=_sheets)

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
    limit_malloc_arenas()  # before any thread starts (influencer_pipeline.memory)
    args = build_parser().parse_args(argv)
    code = args.func(args)
    if argv is None:  # the console script: the process ends next
        spare_exit_collections()
    return code


if __name__ == "__main__":
    sys.exit(main())
