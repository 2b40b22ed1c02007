"""What a fetched body is: video, or a text page (told in words, quoting at most its title).

``Sink`` writes a body to a temp file while hashing it, counting it against the size cap and
sniffing its first bytes; ``temp_file`` gives that file and removes it unless the body completes.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from influencer_pipeline.display import show
from influencer_pipeline.media.errors import MediaError
from influencer_pipeline.media.probe import VIDEO_CONTAINER_KINDS, sniff_container

HEAD_BYTES = 4096  # bytes kept to sniff the content
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/xhtml+xml",
        "application/javascript",
        "application/x-www-form-urlencoded",
    }
)


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


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_text_type(media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_TYPES
        or media_type.endswith(("+json", "+xml"))
    )


def html_error(source: str, head: bytes, why: str) -> MediaError:
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


class Sink:
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
            raise html_error(self.source, self.head, why)

    def finish(self) -> None:
        """Final checks once the body is complete."""
        if self.size == 0:
            raise MediaError("empty_file", f"{self.source} is empty (0 bytes)")
        self.check_head()


@contextlib.contextmanager
def temp_file(dest_dir: Path) -> Iterator[tuple[Path, object]]:
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
