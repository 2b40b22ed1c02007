"""The demo generator's error type: a machine-readable ``code`` plus a readable sentence."""

from __future__ import annotations


class DemoError(Exception):
    """Raised when the demo cannot be made as asked (bad config, missing photos, bad folder)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
