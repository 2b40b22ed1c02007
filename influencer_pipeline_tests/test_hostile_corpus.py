"""The hostile-input corpus (issue 7): every case ends in its own specific, recorded outcome.

- Row cases (content files, local paths, URLs, scores) run TOGETHER through the real pipeline in
  one sheet with two good face videos: each ends as its ``rejected_rows`` reason or its
  partition's ``video_files`` error code, or ok with the properties it must have; the good
  videos get their influencer and the run completes (``slow``: one pipeline run, minutes).
- Sheet cases go through ``load_catalog``; two unusable sheets also through the CLI (exit 2).
- Network responses go through ``fetch_to_file`` against a misbehaving local server.

The cases and their expected outcomes are the tables in ``hostile/corpus.py``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from influencer_pipeline.catalog.build import load_catalog
from influencer_pipeline.catalog.sheets import SheetError
from influencer_pipeline.media import fetch
from influencer_pipeline.media.errors import MediaError, is_known_code
from influencer_pipeline.media.fetch import FetchPolicy, fetch_to_file
from influencer_pipeline_tests.hostile import media
from influencer_pipeline_tests.hostile.corpus import (
    CLI_CASES,
    DRIP_TOTAL,
    FAST,
    FETCH_CASES,
    GOOD_VIDEOS,
    ROW_CASES,
    SHEET_CASES,
    Failed,
    FetchCase,
    Loads,
    Ok,
    Rejected,
    RowCase,
    SheetCase,
    SheetFails,
)
from influencer_pipeline_tests.hostile.pipeline import CorpusRun, shared_corpus_run
from influencer_pipeline_tests.hostile.server import HostileServer, serve

PROJECT = Path(__file__).resolve().parents[1]


def test_the_corpus_is_big_and_its_ids_are_unique() -> None:
    ids = [c.id for c in ROW_CASES] + [c.id for c in SHEET_CASES] + [c.id for c in FETCH_CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 30
    kinds = {type(c.expect) for c in ROW_CASES} | {type(c.expect) for c in SHEET_CASES}
    assert kinds == {Rejected, Failed, Ok, SheetFails, Loads}


# --- rows through the whole pipeline -----------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    return shared_corpus_run(tmp_path_factory)


@pytest.mark.slow
@pytest.mark.parametrize("case", ROW_CASES, ids=lambda c: c.id)
def test_row_ends_in_its_outcome(corpus: CorpusRun, case: RowCase) -> None:
    row = corpus.row_of[case.id]
    video = corpus.video_of_row(row)
    expect = case.expect
    if isinstance(expect, Rejected):
        assert video is None, "a rejected row must not become a video"
        rejected = corpus.table("rejected_rows")
        found = rejected[rejected["source_row"] == row]
        assert found["reason_code"].tolist() == [expect.reason_code]
        assert f"row {row}: " in found["reason"].iloc[0]  # a sentence that says which row
        return
    assert video is not None, "the row must become a video partition"
    files = corpus.partition("video_files", video)
    assert len(files) == 1
    record = files.iloc[0]
    influencer = corpus.partition("video_influencers", video).iloc[0]
    if isinstance(expect, Failed):
        assert (record["status"], record["error_code"]) == ("failed", expect.error_code)
        assert is_known_code(record["error_code"]) and len(record["error"]) > 20
        assert influencer["status"] == "failed" and influencer["error"] == record["error"]
        assert influencer["influencer_id"] is None
        assert corpus.partition("video_frames", video).empty
        return
    assert (record["status"], record["error_code"], record["error"]) == ("ok", None, None)
    assert influencer["status"] == "ok" and influencer["influencer_id"]
    if expect.check is not None:
        expect.check(record, corpus.partition("video_frames", video))


@pytest.mark.slow
def test_good_videos_are_ok_each_with_its_face_influencer(corpus: CorpusRun) -> None:
    influencers = []
    for person in GOOD_VIDEOS:
        video = corpus.video_of_row(corpus.row_of[person])
        assert video is not None
        assert corpus.partition("video_files", video)["status"].tolist() == ["ok"]
        row = corpus.partition("video_influencers", video).iloc[0]
        assert (row["status"], row["method"]) == ("ok", "face"), person
        influencers.append(row["influencer_id"])
    assert len(set(influencers)) == len(GOOD_VIDEOS)  # two people, two influencers


@pytest.mark.slow
def test_the_run_completed_and_accounts_for_every_row(corpus: CorpusRun) -> None:
    assert len(corpus.report.run_ids) >= 3  # catalog, per-video range(s), cross-video
    catalog, rejected = corpus.table("video_catalog"), corpus.table("rejected_rows")
    rows = len(GOOD_VIDEOS) + len(ROW_CASES)
    assert int(catalog["n_rows"].sum()) + len(rejected) == rows
    influencers = corpus.table("video_influencers")
    assert sorted(influencers["video_id"]) == sorted(catalog["video_id"])
    assert (corpus.lake / "ranked_influencers.parquet").is_file()


@pytest.mark.slow
def test_no_refused_url_was_ever_requested(corpus: CorpusRun) -> None:
    """The default policy refused the loopback URLs before connecting: the server saw nothing."""
    assert sum(corpus.hits.values()) == 0, dict(corpus.hits)


@pytest.mark.slow
def test_every_ok_video_has_one_row_in_each_per_video_summary(corpus: CorpusRun) -> None:
    files = corpus.table("video_files")
    for video in files.loc[files["status"] == "ok", "video_id"]:
        assert len(corpus.partition("video_faces", video)) == 1, video
        assert len(corpus.partition("outro_fingerprints", video)) == 1, video


@pytest.mark.slow
def test_refused_files_never_reach_the_lake(corpus: CorpusRun) -> None:
    """Nothing outside the allowed folder was copied in, and no temp file was left behind."""
    blobs = [p for p in (corpus.lake / "video_blobs").rglob("*") if p.is_file()]
    stored = {p.name.split(".")[0] for p in blobs}
    outside = {hashlib.sha256(p.read_bytes()).hexdigest() for p in corpus.where.outside.iterdir()}
    assert outside and not stored & outside
    files = corpus.table("video_files")
    assert len(stored) == int((files["status"] == "ok").sum())  # all ok videos differ
    assert not [p for p in blobs if p.name.startswith(".") or p.suffix in (".part", ".tmp")]


# --- whole sheets ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SHEET_CASES, ids=lambda c: c.id)
def test_sheet_ends_in_its_outcome(tmp_path: Path, case: SheetCase) -> None:
    path = case.build(tmp_path)
    if isinstance(case.expect, SheetFails):
        with pytest.raises(SheetError) as info:
            load_catalog([path])
        assert info.value.code == case.expect.code
        assert path.name in str(info.value)  # the message names the sheet
        return
    catalog, rejected = load_catalog([path])
    assert rejected["reason_code"].notna().all() and rejected["reason"].notna().all()
    case.expect.check(catalog, rejected)


@pytest.mark.slow
def test_cli_exits_2_with_a_clear_message_for_unusable_sheets(tmp_path: Path) -> None:
    """Each unusable sheet in its own CLI process (run side by side): exit 2, and the last line
    of stderr says what is wrong."""
    runs = []
    for i, (build, words) in enumerate(CLI_CASES):
        folder = tmp_path / f"cli{i}"
        folder.mkdir()
        sheet = build(folder)
        env = {**os.environ, "DAGSTER_HOME": str(folder / "home"), "INFLUENCER_EMBEDDER": "dlib"}
        env.pop("INFLUENCER_LAKE", None)
        command = [sys.executable, "-m", "influencer_pipeline.cli", "run", "--input", str(sheet)]
        command += ["--lake", str(folder / "lake")]
        process = subprocess.Popen(
            command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        runs.append((sheet, words, process))
    for sheet, words, process in runs:
        out, err = process.communicate(timeout=600)
        last = err.strip().splitlines()[-1]
        assert process.returncode == 2, (sheet.name, out, err[-2000:])
        assert last.startswith("error: the input is unusable: "), last
        assert words in last and sheet.name in last, last
        assert not (sheet.parent / "lake" / "video_catalog.parquet").exists()


# --- network responses -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileServer]:
    video = media.one_frame(tmp_path_factory.mktemp("srv")).read_bytes()
    with serve(video) as httpd:
        yield httpd


@pytest.fixture()
def loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seam for redirect tests: ``fetch.is_public_address`` (looked up at each check) is made
    to call exactly 127.0.0.1 public, so the first hop reaches the local server while every
    other address - the redirect targets - is judged by the real rule."""
    real = fetch.is_public_address

    def judged(address: object) -> bool:
        return str(address).split("%")[0] == "127.0.0.1" or real(address)  # type: ignore[arg-type]

    monkeypatch.setattr(fetch, "is_public_address", judged)
    fetch.clear_dns_cache()


