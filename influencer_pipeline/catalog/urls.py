"""Video URL normalization: one canonical string per video, and its short partition key.

``normalize_url`` turns what a person typed into a sheet (http(s) URLs, ``file://`` URLs or local
paths) into a canonical URL, so that two spellings of the same video merge into one catalog row.
The http(s) rules follow RFC 3986 §6.2.2 (case, percent-encoding and dot-segment normalization)
plus scheme-based normalization (default ports, empty path), and drop known tracking parameters.
Every other query parameter is kept byte for byte and in its original order, because signed URLs
(S3, Azure SAS, CDN tokens) stop working when their query is reordered or re-encoded.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

import idna

from influencer_pipeline.cells import is_missing
from influencer_pipeline.display import show
from influencer_pipeline.errors import InputError

MAX_URL_LENGTH = 4096

# Query parameters that only track the click; names compare case-insensitively.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "li_fat_id",
        "si",
        "ref_src",
    }
)
TRACKING_PREFIXES: tuple[str, ...] = ("utm_",)

SUPPORTED_SCHEMES = ("http", "https", "file")
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Invisible characters people paste along with a URL: stripped at the ends, rejected inside.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u180e"
_EDGE_JUNK = re.compile(rf"^[\s{_ZERO_WIDTH}]+|[\s{_ZERO_WIDTH}]+$")
# Control characters (C0, DEL, C1), line/paragraph separators and the never-legitimate
# zero-width characters (ZWNJ/ZWJ are allowed inside: they occur in real scripts and emoji).
_FORBIDDEN_INSIDE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b\u2060\ufeff\u180e]")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_PORT = re.compile(r"^[0-9]+$")

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# In a path: an escape, or any character that is not a pchar or "/" (RFC 3986 §3.3).
_PATH_TOKEN = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/]")
# In a query or userinfo (kept byte for byte): only characters that can never appear in a URL
# are encoded (space, '"', '<', '>', non-ASCII), as browsers do (WHATWG query percent-encode set).
_QUERY_UNSAFE = re.compile(r"[ \"<>]|[^\x00-\x7f]")
# RFC 3986 Appendix B: the reference regex that splits any URI into its five components.
_URI_PARTS = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)
_HOST_CHARS = re.compile(r"^[a-z0-9\-._~!$&'()*+,;=]+$")


class UrlRejected(InputError):  # noqa: N818  (name fixed by the catalog contract)
    """A sheet's URL cell that cannot become a video URL; ``code`` is machine-readable."""

    max_chars = 1000


def strip_invisible(text: str) -> str:
    """``text`` without surrounding whitespace (Unicode spaces too), zero-width chars or BOM."""
    return _EDGE_JUNK.sub("", text)


def is_tracking_param(name: str) -> bool:
    """Whether a query parameter name (raw, possibly percent-encoded) is a tracking parameter."""
    decoded = (unquote(name) if "%" in name else name).lower()
    return decoded in TRACKING_PARAMS or decoded.startswith(TRACKING_PREFIXES)


def video_id_for(normalized_url: str) -> str:
    """The partition key of a video: the first 16 hex digits of sha256 of its normalized URL."""
    if not isinstance(normalized_url, str):
        raise TypeError(f"video_id_for needs a str, got {type(normalized_url).__name__}")
    return hashlib.sha256(normalized_url.encode("utf-8")).hexdigest()[:16]


def normalize_url(raw: object, base_dir: Path | None = None) -> str:
    """The canonical form of a URL or local path from a sheet; raises UrlRejected when unusable.

    Relative local paths are resolved against ``base_dir`` (the sheet's folder), or the current
    directory when it is None, and returned as ``file:///abs/path``.
    """
    text = _clean_text(raw)
    scheme_match = _SCHEME.match(text)
    if scheme_match is None:
        if text.startswith("//"):
            raise UrlRejected(
                "unparsable_url",
                f"{_show(text)} has no scheme but starts with '//'; write http:// or https://",
            )
        normalized = _local_path_url(text, base_dir)
    else:
        scheme = scheme_match.group(1).lower()
        if scheme in ("http", "https"):
            normalized = _normalize_http(text)
        elif scheme == "file":
            normalized = _normalize_file_url(text)
        elif _WINDOWS_DRIVE.match(text):
            raise UrlRejected(
                "unsupported_scheme",
                f"{_show(text)} looks like a Windows path; only http(s), file:// URLs and "
                "POSIX paths are supported",
            )
        else:
            raise UrlRejected(
                "unsupported_scheme",
                f"{_show(text)} uses the unsupported scheme {scheme!r}; only http, https, "
                "file or a local path are accepted",
            )
    if len(normalized) > MAX_URL_LENGTH:
        raise UrlRejected(
            "url_too_long",
            f"{_show(text)} is {len(normalized)} characters once normalized, "
            f"more than the limit of {MAX_URL_LENGTH}",
        )
    return normalized


