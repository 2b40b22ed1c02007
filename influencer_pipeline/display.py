"""The one rule for text shown to a person: secrets redacted, escapes visible, length capped.

Everything a person sees - the terminal summary, the report files, Dagster metadata and log
messages, the error and reason strings stored in the lake - goes through ``show``:

1. **Redact** (``redact``): credentials and signed tokens become ``***``, wherever they are in the
   text (a URL, a requests error, a sheet cell): the userinfo of any ``//user:password@host``, and
   the value of every ``name=value`` pair (query, fragment, or free text) whose name marks a
   secret (``is_secret_param``: ``X-Amz-Signature``, ``X-Amz-Credential``,
   ``X-Amz-Security-Token``, ``sig``, ``signature``, ``token``, ``access_token``, ``key``,
   ``api_key``, ``code``, ``password``, ``Policy``, ``Key-Pair-Id``, ... and any name containing
   token, secret, signature, password, credential or ending in key/sig). Names are compared
   after percent-decoding, case-insensitively and without ``-``, ``_`` and ``.``.
2. **Printable** (``printable``): every character Python does not call printable - C0/C1
   controls (ESC, so no CSI/OSC sequence reaches a terminal), DEL, line breaks, tabs, bidi
   overrides and isolates, zero-width characters, lone surrogates, private-use and unassigned
   code points - is replaced by its visible escape (``\\x1b``, ``\\u202e``, ``\\ud800``).
3. **Cap**: at most ``limit`` characters, the cut marked with ``…``.

Downloads never go through this: the lake keeps the full URL (``video_url``), which the fetcher
needs; only what is shown is redacted. ``spreadsheet_text`` adds the CSV/XLSX rule (OWASP CSV
injection): text starting with ``= + - @``, a tab or a carriage return gets a leading ``'`` so
no spreadsheet runs it as a formula.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

REDACTED = "***"
DEFAULT_LIMIT = 500
FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")  # OWASP set + full-width forms

# Normalized names (lowercase, without - _ .) whose values are secrets.
SECRET_NAMES = frozenset(
    {
        "sig",
        "code",
        "key",
        "auth",
        "policy",
        "keypairid",
        "pass",
        "pwd",
        "jwt",
        "session",
        "sessionid",
        "hdnts",
        "hdnea",
        "hmac",
        "otp",
    }
)
SECRET_PARTS = ("token", "secret", "signature", "password", "passwd", "credential", "apikey")
SECRET_SUFFIXES = ("key", "sig")

_NAME_JUNK = re.compile(r"[-_.]")
# //userinfo@ : everything up to the last '@' before the path, query, fragment or a space.
_USERINFO = re.compile(r"//[^/?#\s@]*(?:@[^/?#\s@]*)*@")
# name=value after the start, a URL separator, a space, a quote or a bracket.
_PAIR = re.compile(
    r"(?P<lead>^|[?&;#\s\"'(\[{,])(?P<name>[A-Za-z0-9_.\-%]{1,80})=(?P<value>[^&;#\s\"'<>)\]}]*)"
)


def is_secret_param(name: str) -> bool:
    """True when a query/fragment parameter (or ``name=value`` word) named ``name`` is a secret."""
    decoded = unquote(name) if "%" in name else name
    key = _NAME_JUNK.sub("", decoded.lower())
    if not key:
        return False
    return (
        key in SECRET_NAMES
        or any(part in key for part in SECRET_PARTS)
        or key.endswith(SECRET_SUFFIXES)
    )


def _redact_pair(match: re.Match[str]) -> str:
    if not match.group("value") or not is_secret_param(match.group("name")):
        return match.group(0)
    return f"{match.group('lead')}{match.group('name')}={REDACTED}"


def redact(text: str) -> str:
    """``text`` with URL credentials and secret parameter values replaced by ``***``."""
    if "@" in text:
        text = _USERINFO.sub(f"//{REDACTED}@", text)
    if "=" in text:
        text = _PAIR.sub(_redact_pair, text)
    return text


def is_redacted(text: str) -> bool:
    """True when ``redact`` changes ``text`` (it carries a credential or a signed token)."""
    return redact(text) != text


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every non-printable character replaced by its visible escape."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def cap(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with ``…``."""
    if limit <= 0 or len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"


def show(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """Any value as text safe to show a person: redacted, printable, at most ``limit`` chars."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return cap(printable(redact(text)), limit)


def show_lines(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """Several lines of text, each made safe with ``show`` (line breaks kept as line breaks)."""
    return "\n".join(show(line, limit) for line in text.split("\n"))


def neutralize_formula(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text and text[0] in FORMULA_STARTS else text


def spreadsheet_text(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """A text cell for CSV/XLSX: ``show``, then no leading formula character."""
    raw = value if isinstance(value, str) else str(value)
    text = show(raw, limit)
    if raw[:1] in FORMULA_STARTS and not text.startswith("'"):
        text = "'" + text  # e.g. a leading tab, already escaped to a visible "\x09"
    return neutralize_formula(text)
