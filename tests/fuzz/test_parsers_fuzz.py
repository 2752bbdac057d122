"""Mutation fuzzing of every parser that reads a user file, seeded from the real data.

Contract: a correct parse or the project's typed error naming the file; never another
exception. CI size by default (a few seconds per target); ``DRIVESTACK_FUZZ_EXAMPLES=5000``
runs longer for humans.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.calib import read_calib
from drivestack.datasets.kitti.label_file import (
    LabelFileError,
    read_object_labels,
    read_tracking_labels,
)
from drivestack.datasets.kitti.oxts import read_oxts
from drivestack.datasets.kitti.tracking import parse_ab3dmot_detections, parse_rrc_detections
from drivestack.datasets.sensor_files import read_points_bin
from drivestack.launch import LaunchError, load_launch
from drivestack.msgs import ObjectClass
from drivestack.record.mcap_io import Recording, RecordingError

DATA = Path(os.environ.get("DRIVESTACK_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))
FUZZ = settings(
    max_examples=int(os.environ.get("DRIVESTACK_FUZZ_EXAMPLES", "60")), deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TYPED = (DataError, LabelFileError, LaunchError, RecordingError)
pytestmark = pytest.mark.data

GARBAGE = st.sampled_from([b"nan", b"inf", b"-inf", b"1e999", b",", b" ", b"\t", b"\n", b"\x00", b"\xff\xfe",
                           "é".encode("latin-1"), "ü".encode(), b"\r\n", b":", b"0x1f", b"-", b"\xef\xbb\xbf"])


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "flip", "insert", "delete_column"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "cut":
            del data[at:]
        elif kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(GARBAGE)
        elif kind == "delete_column":
            end = data.find(b" ", at)
            if end > 0:
                del data[at:end]
    return bytes(data)


def seed(rel: str, limit: int = 3000) -> bytes:
    path = DATA / rel
    if not path.is_file():
        pytest.skip(f"real data not found: {path} (set DRIVESTACK_DATA)")
    return path.read_bytes()[:limit]


def check(tmp_path: Path, name: str, data: bytes, read: Callable[[Path], object]) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        read(path)
    except TYPED as err:
        assert str(path) in str(err), f"typed error does not name the file: {err}"


def text(read: Callable[[str, str], object]) -> Callable[[Path], object]:
    def go(path: Path) -> object:
        try:
            content = path.read_text()
        except UnicodeDecodeError:
            return None  # the file-level readers handle encodings; these take text
        return read(content, str(path))
    return go


TARGETS: dict[str, tuple[str, str, Callable[[Path], object]]] = {
    "object_label": ("kitti_object/label_2/000000.txt", "000000.txt", read_object_labels),
    "tracking_label": ("kitti_tracking/label_02/0000.txt", "0000.txt", read_tracking_labels),
    "tracking_result": ("kitti_tracking/reference/ab3dmot_pointrcnn_val_H1/data_0/0001.txt", "0001.txt",
                        read_tracking_labels),
    "calib_tracking_keys": ("kitti_tracking/calib/0000.txt", "calib.txt", read_calib),
    "calib_object_keys": ("kitti_object/calib/000000.txt", "calib.txt", read_calib),
    "oxts": ("kitti_tracking/oxts/0000.txt", "oxts.txt", read_oxts),
    "ab3dmot_detections": ("kitti_tracking/detections/pointrcnn_val/Car/0000.txt", "det.txt",
                           text(parse_ab3dmot_detections)),
    "rrc_detections": ("kitti_tracking/detections/rrc_training/Car/0000.txt", "rrc.txt",
                       text(lambda t, s: parse_rrc_detections(t, s, ObjectClass.CAR))),
    "velodyne_bin": ("kitti_object/velodyne/000000.bin", "000000.bin", lambda p: read_points_bin(p, 4)),
}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_parser_gives_a_parse_or_a_typed_error_naming_the_file(tmp_path: Path, target: str) -> None:
    rel, name, read = TARGETS[target]
    base = seed(rel)

    @FUZZ
    @given(mutated(base))
    def run(data: bytes) -> None:
        check(tmp_path, name, data, read)

    run()


def test_launch_yaml_gives_a_launch_or_a_typed_error(tmp_path: Path) -> None:
    base = (Path(__file__).resolve().parents[2] / "launch" / "demo.yaml").read_bytes()

    @FUZZ
    @given(mutated(base))
    def run(data: bytes) -> None:
        check(tmp_path, "demo.yaml", data, load_launch)

    run()


def test_mcap_gives_messages_or_a_typed_error(tmp_path: Path) -> None:
    from tests.record.test_record import write_recording

    write_recording(tmp_path / "a.mcap", frames=4, chunk_size=4096)
    base = (tmp_path / "a.mcap").read_bytes()

    def read(path: Path) -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [m.topic for m in Recording(path).messages()]

    @FUZZ
    @given(mutated(base))
    def run(data: bytes) -> None:
        check(tmp_path, "fuzz.mcap", data, read)

    run()
