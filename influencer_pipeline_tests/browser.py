"""Real headless Chromium for tests: find the binary, screenshot a page, dump its DOM.

Uses Debian's ``chromium`` (install it with ``scripts/install_system_deps.sh``). Each call starts
a fresh browser with a new temporary profile and the flags that work here (as root, on a closed
network), waits for it with a time limit and kills its whole process group if it hangs.

In a test module, bind the fixture to a name pytest sees (``chromium = browser.chromium``); it
skips the test with a clear message when no chromium binary is installed.

``page_requests`` reads a Chromium net log (``net_log=`` of ``screenshot``/``dump_dom``) and
returns the URLs the page itself requested, so a test can prove a page loads nothing external.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")
INSTALL_HINT = "install it with scripts/install_system_deps.sh (Debian's chromium package)"
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
DEFAULT_TIMEOUT_S = 90.0
BROWSER_INITIATOR = "not an origin"  # net-log initiator of the browser's own requests


class BrowserError(RuntimeError):
    """Chromium could not render a page; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def find_chromium() -> str | None:
    """The path of a chromium binary (``chromium``, ``chromium-browser``, /usr/bin/chromium)."""
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def as_url(target: str | os.PathLike[str]) -> str:
    """A URL for ``target``: a URL string is kept, a file path becomes a file:// URL."""
    if isinstance(target, str) and "://" in target:
        return target
    path = Path(target).resolve()
    if not path.is_file():
        raise BrowserError("no_page", f"page to render not found: {path}")
    return path.as_uri()


@dataclass(frozen=True)
class Chromium:
    """A headless Chromium binary and how long one call may take."""

    binary: str
    timeout_s: float = DEFAULT_TIMEOUT_S

    def command(self, user_data_dir: Path, *args: str) -> list[str]:
        """The full command line: binary, the base flags, a profile folder, then ``args``."""
        return [self.binary, *BASE_FLAGS, f"--user-data-dir={user_data_dir}", *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run chromium with ``args`` in a fresh temporary profile; BrowserError on failure."""
        with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
            command = self.command(Path(profile), *args)
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,  # its own process group: a hang is killed as a whole
            )
            try:
                stdout, stderr = process.communicate(timeout=self.timeout_s)
            except subprocess.TimeoutExpired as exc:
                _kill_group(process.pid)
                process.communicate()
                raise BrowserError(
                    "timeout", f"chromium did not finish within {self.timeout_s:.0f} s"
                ) from exc
            finally:
                _kill_group(process.pid)
        if process.returncode != 0:
            raise BrowserError(
                "chromium_failed",
                f"chromium exited with {process.returncode}: {stderr.strip()[-2000:]}",
            )
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    def screenshot(
        self,
        target: str | os.PathLike[str],
        out: Path,
        *,
        width: int = 1280,
        height: int = 1024,
        budget_ms: int = 3000,
        net_log: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> Path:
        """Render ``target`` (a path or URL) at ``width`` x ``height`` and save a PNG to ``out``."""
        out = Path(out).resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        args = [
            f"--screenshot={out}",
            f"--window-size={width},{height}",
            f"--virtual-time-budget={budget_ms}",
        ]
        if net_log is not None:
            args.append(f"--log-net-log={Path(net_log).resolve()}")
        self.run(*args, *extra_args, as_url(target))
        if not out.is_file() or out.stat().st_size == 0:
            raise BrowserError("no_screenshot", f"chromium wrote no screenshot to {out}")
        return out

    def dump_dom(
        self,
        target: str | os.PathLike[str],
        *,
        width: int = 1280,
        height: int = 1024,
        budget_ms: int = 3000,
        net_log: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> str:
        """The serialized DOM of ``target`` after it loaded (scripts run for ``budget_ms``)."""
        args = [
            "--dump-dom",
            f"--window-size={width},{height}",
            f"--virtual-time-budget={budget_ms}",
        ]
        if net_log is not None:
            args.append(f"--log-net-log={Path(net_log).resolve()}")
        dom = self.run(*args, *extra_args, as_url(target)).stdout
        if "<html" not in dom.lower():
            raise BrowserError("no_dom", "chromium printed no DOM for the page")
        return dom


def _kill_group(pid: int) -> None:
    """Kill what is left of the process group chromium ``pid`` leads (helpers it forked)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def page_requests(net_log: Path) -> list[str]:
    """URLs requested by pages (not the browser's own background requests) in a net log."""
    text = Path(net_log).read_text(encoding="utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        # a browser killed mid-write leaves the events array open; the events are still there
        data = json.loads(text.rstrip(",") + "]}")
    types = data.get("constants", {}).get("logEventTypes", {})
    start_job = types.get("URL_REQUEST_START_JOB")
    urls = []
    for event in data.get("events", []):
        params = event.get("params") or {}
        if event.get("type") != start_job or "url" not in params:
            continue
        if params.get("initiator") == BROWSER_INITIATOR:
            continue
        urls.append(str(params["url"]))
    return urls


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    """A headless Chromium; skips the test when no chromium binary is installed."""
    binary = find_chromium()
    if binary is None:
        pytest.skip(f"headless Chromium is not installed (looked for {CANDIDATES}); {INSTALL_HINT}")
    return Chromium(binary)
