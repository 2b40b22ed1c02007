"""What a table cell holds: ``is_missing`` tells an empty cell from a value."""

from __future__ import annotations


def is_missing(value: object) -> bool:
    """True for None, float NaN and pandas' NA/NaT: the cell holds no value at all.

    Strings (even empty ones) and arrays are values: callers judge blank text themselves.
    """
    if value is None:
        return True
    if isinstance(value, str):
        return False
    if type(value).__name__ in ("NAType", "NaTType"):
        return True
    try:
        return bool(value != value)  # noqa: PLR0124  (only NaN differs from itself)
    except (TypeError, ValueError):
        return False
