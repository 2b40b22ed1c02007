"""Errors a fetch shows a person (issue 14): no local file's content, no secret, no escape.

Local text files beside the sheet are named and described, never quoted; a server's reason
phrase and page title are shown printable and redacted, its other text never; a real video is
judged by its bytes whatever its Content-Type; a signed URL or one with credentials is fetched
whole while every message shows it redacted. The server is ``hostile/shown.py``'s
``ShownHandler`` on 127.0.0.1, reached through the same seam as ``test_hostile_corpus``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from PIL import Image

from influencer_pipeline.media import address_guard
from influencer_pipeline.media.errors import MediaError
from influencer_pipeline.media.fetch import FetchPolicy, fetch_to_file
from influencer_pipeline.outro.fingerprint import fingerprint_outro
from influencer_pipeline_tests.hostile import media
from influencer_pipeline_tests.hostile.corpus import FAST
from influencer_pipeline_tests.hostile.server import HostileServer, serve
from influencer_pipeline_tests.hostile.shown import (
    BASIC_PASSWORD,
    BASIC_USER,
    SIGNATURE,
    TEXT_FILES,
    ShownHandler,
    leaks,
)

KINDS = {  # what each text file is said to be
    "settings.env": "plain text",
    "notes.mp4": "plain text",
    "export.json": "JSON",
    "saved_page.mp4": "an HTML page",
    "stream.m3u8": "an M3U/HLS playlist",
    "id_rsa.mp4": "plain text",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileServer]:
    video = media.one_frame(tmp_path_factory.mktemp("shown")).read_bytes()
    with serve(video, ShownHandler) as httpd:
        yield httpd


@pytest.fixture(autouse=True)
def loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exactly 127.0.0.1 counts as public (as in test_hostile_corpus); the rest by the rule."""
    real = address_guard.is_public_address
    monkeypatch.setattr(
        address_guard, "is_public_address", lambda a: str(a).split("%")[0] == "127.0.0.1" or real(a)
    )
    address_guard.clear_dns_cache()


def _error(url: str, dest: Path, **policy: object) -> MediaError:
    with pytest.raises(MediaError) as info:
        fetch_to_file(url, dest, replace(FetchPolicy(), **{**FAST, **policy}))  # type: ignore[arg-type]
    message = info.value.message
    assert message.isprintable() and not leaks(message), message
    return info.value


@pytest.mark.parametrize("name", sorted(TEXT_FILES))
def test_a_local_text_file_is_described_never_quoted(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(TEXT_FILES[name])
    error = _error((tmp_path / name).as_uri(), tmp_path / "dest", local_roots=(tmp_path,))
    assert error.code == "html_page"
    assert f"{tmp_path / name} is a text file ({KINDS[name]}), not a video" in error.message
    assert "its content is not shown" in error.message
    words = {w for w in re.split(r"[^A-Za-z0-9]+", TEXT_FILES[name].decode()) if len(w) >= 5}
    assert not [w for w in words if w in error.message.replace(str(tmp_path), "")]


@pytest.mark.parametrize(
    ("route", "code", "shown", "hidden"),
    [
        ("/reason/0", "http_404", ["Not Found\\x1b]0;pwned\\x07\\x1b[2J token=***"], []),
        ("/reason/1", "http_404", ["Gone\\x9b31m\\x85\\x7f\\x1b[5m blink"], []),
        ("/title/0", "html_page", ["an HTML page", "Removed \\x1b[2J", "sig=***"], []),
        ("/title/1", "html_page", ["Moved \\u202eevil\\u202c \\x9b1m"], []),
        ("/json-secret", "http_403", ["HTTP 403"], ["bad key", "expired"]),
        ("/text-secret", "html_page", ["returned plain text"], ["one-time", "code is"]),
        ("/signed?X-Amz-Signature=wrongSECRET&X-Amz-Credential=c", "http_403", [], []),
        ("/auth", "http_401", ["page says 'Sign in'"], []),
        ("/loop?token=loopSECRET&x=1", "too_many_redirects", ["token=***&x=1"], []),
        (
            "/to/" + quote("http://user:redirSECRET@10.0.0.1/v.mp4?sig=rSECRET", safe=""),
            "private_address",
            ["10.0.0.1"],
            [],
        ),
    ],
)
def test_a_server_is_quoted_by_its_title_printable_and_redacted(
    server: HostileServer,
    tmp_path: Path,
    route: str,
    code: str,
    shown: list[str],
    hidden: list[str],
) -> None:
    error = _error(f"{server.base}{route}", tmp_path / "dest")
    assert error.code == code, error.message
    for text in shown:
        assert text in error.message, error.message
    for text in hidden:
        assert text not in error.message, error.message


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/html; charset=utf-8", "application/json", "text/xml", "text/csv"],
)
def test_a_real_video_is_judged_by_its_bytes_not_its_label(
    server: HostileServer, tmp_path: Path, content_type: str
) -> None:
    policy = replace(FetchPolicy(), **FAST)  # type: ignore[arg-type]
    result = fetch_to_file(f"{server.base}/as/{quote(content_type, safe='')}", tmp_path, policy)
    assert result.path.read_bytes() == server.video and result.sniffed == "mp4"


def test_a_web_page_labelled_as_text_is_still_refused(server: HostileServer, tmp_path: Path):
    assert _error(f"{server.base}/html", tmp_path / "dest").code == "html_page"


def test_signed_urls_and_credentials_are_fetched_whole(server: HostileServer, tmp_path: Path):
    policy = replace(FetchPolicy(), **FAST)  # type: ignore[arg-type]
    signed = f"{server.base}/signed?X-Amz-Credential=c&X-Amz-Signature={SIGNATURE}"
    assert fetch_to_file(signed, tmp_path, policy).path.read_bytes() == server.video
    auth = f"http://{BASIC_USER}:{BASIC_PASSWORD}@127.0.0.1:{server.server_address[1]}/auth"
    assert fetch_to_file(auth, tmp_path, policy).path.read_bytes() == server.video


def _card_frames(side: int) -> pd.DataFrame:
    """Five still outro frames of a two-colour picture ``side`` pixels square."""
    picture = Image.new("RGB", (side, side), (230, 40, 40))
    picture.paste((20, 20, 200), (0, 0, max(1, side // 2), side))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return pd.DataFrame(
        {
            "video_id": "v",
            "frame_index": range(5),
            "role": "outro",
            "timestamp_s": [4.0 + 0.5 * i for i in range(5)],
            "image": [buffer.getvalue()] * 5,
        }
    )


@pytest.mark.parametrize("side", [1, 2, 3, 8, 16, 31])
def test_a_tiny_picture_is_never_an_outro_card(side: int) -> None:
    outcome = fingerprint_outro(_card_frames(side))
    assert outcome.fingerprint is None and outcome.reason_code == "too_small"
    assert "smaller than 32 px" in outcome.reason


def test_a_picture_of_sane_size_still_is_a_card() -> None:
    assert fingerprint_outro(_card_frames(64)).fingerprint is not None
