from __future__ import annotations

import numpy as np
import pytest

from drivestack.bus import NodeSpec
from drivestack.bus.deterministic import DeterministicExecutor
from drivestack.cli.main import main as drive
from drivestack.launch import LaunchError, load_launch
from drivestack.record.diff import diff_recordings
from drivestack.record.mcap_io import Recording
from drivestack.sim.replay import SAMPLES, LogReplay, ReplayConfig

DEMO = SAMPLES.parents[1] / "launch" / "demo.yaml"


def test_demo_replay_records_every_frame_in_time_order(tmp_path):
    out = tmp_path / "demo.mcap"
    assert drive(["run", str(DEMO), "--record", str(out), "-q", "--summary", str(tmp_path / "s.json")]) == 0
    by_topic: dict[str, list[int]] = {}
    for m in Recording(out).messages():
        by_topic.setdefault(m.topic, []).append(m.decode().stamp_ns)
    assert set(by_topic) == {"/log/ego", "/log/annotations", "/log/detections"}
    for stamps in by_topic.values():
        assert stamps == [k * 100_000_000 for k in range(270)]


def test_same_log_same_launch_same_seed_gives_no_divergence(tmp_path):
    a, b = tmp_path / "a.mcap", tmp_path / "b.mcap"
    assert drive(["run", str(DEMO), "--record", str(a), "-q"]) == 0
    assert drive(["run", str(DEMO), "--record", str(b), "-q"]) == 0
    result = diff_recordings(a, b)
    assert result.identical and result.compared == 3 * 270


def test_replayed_ego_poses_match_the_log():
    replay = LogReplay(ReplayConfig(streams=("ego",)), name="replay")
    ex = DeterministicExecutor([NodeSpec("replay", replay)])
    poses = []
    ex.bus.subscribe("/log/ego", notify=lambda s: poses.append(s.buf.pop().pose))
    ex.run()
    log = replay.log
    assert len(poses) == len(log) == 270
    np.testing.assert_array_equal(poses[100], log[100].load("ego").pose)


def test_unknown_stream_and_missing_root_are_clear_errors(tmp_path):
    with pytest.raises(LaunchError, match=r"demo.yaml:\d+: node 'replay': .*no stream\(s\) \['lidar'\]"):
        load_launch(DEMO, ["replay.streams=[lidar]"])
    with pytest.raises(LaunchError, match=r"calib/0006.txt"):
        load_launch(DEMO, [f"replay.root={tmp_path}"])


@pytest.mark.data
def test_replay_reads_any_sequence_of_the_shared_data(data_root):
    launch = load_launch(DEMO, [f"replay.root={data_root / 'kitti_tracking'}", "replay.sequence='0012'"])
    summary = launch.build_executor().run()
    counts = {t.topic: t.count for t in summary.topics}
    assert counts["/log/ego"] == 78 and counts["/log/detections"] == 78 and not summary.failures


@pytest.mark.data
@pytest.mark.parametrize(
    "overrides, topic, count",
    [
        (["replay.dataset=kitti_object", "replay.root={root}/kitti_object", "replay.split=''"], "/log/lidar", 6),
        (["replay.dataset=kitti_raw", "replay.root={root}/kitti_raw/2011_09_26_drive_unknown_sfnd"], "/log/lidar", 12),
        (["replay.dataset=nuscenes", "replay.root={root}/nuscenes", "replay.sequence=scene-0916",
          "replay.placeholders=true", "replay.key_frames_only=true", "replay.streams=[lidar, annotations]"], "/log/lidar", 20),
    ],
)
def test_replay_plays_every_reader_of_the_shared_data(data_root, overrides, topic, count):
    launch = load_launch(DEMO, [o.format(root=data_root) for o in overrides])
    summary = launch.build_executor().run()
    counts = {t.topic: t.count for t in summary.topics}
    assert not summary.failures, summary.failures
    assert counts[topic] == count


def test_planning_replay_reruns_are_identical(tmp_path):
    # Planner and controller on the shipped log, twice: plans and commands must not differ
    # (a wall-clock search budget once made them depend on the machine's speed).
    launch = DEMO.parent / "planning_replay.yaml"
    a, b = tmp_path / "a.mcap", tmp_path / "b.mcap"
    for out in (a, b):
        assert drive(["run", str(launch), "--duration", "3", "--record", str(out), "-q"]) == 0
    result = diff_recordings(a, b)
    assert result.identical, result.divergence
    assert result.compared > 60  # 30 plans at 10 Hz, 60 commands at 20 Hz
