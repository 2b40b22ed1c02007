"""What needs work: the one planner behind the CLI and the Dagster sensors.

Given the catalog's videos and what the lake and the Dagster instance know about each of them,
``plan_videos`` says which videos need the per-video stages (never processed, incomplete, failed
before, or forced), which only need their faces embedded again (another embedder), and which are
done. ``run_batches`` cuts the work into Dagster runs over contiguous partition ranges, and
``cross_video_due`` says when the cross-video assets must be rebuilt: once, after everything they
read has landed. The CLI executes the batches itself; the sensors turn them into run requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PER_VIDEO_ASSETS = (
    "video_files",
    "video_frames",
    "face_embeddings",
    "video_faces",
    "outro_fingerprints",
)
FACE_ASSETS = ("face_embeddings", "video_faces")
PER_VIDEO_JOB = "per_video_job"
FACES_JOB = "faces_job"

# The CLI runs its per-video runs one after another in its own process, so it takes larger ranges
# than the daemon's runs (``MAX_PARTITIONS_PER_RUN``, several at once in their own processes):
# every step's fixed costs (inputs read, outputs and events written, the last video alone on the
# machine) are paid once per run. 157 videos: 3 runs 127-132 s, one run 119-122 s; peak RSS 1.98
# -> 2.12 GiB (benchmarks/RESULTS.md, session 15).
CLI_VIDEOS_PER_RUN = 160


@dataclass(frozen=True)
class VideoState:
    """What is known about one video's per-video partitions."""

    materialized: frozenset[str] = frozenset()  # assets with a recorded materialization and file
    status: str | None = None  # video_files status ("ok" / "failed"), None if unknown
    embedder: str | None = None  # embedder of its video_faces row, None if unknown or no face work
    embedder_version: str | None = None  # that row's embedder_version, None if unknown

    @property
    def complete(self) -> bool:
        """Every per-video asset of this video is in the lake."""
        return self.materialized >= set(PER_VIDEO_ASSETS)


@dataclass
class VideoPlan:
    """Which videos need which work, with the reason for each group."""

    new: list[str] = field(default_factory=list)  # no partition in the lake yet
    incomplete: list[str] = field(default_factory=list)  # some per-video assets missing
    retry: list[str] = field(default_factory=list)  # its fetch or decode failed before
    forced: list[str] = field(default_factory=list)
    reembed: list[str] = field(default_factory=list)  # faces embedded another way
    in_progress: list[str] = field(default_factory=list)  # a queued or running run has it
    done: list[str] = field(default_factory=list)

    @property
    def process(self) -> list[str]:
        """Videos that need every per-video stage."""
        return self.new + self.incomplete + self.retry + self.forced

    @property
    def empty(self) -> bool:
        """Nothing to run."""
        return not self.process and not self.reembed

    def describe(self) -> str:
        """One line: how many videos need what."""
        parts = [
            f"{len(values)} {label}"
            for label, values in (
                ("new", self.new),
                ("incomplete", self.incomplete),
                ("failed before (retried)", self.retry),
                ("forced", self.forced),
                ("to re-embed", self.reembed),
                ("already running", self.in_progress),
                ("up to date", self.done),
            )
            if values
        ]
        return ", ".join(parts) or "no videos"


