"""Accuracy you can rerun: re-upload groups, faceless (outro) grouping, and the real ads.

    python benchmarks/accuracy.py --work /tmp/accuracy                     # validation demo
    python benchmarks/accuracy.py --work /tmp/acc-default --seed 7 --brands default
    python benchmarks/accuracy.py --work /tmp/accuracy --sections real_ads

The *validation demo* is built with its own seed (default 20260) and the validation brand pool
(``demo/outros.py``: brand names and a shared brand card that no threshold was ever chosen on;
face identities come from the demo's library, see ``face_section``). It goes through the real
pipeline (``influencer-pipeline run``, in process, dlib embedder) into its own lake, and the lake is
scored against the demo's truth:

- ``reupload_section``: pairwise precision / recall / F of ``duplicate_groups`` against the
  truth's ``duplicate_group`` (re-uploads in every placement, the copy with another outro card;
  the second cut of a shoot is its own group), with the wrong merges and splits;
- ``faceless_section``: BCubed precision / recall / F of the influencers of faceless videos, and
  every look-alike card pair (other name, other colour, other price) checked apart;
- ``real_ads_section``: ``../shared/real_ads`` (see ``benchmarks/real_ads.py``): labelled
  duplicate groups found whole, wrong merges;
- ``face_section``: the hook for the faces colleague (identities of face videos); not written here.

Every section is a function ``(context) -> (lines, figures)``; add one to ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from accuracy_stages import stages_payload  # noqa: E402
from real_ads import real_ads_groups  # noqa: E402

from influencer_pipeline import lake as lake_io  # noqa: E402
from influencer_pipeline.catalog.urls import normalize_url  # noqa: E402
from influencer_tools.demo.config import DemoConfig  # noqa: E402
from influencer_tools.demo.generator import generate_demo  # noqa: E402
from influencer_tools.evaluation.lake import evaluate_lake  # noqa: E402

VALIDATION_SEED = 20260
SHARED = ROOT.parent / "shared"


@dataclass
class Context:
    """What the sections read: the demo folder and its lake (None when not built)."""

    work: Path
    demo: Path | None
    lake: Path | None
    payload: dict[str, Any] | None
    shared: Path
    assigned: pd.DataFrame | None = None  # video_url -> influencer_id (stages mode)


Section = Callable[[Context], tuple[list[str], dict[str, Any]]]


def build_demo(out: Path, seed: int, brands: str) -> Path:
    """Generate the demo (or reuse it: generation is idempotent); return its folder."""
    config = DemoConfig(seed=seed, brand_pool=brands)
    started = time.perf_counter()
    summary = generate_demo(out, config)
    print(f"demo: {summary.n_files} files in {out} ({time.perf_counter() - started:.0f} s)")
    return out


def run_pipeline(demo: Path, lake: Path, dagster_home: Path, check: bool = True) -> None:
    """``influencer-pipeline run`` on the demo sheet into ``lake`` (in process, dlib)."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DAGSTER_HOME=str(dagster_home))
    command = [
        str(Path(sys.executable).with_name("influencer-pipeline")),
        "run",
        "--input",
        str(demo / "demo_sheet.xlsx"),
        "--lake",
        str(lake),
        "--embedder",
        "dlib",
        "--executor",
        "in_process",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, check=check, stdout=subprocess.DEVNULL)
    print(f"pipeline: {time.perf_counter() - started:.0f} s into {lake} (exit {done.returncode})")


def _prf(values: dict[str, float]) -> str:
    return "P {precision:.3f}  R {recall:.3f}  F {f:.3f}".format(**values)


def reupload_section(ctx: Context) -> tuple[list[str], dict[str, Any]]:
    """Pairwise P/R/F of the re-upload groups against the truth's duplicate_group."""
    if ctx.payload is None or "duplicate_groups" not in ctx.payload:
        return ["re-uploads: no demo lake"], {}
    figures = ctx.payload["duplicate_groups"]
    truth = pd.read_csv(ctx.demo / "truth.csv", keep_default_na=False)
    kinds = truth.loc[truth["reupload_kind"] != "", "reupload_kind"].value_counts().to_dict()
    lines = [
        f"re-uploads ({figures['videos']} videos; kinds {kinds})",
        f"  pairwise {_prf(figures['pairwise'])}",
        f"  wrong merges {figures['wrong_merges']}, splits {figures['splits']}",
    ]
    return lines, figures


def _lookalikes_apart(ctx: Context) -> tuple[list[str], list[str]]:
    """Each look-alike twin against its base and the other twins: (apart, merged) pairs."""
    creators = pd.read_csv(ctx.demo / "truth_influencers.csv", keep_default_na=False)
    twins = creators[creators["lookalike_of"] != ""]
    truth = pd.read_csv(ctx.demo / "truth.csv", keep_default_na=False)
    influencers = (
        ctx.assigned
        if ctx.assigned is not None
        else lake_io.read_parquet(f"{ctx.lake}/video_influencers.parquet")
    )
    assigned = dict(zip(influencers["video_url"], influencers["influencer_id"], strict=True))
    ids: dict[str, set] = {}
    for url, label in zip(truth["video_url"], truth["influencer"], strict=True):
        ids.setdefault(label, set()).add(assigned.get(normalize_url(url, ctx.demo)))
    apart, merged = [], []
    for base, family in twins.groupby("lookalike_of"):
        members = [base, *family["influencer"]]
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                name = f"{a} / {b}"
                (merged if ids.get(a, set()) & ids.get(b, set()) else apart).append(name)
    return apart, merged


