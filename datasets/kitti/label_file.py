"""Raw KITTI label / result text files: object (``label_2``) and tracking (``label_02``) lines.

No convention change happens here: values come back exactly as written, in KITTI's camera
(rectified) frame, as column arrays. Conversion into the stack box convention lives in
``drivestack.eval.kitti_boxes`` (evaluation) and in the KITTI dataset reader.

Object line (15 columns, 16 with a score; the official devkit readme)::

    type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]

Tracking line (17 columns, 18 with a score)::

    frame track_id type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]

Parsing is strict: wrong column counts, non-numbers, NaN/inf, negative box extents, unknown
types and mixed 15/16-column files raise :class:`LabelFileError` naming ``file:line``. Two
sentinels of the official files are accepted: DontCare rows carry arbitrary negative 3D fields
(the tracking labels write ``-1000 -1000 -1000`` as their dimensions), and 2D-only results write
``-1 -1 -1`` dimensions (``has_3d`` is False for such rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Every type name used by the KITTI object and tracking benchmarks ("Person" is the tracking
# labels' name for a sitting person).
KITTI_TYPES: frozenset[str] = frozenset(
    {
        "Car",
        "Van",
        "Truck",
        "Pedestrian",
        "Person_sitting",
        "Person",
        "Cyclist",
        "Tram",
        "Misc",
        "DontCare",
    }
)

OBJECT_COLUMNS = 15  # without score
TRACKING_COLUMNS = 17  # without score


class LabelFileError(ValueError):
    """A malformed label/result line; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class ObjectLabels:
    """Columns of one KITTI object label/result file (or of several, concatenated).

    Attributes:
        path: file the rows came from (for error messages).
        line: (N,) int64 1-based line number of each row in ``path``.
        type: (N,) str KITTI type names.
        truncated: (N,) float64 truncation in [0, 1] (-1 in results/DontCare).
        occluded: (N,) int64 occlusion state 0..3 (-1 in results/DontCare).
        alpha: (N,) float64 [rad] observation angle.
        bbox: (N, 4) float64 [px] x1, y1, x2, y2 in the left colour image.
        dimensions: (N, 3) float64 [m] height, width, length.
        location: (N, 3) float64 [m] bottom-centre x, y, z in the rectified camera frame.
        rotation_y: (N,) float64 [rad] rotation about the camera y axis.
        score: (N,) float64 confidence (results), or None for ground truth.
        has_3d: (N,) bool False where the 3D fields are the 2D-only / DontCare sentinels.
    """

    path: str
    line: np.ndarray
    type: np.ndarray
    truncated: np.ndarray
    occluded: np.ndarray
    alpha: np.ndarray
    bbox: np.ndarray
    dimensions: np.ndarray
    location: np.ndarray
    rotation_y: np.ndarray
    score: np.ndarray | None
    has_3d: np.ndarray

    def __len__(self) -> int:
        return len(self.line)

    def where(self, rows: np.ndarray) -> ObjectLabels:
        """The subset of rows selected by a bool mask or an index array."""
        return _take(self, rows)


@dataclass(frozen=True, kw_only=True)
class TrackingLabels(ObjectLabels):
    """Columns of one KITTI tracking label/result file (one sequence).

    Attributes:
        frame: (N,) int64 frame index within the sequence.
        track_id: (N,) int64 track id (-1 for DontCare).
    """

    frame: np.ndarray
    track_id: np.ndarray


def _take(labels: ObjectLabels, rows: np.ndarray) -> ObjectLabels:
    fields = {}
    for name, value in labels.__dict__.items():
        fields[name] = value[rows] if isinstance(value, np.ndarray) else value
    return type(labels)(**fields)


def _err(path: str, line: int, msg: str) -> LabelFileError:
    return LabelFileError(f"{path}:{line}: {msg}")


def _number(tok: str, path: str, line: int, column: str) -> float:
    try:
        value = float(tok)
    except ValueError:
        raise _err(path, line, f"column {column!r}: {tok!r} is not a number") from None
    if not math.isfinite(value):
        raise _err(path, line, f"column {column!r}: {tok!r} is not finite")
    return value


def _integer(tok: str, path: str, line: int, column: str) -> int:
    value = _number(tok, path, line, column)
    if value != int(value):
        raise _err(path, line, f"column {column!r}: {tok!r} is not an integer")
    return int(value)


_NAMES = (
    "truncated",
    "occluded",
    "alpha",
    "x1",
    "y1",
    "x2",
    "y2",
    "h",
    "w",
    "l",
    "x",
    "y",
    "z",
    "rotation_y",
    "score",
)


