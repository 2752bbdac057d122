"""Corrupted, cut and schema-less recordings: read what is readable, typed errors otherwise."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from mcap.writer import Writer

from drivestack.cli.main import main as drive
from drivestack.record.mcap_io import Recording, RecordingError, RecordingWarning
from tests.record.test_record import write_recording


def chunk_offsets(path: Path) -> list[tuple[int, int]]:
    from mcap.reader import make_reader

    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
    assert summary is not None
    return sorted((c.chunk_start_offset, c.chunk_length) for c in summary.chunk_indexes)


def read_all(path: Path) -> tuple[list[tuple[str, int, bytes]], Recording]:
    rec = Recording(path)
    got = [(m.topic, m.log_time_ns, m.data) for m in rec.messages()]
    return got, rec


@pytest.mark.parametrize("where", ["payload", "header"])
def test_corrupted_middle_chunk_is_skipped_and_every_other_message_comes_back(tmp_path, where):
    written = write_recording(tmp_path / "a.mcap", frames=20, chunk_size=16384)
    data = bytearray((tmp_path / "a.mcap").read_bytes())
    chunks = chunk_offsets(tmp_path / "a.mcap")
    assert len(chunks) >= 5
    start, length = chunks[len(chunks) // 2]
    clean, _ = read_all(tmp_path / "a.mcap")
    assert clean == written
    lo = start + (100 if where == "payload" else 0)  # "header": the chunk's opcode and length too
    n = min(4096, length - 100)
    data[lo:lo + n] = bytes(b ^ 0xFF for b in data[lo:lo + n])
    (tmp_path / "bad.mcap").write_bytes(bytes(data))
    with pytest.warns(RecordingWarning, match=f"bytes? {start}"):
        got, rec = read_all(tmp_path / "bad.mcap")
    assert rec.skipped and str(start) in rec.skipped[0] and rec.truncated is None
    # Exactly one contiguous run of messages (the bad chunk's) is missing, nothing else.
    k = next(i for i, (g, w) in enumerate(zip(got, written, strict=False)) if g != w)
    lost = len(written) - len(got)
    assert 0 < lost < len(written) // 2
    assert got == written[:k] + written[k + lost:]


def test_play_and_diff_of_a_corrupted_recording_warn_on_stderr_and_do_not_crash(tmp_path, capsys):
    write_recording(tmp_path / "a.mcap", frames=20, chunk_size=16384)
    data = bytearray((tmp_path / "a.mcap").read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4096] = bytes(b ^ 0x5A for b in data[mid:mid + 4096])
    (tmp_path / "bad.mcap").write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingWarning)
        assert drive(["diff", str(tmp_path / "a.mcap"), str(tmp_path / "bad.mcap")]) == 1
        err = capsys.readouterr().err
        assert "corrupted chunk at byte" in err or "unreadable bytes" in err
        assert drive(["play", str(tmp_path / "bad.mcap"), "-q"]) in (0, 1)
        err = capsys.readouterr().err
        assert "Traceback" not in err and ("corrupted chunk at byte" in err or "unreadable bytes" in err)


def test_play_and_diff_silence_recording_warnings_only_while_they_run(tmp_path, capsys):
    write_recording(tmp_path / "a.mcap", frames=20, chunk_size=16384)
    data = bytearray((tmp_path / "a.mcap").read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4096] = bytes(b ^ 0x5A for b in data[mid:mid + 4096])
    (tmp_path / "bad.mcap").write_bytes(bytes(data))
    assert drive(["diff", str(tmp_path / "a.mcap"), str(tmp_path / "bad.mcap")]) == 1
    assert drive(["play", str(tmp_path / "bad.mcap"), "-q"]) in (0, 1)
    capsys.readouterr()
    # A later in-process reader is still warned: the commands' filter ended with them
    # (record=True keeps the filters in force, unlike pytest.warns, which resets them).
    with warnings.catch_warnings(record=True) as seen:
        read_all(tmp_path / "bad.mcap")
    assert any(issubclass(w.category, RecordingWarning) for w in seen)


def test_cut_tail_reads_the_prefix_and_names_the_offset(tmp_path):
    written = write_recording(tmp_path / "a.mcap", frames=10, chunk_size=8192)
    data = (tmp_path / "a.mcap").read_bytes()
    start, _ = chunk_offsets(tmp_path / "a.mcap")[-1]
    (tmp_path / "cut.mcap").write_bytes(data[: start + 100])  # cut inside the last chunk
    got, rec = read_all(tmp_path / "cut.mcap")
    assert got == written[: len(got)] and 0 < len(got) < len(written)
    assert rec.truncated and f"byte {start}" in rec.truncated and str(tmp_path / "cut.mcap") in rec.truncated


def test_channel_without_its_schema_is_a_typed_error_naming_file_and_offset(tmp_path):
    path = tmp_path / "noschema.mcap"
    with open(path, "wb") as f:
        w = Writer(f)
        w.start(profile="drivestack")
        channel = w.register_channel("/c", "json", schema_id=7)  # schema 7 never written
        w.add_message(channel, log_time=1, data=b"{}", publish_time=1)
        w.finish()
    with pytest.raises(RecordingError, match=f"{path}: byte -?[0-9]+: channel '/c' refers to schema id 7"):
        list(Recording(path).messages())
    assert drive(["diff", str(path), str(path)]) == 2
