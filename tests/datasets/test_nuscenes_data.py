"""nuScenes extract on the shared data, checked against the devkit's own geometry (``data``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nuscenes.utils.geometry_utils import BoxVisibility, view_points

from drivestack.datasets.convention import points_in_boxes, project_to_image, transform_points
from drivestack.datasets.errors import DataError
from drivestack.datasets.nuscenes.log import NuScenesConfig, NuScenesLog, pose_matrix
from drivestack.datasets.nuscenes.tables import missing_tables

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def scene_log(data_root: Path) -> NuScenesLog:
    root = data_root / "nuscenes"
    config = NuScenesConfig(placeholders=True, key_frames_only=True)
    return NuScenesLog(root, "scene-0916", config)


def snapshot(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))


def test_missing_tables_are_named_with_the_work_around_and_the_folder_is_untouched(data_root: Path):
    root = data_root / "nuscenes"
    before = snapshot(root)
    assert missing_tables(root, "v1.0-extract") == ["attribute", "visibility", "log", "map"]
    with pytest.raises(DataError, match=r"missing nuScenes table\(s\) attribute, visibility, log, map.*placeholders=True"):
        NuScenesLog(root, "scene-0916")
    NuScenesLog(root, "scene-0916", NuScenesConfig(placeholders=True, key_frames_only=True))
    assert snapshot(root) == before


def test_first_key_frame_matches_the_devkit_counts(scene_log: NuScenesLog):
    frame = scene_log[0]
    assert frame.load("lidar").points.shape == (34560, 4)
    assert len(frame.load("annotations").boxes) == 40
    assert len(scene_log) == 41 and sum("lidar" in f.streams() for f in scene_log) == 20


def test_annotation_boxes_in_ego_equal_devkit_lidar_boxes_moved_by_calibration(scene_log: NuScenesLog):
    nusc = scene_log.nusc
    for frame in list(scene_log)[:20:4]:
        sd = scene_log.lidar_sample_data(frame.index)
        _, dev_boxes, _ = nusc.get_sample_data(sd["token"])
        ego_from_lidar = pose_matrix(nusc.get("calibrated_sensor", sd["calibrated_sensor_token"]))
        ours = frame.load("annotations")
        by_track = {int(t): b for t, b in zip(ours.track_ids, ours.boxes, strict=True)}
        for box in dev_boxes:
            track = scene_log.track_id(nusc.get("sample_annotation", box.token)["instance_token"])
            centre = transform_points(ego_from_lidar, box.center[None])[0]
            heading = ego_from_lidar[:3, :3] @ box.orientation.rotation_matrix[:, 0]
            expected = [*centre, box.wlh[1], box.wlh[0], box.wlh[2]]
            np.testing.assert_allclose(by_track[track][:6], expected, atol=1e-4)
            assert abs(np.angle(np.exp(1j * (by_track[track][6] - np.arctan2(heading[1], heading[0]))))) < 1e-5


def test_lidar_points_in_annotated_boxes_project_into_their_devkit_cam_front_boxes(scene_log: NuScenesLog):
    """Our lidar (ego), boxes (ego) and CAM_FRONT calibration (ego at lidar time -> camera) put
    the points of each box inside the 2D box the devkit projects for that annotation."""
    nusc = scene_log.nusc
    checked = 0
    for frame in list(scene_log)[:20:2]:
        points, tracks = frame.load("lidar").points, frame.load("annotations")
        calib = frame.load("calib_front")
        lidar_sd = scene_log.lidar_sample_data(frame.index)
        cam_token = nusc.get("sample", lidar_sd["sample_token"])["data"]["CAM_FRONT"]
        _, cam_boxes, intrinsics = nusc.get_sample_data(cam_token, box_vis_level=BoxVisibility.ALL)
        inside = points_in_boxes(points, tracks.boxes)  # (P, N)
        for box in cam_boxes:
            track = scene_log.track_id(nusc.get("sample_annotation", box.token)["instance_token"])
            column = int(np.flatnonzero(tracks.track_ids == track)[0])
            mine = points[inside[:, column], :3]
            if len(mine) < 10:
                continue
            corners = view_points(box.corners(), intrinsics, normalize=True)[:2]  # (2, 8)
            low, high = corners.min(axis=1) - 3.0, corners.max(axis=1) + 3.0  # [px] margin
            uv, depth = project_to_image(transform_points(calib.extrinsics, mine), calib.projection)
            hit = (depth > 0) & (uv >= low).all(axis=1) & (uv <= high).all(axis=1)
            assert hit.mean() > 0.97, f"frame {frame.index} track {track}: {hit.mean():.2f}"
            checked += 1
    assert checked >= 20


def test_ego_velocity_matches_pose_differences(scene_log: NuScenesLog):
    states = [f.load("ego") for f in scene_log]
    t = np.array([s.stamp_ns for s in states]) / 1e9
    position = np.stack([s.pose[:3, 3] for s in states])
    world_v = np.stack([s.pose[:3, :3] @ s.velocity for s in states])
    # np.gradient weights the two sides by their spacing; key frames are ~0.5 s apart.
    np.testing.assert_allclose(world_v[1:-1], (position[2:] - position[:-2]) / (t[2:] - t[:-2])[:, None], atol=0.1)
    assert np.linalg.norm(world_v, axis=1).max() > 2.0  # [m/s] the ego does move
