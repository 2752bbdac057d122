from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from mcap.reader import make_reader

from drivestack.cli.main import main as drive
from drivestack.msgs import (
    MESSAGE_TYPES,
    BehaviourCommand,
    CameraCalibration,
    ControlCommand,
    CostGrid,
    Detections2D,
    Detections3D,
    EgoState,
    Image,
    Manoeuvre,
    ObjectForecasts,
    PlanStatus,
    PointCloud,
    ScenarioMetrics,
    TrackedObjects,
    Trajectory,
)
from drivestack.msgs import (
    Path as PathMsg,
)
from drivestack.record.codec import decode, encode
from drivestack.record.diff import _compare, diff_recordings
from drivestack.record.mcap_io import NotMcapError, Recorder, Recording


def one_of_each(t: int, rng: np.random.Generator) -> list[tuple[str, object]]:
    f32 = lambda *s: rng.normal(size=s).astype(np.float32)  # noqa: E731
    f64 = lambda *s: rng.normal(size=s)  # noqa: E731
    n = 3
    return [
        ("/lidar", PointCloud(stamp_ns=t, frame_id="ego", points=np.vstack([f32(50, 4), [[np.nan, -0.0, np.inf, 1e-45]]]).astype(np.float32))),
        ("/cam", Image(stamp_ns=t, frame_id="camera_2", data=rng.integers(0, 255, (4, 6, 3), dtype=np.uint8))),
        ("/calib", CameraCalibration(stamp_ns=t, frame_id="camera_2", width=6, height=4, intrinsics=f64(3, 3),
                                     projection=f64(3, 4), extrinsics=f64(4, 4))),
        ("/ego", EgoState(stamp_ns=t, frame_id="world", pose=f64(4, 4), velocity=f64(3), acceleration=f64(3), yaw_rate=0.1)),
        ("/det2d", Detections2D(stamp_ns=t, frame_id="camera_2", boxes=np.array([[1, 2, 3, 4]] * n, np.float32),
                                scores=f32(n), class_ids=np.arange(n, dtype=np.int32))),
        ("/det3d", Detections3D(stamp_ns=t, frame_id="ego", boxes=np.abs(f32(n, 7)), scores=f32(n), class_ids=np.ones(n, np.int32))),
        ("/tracks", TrackedObjects(stamp_ns=t, frame_id="world", track_ids=np.arange(n, dtype=np.int64), boxes=f32(n, 7),
                                   velocities=f32(n, 3), covariance=f32(n, 6, 6), scores=f32(n), class_ids=np.ones(n, np.int32),
                                   ages=np.ones(n, np.int32))),
        ("/forecasts", ObjectForecasts(stamp_ns=t, frame_id="world", track_ids=np.arange(n, dtype=np.int64), horizons=np.array([1.0, 2.0]),
                                       positions=f32(n, 2, 2), position_std=f32(n, 2, 2), sizes=f32(n, 3), class_ids=np.ones(n, np.int32))),
        ("/costmap", CostGrid(stamp_ns=t, frame_id="world", cost=f32(5, 7), origin=f64(3), resolution=0.2)),
        ("/route", PathMsg(stamp_ns=t, frame_id="world", poses=f64(4, 3))),
        ("/traj", Trajectory(stamp_ns=t, frame_id="world", times=np.arange(4.0), poses=f64(4, 3), speeds=f64(4),
                             accelerations=f64(4), curvatures=f64(4), status=PlanStatus.BUDGET_EXHAUSTED, detail="x")),
        ("/behaviour", BehaviourCommand(stamp_ns=t, frame_id="ego", manoeuvre=Manoeuvre.YIELD, target_speed=3.0)),
        ("/control", ControlCommand(stamp_ns=t, frame_id="ego", steering_angle=-0.0, acceleration=0.1 + 0.2)),
        ("/sim/metrics", ScenarioMetrics(stamp_ns=t, frame_id="world", collision_ids=np.array([4, 9]), at_fault_ids=np.array([9]),
                                         clearance=0.0, min_clearance=0.0, progress=12.5, expert_progress=13.0 + 1e-12,
                                         lateral_error=0.3, max_lateral_error=0.7, speed=-1.5, max_abs_accel=2.0, max_abs_jerk=9.0)),
    ]


