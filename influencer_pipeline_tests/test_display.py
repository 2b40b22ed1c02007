"""The one rule for text shown to a person (``display``): redacted, printable, capped, inert.

Expected values are written out by hand for each class: control characters and escape sequences
(issue 14 item 1), credentials and signed tokens (item 3), spreadsheet formulas (item 7).
"""

from __future__ import annotations

import unicodedata

import pytest

from influencer_pipeline.display import (
    is_redacted,
    is_secret_param,
    neutralize_formula,
    printable,
    redact,
    show,
    show_lines,
    spreadsheet_text,
)
from influencer_pipeline_tests.hostile.shown import ESCAPES, FORMULAS, SECRET_URLS, leaks

# --- 1. control characters and escape sequences -------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # CSI: clear screen
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),  # OSC: retitle the terminal
        ("\x1b]8;;http://e/\x1b\\", "\\x1b]8;;http://e/\\x1b\\"),  # OSC 8 hyperlink
        ("\x9b31m", "\\x9b31m"),  # C1 CSI
        ("a\x85b", "a\\x85b"),  # C1 next line
        ("\x00\x7f", "\\x00\\x7f"),  # NUL, DEL
        ("a\nb\rc\td", "a\\x0ab\\x0dc\\x09d"),  # no fake line can start
        ("\u202egnp.exe", "\\u202egnp.exe"),  # bidi override
        ("\u2066x\u2069", "\\u2066x\\u2069"),  # bidi isolate
        ("\u200b\u200d\ufeff", "\\u200b\\u200d\\ufeff"),  # zero width, BOM
        ("\u2028\u2029", "\\u2028\\u2029"),  # line and paragraph separators
        ("\ud800", "\\ud800"),  # a lone surrogate (cannot even be encoded as UTF-8)
        ("\ue000", "\\ue000"),  # private use
        ("\U000e0041", "\\U000e0041"),  # tag character
        ("café ☕ 東京 emoji😀", "café ☕ 東京 emoji😀"),  # printable text is kept as is
    ],
)
def test_every_non_printable_character_becomes_a_visible_escape(raw: str, shown: str) -> None:
    assert show(raw) == shown
    assert show(raw).isprintable()
    show(raw).encode("utf-8")  # always encodable


def test_no_code_point_survives_unprintable() -> None:
    """Every code point of the planes in use, one by one, comes out printable."""
    for code in range(0, 0x30000):
        text = printable(chr(code))
        assert text.isprintable(), hex(code)
        if unicodedata.category(chr(code))[0] in "CZ" and chr(code) != " ":
            assert text.startswith("\\"), hex(code)


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escapes_in_a_sentence_are_shown_visibly(name: str) -> None:
    text = show(f"the file /videos/clip{ESCAPES[name]}.mp4 does not exist")
    assert text.isprintable() and text.startswith("the file /videos/clip\\")


def test_length_is_capped() -> None:
    assert show("x" * 1000, 10) == "x" * 9 + "…"
    assert len(show("\x1b" * 1000, 50)) == 50  # escapes count in the cap
    assert show("short", 10) == "short"
    assert show(None) == ""


def test_lines_keep_their_breaks_and_lose_their_escapes() -> None:
    assert show_lines("one\x1b[2J\ntwo\u202e") == "one\\x1b[2J\ntwo\\u202e"