# --- input cleanup -----------------------------------------------------------------------------


def _show(text: str, limit: int = 120) -> str:
    """A quoted rendering of a value for error messages (``display.show``: redacted, printable)."""
    return f"'{show(text, limit)}'"


def _clean_text(raw: object) -> str:
    """The stripped URL text of a cell, or UrlRejected for empty, non-text or garbled cells."""
    if is_missing(raw):
        raise UrlRejected("missing_url", "the URL cell is empty")
    if not isinstance(raw, str):
        raise UrlRejected(
            "unparsable_url",
            f"the URL cell holds {_show(str(raw))} of type {type(raw).__name__}, not text",
        )
    text = strip_invisible(raw)
    if not text:
        raise UrlRejected("missing_url", f"the URL cell is blank ({_show(raw)})")
    if len(text) > MAX_URL_LENGTH:
        raise UrlRejected(
            "url_too_long",
            f"the URL {_show(text)} is {len(text)} characters, more than the limit of "
            f"{MAX_URL_LENGTH}",
        )
    bad = _FORBIDDEN_INSIDE.search(text)
    if bad is not None:
        raise UrlRejected(
            "unparsable_url",
            f"{_show(text)} contains the control or invisible character "
            f"U+{ord(bad.group()):04X} at position {bad.start()}",
        )
    return text


# --- local paths and file:// URLs --------------------------------------------------------------


def _path_to_url(path: Path, shown: str) -> str:
    """``file:///abs/path`` for a path, with ``..`` segments and symlinks resolved."""
    try:
        return path.resolve().as_uri()
    except (OSError, RuntimeError, ValueError) as exc:
        raise UrlRejected("unparsable_url", f"{shown} is not a usable local path: {exc}") from exc


def _local_path_url(text: str, base_dir: Path | None) -> str:
    """A ``file://`` URL for a local path written in a sheet (relative to ``base_dir``)."""
    path = Path(text)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return _path_to_url(path, _show(text))


def _normalize_file_url(text: str) -> str:
    """Canonical ``file:///abs/path`` for a ``file:`` URL on this host."""
    parts = _split(text)
    host = parts.netloc.lower()
    if host not in ("", "localhost"):
        raise UrlRejected(
            "unsupported_scheme",
            f"{_show(text)} is a file URL on another host ({parts.netloc!r}); only local "
            "files (file:///path or file://localhost/path) are supported",
        )
    if parts.query:
        raise UrlRejected(
            "unparsable_url", f"{_show(text)} is a file URL with a query, which names no file"
        )
    try:
        path_text = unquote(parts.path, errors="strict")
    except UnicodeDecodeError as exc:
        raise UrlRejected(
            "unparsable_url", f"{_show(text)} has percent-escapes that are not UTF-8"
        ) from exc
    if not path_text.startswith("/"):
        raise UrlRejected("unparsable_url", f"{_show(text)} is a file URL without an absolute path")
    if "\x00" in path_text:
        raise UrlRejected("unparsable_url", f"{_show(text)} encodes a NUL character in its path")
    return _path_to_url(Path(path_text), _show(text))


# --- http(s) -----------------------------------------------------------------------------------


class _Parts(NamedTuple):
    """The components of a URI (absent ones are empty strings)."""

    scheme: str
    netloc: str
    path: str
    query: str


def _split(text: str) -> _Parts:
    """Scheme, authority, path and query of a URI (RFC 3986 Appendix B); the fragment is dropped."""
    match = _URI_PARTS.match(text)
    if match is None:  # cannot happen: every string matches the reference regex
        raise UrlRejected("unparsable_url", f"{_show(text)} is not a valid URL")
    scheme, netloc, path, query, _fragment = match.groups(default="")
    return _Parts(scheme.lower(), netloc, path, query)