def assert_bit_identical(a, b):
    assert type(a) is type(b)
    assert _compare(a, b, "") is None


def test_every_message_type_round_trips_bit_exactly():
    msgs = one_of_each(123, np.random.default_rng(0))
    assert {type(m).__name__ for _, m in msgs} == set(MESSAGE_TYPES)
    for _, m in msgs:
        m.validate()
        back = decode(type(m).__name__, encode(m))
        assert_bit_identical(m, back)
        assert isinstance(getattr(back, "status", PlanStatus.OK), PlanStatus)


def test_torch_tensors_round_trip_as_tensors():
    pc = PointCloud(stamp_ns=1, frame_id="ego", points=torch.randn(10, 4))
    pc.validate()
    back = decode("PointCloud", encode(pc))
    assert isinstance(back.points, torch.Tensor) and torch.equal(back.points, pc.points)


def write_recording(path: Path, frames: int = 20, chunk_size: int = 4096) -> list[tuple[str, int, bytes]]:
    rng = np.random.default_rng(1)
    written = []
    with Recorder(path, chunk_size=chunk_size) as rec:
        for k in range(frames):
            t = k * 100_000_000
            for topic, m in one_of_each(t, rng):
                rec.write(topic, m, t)
                written.append((topic, t, encode(m)))
    return written


def test_recording_round_trip_preserves_order_times_and_bytes(tmp_path):
    written = write_recording(tmp_path / "a.mcap")
    got = [(m.topic, m.log_time_ns, m.data) for m in Recording(tmp_path / "a.mcap").messages()]
    assert got == written
    with open(tmp_path / "a.mcap", "rb") as f:  # a complete file with a summary for other tools
        assert make_reader(f).get_summary().statistics.message_count == len(written)


def test_truncated_recording_reads_a_prefix_up_to_the_last_complete_chunk(tmp_path):
    written = write_recording(tmp_path / "a.mcap")
    data = (tmp_path / "a.mcap").read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 7):
        (tmp_path / "cut.mcap").write_bytes(data[:cut])
        rec = Recording(tmp_path / "cut.mcap")
        got = [(m.topic, m.log_time_ns, m.data) for m in rec.messages()]
        assert got == written[: len(got)]
        assert rec.truncated and "ends early" in rec.truncated
        if cut < len(data) - 7:
            assert 0 < len(got) < len(written)


