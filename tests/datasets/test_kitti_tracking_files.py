"""KITTI tracking text files: AB3DMOT and RRC detections, seqmaps, per-frame slicing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.tracking import (
    frame_slices,
    parse_ab3dmot_detections,
    parse_rrc_detections,
    read_ab3dmot_sequence,
    read_seqmap,
)
from drivestack.msgs import ObjectClass

CAR = "0,2,298.3,165.1,458.2,293.4,8.29,1.96,1.81,4.75,-4.57,1.84,13.53,-2.11,-1.78"
PED = "2,1,700.0,150.0,720.0,200.0,-0.4,1.7,0.6,0.8,2.0,1.6,20.0,0.1,0.0"


def test_ab3dmot_columns_map_to_fields():
    dets = parse_ab3dmot_detections(f"{CAR}\n\n{PED}\n", "d.txt")
    np.testing.assert_array_equal(dets.frame, [0, 2])
    np.testing.assert_array_equal(dets.class_ids, [ObjectClass.CAR, ObjectClass.PEDESTRIAN])
    np.testing.assert_allclose(dets.dimensions[0], [1.96, 1.81, 4.75])
    np.testing.assert_allclose(dets.location[1], [2.0, 1.6, 20.0])
    np.testing.assert_allclose(dets.score, [8.29, -0.4])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (CAR[:-6], r"d\.txt:2: expected 15 AB3DMOT detection fields, got 14"),
        (CAR.replace(",2,", ",7,", 1), r"d\.txt:2: unknown AB3DMOT type 7"),
        (CAR.replace("0,2,", "0.5,2,", 1), r"d\.txt:2: frame 0\.5 is not an integer"),
        (CAR.replace("1.96", "x"), r"d\.txt:2: could not convert"),
        (CAR.replace("1.96", "-1.96"), r"d\.txt:2: negative box size"),
    ],
)
def test_ab3dmot_bad_line_error_names_file_and_line(line: str, message: str):
    with pytest.raises(DataError, match=message):
        parse_ab3dmot_detections(f"{PED}\n{line}\n", "d.txt")


def test_rrc_rows_and_inverted_box_error():
    dets = parse_rrc_detections("0,296.0,160.1,452.2,288.3,0.52\n", "r.txt", ObjectClass.CAR)
    np.testing.assert_array_equal(dets.class_ids, [ObjectClass.CAR])
    assert parse_rrc_detections("", "empty.txt", ObjectClass.PEDESTRIAN).frame.shape == (0,)
    with pytest.raises(DataError, match=r"r\.txt:1: x2 < x1"):
        parse_rrc_detections("0,400,160,300,288,0.5\n", "r.txt", ObjectClass.CAR)


def test_sequence_reader_merges_class_folders_by_frame_and_checks_folder_class(tmp_path: Path):
    (tmp_path / "Car").mkdir()
    (tmp_path / "Pedestrian").mkdir()
    (tmp_path / "Car" / "0003.txt").write_text(CAR.replace("0,2,", "3,2,", 1) + "\n")
    (tmp_path / "Pedestrian" / "0003.txt").write_text(PED + "\n")
    dets = read_ab3dmot_sequence(tmp_path, "0003")
    np.testing.assert_array_equal(dets.frame, [2, 3])
    (tmp_path / "Pedestrian" / "0003.txt").write_text(CAR + "\n")
    with pytest.raises(DataError, match="Pedestrian folder"):
        read_ab3dmot_sequence(tmp_path, "0003")
    with pytest.raises(FileNotFoundError, match="0099"):
        read_ab3dmot_sequence(tmp_path, "0099")


def test_frame_slices_cover_every_frame_and_reject_out_of_range():
    slices = frame_slices(np.array([0, 0, 2, 5]), 6, "x")
    assert [s.stop - s.start for s in slices] == [2, 0, 1, 0, 0, 1]
    with pytest.raises(DataError, match="frame 6 outside"):
        frame_slices(np.array([1, 6]), 6, "x")


def test_seqmap_parses_counts_and_rejects_bad_lines(tmp_path: Path):
    path = tmp_path / "seqmap"
    path.write_text("0000 empty 000000 000154\n0001 empty 000000 000447\n")
    assert [(e.sequence, e.num_frames) for e in read_seqmap(path)] == [("0000", 154), ("0001", 447)]
    path.write_text("0000 empty 000000 000154\n0001 000447\n")
    with pytest.raises(DataError, match=r"seqmap:2"):
        read_seqmap(path)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from(list("0123456789.,-e ")), max_size=80), max_size=8)
)
def test_detection_parsers_fuzz_raise_only_data_errors(lines: list[str]):
    text = "\n".join(lines)
    for parse in (
        lambda: parse_ab3dmot_detections(text, "fuzz.txt"),
        lambda: parse_rrc_detections(text, "fuzz.txt", ObjectClass.CAR),
    ):
        try:
            dets = parse()
        except DataError as err:
            assert str(err).startswith("fuzz.txt:")
        else:
            assert (dets.frame >= 0).all()