def _normalize_http(text: str) -> str:
    """RFC 3986 normalization of an http(s) URL, without tracking parameters or fragment."""
    parts = _split(text)
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    host, port = _split_host_port(hostport, text)
    if not host:
        raise UrlRejected("missing_host", f"{_show(text)} has no host name")
    host = _normalize_host(host, text)
    authority = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        authority = f"{host}:{port}"
    if at:
        authority = f"{_encode_unsafe(userinfo, text)}@{authority}"
    path = _normalize_path(parts.path, text) or "/"
    query = _clean_query(parts.query, text)
    return f"{scheme}://{authority}{path}" + (f"?{query}" if query else "")


def _split_host_port(hostport: str, text: str) -> tuple[str, int | None]:
    """Host and port (None when absent or empty) of the ``host[:port]`` part of an authority."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise UrlRejected("unparsable_url", f"{_show(text)} has an unclosed IPv6 bracket")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise UrlRejected("unparsable_url", f"{_show(text)} has junk after its IPv6 host")
        port_text = rest[1:]
    else:
        host, _, port_text = hostport.partition(":")
    if not port_text:
        return host, None
    if not _PORT.match(port_text) or int(port_text) > 65535:
        raise UrlRejected("unparsable_url", f"{_show(text)} has an invalid port {port_text!r}")
    return host, int(port_text)


def _normalize_host(host: str, text: str) -> str:
    """Lowercase host, IDNA-encoded when not ASCII, without a trailing dot."""
    if host.startswith("["):
        inner = host[1:-1]
        if "%" in inner:  # zone id: keep it, only lowercase
            return host.lower()
        try:
            return f"[{ipaddress.IPv6Address(inner).compressed}]"
        except ValueError as exc:
            raise UrlRejected(
                "unparsable_url", f"{_show(text)} has an invalid IPv6 host {host!r}"
            ) from exc
    if "%" in host:
        try:
            host = unquote(host, errors="strict")
        except UnicodeDecodeError as exc:
            raise UrlRejected(
                "unparsable_url", f"{_show(text)} has a host with non-UTF-8 escapes"
            ) from exc
    if not host.isascii():
        host = _idna_host(host, text)
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise UrlRejected("missing_host", f"{_show(text)} has no host name")
    if not _HOST_CHARS.match(host) or ".." in host or host.startswith(".") or host.endswith("."):
        raise UrlRejected("unparsable_url", f"{_show(text)} has an invalid host name {host!r}")
    return host


def _idna_host(host: str, text: str) -> str:
    """ASCII (punycode) form of an internationalized host name (UTS #46, IDNA 2008)."""
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
        labels = []
        for label in mapped.split("."):
            labels.append(label if label.isascii() else idna.alabel(label).decode("ascii"))
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise UrlRejected(
            "unparsable_url", f"{_show(text)} has an invalid international host name: {exc}"
        ) from exc
    return ".".join(labels)


def _percent_bytes(char: str, text: str) -> str:
    """``%XX`` escapes (uppercase) of a character's UTF-8 bytes."""
    try:
        data = char.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UrlRejected(
            "unparsable_url", f"{_show(text)} contains a character that is not valid Unicode"
        ) from exc
    return "".join(f"%{b:02X}" for b in data)


def _normalize_path(path: str, text: str) -> str:
    """Path with normalized escapes (RFC 3986 §6.2.2.2) and no dot segments (§6.2.2.3)."""

    def fix(match: re.Match[str]) -> str:
        token = match.group()
        if token.startswith("%") and len(token) == 3:
            char = chr(int(token[1:], 16))
            return char if char in _UNRESERVED else token.upper()
        return _percent_bytes(token, text)

    return _remove_dot_segments(_PATH_TOKEN.sub(fix, path))


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 ``remove_dot_segments`` for an absolute (or empty) path."""
    if not path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for segment in segments:
        if segment == ".":
            continue
        if segment == "..":
            if len(out) > 1:
                out.pop()
            continue
        out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def _encode_unsafe(part: str, text: str) -> str:
    """``part`` with only the characters that can never appear in a URL percent-encoded."""
    return _QUERY_UNSAFE.sub(lambda m: _percent_bytes(m.group(), text), part)


def _clean_query(query: str, text: str) -> str:
    """The query without tracking parameters or empty pieces; the rest kept byte for byte."""
    if not query:
        return ""
    kept = [
        piece
        for piece in query.split("&")
        if piece and not is_tracking_param(piece.partition("=")[0])
    ]
    return _encode_unsafe("&".join(kept), text)
