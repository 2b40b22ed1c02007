"""The hostile-input corpus: every case with the outcome it must end in.

Four tables:
- ``ROW_CASES``: rows of ONE sheet run through the real pipeline (content files, local paths and
  URLs): each ends as a ``rejected_rows`` reason (``Rejected``), a failed ``video_files``
  partition with an error code (``Failed``), or an ok partition with checked properties (``Ok``).
- ``SHEET_CASES``: whole sheets through ``load_catalog``: a ``SheetError`` code (``SheetFails``)
  or a catalog whose bad rows are each rejected with their reason (``Loads``).
- ``FETCH_CASES``: responses of a hostile local server through ``fetch_to_file`` (redirects to
  private addresses, endless and dripping bodies, ...), each with its ``MediaError`` code.
- ``CLI_CASES``: a few unusable sheets through the ``influencer-pipeline run`` command.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from influencer_pipeline.catalog.urls import MAX_URL_LENGTH
from influencer_pipeline_tests.hostile import media, sheets
from influencer_pipeline_tests.hostile.cases import (
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
from influencer_pipeline_tests.hostile.shown import SHOWN_ROW_CASES, SHOWN_SHEET_CASES

# --- checks of odd-but-valid videos ------------------------------------------------------------


def _jpeg(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _one_frame(files: pd.Series, frames: pd.DataFrame) -> None:
    assert files["frame_count"] == 1
    assert len(frames) == 1 and frames["timestamp_s"].tolist() == [0.0]


def _zero_duration(files: pd.Series, frames: pd.DataFrame) -> None:
    assert files["frame_count"] == 1
    assert 0 < files["duration_s"] <= 0.05  # one frame's worth, not 0 and not garbage
    assert len(frames) == 1


def _rotated(files: pd.Series, frames: pd.DataFrame) -> None:
    assert files["rotation"] == 90  # clockwise, to show it upright
    assert (files["width"], files["height"]) == (96, 160)  # the displayed (portrait) size
    assert len(frames) > 0
    for image in frames["image"]:
        rgb = _jpeg(image).astype(int)
        assert rgb.shape == (160, 96, 3)  # upright: portrait
        corners = {
            "top_left": rgb[10:60, 8:40],
            "top_right": rgb[10:60, 56:88],
            "bottom_left": rgb[100:150, 8:40],
            "bottom_right": rgb[100:150, 56:88],
        }
        for name, patch in corners.items():
            assert np.abs(patch.mean(axis=(0, 1)) - media.QUADRANTS[name]).max() < 40, name


def _vfr(files: pd.Series, frames: pd.DataFrame) -> None:
    assert files["frame_count"] == len(media.VFR_PTS_MS)
    assert files["duration_s"] == pytest.approx(2.04, abs=0.02)
    measured = len(media.VFR_PTS_MS) / files["duration_s"]  # frames over seconds, not 25
    assert files["fps"] == pytest.approx(measured, abs=1e-6)
    real = {round(ms / 1000, 3) for ms in media.VFR_PTS_MS}
    assert {round(t, 3) for t in frames["timestamp_s"]} <= real  # only real frame times
    assert {0.0, 2.0} <= {round(t, 3) for t in frames["timestamp_s"]}  # first and last frame


def _raw_h264(files: pd.Series, frames: pd.DataFrame) -> None:
    assert (files["container"], files["video_codec"]) == ("h264", "h264")
    assert files["duration_s"] == pytest.approx(3.0, abs=0.05)
    assert len(frames) >= 12
    last = frames["timestamp_s"].max()
    assert last == pytest.approx(74 / 25, abs=0.01)  # the last frame
    assert all(abs(t * 25 - round(t * 25)) < 1e-6 for t in frames["timestamp_s"])


def _hidden_bomb(files: pd.Series, frames: pd.DataFrame) -> None:
    assert (files["width"], files["height"]) == (64, 64)
    times = [round(t, 3) for t in frames["timestamp_s"]]
    assert times == [0.0, 1.0, 3.0, 4.0], times  # the 36 Mpx frame at 2 s was never decoded
    assert set(frames["width"]) == {64}


# --- helpers for cells -------------------------------------------------------------------------


def _file(builder: Callable[[Path], Path]) -> Callable[[Where], str]:
    """A cell naming the file ``builder`` writes into the sheet folder, relative to the sheet."""
    return lambda where: builder(where.sheet_dir).name


def _playlist(where: Where) -> str:
    return media.hls_playlist(where.sheet_dir, where.secret("listed.mp4")).name


def _symlink_out(where: Where) -> str:
    link = where.sheet_dir / "innocent.mp4"
    link.symlink_to(where.secret("linked.mp4"))
    return link.name


def _dotdot(where: Where) -> str:
    where.secret("secret1.mp4")
    return "../outside/secret1.mp4"


def _absolute_outside(where: Where) -> str:
    return str(where.secret("secret2.mp4"))


def _encoded_dotdot(where: Where) -> str:
    where.secret("secret3.mp4")
    return f"file://{where.sheet_dir}/%2e%2e/outside/%73ecret3.mp4"


def _folder(where: Where) -> str:
    (where.sheet_dir / "a_folder.mp4").mkdir()
    return "a_folder.mp4"


def _fifo(where: Where) -> str:
    os.mkfifo(where.sheet_dir / "pipe.mp4")
    return "pipe.mp4"


def _server(path: str, host: str = "127.0.0.1") -> Callable[[Where], str]:
    return lambda where: f"http://{host}:{where.port}{path}"


def _fixed(text: str) -> Callable[[Where], str]:
    return lambda _where: text


# --- the pipeline corpus -----------------------------------------------------------------------

ROW_CASES: list[RowCase] = [
    # content: broken
    RowCase("zero_bytes", _file(media.zero_bytes), Failed("empty_file")),
    RowCase("html_page", _file(media.html_page), Failed("html_page")),
    RowCase("random_bytes", _file(media.random_bytes), Failed("not_video")),
    RowCase("truncated_mp4", _file(media.truncated_mp4), Failed("truncated")),
    RowCase("truncated_faststart_mp4", _file(media.truncated_faststart), Failed("truncated")),
    RowCase("corrupt_mp4", _file(media.corrupt_mp4), Failed("corrupt")),
    RowCase("audio_only", _file(media.audio_only), Failed("no_video_stream")),
    RowCase("jpeg_named_mp4", _file(media.jpeg_as_mp4), Failed("not_video")),
    RowCase("hls_playlist_to_outside_file", _playlist, Failed("html_page")),  # text, refused
    RowCase("very_high_resolution", _file(media.huge_resolution), Failed("resolution_too_large")),
    RowCase(
        "declared_bomb_image_stream", _file(media.declared_bomb), Failed("resolution_too_large")
    ),
    RowCase("png_bomb_named_mp4", _file(media.png_bomb_file), Failed("not_video")),
    RowCase("ten_hour_timestamps", _file(media.long_declared), Failed("too_large")),
    # content: valid but odd
    RowCase("one_frame", _file(media.one_frame), Ok(_one_frame)),
    RowCase("zero_duration_one_frame", _file(media.zero_duration), Ok(_zero_duration)),
    RowCase("rotated_display_matrix", _file(media.rotated), Ok(_rotated)),
    RowCase("variable_frame_rate", _file(media.variable_frame_rate), Ok(_vfr)),
    RowCase("raw_h264_no_timestamps", _file(media.raw_h264), Ok(_raw_h264)),
    RowCase("bomb_frame_hidden_mid_stream", _file(media.hidden_bomb), Ok(_hidden_bomb)),
    # local paths: only below the sheet's folder, only regular files
    RowCase("missing_file", _fixed("missing.mp4"), Failed("file_not_found")),
    RowCase("folder_not_file", _folder, Failed("file_not_found")),
    RowCase("named_pipe", _fifo, Failed("file_not_found")),
    RowCase("dotdot_traversal", _dotdot, Failed("outside_allowed_roots")),
    RowCase("absolute_path_outside", _absolute_outside, Failed("outside_allowed_roots")),
    RowCase("file_url_encoded_dotdot", _encoded_dotdot, Failed("outside_allowed_roots")),
    RowCase("file_url_etc_passwd", _fixed("file:///etc/passwd"), Failed("outside_allowed_roots")),
    RowCase("symlink_escaping_folder", _symlink_out, Failed("outside_allowed_roots")),
    RowCase("csv_formula_as_url", _fixed('=HYPERLINK("x.mp4")'), Failed("file_not_found")),
    # URLs: schemes and shapes refused in the catalog
    RowCase("ftp_scheme", _fixed("ftp://example.com/v.mp4"), Rejected("unsupported_scheme")),
    RowCase("javascript_scheme", _fixed("javascript:alert(1)"), Rejected("unsupported_scheme")),
    RowCase("data_scheme", _fixed("data:video/mp4;base64,AAAA"), Rejected("unsupported_scheme")),
    RowCase(
        "gopher_ssrf", _fixed("gopher://127.0.0.1:6379/_FLUSHALL"), Rejected("unsupported_scheme")
    ),
    RowCase(
        "file_url_other_host",
        _fixed("file://fileserver/share/v.mp4"),
        Rejected("unsupported_scheme"),
    ),
    RowCase("windows_path", _fixed("C:\\videos\\v.mp4"), Rejected("unsupported_scheme")),
    RowCase(
        "very_long_url",
        _fixed("https://cdn.example.com/" + "a" * (MAX_URL_LENGTH + 1000) + ".mp4"),
        Rejected("url_too_long"),
    ),
    RowCase("space_in_host", _fixed("https://exa mple.com/v.mp4"), Rejected("unparsable_url")),
    RowCase("empty_url", _fixed(""), Rejected("missing_url")),
    # scores
    RowCase(
        "text_score", _fixed("https://cdn.example.com/t.mp4"), Rejected("non_numeric_score"), "abc"
    ),
    RowCase(
        "nan_score", _fixed("https://cdn.example.com/n.mp4"), Rejected("non_finite_score"), "NaN"
    ),
    RowCase(
        "inf_score", _fixed("https://cdn.example.com/i.mp4"), Rejected("non_finite_score"), "-inf"
    ),
    RowCase(
        "overflow_score",
        _fixed("https://cdn.example.com/o.mp4"),
        Rejected("non_finite_score"),
        "1e999",
    ),
    RowCase(
        "formula_score",
        _fixed("https://cdn.example.com/f.mp4"),
        Rejected("non_numeric_score"),
        "=1+1",
    ),
    RowCase("empty_score", _fixed("https://cdn.example.com/e.mp4"), Rejected("missing_score"), ""),
    RowCase(  # finite, but it would turn every influencer's ranking score into NaN
        "huge_finite_score",
        _fixed("https://cdn.example.com/h.mp4"),
        Rejected("score_out_of_range"),
        "1e300",
    ),
    # network: the default policy refuses every non-public address, before connecting
    RowCase("loopback", _server("/video"), Failed("private_address")),
    RowCase("localhost_name", _server("/video", "localhost"), Failed("private_address")),
    RowCase("loopback_ipv6", _server("/video", "[::1]"), Failed("private_address")),
    RowCase(
        "loopback_ipv4_mapped", _server("/video", "[::ffff:127.0.0.1]"), Failed("private_address")
    ),
    RowCase("loopback_decimal", _server("/video", "2130706433"), Failed("private_address")),
    RowCase("loopback_octal", _server("/video", "0177.0.0.1"), Failed("private_address")),
    RowCase("loopback_short", _server("/video", "127.1"), Failed("private_address")),
    RowCase("unspecified", _server("/video", "0.0.0.0"), Failed("private_address")),
    RowCase(
        "link_local_metadata",
        _fixed("http://169.254.169.254/latest/meta-data/"),
        Failed("private_address"),
    ),
    RowCase("link_local_ipv6", _fixed("http://[fe80::1]/v.mp4"), Failed("private_address")),
    RowCase("private_10", _fixed("http://10.0.0.1/v.mp4"), Failed("private_address")),
    RowCase("private_192_168", _fixed("https://192.168.1.1/v.mp4"), Failed("private_address")),
    RowCase("private_172_16", _fixed("http://172.16.5.4:8080/v.mp4"), Failed("private_address")),
    RowCase("shared_cgnat", _fixed("http://100.64.0.1/v.mp4"), Failed("private_address")),
    RowCase("unique_local_ipv6", _fixed("http://[fd00::1]/v.mp4"), Failed("private_address")),
    # what a person is shown (issue 14): escapes, local files' content, secrets, tiny clips
    *SHOWN_ROW_CASES,
]

# The good videos of the pipeline corpus: status ok, each with an influencer found by its face.
GOOD_VIDEOS: tuple[str, ...] = ("barack_obama", "elton_john")


# --- whole sheets ------------------------------------------------------------------------------


def _expect_rows(expected: list[tuple[object, object, str | None]]) -> Callable[..., None]:
    """A ``Loads`` check: the good rows are videos, every bad row is rejected with its reason."""

    def check(catalog: pd.DataFrame, rejected: pd.DataFrame) -> None:
        reasons = rejected.sort_values("source_row")["reason_code"].tolist()
        assert reasons == [code for _, _, code in expected if code is not None]
        assert rejected["reason"].str.contains(r"row \d+", regex=True).all()
        assert int(catalog["n_rows"].sum()) == sum(code is None for _, _, code in expected)

    return check


def _nan_inf(catalog: pd.DataFrame, rejected: pd.DataFrame) -> None:
    assert rejected["reason_code"].tolist() == ["non_finite_score", "non_finite_score"]
    assert catalog["performance"].tolist() == [1.0]


def _nested(catalog: pd.DataFrame, rejected: pd.DataFrame) -> None:
    assert catalog.empty
    assert rejected["reason_code"].tolist() == ["unparsable_url", "unparsable_url"]


def _cp1252(catalog: pd.DataFrame, rejected: pd.DataFrame) -> None:
    assert rejected.empty
    assert catalog["video_url"].tolist() == ["https://a.example/caf%C3%A9/vid%C3%A9o.mp4"]


def _header_only(catalog: pd.DataFrame, rejected: pd.DataFrame) -> None:
    assert catalog.empty and rejected.empty  # the run then stops: "no usable rows"


def _hundred_thousand(catalog: pd.DataFrame, rejected: pd.DataFrame) -> None:
    n = sheets.BIG_ROWS
    assert int(catalog["n_rows"].sum()) + len(rejected) == n
    assert len(rejected) == n // 100 and set(rejected["reason_code"]) == {"non_numeric_score"}
    assert len(catalog) == n - n // 10 - n // 100  # repeats merge; rejected URLs vanish
    assert catalog["video_id"].is_unique
    assert all(math.isfinite(v) for v in catalog["performance"])


SHEET_CASES: list[SheetCase] = [
    SheetCase("empty_csv", sheets.empty_csv, SheetFails("empty")),
    SheetCase("blank_lines_csv", sheets.whitespace_csv, SheetFails("empty")),
    SheetCase("header_only_csv", sheets.header_only_csv, Loads(_header_only)),
    SheetCase("header_only_xlsx", sheets.header_only_xlsx, Loads(_header_only)),
    SheetCase("missing_columns_csv", sheets.missing_columns_csv, SheetFails("missing_column")),
    SheetCase("missing_score_xlsx", sheets.missing_score_xlsx, SheetFails("missing_column")),
    SheetCase(
        "duplicate_headers_csv", sheets.duplicate_headers_csv, SheetFails("ambiguous_column")
    ),
    SheetCase(
        "duplicate_same_name_xlsx", sheets.duplicate_same_name_xlsx, SheetFails("ambiguous_column")
    ),
    SheetCase("undecodable_csv", sheets.undecodable_csv, SheetFails("unreadable")),
    SheetCase("utf16_without_bom_csv", sheets.utf16_without_bom_csv, SheetFails("unreadable")),
    SheetCase("binary_junk_xlsx", sheets.binary_as_xlsx, SheetFails("unreadable")),
    SheetCase("billion_laughs_xlsx", sheets.billion_laughs_xlsx, SheetFails("unreadable")),
    SheetCase("external_entity_xlsx", sheets.external_entity_xlsx, SheetFails("unreadable")),
    SheetCase("overlong_field_csv", sheets.overlong_field_csv, SheetFails("unreadable")),
    SheetCase("txt_extension", sheets.unsupported_extension, SheetFails("unsupported_format")),
    SheetCase("missing_sheet_file", sheets.missing_file, SheetFails("file_not_found")),
    SheetCase("formulas_xlsx", sheets.formulas_xlsx, Loads(_expect_rows(sheets.FORMULA_ROWS))),
    SheetCase(
        "text_nan_inf_scores_csv", sheets.text_scores_csv, Loads(_expect_rows(sheets.SCORE_ROWS))
    ),
    SheetCase("nan_inf_parquet", sheets.nan_inf_parquet, Loads(_nan_inf)),
    SheetCase("nested_cells_parquet", sheets.nested_cells_parquet, Loads(_nested)),
    SheetCase("cp1252_csv", sheets.cp1252_csv, Loads(_cp1252)),
    SheetCase(
        "hundred_thousand_rows_csv", sheets.hundred_thousand_rows_csv, Loads(_hundred_thousand)
    ),
    *SHOWN_SHEET_CASES,  # worksheets, escapes in headers (issue 14)
]

# --- network responses -------------------------------------------------------------------------


def _to(url: str) -> str:
    return "/to/" + quote(url, safe="")


DRIP_TOTAL = 4000  # bytes a dripping route would send: 20 s at DRIP_BYTES per DRIP_PAUSE_S
FAST = {"connect_timeout_s": 2.0, "read_timeout_s": 2.0, "retries": 0}

FETCH_CASES: list[FetchCase] = [
    FetchCase(
        "redirect_to_metadata_service",
        _to("http://169.254.169.254/latest/meta-data/"),
        "private_address",
    ),
    FetchCase("redirect_to_loopback_decimal", _to("http://2130706434/admin"), "private_address"),
    FetchCase("redirect_to_private_10", _to("http://10.1.2.3:8080/v.mp4"), "private_address"),
    FetchCase("redirect_to_cgnat", _to("http://100.64.0.1/v.mp4"), "private_address"),
    FetchCase("redirect_to_ipv6_link_local", _to("http://[fe80::1]/v.mp4"), "private_address"),
    FetchCase(
        "redirect_to_mapped_loopback", _to("https://[::ffff:7f00:2]/v.mp4"), "private_address"
    ),
    FetchCase("redirect_to_file_scheme", _to("file:///etc/passwd"), "unsupported_scheme"),
    FetchCase("redirect_to_ftp", _to("ftp://example.com/v.mp4"), "unsupported_scheme"),
    FetchCase("redirect_loop", "/loop", "too_many_redirects"),
    FetchCase("html_page_200", "/html", "html_page"),
    FetchCase("html_page_as_video", "/html-as-video", "html_page"),
    FetchCase("empty_body", "/empty", "empty_file"),
    FetchCase("http_404", "/status/404", "http_404"),
    FetchCase("cut_off_body", "/short", "truncated"),
    FetchCase("declared_too_large", "/big-declared", "too_large", {"max_bytes": 1_000_000}),
    FetchCase("endless_body", "/endless", "too_large", {"max_bytes": 2_000_000}),
    FetchCase("gzip_bomb_body", "/gzip-bomb", "too_large", {"max_bytes": 2_000_000}),
    FetchCase("dripping_body", f"/drip/{DRIP_TOTAL}", "timeout", {"total_timeout_s": 1.0}),
    FetchCase("dripping_chunk", f"/drip-chunked/{DRIP_TOTAL}", "timeout", {"total_timeout_s": 1.0}),
]

# --- the command line --------------------------------------------------------------------------

# (sheet builder, words the error message must contain): each must exit 2 without a traceback.
CLI_CASES: list[tuple[Callable[[Path], Path], str]] = [
    (sheets.empty_csv, "the file is empty"),  # a SheetError
    (sheets.header_only_xlsx, "No usable rows"),  # a readable sheet without one usable row
]
