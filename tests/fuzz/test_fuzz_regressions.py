"""The minimal inputs of the crashes the fuzzers found, each a typed error naming the file."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.calib import read_calib
from drivestack.datasets.kitti.oxts import read_oxts
from drivestack.launch import LaunchError, load_launch
from drivestack.record.mcap_io import MCAP_MAGIC, Recording


@pytest.mark.parametrize("read", [read_calib, read_oxts])
def test_non_utf8_text_file_is_a_data_error_naming_file_and_byte(tmp_path: Path, read) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"\xff\xfe")  # found by the calib fuzzer: was UnicodeDecodeError
    with pytest.raises(DataError, match=f"{path}: byte 0: not UTF-8"):
        read(path)


def test_non_utf8_launch_file_is_a_launch_error(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_bytes(b"# Th\x9a main job\n")  # found by the launch fuzzer: was UnicodeDecodeError
    with pytest.raises(LaunchError, match=f"{path}: byte 4: not UTF-8"):
        load_launch(path)


def test_mcap_record_with_a_huge_length_field_ends_the_read_without_allocating_it(tmp_path: Path) -> None:
    # Found by the MCAP fuzzer: a chunk whose records-length field says ~2**63 bytes
    # (MemoryError / OverflowError before). Header record, then such a chunk.
    header = b"\x01" + struct.pack("<Q", 8) + struct.pack("<I", 0) + struct.pack("<I", 0)
    chunk_body = struct.pack("<QQQI", 0, 0, 0, 0) + struct.pack("<I", 4) + b"zstd" + struct.pack("<Q", 2**63 - 1)
    chunk = b"\x06" + struct.pack("<Q", len(chunk_body)) + chunk_body
    path = tmp_path / "huge.mcap"
    path.write_bytes(MCAP_MAGIC + header + chunk)
    rec = Recording(path)
    assert list(rec.messages()) == []
    assert rec.truncated and str(path) in rec.truncated and "ends early at byte" in rec.truncated


def test_launch_mapping_used_as_a_key_is_a_launch_error(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text("? {a: 1}\n: x\n")  # found by the launch fuzzer: was TypeError (unhashable)
    with pytest.raises(LaunchError, match="a key must be a plain scalar"):
        load_launch(path)


def test_launch_record_path_null_is_a_launch_error(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text("record:\n  path:\nnodes: {}\n")  # found by the launch fuzzer: was TypeError
    with pytest.raises(LaunchError, match=f"{path}.*record.path must be a file name"):
        load_launch(path)
