"""The leaderboard as analysts get it: what Performance is, when it was made, number formats."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from influencer_pipeline.defs.ranking.leaderboard import copy_report, publish
from influencer_pipeline.ranking.report import render_report
from influencer_pipeline_tests.ranking.test_report import make_ranked, make_videos


@pytest.fixture()
def tables():
    """(ranked, videos): four face influencers, an outro group, a re-upload, two failures."""
    videos = make_videos()
    return make_ranked(videos), videos


def test_the_report_says_what_performance_is_and_when_it_was_made(tables) -> None:
    ranked, videos = tables
    files = render_report(ranked, videos, generated_at="2026-12-03 10:00 UTC")
    page = files["leaderboard.html"].decode()
    assert "Made 2026-12-03 10:00 UTC" in page
    assert "Performance column" in page
    about = openpyxl.load_workbook(io.BytesIO(files["leaderboard.xlsx"]))["about"]
    items = {row[0].value: row[1].value for row in about.iter_rows(min_row=2)}
    assert items["generated_at"] == "2026-12-03 10:00 UTC"
    assert "Performance column" in items["performance"]
    undated = render_report(ranked, videos)  # without a time the bytes depend on the tables only
    assert "Made " not in undated["leaderboard.html"].decode()


def test_xlsx_numbers_are_percent_and_three_decimals(tables) -> None:
    ranked, videos = tables
    book = openpyxl.load_workbook(io.BytesIO(render_report(ranked, videos)["leaderboard.xlsx"]))
    board = book["leaderboard"]
    header = [cell.value for cell in board[1]]
    row = board[2]
    formats = {name: row[i].number_format for i, name in enumerate(header)}
    assert formats["consistency"] == "0.0%" and formats["shrinkage"] == "0.0%"
    assert formats["score"] == "0.000" and formats["mean_performance"] == "0.000"
    assert formats["n_videos"] == "General"
    video_header = [cell.value for cell in book["videos"][1]]
    performance = book["videos"][2][video_header.index("performance")]
    assert performance.number_format == "0.000" and isinstance(performance.value, float)


def test_publish_and_copy_write_one_set(tables, tmp_path: Path) -> None:
    ranked, videos = tables
    files = render_report(ranked, videos)
    published = publish(files, str(tmp_path / "lake" / "leaderboard"))
    assert sorted(Path(p).name for p in published) == sorted(files)
    copied = copy_report(str(tmp_path / "lake"), tmp_path / "out")
    assert {p.name: p.read_bytes() for p in copied} == files
    with pytest.raises(FileNotFoundError):
        copy_report(str(tmp_path / "empty"), tmp_path / "out2")