# --- 3. credentials and signed tokens ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("https://user:pw@host.example/v.mp4", "https://***@host.example/v.mp4"),
        ("https://user@host.example/v.mp4", "https://***@host.example/v.mp4"),
        ("https://a:b@c@host.example/v?x=1", "https://***@host.example/v?x=1"),
        ("//user:pw@host/v", "//***@host/v"),
        (
            "https://s3.example/v.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F1"
            "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
            "&X-Amz-Security-Token=FwoG&X-Amz-Signature=abc123",
            "https://s3.example/v.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***"
            "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
            "&X-Amz-Security-Token=***&X-Amz-Signature=***",
        ),
        (
            "https://acct.blob.example/c/v.mp4?sv=2022-11-02&se=2030-01-01&sp=r&sig=abc%3D",
            "https://acct.blob.example/c/v.mp4?sv=2022-11-02&se=2030-01-01&sp=r&sig=***",
        ),
        (
            "https://d1.cloudfront.example/v.mp4?Expires=1&Policy=eyJ&Signature=xyz&Key-Pair-Id=K",
            "https://d1.cloudfront.example/v.mp4?Expires=1&Policy=***&Signature=***&Key-Pair-Id=***",
        ),
        (
            "https://storage.example/v?X-Goog-Credential=g&X-Goog-Signature=s&alt=media",
            "https://storage.example/v?X-Goog-Credential=***&X-Goog-Signature=***&alt=media",
        ),
        (
            "https://h/v?token=t&access_token=a&id_token=i&refresh_token=r&code=c#access_token=f",
            "https://h/v?token=***&access_token=***&id_token=***&refresh_token=***&code=***"
            "#access_token=***",
        ),
        (
            "https://h/v?key=k&api_key=a&apikey=b&x-api-key=c&client_secret=d&password=e&pwd=f",
            "https://h/v?key=***&api_key=***&apikey=***&x-api-key=***&client_secret=***"
            "&password=***&pwd=***",
        ),
        ("https://h/v?TOKEN=T&Sig=S;auth=A", "https://h/v?TOKEN=***&Sig=***;auth=***"),
        ("https://h/v?%73ig=S&a%5Fkey=K", "https://h/v?%73ig=***&a%5Fkey=***"),  # encoded names
        ("https://h/v.mp4?utm_source=x&id=7&page=2", "https://h/v.mp4?utm_source=x&id=7&page=2"),
        (
            "HTTPSConnectionPool(host='h', port=443): Max retries exceeded with url: "
            "/v.mp4?sig=abc&se=1 (Caused by ...)",
            "HTTPSConnectionPool(host='h', port=443): Max retries exceeded with url: "
            "/v.mp4?sig=***&se=1 (Caused by ...)",
        ),
        ("found columns ['url', 'api_key=hdr']", "found columns ['url', 'api_key=***']"),
        ("DB_PASSWORD=hunter2", "DB_PASSWORD=***"),
        ("score=0.5 and n=3", "score=0.5 and n=3"),
    ],
)
def test_secrets_are_redacted_by_one_rule(raw: str, shown: str) -> None:
    assert redact(raw) == shown
    assert show(raw) == shown
    assert is_redacted(raw) == (raw != shown)
    assert redact(shown) == shown  # idempotent: redacting what is shown changes nothing


@pytest.mark.parametrize("url", SECRET_URLS)
def test_the_corpus_secret_urls_show_no_secret(url: str) -> None:
    assert leaks(url) and not leaks(show(url))


@pytest.mark.parametrize(
    "name",
    ["X-Amz-Signature", "x_amz_credential", "X-Amz-Security-Token", "sig", "Signature", "token",
     "access_token", "key", "api_key", "API-KEY", "code", "password", "Policy", "Key-Pair-Id",
     "client_secret", "sessionid", "hdnts", "private_token", "subscription-key"],
)  # fmt: skip
def test_secret_parameter_names(name: str) -> None:
    assert is_secret_param(name)


@pytest.mark.parametrize("name", ["id", "page", "utm_source", "se", "sv", "Expires", "width"])
def test_ordinary_parameter_names(name: str) -> None:
    assert not is_secret_param(name)


# --- 7. spreadsheet formulas ------------------------------------------------------------------


@pytest.mark.parametrize("text", FORMULAS)
def test_no_cell_can_start_a_formula(text: str) -> None:
    cell = spreadsheet_text(text)
    assert cell.startswith("'") and cell.isprintable()


@pytest.mark.parametrize("text", ["Sarah (@sarah)", "F-0b4a1c9d2e", "0.5", "a=b", "x-y"])
def test_ordinary_text_stays_as_it_is(text: str) -> None:
    assert spreadsheet_text(text) == text == neutralize_formula(text)
