"""One base for the errors raised on unusable input: a machine-readable ``code`` and a message."""

from __future__ import annotations

from typing import ClassVar

from influencer_pipeline.display import show


class InputError(ValueError):
    """Input a stage refuses: ``code`` for machines, ``message`` (= ``str(e)``) for people.

    A subclass whose message quotes the user's cells sets ``max_chars``: the message is then made
    printable and cut to that length (``display.show``) before anyone sees it.
    """

    max_chars: ClassVar[int | None] = None

    def __init__(self, code: str, message: str) -> None:
        if self.max_chars is not None:
            message = show(message, self.max_chars)
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self):  # across processes as itself, whatever a subclass's __init__ takes
        return (_rebuild, (type(self), self.message), self.__dict__)


def _rebuild(kind: type[InputError], message: str) -> InputError:
    """An unpickled InputError: its type and message; code and other fields come as its state."""
    error = kind.__new__(kind)
    ValueError.__init__(error, message)
    return error