def plan_videos(
    video_ids: Sequence[str],
    states: Mapping[str, VideoState],
    *,
    embedder: str,
    embedder_version: str | None = None,
    force: bool = False,
    retry_failed: bool = True,
    in_progress: frozenset[str] | set[str] = frozenset(),
) -> VideoPlan:
    """Decide the work for ``video_ids`` (catalog order kept in every group).

    A video counts as done only when every per-video asset is materialized and in the lake, its
    fetch succeeded (failed videos are retried when ``retry_failed``) and its faces were embedded
    with ``embedder`` and, when given, ``embedder_version`` (else only the face stages run
    again: vectors of another version are in another space).
    """
    plan = VideoPlan()
    for video_id in dict.fromkeys(video_ids):
        state = states.get(video_id, VideoState())
        if video_id in in_progress:
            plan.in_progress.append(video_id)
        elif force:
            plan.forced.append(video_id)
        elif not state.materialized:
            plan.new.append(video_id)
        elif not state.complete:
            plan.incomplete.append(video_id)
        elif state.status != "ok":
            (plan.retry if retry_failed else plan.done).append(video_id)
        elif state.embedder is not None and (
            state.embedder != embedder
            or (embedder_version is not None and state.embedder_version != embedder_version)
        ):
            plan.reembed.append(video_id)
        else:
            plan.done.append(video_id)
    return plan


def contiguous_ranges(
    ordered_keys: Sequence[str], wanted: set[str] | frozenset[str], max_len: int
) -> list[tuple[str, str]]:
    """Split ``wanted`` into ranges of consecutive ``ordered_keys`` of at most ``max_len`` keys.

    A Dagster run targets a partition *range*; keys between two wanted keys that are not wanted
    themselves must not be swept into a run, so ranges break at every unwanted key.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    ranges: list[tuple[str, str]] = []
    current: list[str] = []
    for key in ordered_keys:
        if key in wanted and len(current) < max_len:
            current.append(key)
            continue
        if current:
            ranges.append((current[0], current[-1]))
        current = [key] if key in wanted else []
    if current:
        ranges.append((current[0], current[-1]))
    return ranges


@dataclass(frozen=True)
class RunBatch:
    """One Dagster run of the per-video stages over a contiguous partition range."""

    job_name: str
    start: str
    end: str

    @property
    def key(self) -> str:
        """A stable name of this batch (for run keys)."""
        return f"{self.job_name}:{self.start}..{self.end}"


def run_batches(plan: VideoPlan, ordered_keys: Sequence[str], max_len: int) -> list[RunBatch]:
    """The runs that carry out ``plan``: full per-video runs, then face-only runs."""
    return [
        RunBatch(job, start, end)
        for job, videos in ((PER_VIDEO_JOB, plan.process), (FACES_JOB, plan.reembed))
        for start, end in contiguous_ranges(ordered_keys, set(videos), max_len)
    ]


@dataclass(frozen=True)
class CrossVideoDecision:
    """Whether the cross-video assets must be rebuilt now, and why (or why not)."""

    due: bool
    watermark: int  # the newest input event the rebuild would include
    reason: str


def cross_video_due(
    *,
    latest_input: int | None,
    oldest_output: int | None,
    last_requested: int | None,
    active_runs: int,
    pending_videos: int = 0,
) -> CrossVideoDecision:
    """Rebuild once, after every input has landed.

    ``latest_input``: storage id of the newest materialization of the catalog or of any per-video
    partition; ``oldest_output``: the oldest latest-materialization among the cross-video assets
    (None when one was never built); ``last_requested``: the input watermark of the last rebuild
    requested (a failed rebuild is not retried until an input changes); ``active_runs``: runs of
    the pipeline that are queued or running; ``pending_videos``: catalog videos planned but not
    yet requested.
    """
    if latest_input is None:
        return CrossVideoDecision(False, 0, "nothing to build yet: no catalog")
    if active_runs:
        return CrossVideoDecision(False, latest_input, f"waiting for {active_runs} run(s)")
    if pending_videos:
        return CrossVideoDecision(
            False, latest_input, f"waiting for {pending_videos} video(s) to be processed"
        )
    if oldest_output is not None and oldest_output > latest_input:
        return CrossVideoDecision(False, latest_input, "cross-video assets are up to date")
    if last_requested is not None and last_requested >= latest_input:
        return CrossVideoDecision(
            False, latest_input, "a rebuild for these inputs was already requested"
        )
    return CrossVideoDecision(True, latest_input, "inputs changed since the last rebuild")
