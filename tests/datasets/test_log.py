"""The Log contract: lazy cached frames, ordered read-ahead, errors re-raised, lenient skips."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np
import pytest

from drivestack.datasets.errors import DataError
from drivestack.datasets.log import Frame, Log, SkippedFrame, check_index
from drivestack.msgs import EgoState, Message, PointCloud


def ego(stamp: int) -> EgoState:
    return EgoState(
        stamp_ns=stamp,
        frame_id="world",
        pose=np.eye(4),
        velocity=np.zeros(3),
        acceleration=np.zeros(3),
    )


class ListLog(Log):
    """Frames 0..n-1 at 100 ms; ``bad`` frames raise DataError when their lidar is loaded."""

    def __init__(self, n: int, bad: frozenset[int] = frozenset(), lidar_every: int = 1):
        self.name, self.n, self.bad, self.lidar_every = "list", n, bad, lidar_every
        self.loads: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    def streams(self) -> Mapping[str, type[Message]]:
        return {"ego": EgoState, "lidar": PointCloud}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Frame:
        i = check_index(index, self.n, self.name)
        stamp = i * 100_000_000
        loaders = {"ego": lambda: self._load(i, "ego", ego(stamp))}
        if i % self.lidar_every == 0:
            loaders["lidar"] = lambda: self._lidar(i, stamp)
        return Frame(i, stamp, loaders, self.name)

    def _load(self, i: int, stream: str, msg: Message) -> Message:
        with self.lock:
            self.loads.append((i, stream))
        return msg

    def _lidar(self, i: int, stamp: int) -> Message:
        if i in self.bad:
            raise DataError(f"scan_{i}.bin: truncated")
        return self._load(
            i,
            "lidar",
            PointCloud(stamp_ns=stamp, frame_id="ego", points=np.zeros((3, 4), np.float32)),
        )


@pytest.mark.parametrize("read_ahead", [0, 1, 8])
def test_iter_messages_yields_every_frame_in_time_order(read_ahead: int):
    log = ListLog(30, lidar_every=3)
    seen = list(log.iter_messages(read_ahead=read_ahead))
    assert [f.index for f, _ in seen] == list(range(30))
    assert [m["ego"].stamp_ns for _, m in seen] == [i * 100_000_000 for i in range(30)]
    assert all(("lidar" in m) == (f.index % 3 == 0) for f, m in seen)


def test_frame_load_is_lazy_and_cached():
    log = ListLog(3)
    frame = log[1]
    assert log.loads == []
    assert frame.load("ego") is frame.load("ego")
    assert log.loads == [(1, "ego")]


def test_missing_stream_key_error_names_stream_and_frame():
    frame = ListLog(5, lidar_every=2)[3]
    with pytest.raises(KeyError, match="frame 3: no stream 'lidar'"):
        frame.load("lidar")
    with pytest.raises(KeyError, match="radar"):
        ListLog(2).iter_messages(["radar"])  # at the call, not at the first frame
    with pytest.raises(ValueError, match="on_error"):
        ListLog(2).iter_messages(on_error="sloppy")  # type: ignore[arg-type]


def test_index_out_of_range_and_negative_index():
    log = ListLog(4)
    assert log[-1].index == 3
    with pytest.raises(IndexError, match="frame 4 out of range"):
        log[4]


def test_strict_reading_reraises_loader_error_in_caller_after_earlier_frames():
    got = []
    with pytest.raises(DataError, match="scan_5.bin"):
        for frame, _ in ListLog(10, bad=frozenset({5})).iter_messages(read_ahead=4):
            got.append(frame.index)
    assert got == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("read_ahead", [0, 3])
def test_lenient_reading_skips_and_records_bad_frames(read_ahead: int):
    skipped: list[SkippedFrame] = []
    log = ListLog(10, bad=frozenset({2, 7}))
    got = [
        f.index
        for f, _ in log.iter_messages(read_ahead=read_ahead, on_error="lenient", skipped=skipped)
    ]
    assert got == [0, 1, 3, 4, 5, 6, 8, 9]
    assert [s.index for s in skipped] == [2, 7] and "scan_7.bin" in skipped[1].error


def test_abandoned_iteration_stops_the_read_ahead_thread():
    log = ListLog(1000)
    before = threading.active_count()
    iterator = log.iter_messages(["ego"], read_ahead=2)
    next(iterator)
    iterator.close()
    assert threading.active_count() == before
    assert len(log.loads) < 10  # it stopped near the consumer, not at the end of the log
