"""Entry point of the demo: plan, render and encode the videos, then write the sheet and the truth.

``generate_demo(out_dir, config)`` is idempotent: the same config gives the same sheet, truth and
video frames. Files already in ``out_dir`` that match the plan (checked by content hash recorded in
``.demo_state.json``) are kept instead of being rendered again.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from influencer_pipeline.media.encode import write_video
from influencer_pipeline.media.transforms import transform_video
from influencer_tools.demo.config import DemoConfig, DemoSummary
from influencer_tools.demo.errors import DemoError
from influencer_tools.demo.outputs import readme_text, write_sheet, write_truth
from influencer_tools.demo.photos import FACES_DIR, FaceLibrary, load_library
from influencer_tools.demo.plan import DemoPlan, Derived, VideoPlan, plan_demo
from influencer_tools.demo.render import render_video

RENDER_VERSION = "7"  # bump when rendering or encoding changes, so cached files are rebuilt
# write_video turns x264's MB-tree off, which makes the output reproducible; superfast keeps the
# demo quick to generate.
ENCODER_PRESET = "superfast"
STATE_FILE = ".demo_state.json"
_OWN_FILE = re.compile(r"^v_[0-9a-f]{12}\.mp4$")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(*parts: object) -> str:
    text = json.dumps([RENDER_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _load_state(path: Path) -> dict[str, dict[str, str]]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _is_current(path: Path, entry: dict[str, str] | None, fingerprint: str) -> bool:
    return (
        bool(entry)
        and entry.get("fingerprint") == fingerprint
        and path.is_file()
        and _sha256(path) == entry.get("sha256")
    )


def _write_original(plan: DemoPlan, video: VideoPlan, library: FaceLibrary, path: Path) -> str:
    """Render and encode one original video atomically; return its sha256."""
    tmp = path.with_name(path.stem + ".part.mp4")
    frames = render_video(plan, video, library)
    write_video(tmp, frames, plan.config.fps, crf=video.crf, preset=ENCODER_PRESET)
    os.replace(tmp, path)
    return _sha256(path)


def _worker(job: tuple[DemoPlan, VideoPlan, str]) -> str:
    plan, video, path = job
    library = load_library(identity_set=plan.config.identities)
    return _write_original(plan, video, library, Path(path))


def _write_derived(item: Derived, videos_dir: Path, plan: DemoPlan, library: FaceLibrary) -> str:
    src, dst = videos_dir / item.source, videos_dir / item.file
    tmp = dst.with_name(dst.stem + ".part.mp4")
    if item.kind == "exact_copy":
        shutil.copyfile(src, tmp)
    elif item.outro is not None:  # the same body with another end card, encoded anew
        frames = render_video(plan, plan.video(item.source), library, card=item.outro)
        write_video(tmp, frames, plan.config.fps, crf=item.crf, preset=ENCODER_PRESET)
    else:
        transform_video(
            src,
            tmp,
            scale=item.scale,
            crop=item.crop,
            trim_start_s=item.trim_start_s,
            crf=item.crf,
            aspect=item.aspect,
            crop_shift=item.crop_shift,
            letterbox=item.letterbox,
        )
    os.replace(tmp, dst)
    return _sha256(dst)


def _workers(config: DemoConfig, n_jobs: int) -> int:
    if config.workers:
        return min(config.workers, max(1, n_jobs))
    return max(1, min(2, os.cpu_count() or 1, n_jobs))


def _prepare(out_dir: Path) -> Path:
    if out_dir.exists() and not out_dir.is_dir():
        raise DemoError("bad_out_dir", f"{out_dir} exists and is not a folder")
    videos_dir = out_dir / "videos"
    try:
        videos_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError("bad_out_dir", f"cannot create {videos_dir}: {exc}") from exc
    return videos_dir


def generate_demo(out_dir: Path, config: DemoConfig | None = None) -> DemoSummary:
    """Write the demo (videos/, demo_sheet.xlsx, truth.csv, truth_influencers.csv, README.txt)."""
    started = time.perf_counter()
    config = config or DemoConfig()
    out_dir = Path(out_dir)
    videos_dir = _prepare(out_dir)
    library = load_library(identity_set=config.identities)
    plan = plan_demo(config, library)
    state_path = out_dir / STATE_FILE
    old_state = _load_state(state_path) if config.reuse_existing else {}
    state: dict[str, dict[str, str]] = {}
    settings = (config.width, config.height, config.fps, _sha256(FACES_DIR / "MANIFEST.csv"))

    todo: list[tuple[VideoPlan, str]] = []
    for video in plan.videos:
        fingerprint = _fingerprint(
            settings, asdict(video), plan.creator(video.creator).outro, plan.brand_card
        )
        if _is_current(videos_dir / video.file, old_state.get(video.file), fingerprint):
            state[video.file] = old_state[video.file]
        else:
            todo.append((video, fingerprint))
    workers = _workers(config, len(todo))
    jobs = [(plan, video, str(videos_dir / video.file)) for video, _ in todo]
    if workers > 1:
        # spawn, not fork: the caller may have threads (torch, Dagster) that fork would copy badly
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            digests = list(pool.map(_worker, jobs))
    else:
        digests = [_write_original(plan, v, library, Path(p)) for _, v, p in jobs]
    for (video, fingerprint), digest in zip(todo, digests, strict=True):
        state[video.file] = {"fingerprint": fingerprint, "sha256": digest}

    n_rendered = len(todo)
    for item in plan.derived:
        fingerprint = _fingerprint(asdict(item), state[item.source]["sha256"])
        if _is_current(videos_dir / item.file, old_state.get(item.file), fingerprint):
            state[item.file] = old_state[item.file]
            continue
        digest = _write_derived(item, videos_dir, plan, library)
        state[item.file] = {"fingerprint": fingerprint, "sha256": digest}
        n_rendered += 1

    for stale in videos_dir.iterdir():
        ours = _OWN_FILE.match(stale.name) and stale.name not in state
        if ours or stale.name.endswith(".part.mp4"):
            stale.unlink()
    sheet = write_sheet(plan, out_dir / "demo_sheet.xlsx")
    truth, influencers = write_truth(plan, out_dir)
    (out_dir / "README.txt").write_text(readme_text(plan), encoding="utf-8")
    state_path.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    files = tuple(sorted(state))
    return DemoSummary(
        out_dir=out_dir,
        sheet=sheet,
        truth=truth,
        truth_influencers=influencers,
        n_rows=len(plan.rows),
        n_files=len(files),
        n_influencers=len(plan.creators),
        n_rendered=n_rendered,
        n_reused=len(files) - n_rendered,
        seconds=round(time.perf_counter() - started, 2),
        files=files,
    )
