"""The one error type for bad dataset input: it names the file and the line, key or field."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Malformed or incomplete dataset input (truncated file, bad line, missing key or file).

    The message starts with the file (and ``:line`` where there is one), so a user can open
    it at the fault. Raised before any partial result is handed out.
    """


def read_text(path: Path) -> str:
    """The text of ``path`` as UTF-8; an undecodable byte is a DataError naming file and offset."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: byte {exc.start}: not UTF-8 text ({exc.reason})") from None
