"""The one exception type of the media stages: a machine-readable code plus a sentence for people.

Every per-video failure (fetching, storing, probing, decoding) is a ``MediaError``, so the pipeline
can record it in the ``video_files`` row (``error_code``, ``error``) and go on with other videos.

Codes in use: ``dns``, ``connect``, ``timeout``, ``http_<status>`` (e.g. ``http_404``),
``too_many_redirects``, ``too_large``, ``html_page``, ``empty_file``, ``not_video``,
``no_video_stream``, ``truncated``, ``corrupt``, ``resolution_too_large``, ``file_not_found``,
``outside_allowed_roots``, ``private_address``, ``unsupported_scheme``.

The message is made safe to show once, here (``display.show``: secrets redacted, printable,
capped), so every copy of it - the lake's ``error`` columns, Dagster metadata and logs, the
terminal, the report - is safe too.
"""

from __future__ import annotations

import re

from influencer_pipeline.display import show

MAX_MESSAGE_CHARS = 1000
KNOWN_CODES: frozenset[str] = frozenset(
    {
        "dns",
        "connect",
        "timeout",
        "too_many_redirects",
        "too_large",
        "html_page",
        "empty_file",
        "not_video",
        "no_video_stream",
        "truncated",
        "corrupt",
        "resolution_too_large",
        "file_not_found",
        "outside_allowed_roots",
        "private_address",
        "unsupported_scheme",
    }
)


_CODE_SHAPE = re.compile(r"[a-z][a-z0-9_]{0,39}")


def is_known_code(code: str) -> bool:
    """True for one of the documented codes (``http_<3 digits>`` included)."""
    if code in KNOWN_CODES:
        return True
    return code.startswith("http_") and len(code) == 8 and code[5:].isdigit()


class MediaError(Exception):
    """A per-video media failure: ``code`` for machines, ``message`` (= ``str(e)``) for people.

    ``retryable`` tells whether trying again later may succeed (network hiccups, 5xx, 429).
    ``attempts`` is how many tries a fetch made before giving up (None outside fetching).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        attempts: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        if not isinstance(code, str) or not _CODE_SHAPE.fullmatch(code):
            raise ValueError(f"MediaError code must be a short snake_case string, got {code!r}")
        message = show(message, MAX_MESSAGE_CHARS)
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.attempts = attempts
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"MediaError(code={self.code!r}, message={self.message!r})"

    def __reduce__(self):  # keep code and flags across pickling (multiprocess executors)
        return (
            _rebuild,
            (self.code, self.message, self.retryable, self.attempts, self.retry_after_s),
        )


def _rebuild(
    code: str,
    message: str,
    retryable: bool,
    attempts: int | None,
    retry_after_s: float | None,
) -> MediaError:
    return MediaError(
        code, message, retryable=retryable, attempts=attempts, retry_after_s=retry_after_s
    )
