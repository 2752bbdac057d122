"""Numeric text tables (one record per line) parsed with errors that name file and line."""

from __future__ import annotations

import math

import numpy as np

from drivestack.datasets.errors import DataError


def parse_numeric_table(
    text: str, source: str, columns: int, sep: str | None = None, what: str = "values"
) -> tuple[np.ndarray, np.ndarray]:
    """Parses lines of ``columns`` numbers; blank lines are skipped.

    Args:
        text: The file's content.
        source: File name for messages.
        columns: Required number of fields per line.
        sep: Field separator (``None``: any whitespace; ``","`` also strips spaces).
        what: What a line holds, for messages (``"AB3DMOT detection fields"``).

    Returns:
        values (N, columns) float64 and line numbers (N,) int64 (1-based) of each row.

    Raises:
        DataError: ``"<source>:<line>: ..."`` for a wrong column count, an unparseable or a
            non-finite number.
    """
    rows: list[list[float]] = []
    linenos: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(sep) if sep is not None else line.split()
        if sep is not None:
            fields = [f.strip() for f in fields]
            if fields and fields[-1] == "":
                fields = fields[:-1]  # a trailing separator
        if len(fields) != columns:
            raise DataError(f"{source}:{lineno}: expected {columns} {what}, got {len(fields)}")
        try:
            row = [float(f) for f in fields]
        except ValueError as err:
            raise DataError(f"{source}:{lineno}: {err}") from None
        if not all(math.isfinite(v) for v in row):
            raise DataError(f"{source}:{lineno}: NaN or inf in {what}")
        rows.append(row)
        linenos.append(lineno)
    return (
        np.array(rows, dtype=np.float64).reshape(-1, columns),
        np.array(linenos, dtype=np.int64),
    )


def check_integral(values: np.ndarray, linenos: np.ndarray, source: str, name: str) -> np.ndarray:
    """Returns ``values`` as int64, raising naming the first line whose value is not integral."""
    bad = np.flatnonzero(values != np.round(values))
    if len(bad):
        raise DataError(f"{source}:{linenos[bad[0]]}: {name} {values[bad[0]]!r} is not an integer")
    return values.astype(np.int64)