def faceless_section(ctx: Context) -> tuple[list[str], dict[str, Any]]:
    """BCubed P/R/F of faceless videos' influencers; look-alike card pairs apart."""
    if ctx.payload is None:
        return ["faceless: no demo lake"], {}
    section = ctx.payload["influencers"]["sections"]["faceless"]
    apart, merged = _lookalikes_apart(ctx)
    lines = [
        f"faceless videos ({section['n_videos']} videos, {section['n_true_influencers']} "
        f"creators, {section['n_predicted_influencers']} predicted)",
        f"  BCubed {_prf(section['bcubed'])}",
        f"  pairwise {_prf(section['pairwise'])}",
        f"  wrong merges {len(section['wrong_merges'])}, splits {len(section['splits'])}",
        f"  look-alike pairs apart: {len(apart)} of {len(apart) + len(merged)}"
        + (f"; merged: {merged}" if merged else ""),
    ]
    figures = {
        "bcubed": section["bcubed"],
        "lookalike_pairs": len(apart) + len(merged),
        "merged": merged,
    }
    return lines, figures


def real_ads_section(ctx: Context) -> tuple[list[str], dict[str, Any]]:
    """shared/real_ads: labelled duplicate groups found whole, and wrong merges."""
    real_ads = ctx.shared / "real_ads"
    if not (real_ads / "labels.csv").is_file():
        return [f"real ads: {real_ads} is not here, skipped"], {}
    result = real_ads_groups(real_ads, ctx.work / "real_ads_videos")
    lines = [
        f"real ads (shared/real_ads): {len(result.whole)} of {result.labelled_groups} labelled "
        f"duplicate groups whole; {len(result.wrong_merges)} wrong merges "
        f"(frames {result.seconds_frames:.1f} s, groups {result.seconds_groups:.1f} s)",
    ]
    lines += [f"  broken: {name}: {parts}" for name, parts in result.broken.items()]
    for members in result.wrong_merges:
        lines.append(f"  merged: {members}")
        lines += [f"    {v}: {result.evidence[v]}" for v in members if v in result.evidence]
    return lines, {
        "whole": len(result.whole),
        "labelled": result.labelled_groups,
        "wrong_merges": result.wrong_merges,
    }


FACE_OPTIONS: dict[str, Any] = {"identities": ["validation"], "run": True}


def face_section(ctx: Context) -> tuple[list[str], dict[str, Any]]:
    """Face videos' identities on demos of people never used while tuning (validation fold),
    the precision/recall curve over the main threshold, faces embedded or skipped, and the
    presenter/photo decisions on shared/real_ads (see ``benchmarks/faces_accuracy.py``)."""
    from faces_accuracy import face_figures

    return face_figures(ctx.work, ctx.shared, FACE_OPTIONS["identities"], run=FACE_OPTIONS["run"])


SECTIONS: dict[str, Section] = {
    "reupload": reupload_section,
    "faceless": faceless_section,
    "real_ads": real_ads_section,
    "face": face_section,
}


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the demo and its lake, then print every section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/accuracy"))
    parser.add_argument("--seed", type=int, default=VALIDATION_SEED)
    parser.add_argument("--brands", choices=("default", "validation"), default="validation")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--skip-run", action="store_true", help="score the lake already there")
    parser.add_argument(
        "--mode",
        choices=("pipeline", "stages"),
        default="pipeline",
        help="stages: only the re-upload and outro stages (faceless from the truth's kind)",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--face-identities",
        nargs="+",
        default=["validation"],
        choices=("validation", "development", "default"),
        help="face section: the demos to score (validation: people never used while tuning)",
    )
    args = parser.parse_args(argv)
    FACE_OPTIONS.update(identities=args.face_identities, run=not args.skip_run)
    work = args.work
    needs_demo = any(s in args.sections for s in ("reupload", "faceless"))
    demo = lake = payload = assigned = None
    if needs_demo:
        demo, lake = work / "demo", work / "lake"
        if not args.skip_run:
            build_demo(demo, args.seed, args.brands)
            if args.mode == "pipeline":
                run_pipeline(demo, lake, work / "dagster_home")
        if args.mode == "stages":
            payload, assigned = stages_payload(demo, lake)
            print("mode: stages (re-upload and outro stages; faceless videos from the truth)")
        else:
            _, payload = evaluate_lake(demo / "truth.csv", str(lake))
    ctx = Context(work, demo, lake, payload, args.shared, assigned)
    report: dict[str, Any] = {"seed": args.seed, "brands": args.brands}
    for name in args.sections:
        lines, figures = SECTIONS[name](ctx)
        print("\n".join(lines))
        report[name] = figures
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
