"""The one error type for bad dataset input: it names the file and the line, key or field."""

from __future__ import annotations


class DataError(ValueError):
    """Malformed or incomplete dataset input (truncated file, bad line, missing key or file).

    The message starts with the file (and ``:line`` where there is one), so a user can open
    it at the fault. Raised before any partial result is handed out.
    """
