"""URL normalization: the canonical form, rejections with codes, and property tests."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from influencer_pipeline.catalog.urls import (
    MAX_URL_LENGTH,
    TRACKING_PARAMS,
    UrlRejected,
    is_tracking_param,
    normalize_url,
    video_id_for,
)

BASE = Path("/data/sheets")

NORMALIZED = [
    # case of scheme and host; path case kept
    ("HTTP://Example.COM/Some/Path", "http://example.com/Some/Path"),
    # default ports dropped, others kept, empty port dropped
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:0443/a", "https://example.com/a"),
    ("http://example.com:443/a", "http://example.com:443/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("https://example.com:/a", "https://example.com/a"),
    # empty path becomes "/"; fragment removed; a bare "?" removed
    ("https://example.com", "https://example.com/"),
    ("https://example.com/v.mp4#t=10", "https://example.com/v.mp4"),
    ("https://example.com/v.mp4?#x", "https://example.com/v.mp4"),
    # surrounding whitespace, NBSP, zero-width space and BOM stripped
    ("  \u00a0\ufeffhttps://example.com/v\u200b\t\n", "https://example.com/v"),
    # dot segments
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("https://example.com/../../a", "https://example.com/a"),
    ("https://example.com/a/b/..", "https://example.com/a/"),
    ("https://example.com/a/%2E%2e/b", "https://example.com/b"),
    # percent-escapes: uppercase hex, unreserved decoded, reserved kept encoded
    ("https://example.com/%7euser/%41b%2fc%3a", "https://example.com/~user/Ab%2Fc%3A"),
    ("https://example.com/a b/c%zz", "https://example.com/a%20b/c%25zz"),
    ("https://example.com/vidéo.mp4", "https://example.com/vid%C3%A9o.mp4"),
    # IDN host, trailing dot, userinfo kept as is
    ("https://Bücher.Example/x", "https://xn--bcher-kva.example/x"),
    ("https://例え.テスト/x", "https://xn--r8jz45g.xn--zckzah/x"),
    ("https://example.com./x", "https://example.com/x"),
    ("https://User:PassWord@Example.com/x", "https://User:PassWord@example.com/x"),
    ("https://[2001:DB8:0::1]:443/x", "https://[2001:db8::1]/x"),
    # tracking parameters dropped (any case), signatures kept byte for byte and in order
    (
        "https://cdn.example.com/v.mp4?utm_source=fb&sig=AbC%2fz%3D&UTM_Medium=x&token=t0k"
        "&fbclid=123&expires=99&b=&GCLID=9&si=abc",
        "https://cdn.example.com/v.mp4?sig=AbC%2fz%3D&token=t0k&expires=99&b=",
    ),
    (
        "https://bucket.s3.amazonaws.com/k.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIA%2F20240101%2Fus-east-1&X-Amz-Signature=deadbeef&igshid=q",
        "https://bucket.s3.amazonaws.com/k.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIA%2F20240101%2Fus-east-1&X-Amz-Signature=deadbeef",
    ),
    (
        "https://acct.blob.core.windows.net/c/v.mp4?sv=2021-08-06&se=2030-01-01T00%3A00Z&sr=b"
        "&sp=r&sig=Zm9v%2BYmFy%3D&utm_campaign=x",
        "https://acct.blob.core.windows.net/c/v.mp4?sv=2021-08-06&se=2030-01-01T00%3A00Z&sr=b"
        "&sp=r&sig=Zm9v%2BYmFy%3D",
    ),
    ("https://example.com/v?utm_source=a&_ga=1&_gl=2", "https://example.com/v"),
    ("https://example.com/v?utm%5Fsource=a&z=1", "https://example.com/v?z=1"),
    ("https://example.com/v?flag&&z=", "https://example.com/v?flag&z="),
    ("https://example.com/v?q=a b", "https://example.com/v?q=a%20b"),
    # local paths: relative to the sheet's folder, absolute, spaces, non-ASCII, ".."
    ("clips/a.mp4", "file:///data/sheets/clips/a.mp4"),
    ("./clips/../b c.mp4", "file:///data/sheets/b%20c.mp4"),
    ("../videos/é.mp4", "file:///data/videos/%C3%A9.mp4"),
    ("/srv/v/x.mp4", "file:///srv/v/x.mp4"),
    ("clip#1.mp4", "file:///data/sheets/clip%231.mp4"),
    # file URLs: localhost == empty host, single-slash form, escapes, dot segments
    ("file:///srv/v/x.mp4", "file:///srv/v/x.mp4"),
    ("FILE://localhost/srv/v/x.mp4", "file:///srv/v/x.mp4"),
    ("file:/srv/v/x.mp4", "file:///srv/v/x.mp4"),
    ("file:///srv/v/../w/a%20b.mp4", "file:///srv/w/a%20b.mp4"),
]

REJECTED = [
    (None, "missing_url"),
    (float("nan"), "missing_url"),
    ("", "missing_url"),
    ("  \u200b\u00a0 ", "missing_url"),
    (12345, "unparsable_url"),
    ("https://example.com/a\x00b", "unparsable_url"),
    ("https://example.com/a\nb", "unparsable_url"),
    ("https://exa\u200bmple.com/", "unparsable_url"),
    ("https://exa mple.com/", "unparsable_url"),
    ("https://example.com:99999/", "unparsable_url"),
    ("https://example.com:http/", "unparsable_url"),
    ("https://[::1/", "unparsable_url"),
    ("https://example..com/", "unparsable_url"),
    ("//example.com/v.mp4", "unparsable_url"),
    ("file:relative/x.mp4", "unparsable_url"),
    ("ftp://example.com/v.mp4", "unsupported_scheme"),
    ("data:video/mp4;base64,AAAA", "unsupported_scheme"),
    ("javascript:alert(1)", "unsupported_scheme"),
    ("mailto:a@example.com", "unsupported_scheme"),
    ("s3://bucket/key.mp4", "unsupported_scheme"),
    ("C:\\videos\\a.mp4", "unsupported_scheme"),
    ("file://otherhost/x.mp4", "unsupported_scheme"),
    ("http:///v.mp4", "missing_host"),
    ("https://", "missing_host"),
    ("https://user@:8080/x", "missing_host"),
    ("https://example.com/" + "a" * MAX_URL_LENGTH, "url_too_long"),
    ("https://example.com/" + "é" * 1500, "url_too_long"),  # too long once percent-encoded
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZED)
def test_normalized_form(raw: str, expected: str) -> None:
    assert normalize_url(raw, BASE) == expected
    assert normalize_url(expected, BASE) == expected


@pytest.mark.parametrize(("raw", "code"), REJECTED)
def test_rejections_have_specific_codes(raw: object, code: str) -> None:
    with pytest.raises(UrlRejected) as info:
        normalize_url(raw, BASE)
    assert info.value.code == code
    assert str(info.value)  # a sentence for people
    assert isinstance(info.value, ValueError)


def test_relative_path_without_base_dir_uses_cwd(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert normalize_url("v.mp4") == (tmp_path.resolve() / "v.mp4").as_uri()


def test_symlinked_folder_resolves_to_the_real_file(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert normalize_url("link/v.mp4", tmp_path) == normalize_url("real/v.mp4", tmp_path)


def test_url_at_limit_is_accepted() -> None:
    url = "https://example.com/" + "a" * (MAX_URL_LENGTH - len("https://example.com/"))
    assert normalize_url(url) == url


def test_video_id_is_short_stable_hash() -> None:
    vid = video_id_for("https://example.com/v.mp4")
    assert re.fullmatch(r"[0-9a-f]{16}", vid)
    assert vid == video_id_for("https://example.com/v.mp4")
    assert vid != video_id_for("https://example.com/w.mp4")
    # pinned: the partition key must never change between versions
    assert video_id_for("https://example.com/v.mp4") == "ae36a56117f3b091"  # sha256sum


def test_tracking_names_are_case_insensitive() -> None:
    assert is_tracking_param("UTM_Anything")
    assert is_tracking_param("FbClId")
    assert not is_tracking_param("sig")
    assert not is_tracking_param("utm")
    assert {"fbclid", "gclid", "si", "ref_src", "_ga"} <= TRACKING_PARAMS


# --- property tests ----------------------------------------------------------------------------

_LABEL = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}", fullmatch=True)
_IDN_LABEL = st.sampled_from(["bücher", "café", "例え", "ñandú", "straße"])
_HOST = st.lists(st.one_of(_LABEL, _LABEL, _IDN_LABEL), min_size=1, max_size=3).map(
    lambda labels: ".".join([*labels, "com"])
)
_SEGMENT = st.one_of(
    st.sampled_from([".", "..", "%2e", "%2E%2e", "%41", "%7e", "%2f", "%zz", "a b", "é", "~x"]),
    st.text(alphabet="abcXYZ019-._~!$&'()*+,;=:@%é ", max_size=8),
)
_TRACKING_NAME = st.sampled_from([*sorted(TRACKING_PARAMS), "utm_source", "utm_x"]).flatmap(
    lambda name: st.sampled_from([name, name.upper(), name.title()])
)
_KEPT_NAME = st.sampled_from(["sig", "token", "X-Amz-Signature", "se", "sp", "a", "expires"])
_VALUE = st.text(alphabet="abcXYZ0123456789-._~%2F3D+/:=", max_size=10)
_PARAM = st.tuples(st.one_of(_TRACKING_NAME, _KEPT_NAME), st.one_of(st.none(), _VALUE))


@st.composite
def http_urls(draw) -> tuple[str, list[str]]:
    """A generated http(s) URL and the query pieces that must survive, in order."""
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(_HOST)
    port = draw(st.one_of(st.none(), st.integers(0, 65535)))
    user = draw(
        st.one_of(st.none(), st.from_regex(r"[a-zA-Z0-9]{1,5}(:[a-zA-Z0-9]{1,5})?", fullmatch=True))
    )
    segments = draw(st.lists(_SEGMENT, max_size=5))
    params = draw(st.lists(_PARAM, max_size=6))
    fragment = draw(st.one_of(st.none(), st.text(alphabet="abc=&?", max_size=5)))
    pieces = [name if value is None else f"{name}={value}" for name, value in params]
    url = f"{scheme}://{user + '@' if user else ''}{host}"
    url += f":{port}" if port is not None else ""
    url += "".join("/" + s for s in segments)
    url += ("?" + "&".join(pieces)) if pieces else ""
    url += ("#" + fragment) if fragment is not None else ""
    kept = [p for p, (name, _) in zip(pieces, params, strict=True) if not is_tracking_param(name)]
    return url, kept


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(http_urls())
def test_normalize_is_idempotent_and_drops_only_tracking(generated: tuple[str, list[str]]) -> None:
    url, kept = generated
    out = normalize_url(url)
    assert normalize_url(out) == out
    parts = urlsplit(out)
    assert parts.scheme in ("http", "https")
    assert parts.fragment == ""
    assert parts.hostname == parts.hostname.lower()
    assert parts.hostname.isascii()
    assert parts.path.startswith("/")
    names = [p.partition("=")[0] for p in parts.query.split("&") if p]
    assert not any(unquote(n).lower() in TRACKING_PARAMS for n in names)
    assert not any(unquote(n).lower().startswith("utm_") for n in names)
    # everything else survives byte for byte, in the original order
    assert [p for p in parts.query.split("&") if p] == [p for p in kept if p]
    vid = video_id_for(out)
    assert re.fullmatch(r"[0-9a-f]{16}", vid)
    assert vid == video_id_for(normalize_url(out))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["http://", "https://example.com/", "HTTPS://a.b/x?"]), st.text(max_size=40))
def test_arbitrary_text_is_normalized_or_rejected_with_a_code(prefix: str, tail: str) -> None:
    try:
        out = normalize_url(prefix + tail)
    except UrlRejected as exc:
        assert exc.code in {"missing_url", "unparsable_url", "missing_host", "url_too_long"}
        return
    assume(out)
    assert normalize_url(out) == out
    assert out.isascii()
    assert " " not in out