def _slow_check(
    lines: Iterable[str],
    path: str,
    tracking: bool,
    with_score: bool | None,
    known_types: frozenset[str],
) -> None:
    """Line-by-line checks; raises LabelFileError naming the first bad line."""
    lead = 2 if tracking else 0
    base = TRACKING_COLUMNS if tracking else OBJECT_COLUMNS
    seen_cols: int | None = None
    for line_no, raw in enumerate(lines, start=1):
        toks = raw.split()
        if not toks:
            continue  # blank lines (e.g. a trailing newline) carry no object
        n = len(toks)
        allowed = (
            (base,) if with_score is False else (base + 1,) if with_score else (base, base + 1)
        )
        if n not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise _err(path, line_no, f"{n} columns, expected {want}")
        if seen_cols is not None and n != seen_cols:
            raise _err(path, line_no, f"{n} columns but earlier lines have {seen_cols}")
        seen_cols = n
        if tracking:
            frame = _integer(toks[0], path, line_no, "frame")
            _integer(toks[1], path, line_no, "track_id")
            if frame < 0:
                raise _err(path, line_no, f"negative frame {toks[0]!r}")
        name = toks[lead]
        if name not in known_types:
            raise _err(path, line_no, f"unknown type {name!r} (known: {sorted(known_types)})")
        vals = [
            _number(tok, path, line_no, col)
            for tok, col in zip(toks[lead + 1 :], _NAMES, strict=False)
        ]
        vals[1] = float(_integer(toks[lead + 2], path, line_no, "occluded"))
        if vals[5] < vals[3] or vals[6] < vals[4]:
            raise _err(path, line_no, f"negative 2D box size: x1,y1,x2,y2 = {vals[3:7]}")
        dims = vals[7:10]
        if name != "DontCare" and min(dims) < 0 and dims != [-1.0, -1.0, -1.0]:
            raise _err(path, line_no, f"negative 3D size h,w,l = {dims}")


def _fast_rows(
    lines: Iterable[str],
    tracking: bool,
    with_score: bool | None,
    known_types: frozenset[str],
) -> tuple[list[int], list[str], np.ndarray, np.ndarray] | None:
    """Vectorised parse of a well-formed file; None if any check fails (the slow path then
    finds and reports the first bad line)."""
    lead = 2 if tracking else 0
    base = TRACKING_COLUMNS if tracking else OBJECT_COLUMNS
    numbered = [(no, raw.split()) for no, raw in enumerate(lines, start=1)]
    numbered = [(no, toks) for no, toks in numbered if toks]
    if not numbered:
        return [], [], np.zeros((0, 14)), np.zeros((0, lead), np.int64)
    n = len(numbered[0][1])
    allowed = (base,) if with_score is False else (base + 1,) if with_score else (base, base + 1)
    if n not in allowed or any(len(toks) != n for _, toks in numbered):
        return None
    types = [toks[lead] for _, toks in numbered]
    if not known_types.issuperset(types):
        return None
    try:
        arr = np.array([toks[lead + 1 :] for _, toks in numbered], np.float64)  # (N, 14|15)
        ids = np.array([toks[:lead] for _, toks in numbered], np.float64)
    except ValueError:
        return None
    if not (np.isfinite(arr).all() and np.isfinite(ids).all()):
        return None
    if (arr[:, 1] != np.round(arr[:, 1])).any() or (ids != np.round(ids)).any():
        return None
    if tracking and (ids[:, 0] < 0).any():
        return None
    if ((arr[:, 5] < arr[:, 3]) | (arr[:, 6] < arr[:, 4])).any():
        return None
    dims = arr[:, 7:10]
    bad = (dims < 0).any(1) & ~(dims == -1).all(1) & (np.asarray(types, object) != "DontCare")
    if bad.any():
        return None
    return [no for no, _ in numbered], types, arr, ids.astype(np.int64)


def _parse(
    lines: Iterable[str],
    path: str,
    tracking: bool,
    with_score: bool | None,
    known_types: frozenset[str],
) -> ObjectLabels:
    lines = list(lines)
    fast = _fast_rows(lines, tracking, with_score, known_types)
    if fast is None:
        _slow_check(lines, path, tracking, with_score, known_types)  # raises with file:line
        raise AssertionError(f"{path}: rejected by the fast parser but not by the line checks")
    line_nos, types, arr, fid = fast
    width = arr.shape[1]
    is_dc = np.asarray(types, dtype=object) == "DontCare"
    has_3d = ~is_dc & (arr[:, 7:10] >= 0).all(axis=1)
    common = dict(
        path=path,
        line=np.asarray(line_nos, np.int64),
        type=np.asarray(types, dtype=object),
        truncated=arr[:, 0].copy(),
        occluded=arr[:, 1].astype(np.int64),
        alpha=arr[:, 2].copy(),
        bbox=arr[:, 3:7].copy(),
        dimensions=arr[:, 7:10].copy(),
        location=arr[:, 10:13].copy(),
        rotation_y=arr[:, 13].copy(),
        score=arr[:, 14].copy() if width == 15 else None,
        has_3d=has_3d,
    )
    if not tracking:
        return ObjectLabels(**common)
    return TrackingLabels(**common, frame=fid[:, 0].copy(), track_id=fid[:, 1].copy())