@pytest.mark.usefixtures("loopback_counts_as_public")
def test_the_seam_lets_only_the_first_hop_through(server: HostileServer, tmp_path: Path) -> None:
    policy = replace(FetchPolicy(), **FAST)
    assert not policy.allow_private_networks
    result = fetch_to_file(f"{server.base}/video", tmp_path, policy)
    assert result.path.read_bytes() == server.video


@pytest.mark.usefixtures("loopback_counts_as_public")
@pytest.mark.parametrize("case", FETCH_CASES, ids=lambda c: c.id)
def test_response_ends_in_its_error(server: HostileServer, tmp_path: Path, case: FetchCase) -> None:
    policy = replace(FetchPolicy(), **{**FAST, **case.policy})  # type: ignore[arg-type]
    dest = tmp_path / "dest"
    with pytest.raises(MediaError) as info:
        fetch_to_file(f"{server.base}{case.route}", dest, policy)
    error = info.value
    assert error.code == case.code, error.message
    assert error.attempts == 1 and error.message
    assert not dest.exists() or not any(dest.iterdir())  # no partial file left behind
    if case.code == "timeout":  # stopped by the total time limit, long before the body ended
        assert "total time limit" in error.message
        received = int(error.message.rsplit("after ", 1)[1].split(" ")[0].replace(",", ""))
        assert received < DRIP_TOTAL / 2
