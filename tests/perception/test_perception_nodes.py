"""Perception nodes run through the bus harness: outputs, and bad input as recorded failures."""

from __future__ import annotations

import numpy as np
from perception_scenes import box_surface, flat_ground, front_camera

from drivestack.bus.harness import run_node
from drivestack.bus.registry import NODES
from drivestack.msgs import Detections2D, ObjectClass, PointCloud
from drivestack.perception.fusion import project_boxes
from drivestack.perception.nodes import FusionNode, LidarDetectorNode


def _cloud(stamp_ns: int) -> PointCloud:
    rng = np.random.default_rng(0)
    pts = np.concatenate(
        [
            flat_ground(rng, slope=0.0),
            box_surface((15.0, 3.0), (4.0, 1.7, 1.5), 0.2, -1.7, rng),
            box_surface((10.0, -2.0), (0.6, 0.6, 1.75), 0.0, -1.7, rng, 300),
        ]
    )
    return PointCloud(
        stamp_ns=stamp_ns, frame_id="ego", points=np.c_[pts, np.zeros(len(pts))].astype(np.float32)
    )


def test_nodes_are_registered_by_their_launch_names() -> None:
    assert {"camera_detector", "lidar_detector", "fusion"} <= set(NODES.names())


def test_lidar_node_publishes_one_detection_message_per_scan() -> None:
    result = run_node(LidarDetectorNode(), [("points", _cloud(0)), ("points", _cloud(100_000_000))])
    dets = result.of("detections")
    assert [d.stamp_ns for d in dets] == [0, 100_000_000]
    assert sorted(dets[0].class_ids.tolist()) == [ObjectClass.CAR, ObjectClass.PEDESTRIAN]
    assert not result.summary.failures


def test_lidar_node_records_a_nan_scan_as_a_failure_not_an_empty_result() -> None:
    bad = _cloud(0)
    pts = bad.points.copy()
    pts[5, 0] = np.nan
    bad = PointCloud(stamp_ns=0, frame_id="ego", points=pts)
    result = run_node(LidarDetectorNode(), [("points", bad), ("points", _cloud(100_000_000))])
    assert [d.stamp_ns for d in result.of("detections")] == [100_000_000]
    assert len(result.summary.failures) == 1
    assert "NaN/inf" in result.summary.failures[0].error


def test_fusion_node_fuses_camera_pedestrian_with_the_scan_of_the_same_stamp() -> None:
    cloud = _cloud(0)
    lidar = run_node(LidarDetectorNode(), [("points", cloud)]).of("detections")[0]
    cam = front_camera()
    ped = np.array([[10.0, -2.0, -0.8, 0.6, 0.6, 1.75, 0.0]])
    box2d, _ = project_boxes(ped, cam)
    det2d = Detections2D(
        stamp_ns=0,
        frame_id=cam.frame_id,
        boxes=box2d,
        scores=np.array([0.9], np.float32),
        class_ids=np.array([ObjectClass.PEDESTRIAN], np.int32),
    )
    result = run_node(
        FusionNode(),
        [("calibration", cam), ("camera_detections", det2d), ("points", cloud), ("lidar", lidar)],
    )
    fused = result.of("detections")
    assert len(fused) == 1 and not result.summary.failures
    best = int(np.argmax(fused[0].scores))
    assert fused[0].class_ids[best] == ObjectClass.PEDESTRIAN
    assert fused[0].scores[best] > 0.9  # camera and LiDAR agree
