"""Fetch one video URL into a temp file safely: SSRF guard, retries, size cap, content checks.

``fetch_to_file(url, dest_dir, policy)`` streams ``http(s)://`` URLs with ``requests`` (or copies
``file://`` URLs from allowed local roots) into a temp file inside ``dest_dir``, hashing while it
streams, and returns a ``FetchResult``; every failure is a ``MediaError`` with a specific code and
the number of tries in ``attempts``; no partial file is ever left behind.

Network safety (server-side request forgery):
- Only ``http``/``https``; every redirect hop is followed here (``allow_redirects=False``) and its
  scheme and addresses are checked again, so a redirect cannot lead to ``file:``, to the cloud
  metadata service (169.254.169.254) or to the local network.
- A host is refused ("private_address") when any address it resolves to is not public: loopback,
  private, link-local, multicast, reserved, unspecified, shared (CGNAT), and the IPv4 addresses
  embedded in IPv6 (``::ffff:a.b.c.d``, NAT64, 6to4). The check runs before each request and
  again inside the connection itself (the socket connects only to the addresses just checked), so
  DNS rebinding between the two look-ups cannot slip through.
- Environment proxies and ``.netrc`` are ignored (``trust_env = False``): no credentials are sent
  to arbitrary hosts, and the address check sees the real destination.

Failures and retries: permanent DNS failures ("name not known") fail at once with ``attempts == 1``
and are cached per host for a minute (measured here on the real sheet's 268 URLs, one host: without
the cache 50 s, because about 1 look-up in 27 stalls 5 s in the system resolver; with it, one
look-up); temporary ones (``EAI_AGAIN``), connection errors, timeouts, bodies cut off
mid-way, HTTP 408/429/5xx are retried up to ``policy.retries`` times with exponential backoff and
jitter (``backoff_s * 2**n`` scaled by a random factor in [0.5, 1], at most ``max_backoff_s``),
honouring ``Retry-After`` up to that cap, and never past ``total_timeout_s``. The body is read as it
arrives (one socket read at a time), so a server that drips bytes cannot hold a fetch past
``total_timeout_s`` (by more than one ``read_timeout_s``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import html
import ipaddress
import os
import random
import re
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import DecodeError, NewConnectionError, ProtocolError, ReadTimeoutError
from urllib3.exceptions import SSLError as Urllib3SSLError

from influencer_pipeline.display import redact, show
from influencer_pipeline.media.errors import MediaError
from influencer_pipeline.media.probe import VIDEO_CONTAINER_KINDS, sniff_container

GIB = 1024**3
CHUNK_BYTES = 1024 * 1024
HEAD_BYTES = 4096  # bytes kept to sniff the content
SNIPPET_BYTES = 64 * 1024  # most we read of an error page, to quote its title
SNIPPET_SECONDS = 5.0  # most time spent reading an error page, to quote its title
USER_AGENT = "influencer-pipeline/0.1 (+video fetcher; python-requests)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/xhtml+xml",
        "application/javascript",
        "application/x-www-form-urlencoded",
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
NEGATIVE_DNS_TTL_S = 60.0
_NEGATIVE_DNS: dict[str, tuple[float, str]] = {}  # host -> (expiry on the monotonic clock, message)
_NEGATIVE_DNS_LOCK = threading.Lock()

# Indirections that tests replace (no real sleeping, scripted DNS answers).
_sleep = time.sleep
_getaddrinfo = socket.getaddrinfo
_jitter = random.Random()


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and permissions for one fetch."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0  # longest silence while reading
    total_timeout_s: float = 300.0  # whole fetch, retries and backoff included
    max_bytes: int = 2 * GIB
    retries: int = 3  # tries after the first one
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    max_redirects: int = 5
    allow_private_networks: bool = False
    local_roots: tuple[Path, ...] = ()  # file: URLs allowed only below these; empty = none
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        """Reject nonsensical limits; accept any iterable of str/Path as ``local_roots``."""
        object.__setattr__(self, "local_roots", tuple(Path(p) for p in self.local_roots))
        positive = ("connect_timeout_s", "read_timeout_s", "total_timeout_s", "max_bytes")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"FetchPolicy.{name} must be positive, got {getattr(self, name)!r}"
                )
        for name in ("retries", "backoff_s", "max_backoff_s", "max_redirects"):
            if getattr(self, name) < 0:
                raise ValueError(f"FetchPolicy.{name} must not be negative")


@dataclass(frozen=True)
class FetchResult:
    """A fetched file (still a temp file in ``dest_dir``) and how it was obtained."""

    path: Path
    bytes: int
    sha256: str
    attempts: int
    seconds: float
    final_url: str
    content_type: str | None
    sniffed: str | None  # container kind from the magic bytes ("mp4", "webm", ...), or None


# --- addresses -------------------------------------------------------------------------------


def is_public_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True when ``address`` is a globally routable unicast address (embedded IPv4 included)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:  # judged by the IPv4 address it carries
            return is_public_address(embedded)
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def clear_dns_cache() -> None:
    """Forget the cached permanent DNS failures."""
    with _NEGATIVE_DNS_LOCK:
        _NEGATIVE_DNS.clear()


def resolve_host(host: str, port: int) -> list[str]:
    """All addresses ``host`` resolves to; MediaError "dns" (retryable only when temporary).

    Permanent failures ("name not known") are remembered for ``NEGATIVE_DNS_TTL_S`` seconds, so a
    batch of URLs on one dead host costs one look-up, not one (sometimes 5 s) look-up per URL.
    """
    key = host.lower().rstrip(".")
    with _NEGATIVE_DNS_LOCK:
        cached = _NEGATIVE_DNS.get(key)
    if cached is not None and cached[0] > time.monotonic():
        raise MediaError("dns", cached[1])
    try:
        infos = _getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        temporary = exc.errno == socket.EAI_AGAIN
        kind = "temporary" if temporary else "permanent"
        message = f"cannot resolve host {host!r}: {exc.strerror or exc} ({kind} DNS failure)"
        if not temporary:
            with _NEGATIVE_DNS_LOCK:
                _NEGATIVE_DNS[key] = (time.monotonic() + NEGATIVE_DNS_TTL_S, message)
        raise MediaError("dns", message, retryable=temporary) from None
    except (UnicodeError, ValueError) as exc:
        raise MediaError("dns", f"invalid host name {host!r}: {exc}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise MediaError("dns", f"host {host!r} has no addresses")
    return addresses


def check_addresses(host: str, addresses: list[str]) -> None:
    """Raise MediaError "private_address" if any of ``host``'s addresses is not public."""
    for address in addresses:
        if not is_public_address(address):
            raise MediaError(
                "private_address",
                f"host {host!r} resolves to {address}, a non-public address; refused "
                "(set allow_private_networks to fetch from local or private networks)",
            )


