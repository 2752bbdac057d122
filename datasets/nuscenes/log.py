"""A nuScenes scene as a :class:`Log`: one frame per LIDAR_TOP sample_data (sweeps + key frames).

Frames are the LIDAR_TOP sweeps (20 Hz) of the scene, or only its key frames (2 Hz) with
``key_frames_only``. Stamps are the lidar's (nuScenes' [us] * 1000). The ego frame is
ego_pose's origin (rear axle) at the lidar time; world is nuScenes' global frame.

Streams, per frame where the sensor file exists (sensor files of sweeps are often not
downloaded; the shared extract has only key frames of scene-0916):

* ``"ego"``: the ego_pose; velocity/acceleration/yaw rate by differences of the lidar frames'
  poses (nuScenes records no ego motion), in the ego axes.
* ``"lidar"``: LIDAR_TOP points moved from the sensor into ``"ego"``; intensity kept.
* ``"camera_<name>"`` / ``"calib_<name>"`` for ``CAM_FRONT`` -> ``front`` etc.: the camera
  sample_data of the key frame, or for sweeps the nearest one within ``camera_window``.
  The calibration's extrinsics map the frame's ego frame (at the lidar time) into the camera
  at the camera time, through the global frame: the ego moves between the two stamps.
* ``"annotations"`` (key frames): :class:`TrackedObjects` in ``"ego"``; track id = the
  instance's row in ``instance.json``; velocity = the devkit's ``box_velocity`` (NaN where it
  has none) in the ego axes; age = key frames since the instance's first annotation.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from nuscenes.nuscenes import NuScenes

from drivestack.datasets.convention import (
    invert_transform,
    make_transform,
    transform_points,
    wrap_angle,
)
from drivestack.datasets.errors import DataError
from drivestack.datasets.log import Frame, Loader, Log, check_index, check_time_order
from drivestack.datasets.nuscenes.classes import nuscenes_class_id
from drivestack.datasets.nuscenes.tables import find_versions, open_nuscenes
from drivestack.datasets.sensor_files import point_cloud, read_image, read_points_bin
from drivestack.msgs import CameraCalibration, EgoState, Image, Message, PointCloud, TrackedObjects

CAMERAS = ("CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT")
US_TO_NS = 1000


def camera_stream(channel: str) -> str:
    """``CAM_FRONT_LEFT`` -> ``front_left`` (streams ``camera_front_left``, ``calib_front_left``)."""
    return channel.removeprefix("CAM_").lower()


def quaternion_matrices(quaternions: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotation matrices of (N, 4) quaternions (w, x, y, z), normalised first."""
    q = quaternions / np.linalg.norm(quaternions, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=-2,
    )  # (N, 3, 3)


def pose_matrix(record: dict[str, Any]) -> np.ndarray:
    """(4, 4) from a nuScenes record's ``translation`` and ``rotation`` (w, x, y, z)."""
    rotation = quaternion_matrices(np.array([record["rotation"]], dtype=np.float64))[0]
    return make_transform(rotation, record["translation"])


@dataclass(frozen=True)
class NuScenesConfig:
    """Attributes:
    version: Table folder (``"v1.0-mini"``); ``None``: the only ``v*`` folder in the root.
    placeholders: Allow the missing-table work-around (see :mod:`...nuscenes.tables`).
    key_frames_only: Frames at the 2 Hz key frames instead of every lidar sweep.
    cameras: Camera channels to serve.
    camera_window: [s] max |t_camera - t_lidar| for pairing a camera with a lidar sweep.
    """

    version: str | None = None
    placeholders: bool = False
    key_frames_only: bool = False
    cameras: tuple[str, ...] = CAMERAS
    camera_window: float = 0.05


def resolve_version(dataroot: Path, version: str | None) -> str:
    """``version``, or the only version folder under ``dataroot`` (DataError if not exactly one)."""
    if version is not None:
        return version
    versions = find_versions(dataroot)
    if len(versions) != 1:
        raise DataError(f"{dataroot}: expected one nuScenes version folder, found {versions or 'none'}")
    return versions[0]