def parse_object_lines(
    lines: Iterable[str],
    path: str = "<string>",
    *,
    with_score: bool | None = None,
    known_types: frozenset[str] = KITTI_TYPES,
) -> ObjectLabels:
    """Parses KITTI object label/result lines.

    Args:
        lines: the text lines of one file.
        path: name used in error messages.
        with_score: True requires 16 columns (results), False 15 (ground truth), None accepts
            either as long as the whole file agrees.
        known_types: accepted type names; anything else is an error.

    Returns:
        The columns; ``score`` is None when the file has no score column.

    Raises:
        LabelFileError: naming ``path:line`` for the first malformed line.
    """
    return _parse(lines, path, False, with_score, known_types)


def parse_tracking_lines(
    lines: Iterable[str],
    path: str = "<string>",
    *,
    with_score: bool | None = None,
    known_types: frozenset[str] = KITTI_TYPES,
) -> TrackingLabels:
    """Parses KITTI tracking label/result lines (17 columns, 18 with a score).

    Args and Raises: as :func:`parse_object_lines`.

    Returns:
        The columns, with ``frame`` and ``track_id``.
    """
    out = _parse(lines, path, True, with_score, known_types)
    assert isinstance(out, TrackingLabels)
    return out


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except UnicodeDecodeError as exc:
        raise LabelFileError(f"{path}: not a text file ({exc})") from None


def read_object_labels(
    path: str | Path,
    *,
    with_score: bool | None = None,
    known_types: frozenset[str] = KITTI_TYPES,
) -> ObjectLabels:
    """Reads one KITTI object label/result file (see :func:`parse_object_lines`)."""
    p = Path(path)
    return parse_object_lines(
        _read_lines(p), str(p), with_score=with_score, known_types=known_types
    )


def read_tracking_labels(
    path: str | Path,
    *,
    with_score: bool | None = None,
    known_types: frozenset[str] = KITTI_TYPES,
) -> TrackingLabels:
    """Reads one KITTI tracking label/result file (see :func:`parse_tracking_lines`)."""
    p = Path(path)
    return parse_tracking_lines(
        _read_lines(p), str(p), with_score=with_score, known_types=known_types
    )


def format_object_line(
    type_name: str,
    bbox: Sequence[float],
    *,
    truncated: float = -1.0,
    occluded: int = -1,
    alpha: float = -10.0,
    dimensions: Sequence[float] = (-1.0, -1.0, -1.0),
    location: Sequence[float] = (-1000.0, -1000.0, -1000.0),
    rotation_y: float = -10.0,
    score: float | None = None,
    frame: int | None = None,
    track_id: int | None = None,
) -> str:
    """Formats one KITTI object (or, with ``frame`` and ``track_id``, tracking) line.

    The defaults are the official "not available" values, so a 2D detection needs only
    ``type_name``, ``bbox`` and ``score``.

    Args:
        type_name: KITTI type name.
        bbox: [px] x1, y1, x2, y2.
        truncated, occluded, alpha, dimensions (h, w, l [m]), location (x, y, z [m], camera
            frame, bottom centre), rotation_y [rad]: the KITTI columns.
        score: confidence; None writes no score column.
        frame, track_id: both given for a tracking line.

    Returns:
        The line without a trailing newline; floats written with ``repr`` precision so that
        parsing returns the same values.
    """
    vals = [
        truncated,
        occluded,
        alpha,
        *bbox,
        *dimensions,
        *location,
        rotation_y,
    ]
    toks = [type_name, *(repr(float(v)) if i != 1 else str(int(v)) for i, v in enumerate(vals))]
    if score is not None:
        toks.append(repr(float(score)))
    if (frame is None) != (track_id is None):
        raise ValueError("format_object_line: give both frame and track_id, or neither")
    if frame is not None:
        toks = [str(int(frame)), str(int(track_id)), *toks]  # type: ignore[arg-type]
    return " ".join(toks)