class _GuardedConnectionMixin:
    """urllib3 connection that connects only to addresses that passed ``check_addresses``."""

    _dns_host: str

    def _new_conn(self):
        host = self._dns_host.rstrip(".").strip("[]")
        addresses = resolve_host(host, self.port)
        check_addresses(host, addresses)
        original = self._dns_host
        failure: Exception | None = None
        try:
            for address in addresses:
                self._dns_host = address  # connect to exactly this, already checked, address
                try:
                    return super()._new_conn()
                except NewConnectionError as exc:
                    failure = exc
            raise failure  # type: ignore[misc]
        finally:
            self._dns_host = original


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    """Transport adapter whose pools use the guarded connections."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        """Build the pool manager, then swap in the guarded pool classes."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def _session(policy: FetchPolicy) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    adapter = (
        HTTPAdapter(max_retries=0)
        if policy.allow_private_networks
        else _GuardedAdapter(max_retries=0)
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update(
        {
            "User-Agent": policy.user_agent,
            "Accept": "video/*, application/octet-stream;q=0.9, */*;q=0.1",
            "Accept-Encoding": "identity",
        }
    )
    return session


# --- content checks --------------------------------------------------------------------------


def looks_like_text(head: bytes) -> bool:
    """True when ``head`` reads as HTML/XML/JSON or plain text rather than binary media."""
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not body:
        return False
    if body[:1] == b"<" and re.match(rb"<[!?a-zA-Z]", body):
        return True
    if body[:1] in (b"{", b"["):
        return True
    text = body.decode("utf-8", errors="ignore")
    if len(text.encode("utf-8")) < len(body) - 3:  # more than a character cut at the end
        return False
    return all(ch.isprintable() or ch in "\t\n\r\f" for ch in text)