class NuScenesLog(Log):
    """One nuScenes scene. Inherited, see base class for the Log API."""

    def __init__(
        self,
        dataroot: str | Path,
        scene: str,
        config: NuScenesConfig | None = None,
        nusc: NuScenes | None = None,
    ):
        """Indexes the scene.

        Args:
            dataroot: Folder holding the version folder and ``samples/``, ``sweeps/``.
            scene: Scene name (``"scene-0916"``).
            config: Options.
            nusc: An already loaded devkit object for ``dataroot`` (shares loading between scenes).

        Raises:
            DataError: missing tables (with the work-around), unknown scene or category.
        """
        self.dataroot = Path(dataroot)
        self.config = config or NuScenesConfig()
        version = resolve_version(self.dataroot, self.config.version)
        self.nusc = nusc or open_nuscenes(self.dataroot, version, self.config.placeholders)
        records = [s for s in self.nusc.scene if s["name"] == scene]
        if not records:
            names = ", ".join(s["name"] for s in self.nusc.scene)
            raise DataError(f"{self.dataroot / version}/scene.json: no scene {scene!r} (has: {names})")
        self.scene = records[0]
        self.name = f"nuscenes/{scene}"
        self._lidar = self._channel_chain("LIDAR_TOP")
        if self.config.key_frames_only:
            self._lidar = [sd for sd in self._lidar if sd["is_key_frame"]]
        if not self._lidar:
            raise DataError(f"{self.name}: no LIDAR_TOP sample_data")
        self._stamps = [sd["timestamp"] * US_TO_NS for sd in self._lidar]
        check_time_order(self._stamps, f"{self.name} LIDAR_TOP sample_data")
        self._cams = {ch: self._channel_chain(ch) for ch in self.config.cameras}
        self._cam_times = {ch: [sd["timestamp"] for sd in chain] for ch, chain in self._cams.items()}
        self._poses = np.stack([pose_matrix(self.nusc.get("ego_pose", sd["ego_pose_token"])) for sd in self._lidar])
        self._ego = self._ego_states()
        self._track_ids = {inst["token"]: i for i, inst in enumerate(self.nusc.instance)}
        self._ages = self._annotation_ages()
        self._streams = self._present_streams()

    def _channel_chain(self, channel: str) -> list[dict[str, Any]]:
        """The channel's sample_data of this scene, in time order."""
        first_sample = self.nusc.get("sample", self.scene["first_sample_token"])
        if channel not in first_sample["data"]:
            return []
        sd = self.nusc.get("sample_data", first_sample["data"][channel])
        while sd["prev"] and self._in_scene(self.nusc.get("sample_data", sd["prev"])):
            sd = self.nusc.get("sample_data", sd["prev"])
        chain = [sd]
        while sd["next"] and self._in_scene(self.nusc.get("sample_data", sd["next"])):
            sd = self.nusc.get("sample_data", sd["next"])
            chain.append(sd)
        return chain

    def _in_scene(self, sd: dict[str, Any]) -> bool:
        return self.nusc.get("sample", sd["sample_token"])["scene_token"] == self.scene["token"]

    def _ego_states(self) -> list[EgoState]:
        t = np.array(self._stamps, dtype=np.float64) / 1e9  # [s]
        position = self._poses[:, :3, 3]  # (T, 3) world
        yaw = np.arctan2(self._poses[:, 1, 0], self._poses[:, 0, 0])  # (T,)
        if len(t) < 2:
            zero = np.zeros((len(t), 3))
            velocity, acceleration, yaw_rate = zero, zero, np.zeros(len(t))
        else:
            velocity = np.gradient(position, t, axis=0)  # (T, 3) world, central inside
            acceleration = np.gradient(velocity, t, axis=0)  # (T, 3)
            yaw_rate = np.gradient(np.unwrap(yaw), t)  # (T,)
        rot = self._poses[:, :3, :3]  # (T, 3, 3) R_world_from_ego
        return [
            EgoState(
                stamp_ns=self._stamps[i],
                frame_id="world",
                pose=self._poses[i],
                velocity=rot[i].T @ velocity[i],
                acceleration=rot[i].T @ acceleration[i],
                yaw_rate=float(yaw_rate[i]),
            )
            for i in range(len(t))
        ]

    def _annotation_ages(self) -> dict[str, int]:
        ages: dict[str, int] = {}
        for sd in self._lidar:
            if not sd["is_key_frame"]:
                continue
            for token in self.nusc.get("sample", sd["sample_token"])["anns"]:
                prev = self.nusc.get("sample_annotation", token)["prev"]
                ages[token] = ages[prev] + 1 if prev in ages else 0 if not prev else self._count_prev(token)
        return ages

    def _count_prev(self, token: str) -> int:
        count, ann = 0, self.nusc.get("sample_annotation", token)
        while ann["prev"]:
            count, ann = count + 1, self.nusc.get("sample_annotation", ann["prev"])
        return count

    def lidar_sample_data(self, index: int) -> dict[str, Any]:
        """The LIDAR_TOP sample_data record of frame ``index`` (for devkit look-ups)."""
        return self._lidar[check_index(index, len(self._lidar), self.name)]

    def track_id(self, instance_token: str) -> int:
        """The ``annotations`` track id of a nuScenes instance."""
        return self._track_ids[instance_token]

    def streams(self) -> Mapping[str, type[Message]]:
        """Inherited, see base class (streams with at least one file present)."""
        return dict(self._streams)

    def _present_streams(self) -> dict[str, type[Message]]:
        present: dict[str, type[Message]] = {"ego": EgoState}
        if any(self._file(sd).is_file() for sd in self._lidar):
            present["lidar"] = PointCloud
        for channel, chain in self._cams.items():
            if any(self._file(sd).is_file() for sd in chain):
                present[f"camera_{camera_stream(channel)}"] = Image
                present[f"calib_{camera_stream(channel)}"] = CameraCalibration
        if any(sd["is_key_frame"] for sd in self._lidar):
            present["annotations"] = TrackedObjects
        return present

    def _file(self, sd: dict[str, Any]) -> Path:
        return self.dataroot / sd["filename"]

    def __len__(self) -> int:
        return len(self._lidar)

    def __getitem__(self, index: int) -> Frame:
        """Inherited, see base class."""
        i = check_index(index, len(self._lidar), self.name)
        sd, stamp = self._lidar[i], self._stamps[i]
        loaders: dict[str, Loader] = {"ego": partial(_constant, self._ego[i])}
        if self._file(sd).is_file():
            loaders["lidar"] = partial(self._load_lidar, sd, stamp)
        for channel in self._cams:
            cam_sd = self._camera_for(channel, sd)
            if cam_sd is not None and self._file(cam_sd).is_file():
                name = camera_stream(channel)
                cam_stamp = cam_sd["timestamp"] * US_TO_NS
                loaders[f"camera_{name}"] = partial(read_image, self._file(cam_sd), cam_stamp, f"camera_{name}")
                loaders[f"calib_{name}"] = partial(self._load_calib, cam_sd, i)
        if sd["is_key_frame"]:
            loaders["annotations"] = partial(self._load_annotations, sd, i)
        return Frame(i, stamp, loaders, self.name)

    def _camera_for(self, channel: str, lidar_sd: dict[str, Any]) -> dict[str, Any] | None:
        if lidar_sd["is_key_frame"]:
            token = self.nusc.get("sample", lidar_sd["sample_token"])["data"].get(channel)
            return None if token is None else self.nusc.get("sample_data", token)
        times = self._cam_times[channel]
        k = bisect.bisect_left(times, lidar_sd["timestamp"])
        near = [j for j in (k - 1, k) if 0 <= j < len(times)]
        if not near:
            return None
        best = min(near, key=lambda j: abs(times[j] - lidar_sd["timestamp"]))
        in_window = abs(times[best] - lidar_sd["timestamp"]) <= self.config.camera_window * 1e6
        return self._cams[channel][best] if in_window else None

    def _sensor_to_ego(self, sd: dict[str, Any]) -> np.ndarray:
        return pose_matrix(self.nusc.get("calibrated_sensor", sd["calibrated_sensor_token"]))

    def _load_lidar(self, sd: dict[str, Any], stamp_ns: int) -> Message:
        points = read_points_bin(self._file(sd), 5)  # (N, 5) x, y, z, intensity, ring
        ego_from_lidar = self._sensor_to_ego(sd).astype(np.float32)  # float32: mm-exact at 100 m
        xyz = points[:, :3] @ ego_from_lidar[:3, :3].T + ego_from_lidar[:3, 3]  # (N, 3) ego
        return point_cloud(np.concatenate([xyz, points[:, 3:4]], axis=1), stamp_ns)

    def _load_calib(self, cam_sd: dict[str, Any], index: int) -> Message:
        sensor = self.nusc.get("calibrated_sensor", cam_sd["calibrated_sensor_token"])
        intrinsics = np.array(sensor["camera_intrinsic"], dtype=np.float64)
        if intrinsics.shape != (3, 3):
            raise DataError(f"calibrated_sensor {sensor['token']}: camera_intrinsic is not 3x3")
        cam_pose = pose_matrix(self.nusc.get("ego_pose", cam_sd["ego_pose_token"]))
        # ego(lidar time) -> world -> ego(camera time) -> camera
        extrinsics = invert_transform(cam_pose @ pose_matrix(sensor)) @ self._poses[index]
        name = camera_stream(self.nusc.get("sensor", sensor["sensor_token"])["channel"])
        return CameraCalibration(
            stamp_ns=cam_sd["timestamp"] * US_TO_NS,
            frame_id=f"camera_{name}",
            width=int(cam_sd["width"]),
            height=int(cam_sd["height"]),
            intrinsics=intrinsics,
            projection=np.concatenate([intrinsics, np.zeros((3, 1))], axis=1),
            extrinsics=extrinsics,
        )

    def _load_annotations(self, sd: dict[str, Any], index: int) -> Message:
        tokens = self.nusc.get("sample", sd["sample_token"])["anns"]
        anns = [self.nusc.get("sample_annotation", t) for t in tokens]
        ego_from_world = invert_transform(self._poses[index])
        rot = ego_from_world[:3, :3]  # (3, 3)
        centres = np.array([a["translation"] for a in anns], dtype=np.float64).reshape(-1, 3)
        box_rot = rot @ quaternion_matrices(np.array([a["rotation"] for a in anns]).reshape(-1, 4))
        wlh = np.array([a["size"] for a in anns], dtype=np.float64).reshape(-1, 3)
        yaw = wrap_angle(np.arctan2(box_rot[:, 1, 0], box_rot[:, 0, 0]))  # (N,) box x-axis heading
        boxes = np.concatenate(
            [transform_points(ego_from_world, centres), wlh[:, [1, 0, 2]], yaw[:, None]], axis=1
        )  # (N, 7): nuScenes size is (w, l, h)
        world_velocity = np.array([self.nusc.box_velocity(a["token"]) for a in anns]).reshape(-1, 3)
        velocities = world_velocity @ rot.T  # (N, 3) ego axes; NaN stays NaN
        class_ids = [
            nuscenes_class_id(a["category_name"], f"sample_annotation {a['token']}") for a in anns
        ]
        return TrackedObjects(
            stamp_ns=self._stamps[index],
            frame_id="ego",
            track_ids=np.array([self._track_ids[a["instance_token"]] for a in anns], dtype=np.int64),
            boxes=boxes.astype(np.float32),
            velocities=velocities.astype(np.float32),
            covariance=np.zeros((len(anns), 6, 6), dtype=np.float32),
            scores=np.ones(len(anns), dtype=np.float32),
            class_ids=np.array(class_ids, dtype=np.int32),
            ages=np.array([self._ages[t] for t in tokens], dtype=np.int32),
        )


def _constant(message: Message) -> Message:
    return message