def test_killed_writer_leaves_readable_prefix(tmp_path):
    out = tmp_path / "killed.mcap"
    script = textwrap.dedent(f"""
        import os, signal, numpy as np
        from drivestack.msgs import ControlCommand
        from drivestack.record.mcap_io import Recorder
        rec = Recorder({str(out)!r}, chunk_size=2048)
        for k in range(5000):
            rec.write("/c", ControlCommand(stamp_ns=k, frame_id="ego", steering_angle=float(k), acceleration=0.0), k)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    rec = Recording(out)
    angles = [m.decode().steering_angle for m in rec.messages()]
    assert rec.truncated
    assert angles == [float(k) for k in range(len(angles))]
    assert len(angles) > 4000  # at most the last unfinished 2 KiB chunk is lost


def test_diff_finds_injected_one_field_change(tmp_path, capsys):
    write_recording(tmp_path / "a.mcap", frames=5)
    assert diff_recordings(tmp_path / "a.mcap", tmp_path / "a.mcap").identical
    # Copy with one element of one array changed in the 4th frame's tracks.
    with Recorder(tmp_path / "b.mcap") as rec:
        for m in Recording(tmp_path / "a.mcap").messages():
            msg = m.decode()
            if m.topic == "/tracks" and m.log_time_ns == 300_000_000:
                boxes = np.array(msg.boxes)
                boxes[2, 4] += 1e-6
                msg = dataclasses.replace(msg, boxes=boxes)
            rec.write(m.topic, msg, m.log_time_ns)
    result = diff_recordings(tmp_path / "a.mcap", tmp_path / "b.mcap")
    d = result.divergence
    assert d is not None and (d.topic, d.index, d.stamp_ns, d.field) == ("/tracks", 3, 300_000_000, "boxes[2, 4]")
    assert drive(["diff", str(tmp_path / "a.mcap"), str(tmp_path / "b.mcap")]) == 1
    assert "first divergence: topic '/tracks', message 3 (stamp 300000000 ns = 0.300 s): field boxes[2, 4]" in capsys.readouterr().out
    assert drive(["diff", str(tmp_path / "a.mcap"), str(tmp_path / "a.mcap")]) == 0


def test_diff_reports_missing_messages(tmp_path):
    write_recording(tmp_path / "a.mcap", frames=5)
    write_recording(tmp_path / "b.mcap", frames=4)
    d = diff_recordings(tmp_path / "a.mcap", tmp_path / "b.mcap").divergence
    assert d is not None and d.index == 4 and d.log_time_ns == 400_000_000 and "absent" in d.b


def test_play_filters_topics_and_time_window_and_rerecords(tmp_path):
    write_recording(tmp_path / "a.mcap", frames=20)
    out = tmp_path / "b.mcap"
    rc = drive(["play", str(tmp_path / "a.mcap"), "--play-topics", "/ego", "/control", "--start", "0.5",
                "--end", "1.0", "--record", str(out), "-q"])
    assert rc == 0
    got = [(m.topic, m.log_time_ns) for m in Recording(out).messages()]
    times = sorted({t for _, t in got})
    assert {tp for tp, _ in got} == {"/ego", "/control"}
    assert times == [k * 100_000_000 for k in range(5, 11)]
    # Played messages are the recorded ones, bit for bit.
    src = {(m.topic, m.log_time_ns): m.data for m in Recording(tmp_path / "a.mcap").messages()}
    assert all(m.data == src[(m.topic, m.log_time_ns)] for m in Recording(out).messages())


def test_play_loop_keeps_time_increasing(tmp_path):
    write_recording(tmp_path / "a.mcap", frames=5)
    out = tmp_path / "loop.mcap"
    assert drive(["play", str(tmp_path / "a.mcap"), "--play-topics", "/control", "--loop", "--duration", "1.2",
                  "--record", str(out), "-q"]) == 0
    stamps = [m.decode().stamp_ns for m in Recording(out).messages()]
    assert len(stamps) > 5 and all(b > a for a, b in zip(stamps, stamps[1:], strict=False))


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
def test_sigint_during_realtime_playback_closes_the_recording(tmp_path):
    write_recording(tmp_path / "a.mcap", frames=100)  # 10 s of data
    out = tmp_path / "cut.mcap"
    # Regression (of the test): run as a background job of a non-interactive shell (`.ci/run &`)
    # pytest inherits SIGINT ignored, and so did the player, which then played all 10 s. The
    # player gets SIGINT's default disposition, as in a terminal.
    proc = subprocess.Popen([sys.executable, "-m", "drivestack.cli.main", "play", str(tmp_path / "a.mcap"),
                             "--rate", "1", "--record", str(out), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Start-up is slow on a loaded machine: wait until messages are being recorded (the file
    # exists, with its header, before the nodes are reset and the run starts; the recorder
    # flushes every message, so a live file reads up to its last one).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        # The file exists before its header is written (a loaded machine shows it empty):
        # not an MCAP file *yet* means keep waiting.
        try:
            if out.exists() and next(Recording(out).messages(), None) is not None:
                break
        except NotMcapError:
            pass
        time.sleep(0.1)
    time.sleep(2.0)  # about 2 s of the 10 s recording played
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    rec = Recording(out)
    got = list(rec.messages())
    assert rec.truncated is None  # closed properly: summary and footer written
    with open(out, "rb") as f:
        assert make_reader(f).get_summary() is not None
    assert 0 < len(got) < 100 * 13


def test_a_file_that_is_not_mcap_is_an_error_not_an_empty_recording(tmp_path, capsys):
    # Regression: such a file used to play as an empty recording (exit 0) and diff as identical.
    bad = tmp_path / "notes.mcap"
    bad.write_text("hello\n")
    with pytest.raises(ValueError, match=r"notes.mcap: not an MCAP file"):
        Recording(bad)
    assert drive(["play", str(bad), "-q"]) == 2
    assert drive(["diff", str(bad), str(bad)]) == 2
    assert drive(["diff", str(tmp_path / "absent.mcap"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not an MCAP file" in err and "absent.mcap: no such recording" in err