def page_snippet(head: bytes, limit: int = 80) -> str | None:
    """A short, safe hint from a web page: its <title>, <h1> or XML <Message>, else None.

    Never the page's other text (a JSON or plain-text body may carry anything), and the hint is
    made safe to show (``display.show``: redacted, printable, at most ``limit`` characters).
    """
    text = head.decode("utf-8", errors="replace")
    for pattern in (r"<title[^>]*>(.*?)</title>", r"<h1[^>]*>(.*?)</h1>", r"<Message>(.*?)</"):
        match = re.search(pattern, text, re.IGNORECASE | re.DOTALL)
        if match and match.group(1).strip():
            found = " ".join(html.unescape(re.sub(r"<[^>]*>", " ", match.group(1))).split())
            return show(found, limit) if found else None
    return None


def describe_text(head: bytes) -> str:
    """What kind of text ``head`` is, in words (never quoting it)."""
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:512].lower()
    if body.startswith((b"<!doctype html", b"<html")) or b"<html" in body or b"<body" in body:
        return "an HTML page"
    if body.startswith(b"#extm3u"):
        return "an M3U/HLS playlist"
    if body.startswith(b"<"):
        return "XML"
    if body.startswith((b"{", b"[")):
        return "JSON"
    return "plain text"


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_text_type(media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_TYPES
        or media_type.endswith(("+json", "+xml"))
    )


def _html_error(source: str, head: bytes, why: str) -> MediaError:
    """A server's text response instead of video: what it is, and at most the page's title."""
    snippet = page_snippet(head)
    hint = f"; page says '{snippet}'" if snippet else ""
    kind = describe_text(head)
    return MediaError(
        "html_page", f"{source} returned {kind} instead of a video ({why}){hint}".replace("  ", " ")
    )


def _text_file_error(source: str, head: bytes) -> MediaError:
    """A local text file instead of video: what it is, never a word of its content."""
    return MediaError(
        "html_page",
        f"{source} is a text file ({describe_text(head)}), not a video; its content is not shown",
    )


class _Sink:
    """Writes chunks to the temp file, hashing, counting, sniffing and enforcing the size cap."""

    def __init__(self, fh, max_bytes: int, source: str, remote: bool, why: str = "") -> None:
        self.fh = fh
        self.max_bytes = max_bytes
        self.source = source
        self.remote = remote  # a server's response (its page title may be quoted), else a file
        self.why = why
        self.digest = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.sniffed: str | None = None
        self.checked = False

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; raise "too_large" past the cap, "html_page" if it is text."""
        if not chunk:
            return
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise MediaError(
                "too_large",
                f"{self.source} is larger than the limit of {self.max_bytes:,} bytes; stopped",
            )
        if not self.checked:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
            if len(self.head) >= HEAD_BYTES:
                self.check_head()
        self.digest.update(chunk)
        self.fh.write(chunk)

    def check_head(self) -> None:
        """Sniff the first bytes once: known containers pass, text pages are refused."""
        if self.checked:
            return
        self.checked = True
        self.sniffed = sniff_container(self.head)
        if self.sniffed not in VIDEO_CONTAINER_KINDS and looks_like_text(self.head):
            if not self.remote:
                raise _text_file_error(self.source, self.head)
            why = "the body is text, not video data" + (f"; {self.why}" if self.why else "")
            raise _html_error(self.source, self.head, why)

    def finish(self) -> None:
        """Final checks once the body is complete."""
        if self.size == 0:
            raise MediaError("empty_file", f"{self.source} is empty (0 bytes)")
        self.check_head()


@contextlib.contextmanager
def _temp_file(dest_dir: Path) -> Iterator[tuple[Path, object]]:
    """A temp file in ``dest_dir``; removed unless the body completes without an exception."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest_dir, prefix=".fetch-", suffix=".part")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield path, fh
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise


# --- local files -----------------------------------------------------------------------------


