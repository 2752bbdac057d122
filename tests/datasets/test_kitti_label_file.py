"""KITTI label/result parsing: round trips, strict errors naming file:line, fuzzing, real files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.datasets.kitti.label_file import (
    KITTI_TYPES,
    LabelFileError,
    format_object_line,
    parse_object_lines,
    parse_tracking_lines,
    read_object_labels,
    read_tracking_labels,
)

GOOD = "Car 0.00 0 -1.57 599.41 156.40 629.75 189.25 2.85 2.63 12.34 0.47 1.49 69.44 -1.56"

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
size = st.floats(0, 50, allow_nan=False)


@st.composite
def label_rows(draw: st.DrawFn) -> dict:
    x1, y1 = draw(finite), draw(finite)
    return dict(
        type_name=draw(st.sampled_from(sorted(KITTI_TYPES - {"DontCare"}))),
        truncated=draw(st.floats(0, 1)),
        occluded=draw(st.integers(-1, 3)),
        alpha=draw(finite),
        bbox=(x1, y1, x1 + draw(size), y1 + draw(size)),
        dimensions=(draw(size), draw(size), draw(size)),
        location=(draw(finite), draw(finite), draw(finite)),
        rotation_y=draw(finite),
    )


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(label_rows(), max_size=6), scores=st.booleans(), tracking=st.booleans())
def test_format_then_parse_returns_the_same_values(
    rows: list, scores: bool, tracking: bool
) -> None:
    lines = [
        format_object_line(
            **r,
            score=float(i) / 7 if scores else None,
            frame=i if tracking else None,
            track_id=10 + i if tracking else None,
        )
        for i, r in enumerate(rows)
    ]
    parse = parse_tracking_lines if tracking else parse_object_lines
    got = parse(lines, "mem.txt")
    assert len(got) == len(rows)
    for i, r in enumerate(rows):
        assert got.type[i] == r["type_name"]
        assert got.bbox[i].tolist() == list(r["bbox"])
        assert got.dimensions[i].tolist() == list(r["dimensions"])
        assert got.location[i].tolist() == list(r["location"])
        assert got.rotation_y[i] == r["rotation_y"] and got.occluded[i] == r["occluded"]
    assert (got.score is not None) == (scores and len(rows) > 0)
    if tracking and rows:
        assert got.frame.tolist() == list(range(len(rows)))  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(
    row=label_rows(),
    col=st.integers(0, 14),
    junk=st.sampled_from(["nan", "inf", "-inf", "abc", "", "1e999", "0x1"]),
)
def test_any_corrupted_column_raises_label_error_naming_file_and_line(
    row: dict, col: int, junk: str
) -> None:
    toks = format_object_line(**row, score=0.5).split()
    if col == 0:
        toks[0] = junk or "Bogus"  # an unknown type
    elif junk == "":
        del toks[col]  # a missing column
    else:
        toks[col] = junk
    lines = [GOOD + " 0.9", " ".join(toks)]
    with pytest.raises(LabelFileError, match=r"^res/000001\.txt:2: "):
        parse_object_lines(lines, "res/000001.txt")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (GOOD + " 0.5 7", "17 columns, expected 15 or 16"),
        (GOOD.replace("2.85", "-2.85"), "negative 3D size"),
        (GOOD.replace("629.75", "500.0"), "negative 2D box size"),
        (GOOD.replace("Car", "Bus"), "unknown type 'Bus'"),
        (GOOD.replace("69.44", "NaN"), "'NaN' is not finite"),
        (GOOD.replace(" 0 -1.57", " 0.5 -1.57"), "'occluded': '0.5' is not an integer"),
    ],
)
def test_bad_object_lines_raise_with_reason(line: str, message: str) -> None:
    with pytest.raises(LabelFileError, match=rf"^f\.txt:3: .*{message}"):
        parse_object_lines([GOOD, "", line], "f.txt")


def test_mixed_score_columns_and_forced_score_raise() -> None:
    with pytest.raises(LabelFileError, match="f.txt:2: 16 columns but earlier lines have 15"):
        parse_object_lines([GOOD, GOOD + " 0.3"], "f.txt")
    with pytest.raises(LabelFileError, match="f.txt:1: 15 columns, expected 16"):
        parse_object_lines([GOOD], "f.txt", with_score=True)


def test_sentinels_for_dontcare_and_2d_only_results_are_accepted() -> None:
    dc = "0 -1 DontCare -1 -1 -10 1 2 3 4 -1000 -1000 -1000 -10 -1 -1 -1"
    two_d = format_object_line("Car", (1, 2, 3, 4), score=0.7, frame=0, track_id=3)
    got = parse_tracking_lines([dc], "t.txt")
    assert got.type.tolist() == ["DontCare"] and not got.has_3d[0]
    got = parse_tracking_lines([two_d], "t.txt")
    assert got.dimensions.tolist() == [[-1, -1, -1]] and not got.has_3d[0]
    assert got.score is not None and got.score[0] == 0.7
    assert parse_object_lines([GOOD], "x").has_3d.tolist() == [True]


def test_empty_file_parses_to_zero_rows(tmp_path: Path) -> None:
    (tmp_path / "e.txt").write_text("")
    got = read_object_labels(tmp_path / "e.txt")
    assert len(got) == 0 and got.bbox.shape == (0, 4) and got.score is None


def test_where_selects_rows_of_every_column() -> None:
    got = parse_tracking_lines(["3 7 " + GOOD, "4 8 " + GOOD.replace("Car", "Van")], "t")
    van = got.where(got.type == "Van")
    assert van.frame.tolist() == [4] and van.track_id.tolist() == [8] and van.line.tolist() == [2]


@pytest.mark.data
def test_real_object_and_tracking_labels_parse(data_root: Path) -> None:
    obj = read_object_labels(data_root / "kitti_object/label_2/000000.txt", with_score=False)
    assert obj.type.tolist() == ["Pedestrian"]
    assert obj.bbox[0].tolist() == [712.40, 143.00, 810.73, 307.92]
    assert obj.dimensions[0].tolist() == [1.89, 0.48, 1.20]
    trk = read_tracking_labels(data_root / "kitti_tracking/label_02/0001.txt", with_score=False)
    assert trk.frame.min() == 0 and trk.frame.max() == 446
    assert math.isclose(float(np.sort(trk.track_id)[-1]), float(trk.track_id.max()))
    assert set(trk.type.tolist()) <= KITTI_TYPES


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(label_rows(), min_size=1, max_size=4),
    col=st.integers(0, 15),
    junk=st.sampled_from(
        ["nan", "inf", "1e999", "x", "-1", "-2.5", "0.5", "1_0", "+3", "DontCare"]
    ),
    corrupt=st.booleans(),
)
def test_vectorised_fast_path_accepts_exactly_what_the_line_checks_accept(
    rows: list, col: int, junk: str, corrupt: bool
) -> None:
    from drivestack.datasets.kitti.label_file import _fast_rows, _slow_check

    lines = [format_object_line(**r, score=0.5) for r in rows]
    if corrupt:
        toks = lines[-1].split()
        toks[min(col, len(toks) - 1)] = junk
        lines[-1] = " ".join(toks)
    fast = _fast_rows(lines, False, None, KITTI_TYPES)
    try:
        _slow_check(lines, "f", False, None, KITTI_TYPES)
        slow_ok = True
    except LabelFileError:
        slow_ok = False
    assert (fast is not None) == slow_ok
