"""fetch_to_file against a local threaded HTTP server: retries, redirects, SSRF refusals, size cap,
content checks, DNS failures, and file: URLs confined to allowed roots."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import pytest

from influencer_pipeline.media import address_guard, fetch
from influencer_pipeline.media.address_guard import is_public_address
from influencer_pipeline.media.errors import MediaError
from influencer_pipeline.media.fetch import FetchPolicy, fetch_to_file
from influencer_pipeline_tests.hostile.server import HostileHandler, HostileServer, serve

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in to continue</title></head>"
    b"<body><h1>Access denied</h1></body></html>"
)

# A policy that reaches 127.0.0.1, fails fast and never waits long.
LOCAL = FetchPolicy(
    connect_timeout_s=2.0,
    read_timeout_s=2.0,
    total_timeout_s=30.0,
    retries=2,
    backoff_s=0.01,
    max_backoff_s=0.05,
    allow_private_networks=True,
)


class _Handler(HostileHandler):
    """The hostile server's routes plus the ones these tests need."""

    def route_flaky(self, args: list[str]) -> None:
        """Fail with status args[0] for the first args[1] hits of this exact path, then serve."""
        if self.server.hits[self.path] <= int(args[1]):
            headers = {"Retry_After": args[3]} if len(args) > 3 else {}
            self.send_body(int(args[0]), b"busy", "text/plain", **headers)
        else:
            self.route_video(args)

    def route_htmlvideo(self, _: list[str]) -> None:
        self.send_body(200, HTML_PAGE, "video/mp4")

    def route_htmlpage(self, _: list[str]) -> None:
        self.send_body(200, HTML_PAGE, "text/html; charset=utf-8")

    def route_json(self, _: list[str]) -> None:
        self.send_body(200, b'{"error": "expired token"}', "application/octet-stream")

    def route_slow(self, _: list[str]) -> None:
        """Headers and the first bytes at once, then silence longer than the read timeout."""
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(self.server.video)))
        self.end_headers()
        self.wfile.write(self.server.video[:100])
        self.wfile.flush()
        time.sleep(1.5)
        self.wfile.write(self.server.video[100:])

    def route_chunked(self, args: list[str]) -> None:
        """``int(args[0])`` bytes of the video's start repeated, chunked, no Content-Length."""
        total = int(args[0])
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        data = (self.server.video * (total // len(self.server.video) + 1))[:total]
        for start in range(0, total, 1000):
            piece = data[start : start + 1000]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def route_hop(self, args: list[str]) -> None:
        """/hop/N redirects to /hop/N-1 ... /hop/0 redirects to /video."""
        n = int(args[0])
        self.redirect("/video" if n == 0 else f"/hop/{n - 1}")

    def route_to(self, args: list[str]) -> None:
        """Redirect to the URL after /to/ written with one slash (``http:/host/...``): the
        request path keeps no ``//``."""
        self.redirect(unquote("/".join(args)).replace(":/", "://", 1))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileServer]:
    """A threaded HTTP server on 127.0.0.1 serving a small real mp4 and misbehaving routes."""
    from influencer_pipeline.media.encode import write_video
    from influencer_pipeline_tests.conftest import gradient_frames

    clip = write_video(tmp_path_factory.mktemp("srv") / "clip.mp4", gradient_frames(25), 25)
    with serve(clip.read_bytes(), _Handler) as httpd:
        yield httpd


@pytest.fixture()
def base(server: HostileServer) -> str:
    """The server's base URL."""
    return server.base


@pytest.fixture(autouse=True)
def _fresh_dns_cache() -> Iterator[None]:
    address_guard.clear_dns_cache()
    yield
    address_guard.clear_dns_cache()


@pytest.fixture()
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record backoff delays instead of sleeping."""
    delays: list[float] = []
    monkeypatch.setattr(fetch, "_sleep", delays.append)
    return delays


def _fails(url: str, dest: Path, policy: FetchPolicy = LOCAL) -> MediaError:
    with pytest.raises(MediaError) as info:
        fetch_to_file(url, dest, policy)
    leftovers = list(dest.iterdir()) if dest.exists() else []
    assert leftovers == [], "partial files left behind"
    return info.value


# --- success and retries ---------------------------------------------------------------------


def test_policy_validation() -> None:
    assert FetchPolicy(local_roots=["/tmp"]).local_roots == (Path("/tmp"),)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="read_timeout_s"):
        FetchPolicy(read_timeout_s=0)
    with pytest.raises(ValueError, match="retries"):
        FetchPolicy(retries=-1)


def test_downloads_small_mp4_with_hash(base: str, server: HostileServer, tmp_path: Path) -> None:
    result = fetch_to_file(f"{base}/video", tmp_path, LOCAL)
    data = result.path.read_bytes()
    assert data == server.video
    assert result.bytes == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.attempts == 1
    assert result.content_type == "video/mp4"
    assert result.sniffed == "mp4"
    assert result.final_url == f"{base}/video"
    assert result.path.parent == tmp_path
    assert result.seconds >= 0


def test_404_fails_at_once(base: str, tmp_path: Path, sleeps: list[float]) -> None:
    err = _fails(f"{base}/status/404", tmp_path)
    assert err.code == "http_404"
    assert err.attempts == 1
    assert not err.retryable
    assert "Not here" in err.message  # the error page's title is quoted
    assert sleeps == []


def test_500_then_200_is_retried(base: str, tmp_path: Path, sleeps: list[float]) -> None:
    result = fetch_to_file(f"{base}/flaky/500/1/{uuid.uuid4().hex}", tmp_path, LOCAL)
    assert result.attempts == 2
    assert result.sniffed == "mp4"
    assert len(sleeps) == 1


def test_persistent_503_gives_up_after_retries(
    base: str, tmp_path: Path, sleeps: list[float]
) -> None:
    err = _fails(f"{base}/flaky/503/99/{uuid.uuid4().hex}", tmp_path)
    assert err.code == "http_503"
    assert err.retryable
    assert err.attempts == LOCAL.retries + 1
    assert len(sleeps) == LOCAL.retries


def test_backoff_grows_exponentially_and_is_capped(
    base: str, tmp_path: Path, sleeps: list[float]
) -> None:
    policy = replace(LOCAL, retries=6, backoff_s=1.0, max_backoff_s=30.0, total_timeout_s=600)
    _fails(f"{base}/flaky/500/99/{uuid.uuid4().hex}", tmp_path, policy)
    for n, delay in enumerate(sleeps):
        nominal = min(30.0, 2.0**n)
        assert nominal * 0.5 <= delay <= nominal  # jitter in [0.5, 1] of the nominal delay
    assert max(sleeps) <= 30.0


def test_429_honours_retry_after(base: str, tmp_path: Path, sleeps: list[float]) -> None:
    policy = replace(LOCAL, max_backoff_s=30.0)
    result = fetch_to_file(f"{base}/flaky/429/1/{uuid.uuid4().hex}/3", tmp_path, policy)
    assert result.attempts == 2
    assert sleeps == [3.0]  # Retry-After beats the (tiny) backoff and is under the 30 s cap


def test_retry_after_is_capped(base: str, tmp_path: Path, sleeps: list[float]) -> None:
    policy = replace(LOCAL, max_backoff_s=30.0, total_timeout_s=600.0)
    result = fetch_to_file(f"{base}/flaky/429/1/{uuid.uuid4().hex}/3600", tmp_path, policy)
    assert result.attempts == 2
    assert sleeps == [30.0]


def test_retry_after_past_the_deadline_gives_up(
    base: str, tmp_path: Path, sleeps: list[float]
) -> None:
    policy = replace(LOCAL, max_backoff_s=30.0, total_timeout_s=5.0)
    err = _fails(f"{base}/flaky/429/1/{uuid.uuid4().hex}/20", tmp_path, policy)
    assert err.code == "http_429"
    assert err.attempts == 1
    assert sleeps == []


# --- content checks --------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["htmlvideo", "htmlpage"])
def test_html_page_is_refused_whatever_its_content_type(
    base: str, tmp_path: Path, route: str
) -> None:
    err = _fails(f"{base}/{route}", tmp_path)
    assert err.code == "html_page"
    assert "Sign in to continue" in err.message
    assert err.attempts == 1


def test_json_body_is_refused(base: str, tmp_path: Path) -> None:
    assert _fails(f"{base}/json", tmp_path).code == "html_page"


def test_empty_body(base: str, tmp_path: Path) -> None:
    assert _fails(f"{base}/empty", tmp_path).code == "empty_file"


def test_read_timeout_is_retried_then_reported(
    base: str, tmp_path: Path, sleeps: list[float]
) -> None:
    policy = replace(LOCAL, read_timeout_s=0.3, retries=1)
    err = _fails(f"{base}/slow", tmp_path, policy)
    assert err.code == "timeout"
    assert err.retryable
    assert err.attempts == 2


def test_declared_oversize_is_refused_before_download(base: str, tmp_path: Path) -> None:
    err = _fails(f"{base}/big-declared", tmp_path, replace(LOCAL, max_bytes=1_000_000))
    assert err.code == "too_large"
    assert "declares 50,000,000 bytes" in err.message
    assert err.attempts == 1


def test_chunked_oversize_stops_streaming(base: str, tmp_path: Path) -> None:
    err = _fails(f"{base}/chunked/50000", tmp_path, replace(LOCAL, max_bytes=20_000))
    assert err.code == "too_large"
    assert err.attempts == 1
    ok = fetch_to_file(f"{base}/chunked/15000", tmp_path, replace(LOCAL, max_bytes=20_000))
    assert ok.bytes == 15000


def test_body_cut_short_is_truncated(base: str, tmp_path: Path, sleeps: list[float]) -> None:
    err = _fails(f"{base}/short", tmp_path)
    assert err.code == "truncated"
    assert err.retryable
    assert err.attempts == LOCAL.retries + 1


# --- redirects -------------------------------------------------------------------------------


def test_redirect_chain_is_followed(base: str, server: HostileServer, tmp_path: Path) -> None:
    result = fetch_to_file(f"{base}/hop/4", tmp_path, LOCAL)  # 5 redirects: the limit
    assert result.final_url == f"{base}/video"
    assert result.path.read_bytes() == server.video


def test_too_long_redirect_chain(base: str, tmp_path: Path) -> None:
    err = _fails(f"{base}/hop/5", tmp_path)  # 6 redirects
    assert err.code == "too_many_redirects"
    assert err.attempts == 1


def test_redirect_loop(base: str, tmp_path: Path) -> None:
    err = _fails(f"{base}/loop", tmp_path)
    assert err.code == "too_many_redirects"
    assert "loop" in err.message


def test_redirect_to_file_scheme_is_refused(base: str, tmp_path: Path) -> None:
    err = _fails(f"{base}/to/file:/etc/passwd", tmp_path)
    assert err.code == "unsupported_scheme"


# --- SSRF ------------------------------------------------------------------------------------


@pytest.fixture()
def loopback_1_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the test server's 127.0.0.1 is public (every other address is judged as usual)."""
    original = address_guard.is_public_address

    def fake(address: object) -> bool:
        return str(address).split("%")[0] == "127.0.0.1" or original(address)  # type: ignore[arg-type]

    monkeypatch.setattr(address_guard, "is_public_address", fake)


def test_loopback_is_refused_without_permission(base: str, tmp_path: Path) -> None:
    policy = replace(LOCAL, allow_private_networks=False)
    err = _fails(f"{base}/video", tmp_path, policy)
    assert err.code == "private_address"
    assert err.attempts == 1
    assert not err.retryable


@pytest.mark.usefixtures("loopback_1_is_public")
@pytest.mark.parametrize(
    "target",
    [
        "http:/169.254.169.254/latest/meta-data/",
        "http:/127.0.0.2/admin",
        "http:/10.0.0.1/",
        "http:/[::1]/",
        "http:/[::ffff:169.254.169.254]/",
    ],
)
def test_redirect_to_private_address_is_refused(base: str, tmp_path: Path, target: str) -> None:
    policy = replace(LOCAL, allow_private_networks=False)
    ok = fetch_to_file(f"{base}/video", tmp_path, policy)  # the "public" server itself is fine
    ok.path.unlink()
    err = _fails(f"{base}/to/{target}", tmp_path, policy)
    assert err.code == "private_address"


def test_dns_rebinding_is_caught_at_connect_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The pre-check sees a public address, the connection itself then gets 127.0.0.1: refused."""
    answers = iter(["93.184.215.14", "127.0.0.1"])

    def scripted(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(address_guard, "_getaddrinfo", scripted)
    policy = replace(LOCAL, retries=0, allow_private_networks=False)
    err = _fails("http://rebind.example/video.mp4", tmp_path, policy)
    assert err.code == "private_address"
    assert "127.0.0.1" in err.message


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # shared address space (CGNAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert is_public_address(address) is public
    assert ipaddress.ip_address(address.split("%", maxsplit=1)[0])  # the table holds real addresses


# --- DNS and connection failures -------------------------------------------------------------


def test_unresolvable_host_fails_once_and_fast(tmp_path: Path, sleeps: list[float]) -> None:
    err = _fails("https://no-such-host.invalid/video.mp4", tmp_path, FetchPolicy())
    assert err.code == "dns"
    assert err.attempts == 1
    assert not err.retryable
    assert sleeps == []


def test_permanent_dns_failure_is_cached_per_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[str] = []

    def unknown(host: str, *args: object, **kwargs: object) -> list[tuple]:
        calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(address_guard, "_getaddrinfo", unknown)
    for n in range(5):
        err = _fails(f"https://Dead-Host.example/video{n}.mp4", tmp_path)
        assert (err.code, err.attempts) == ("dns", 1)
    _fails("https://other.example/video.mp4", tmp_path)
    assert calls == ["dead-host.example", "other.example"]


def test_temporary_dns_failure_is_retried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sleeps: list[float]
) -> None:
    def again(*args: object, **kwargs: object) -> list[tuple]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(address_guard, "_getaddrinfo", again)
    err = _fails("https://flaky-dns.example/video.mp4", tmp_path)
    assert err.code == "dns"
    assert err.retryable
    assert err.attempts == LOCAL.retries + 1


def test_connection_refused(tmp_path: Path, sleeps: list[float]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    err = _fails(f"http://127.0.0.1:{port}/video.mp4", tmp_path)
    assert err.code == "connect"
    assert err.retryable
    assert err.attempts == LOCAL.retries + 1


@pytest.mark.parametrize("url", ["ftp://example.com/a.mp4", "gopher://x/", "/local/path.mp4"])
def test_unsupported_schemes(url: str, tmp_path: Path) -> None:
    assert _fails(url, tmp_path).code == "unsupported_scheme"


def test_real_sheet_hosts_fail_fast_as_dns(real_sheet: Path, tmp_path: Path) -> None:
    """The real sheet's 268 URLs point at a host that does not resolve here: each a quick 'dns'."""
    openpyxl = pytest.importorskip("openpyxl")
    rows = openpyxl.load_workbook(real_sheet, read_only=True).active.iter_rows(values_only=True)
    urls = [str(row[1]) for row in rows if len(row) > 1 and str(row[1]).startswith("http")]
    assert len(urls) == 268
    try:
        socket.getaddrinfo(urls[0].split("/")[2], 443)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            pytest.skip("no working DNS here (temporary failures would be retried with backoff)")
    else:
        pytest.skip("the sheet's host resolves on this machine; not downloading 268 real videos")
    codes = Counter()
    for url in urls:
        with pytest.raises(MediaError) as info:
            fetch_to_file(url, tmp_path, FetchPolicy())
        assert info.value.attempts == 1
        codes[info.value.code] += 1
    assert codes == {"dns": 268}
    assert list(tmp_path.iterdir()) == []


# --- file: URLs ------------------------------------------------------------------------------


@pytest.fixture()
def roots(tmp_path: Path, make_video) -> tuple[Path, Path, Path]:
    """(allowed root holding clip.mp4, an outside folder holding secret.mp4, destination)."""
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    clip = make_video("clip.mp4", seconds=0.5)
    clip.rename(allowed / "clip.mp4")
    (outside / "secret.mp4").write_bytes((allowed / "clip.mp4").read_bytes())
    return allowed, outside, tmp_path / "dest"


def test_file_url_inside_root(roots: tuple[Path, Path, Path]) -> None:
    allowed, _, dest = roots
    policy = FetchPolicy(local_roots=(allowed,))
    result = fetch_to_file((allowed / "clip.mp4").as_uri(), dest, policy)
    assert result.path.read_bytes() == (allowed / "clip.mp4").read_bytes()
    assert result.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert result.attempts == 1
    assert result.sniffed == "mp4"
    assert result.path.parent == dest


def test_file_url_outside_root(roots: tuple[Path, Path, Path]) -> None:
    allowed, outside, dest = roots
    err = _fails((outside / "secret.mp4").as_uri(), dest, FetchPolicy(local_roots=(allowed,)))
    assert err.code == "outside_allowed_roots"


def test_file_url_dotdot_traversal(roots: tuple[Path, Path, Path]) -> None:
    allowed, _, dest = roots
    url = f"file://{allowed}/../outside/secret.mp4"
    err = _fails(url, dest, FetchPolicy(local_roots=(allowed,)))
    assert err.code == "outside_allowed_roots"


def test_symlink_escaping_root(roots: tuple[Path, Path, Path]) -> None:
    allowed, outside, dest = roots
    (allowed / "link.mp4").symlink_to(outside / "secret.mp4")
    (allowed / "linked_dir").symlink_to(outside, target_is_directory=True)
    policy = FetchPolicy(local_roots=(allowed,))
    assert _fails((allowed / "link.mp4").as_uri(), dest, policy).code == "outside_allowed_roots"
    err = _fails((allowed / "linked_dir" / "secret.mp4").as_uri(), dest, policy)
    assert err.code == "outside_allowed_roots"


def test_file_url_missing_file(roots: tuple[Path, Path, Path]) -> None:
    allowed, _, dest = roots
    err = _fails((allowed / "nope.mp4").as_uri(), dest, FetchPolicy(local_roots=(allowed,)))
    assert err.code == "file_not_found"
    err = _fails(allowed.as_uri(), dest, FetchPolicy(local_roots=(allowed,)))
    assert err.code == "file_not_found"  # a folder is not a video file


def test_no_local_roots_means_no_local_files(roots: tuple[Path, Path, Path]) -> None:
    allowed, _, dest = roots
    err = _fails((allowed / "clip.mp4").as_uri(), dest, FetchPolicy())
    assert err.code == "outside_allowed_roots"


def test_file_url_on_another_host(roots: tuple[Path, Path, Path]) -> None:
    allowed, _, dest = roots
    err = _fails(f"file://server{allowed}/clip.mp4", dest, FetchPolicy(local_roots=(allowed,)))
    assert err.code == "unsupported_scheme"


def test_local_text_file_is_refused(roots: tuple[Path, Path, Path]) -> None:
    allowed, _, dest = roots
    (allowed / "page.mp4").write_bytes(HTML_PAGE)
    err = _fails((allowed / "page.mp4").as_uri(), dest, FetchPolicy(local_roots=(allowed,)))
    assert err.code == "html_page"


def test_local_size_cap(roots: tuple[Path, Path, Path]) -> None:
    allowed, _, dest = roots
    policy = FetchPolicy(local_roots=(allowed,), max_bytes=100)
    assert _fails((allowed / "clip.mp4").as_uri(), dest, policy).code == "too_large"


# --- HTTPS through the guarded connection ----------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(server: HostileServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """An HTTPS twin of ``server`` with a self-signed certificate for DNS name ``localhost``."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve(server.video, _Handler, ssl_context=context) as httpd:
        yield httpd, cert


@pytest.fixture()
def trusting(monkeypatch: pytest.MonkeyPatch, tls_server: tuple, loopback_1_is_public: None) -> int:
    """Trust the test certificate, resolve ``localhost`` to 127.0.0.1 only; returns the port."""
    httpd, cert = tls_server
    make_session = fetch._session

    def session_with_test_ca(policy: FetchPolicy):
        session = make_session(policy)
        session.verify = str(cert)
        return session

    def localhost_v4(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        return socket.getaddrinfo(
            "127.0.0.1" if host == "localhost" else host, port, *args, **kwargs
        )

    monkeypatch.setattr(fetch, "_session", session_with_test_ca)
    monkeypatch.setattr(address_guard, "_getaddrinfo", localhost_v4)
    return httpd.server_address[1]


def test_https_through_the_address_guard_verifies_the_certificate(
    trusting: int, server: HostileServer, tmp_path: Path
) -> None:
    """The guarded connection pins the checked IP but still does SNI and hostname verification."""
    policy = replace(LOCAL, allow_private_networks=False)
    result = fetch_to_file(f"https://localhost:{trusting}/hop/1", tmp_path, policy)
    assert result.path.read_bytes() == server.video
    assert result.final_url == f"https://localhost:{trusting}/video"
    result.path.unlink()
    err = _fails(f"https://127.0.0.1:{trusting}/video", tmp_path, policy)  # name not in the cert
    assert err.code == "connect"
    assert "TLS" in err.message
    assert err.attempts == 1