def _fetch_local(url: str, dest_dir: Path, policy: FetchPolicy, started: float) -> FetchResult:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise MediaError(
            "unsupported_scheme", f"file URLs on another host ({parts.netloc!r}) are not supported"
        )
    raw = Path(url2pathname(parts.path))
    if not raw.is_absolute():
        raise MediaError("file_not_found", f"file URL {url!r} does not name an absolute path")
    real = raw.resolve()
    roots = [Path(root).resolve() for root in policy.local_roots]
    if not any(real.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots) or "none are configured"
        raise MediaError(
            "outside_allowed_roots",
            f"{raw} (really {real}) is outside the allowed local folders ({allowed})",
        )
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except FileNotFoundError:
        raise MediaError("file_not_found", f"the file {raw} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MediaError(
                "outside_allowed_roots", f"{raw} turned into a symbolic link while being opened"
            ) from None
        raise MediaError("file_not_found", f"cannot open {raw}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise MediaError("file_not_found", f"{raw} is not a regular file")
    with os.fdopen(fd, "rb") as src, _temp_file(dest_dir) as (path, fh):
        sink = _Sink(fh, policy.max_bytes, str(raw), remote=False)
        while chunk := src.read(CHUNK_BYTES):
            sink.write(chunk)
        sink.finish()
    return FetchResult(
        path=path,
        bytes=sink.size,
        sha256=sink.digest.hexdigest(),
        attempts=1,
        seconds=time.monotonic() - started,
        final_url=real.as_uri(),
        content_type=None,
        sniffed=sink.sniffed,
    )


# --- HTTP ------------------------------------------------------------------------------------


def _check_hop(url: str, policy: FetchPolicy) -> None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise MediaError(
            "unsupported_scheme",
            f"{redact(url)}: only http and https URLs are fetched, not {scheme!r}",
        )
    host = parts.hostname
    if not host:
        raise MediaError("dns", f"{redact(url)} has no host name")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise MediaError("connect", f"{redact(url)} has an invalid port") from None
    addresses = resolve_host(host, port)
    if not policy.allow_private_networks:
        check_addresses(host, addresses)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _arriving(response: requests.Response, chunk_bytes: int) -> Iterator[bytes]:
    """The body as it arrives, at most one socket read per chunk, so callers can check the clock.

    ``iter_content`` blocks until a whole chunk has arrived: a server that drips a byte every few
    seconds (never silent for ``read_timeout_s``) would hold one 1 MiB read for days, far past
    ``total_timeout_s``. urllib3's errors are wrapped the way ``iter_content`` wraps them.
    """
    try:
        while chunk := response.raw.read1(chunk_bytes, decode_content=True):
            yield chunk
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    except Urllib3SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc


def _read_some(response: requests.Response, limit: int) -> bytes:
    data = b""
    until = time.monotonic() + SNIPPET_SECONDS
    with contextlib.suppress(requests.RequestException, ProtocolError, OSError):
        for chunk in _arriving(response, 8192):
            data += chunk
            if len(data) >= limit or time.monotonic() > until:
                break
    return data[:limit]


def _http_status_error(response: requests.Response, url: str) -> MediaError:
    status = response.status_code
    head = _read_some(response, SNIPPET_BYTES)
    snippet = page_snippet(head) if looks_like_text(head) else None
    reason = show(response.reason or "", 80)  # the server's reason phrase: any bytes at all
    hint = f"; page says '{snippet}'" if snippet else ""
    retry_after = _retry_after(response.headers.get("Retry-After"))
    return MediaError(
        f"http_{status}",
        f"HTTP {status} {reason} from {urlsplit(url).hostname}{hint}".replace("  ", " "),
        retryable=status in RETRYABLE_STATUSES,
        retry_after_s=retry_after,
    )


def _one_line(text: str) -> str:
    """``text`` redacted (``display.redact``) and squeezed to one line."""
    return " ".join(redact(text).split())


def _network_error(
    exc: requests.RequestException, url: str, timeouts: tuple[float, float]
) -> MediaError:
    host = urlsplit(url).hostname or url
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__ or (cause.args[0] if cause.args else None)
        if not isinstance(cause, BaseException):
            cause = None
    detail = _one_line(str(getattr(chain[-1], "reason", None) or chain[-1]))
    if isinstance(exc, requests.ConnectTimeout):
        return MediaError(
            "timeout", f"connecting to {host} took longer than {timeouts[0]:g} s", retryable=True
        )
    if isinstance(exc, requests.Timeout) or any(isinstance(c, ReadTimeoutError) for c in chain):
        return MediaError(
            "timeout", f"{host} sent no data for {timeouts[1]:g} s (read timeout)", retryable=True
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return MediaError("connect", f"TLS with {host} failed: {detail}")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or any(
        isinstance(c, ProtocolError) for c in chain[1:]
    ):
        return MediaError(
            "truncated", f"the connection to {host} broke mid-download: {detail}", retryable=True
        )
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
        return MediaError("unsupported_scheme", f"{redact(url)} is not a usable URL: {detail}")
    return MediaError("connect", f"cannot connect to {host}: {detail}", retryable=True)


def _one_try(
    session: requests.Session, url: str, dest_dir: Path, policy: FetchPolicy, deadline: float
) -> FetchResult:
    """One try: follow redirects by hand, then stream the body into a temp file."""
    visited: list[str] = []
    while True:
        _check_hop(url, policy)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MediaError("timeout", f"gave up on {redact(url)}: total time limit reached")
        timeout = (min(policy.connect_timeout_s, remaining), min(policy.read_timeout_s, remaining))
        try:
            response = session.get(url, stream=True, allow_redirects=False, timeout=timeout)
        except requests.RequestException as exc:
            raise _network_error(exc, url, timeout) from None
        with response:
            if response.status_code in REDIRECT_STATUSES and response.headers.get("Location"):
                visited.append(url)
                url = urljoin(url, response.headers["Location"])
                if len(visited) > policy.max_redirects:
                    loop = " (a redirect loop)" if url in visited else ""
                    raise MediaError(
                        "too_many_redirects",
                        f"more than {policy.max_redirects} redirects{loop}, starting at "
                        f"{redact(visited[0])}",
                    )
                continue
            if response.status_code >= 300:
                raise _http_status_error(response, url)
            return _stream_body(response, url, dest_dir, policy, deadline)


def _stream_body(
    response: requests.Response, url: str, dest_dir: Path, policy: FetchPolicy, deadline: float
) -> FetchResult:
    content_type = response.headers.get("Content-Type")
    source = redact(url)
    # A text Content-Type alone refuses nothing: servers mislabel real videos (an MP4 served as
    # text/plain). The sink judges the first bytes: video magic passes, text is refused.
    declared = _media_type(content_type)
    why = f"HTTP {response.status_code}, {declared}" if _is_text_type(declared) else ""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > policy.max_bytes:
        raise MediaError(
            "too_large",
            f"{source} declares {int(length):,} bytes, more than the limit of "
            f"{policy.max_bytes:,}; not downloaded",
        )
    with _temp_file(dest_dir) as (path, fh):
        sink = _Sink(fh, policy.max_bytes, source, remote=True, why=why)
        try:
            for chunk in _arriving(response, CHUNK_BYTES):
                sink.write(chunk)
                if time.monotonic() > deadline:
                    raise MediaError(
                        "timeout",
                        f"{source}: total time limit of {policy.total_timeout_s:.0f} s reached "
                        f"after {sink.size:,} bytes",
                    )
        except requests.RequestException as exc:
            timeouts = (policy.connect_timeout_s, policy.read_timeout_s)
            raise _network_error(exc, url, timeouts) from None
        encoded = bool(response.headers.get("Content-Encoding"))
        if length.isdigit() and not encoded and sink.size != int(length):
            raise MediaError(
                "truncated", f"{source}: got {sink.size:,} of {int(length):,} bytes", retryable=True
            )
        sink.finish()
    return FetchResult(
        path=path,
        bytes=sink.size,
        sha256=sink.digest.hexdigest(),
        attempts=0,  # set by the caller
        seconds=0.0,
        final_url=url,
        content_type=content_type,
        sniffed=sink.sniffed,
    )


def _backoff(policy: FetchPolicy, failed_tries: int, retry_after: float | None) -> float:
    delay = min(policy.max_backoff_s, policy.backoff_s * 2 ** (failed_tries - 1))
    delay *= _jitter.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, policy.max_backoff_s)


def fetch_to_file(url: str, dest_dir: Path, policy: FetchPolicy) -> FetchResult:
    """Download (or copy) ``url`` into a temp file inside ``dest_dir``; MediaError on failure."""
    started = time.monotonic()
    dest_dir = Path(dest_dir)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        try:
            return _fetch_local(url, dest_dir, policy, started)
        except MediaError as exc:
            exc.attempts = 1
            raise
    if scheme not in ("http", "https"):
        raise MediaError(
            "unsupported_scheme",
            f"'{show(_one_line(url), 200)}': only http, https and file URLs are supported, not "
            f"{scheme or 'no scheme'!r}",
            attempts=0,
        )
    deadline = started + policy.total_timeout_s
    attempts = 0
    with _session(policy) as session:
        while True:
            attempts += 1
            try:
                result = _one_try(session, url, dest_dir, policy, deadline)
            except MediaError as exc:
                exc.attempts = attempts
                if not exc.retryable or attempts > policy.retries:
                    raise
                delay = _backoff(policy, attempts, exc.retry_after_s)
                if time.monotonic() + delay >= deadline:
                    raise
                _sleep(delay)
                continue
            return replace(result, attempts=attempts, seconds=time.monotonic() - started)
