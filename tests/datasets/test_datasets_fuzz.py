"""Fuzzing the remaining text parsers: they return well-formed results or raise DataError
naming the file (never another exception, never a partial result)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.object import read_frustum_detections, read_split
from drivestack.datasets.kitti.raw import parse_timestamp_ns
from drivestack.datasets.kitti.tracking import read_seqmap
from drivestack.datasets.text_table import parse_numeric_table

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
lines = st.lists(st.text(alphabet=st.sampled_from(list("0123456789 .-eamptyx/\t")), max_size=40), max_size=6)


@FUZZ
@given(lines)
def test_seqmap_and_split_fuzz(tmp_path: Path, rows: list[str]):
    path = tmp_path / "fuzz.txt"
    path.write_text("\n".join(rows))
    for read in (read_seqmap, read_split):
        try:
            result = read(path)
        except DataError as err:
            assert str(err).startswith(str(path))
        else:
            assert isinstance(result, list)


@FUZZ
@given(st.lists(st.text(alphabet=st.sampled_from(list("0123456789 .-/abcpng\t")), max_size=50), max_size=6))
def test_frustum_detection_fuzz(tmp_path: Path, rows: list[str]):
    path = tmp_path / "rgb.txt"
    path.write_text("\n".join(rows))
    try:
        dets = read_frustum_detections(path)
    except DataError as err:
        assert str(err).startswith(str(path))
    else:
        for boxes, scores, classes in dets.by_frame.values():
            assert (boxes[:, 2:] >= boxes[:, :2]).all() and len(scores) == len(classes)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("0123456789-: .x")), max_size=32))
def test_timestamp_fuzz(text: str):
    try:
        stamp = parse_timestamp_ns(text, "ts.txt:1")
    except DataError as err:
        assert str(err).startswith("ts.txt:1")
    else:
        assert isinstance(stamp, int)


@FUZZ
@given(lines, st.integers(1, 4), st.sampled_from([None, ","]))
def test_numeric_table_fuzz(rows: list[str], columns: int, sep: str | None):
    try:
        values, linenos = parse_numeric_table("\n".join(rows), "t.txt", columns, sep)
    except DataError as err:
        assert str(err).startswith("t.txt:")
    else:
        assert values.shape == (len(linenos), columns) and np.isfinite(values).all()
