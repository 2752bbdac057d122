"""KITTI oxts (GPS/IMU) packets -> poses and ego states, following the devkit's Mercator scale.

An oxts packet has 30 values (raw-data ``oxts/dataformat.txt``): lat, lon [deg], alt [m],
roll, pitch, yaw [rad] (yaw 0 = east, CCW), vn, ve, vf, vl, vu [m/s], ax, ay, az, af, al, au
[m/s^2], wx, wy, wz, wf, wl, wu [rad/s], pos_accuracy, vel_accuracy, navstat, numsats,
posmode, velmode, orimode. Tracking files hold one packet per line; raw drives one per file.

Poses follow the devkit's ``convertOxtsToPose``: a Mercator projection scaled by
``cos(lat0)`` of the first packet (so distances are metres near lat0), rotation
``Rz(yaw) Ry(pitch) Rx(roll)``. Unlike the devkit, which re-expresses every pose in the first
IMU frame (tilting "up" by the first frame's roll and pitch), the world frame here keeps the
Mercator axes: x east, y north, z up, translated so the first packet's IMU sits at the origin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drivestack.datasets.errors import DataError, read_text
from drivestack.msgs import EgoState

EARTH_RADIUS = 6378137.0  # [m] the devkit's er
OXTS_COLUMNS = 30
# Column indices of the packet fields used here.
LAT, LON, ALT, ROLL, PITCH, YAW = 0, 1, 2, 3, 4, 5
VN, VE, VF, VL, VU = 6, 7, 8, 9, 10
AX, AY, AZ = 11, 12, 13
WX, WY, WZ, WF, WL, WU = 17, 18, 19, 20, 21, 22


class OxtsError(DataError):
    """A malformed oxts file or line."""


def parse_oxts_lines(text: str, source: str = "<string>") -> np.ndarray:
    """Parses oxts packets, one per non-empty line.

    Returns:
        (N, 30) float64.

    Raises:
        OxtsError: naming source and line for a wrong column count or a bad number.
    """
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != OXTS_COLUMNS:
            raise OxtsError(
                f"{source}:{lineno}: expected {OXTS_COLUMNS} oxts values, got {len(fields)}"
            )
        try:
            row = [float(v) for v in fields]
        except ValueError as err:
            raise OxtsError(f"{source}:{lineno}: {err}") from None
        if not np.isfinite(row[:23]).all():
            raise OxtsError(f"{source}:{lineno}: NaN or inf in the pose/motion values")
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(-1, OXTS_COLUMNS)


def read_oxts(path: str | Path) -> np.ndarray:
    """Reads a tracking oxts file (or one raw-data packet file); returns (N, 30) float64."""
    path = Path(path)
    return parse_oxts_lines(read_text(path), str(path))


def rotation_rpy(roll: np.ndarray, pitch: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """(N, 3, 3) ``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (body -> world), angles in [rad]."""
    cr, sr = np.cos(roll), np.sin(roll)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    return np.stack(
        [
            np.stack([cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr], axis=-1),
            np.stack([sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr], axis=-1),
            np.stack([-sp, cp * sr, cp * cr], axis=-1),
        ],
        axis=-2,
    )  # (N, 3, 3)


def mercator_scale(lat_deg: float) -> float:
    """The devkit's ``latToScale``: ``cos(lat)`` of the first packet."""
    return float(np.cos(np.deg2rad(lat_deg)))


def mercator_xy(lat_deg: np.ndarray, lon_deg: np.ndarray, scale: float) -> np.ndarray:
    """The devkit's ``latlonToMercator``: (N, 2) [m] east, north at the given scale."""
    mx = scale * np.deg2rad(lon_deg) * EARTH_RADIUS
    my = scale * EARTH_RADIUS * np.log(np.tan(np.deg2rad(90.0 + lat_deg) / 2.0))
    return np.stack([mx, my], axis=-1)


def oxts_to_imu_poses(oxts: np.ndarray, scale: float | None = None) -> np.ndarray:
    """IMU poses in the world frame (x east, y north, z up, first IMU at the origin).

    Args:
        oxts: (N, 30) packets.
        scale: Mercator scale; ``None`` uses ``cos(lat)`` of the first packet (the devkit's).

    Returns:
        (N, 4, 4) float64 ``T_world_from_imu``.
    """
    if len(oxts) == 0:
        return np.zeros((0, 4, 4))
    scale = mercator_scale(oxts[0, LAT]) if scale is None else scale
    xy = mercator_xy(oxts[:, LAT], oxts[:, LON], scale)  # (N, 2)
    position = np.concatenate([xy, oxts[:, ALT : ALT + 1]], axis=1)  # (N, 3)
    position -= position[0]
    poses = np.tile(np.eye(4), (len(oxts), 1, 1))  # (N, 4, 4)
    poses[:, :3, :3] = rotation_rpy(oxts[:, ROLL], oxts[:, PITCH], oxts[:, YAW])
    poses[:, :3, 3] = position
    return poses


def body_velocity(oxts: np.ndarray) -> np.ndarray:
    """(N, 3) [m/s] IMU velocity in the IMU (body) frame, from (ve, vn, vu) and the attitude.

    ``vf``/``vl`` are in a yaw-only (level) frame; the body frame also has roll and pitch.
    """
    world = np.stack([oxts[:, VE], oxts[:, VN], oxts[:, VU]], axis=1)  # (N, 3) ENU
    rot = rotation_rpy(oxts[:, ROLL], oxts[:, PITCH], oxts[:, YAW])  # (N, 3, 3)
    return np.einsum("nji,nj->ni", rot, world)  # R^T v, (N, 3)


def oxts_to_ego_states(
    oxts: np.ndarray,
    stamps_ns: np.ndarray,
    T_velo_from_imu: np.ndarray,
    scale: float | None = None,
) -> list[EgoState]:
    """Ego states of the Velodyne origin (the KITTI ego frame) in the world frame.

    The velocity of the Velodyne origin is the IMU's plus ``omega x r`` (rigid body), then
    rotated into the Velodyne axes; acceleration is the IMU's rotated (the lever-arm terms
    are below the sensor noise at r < 1 m).

    Args:
        oxts: (N, 30) packets.
        stamps_ns: (N,) int [ns].
        T_velo_from_imu: (4, 4) from the calibration's ``Tr_imu_to_velo``.
        scale: Mercator scale (see :func:`oxts_to_imu_poses`).

    Returns:
        N EgoState messages, ``frame_id="world"``, pose ``T_world_from_ego``.
    """
    if len(stamps_ns) != len(oxts):
        raise OxtsError(f"{len(oxts)} oxts packets but {len(stamps_ns)} stamps")
    T_imu_from_velo = np.linalg.inv(T_velo_from_imu)
    poses = oxts_to_imu_poses(oxts, scale) @ T_imu_from_velo  # (N, 4, 4) T_world_from_velo
    rot_velo_from_imu = T_velo_from_imu[:3, :3]
    lever = T_imu_from_velo[:3, 3]  # [m] Velodyne origin in the IMU frame
    omega = oxts[:, [WX, WY, WZ]]  # (N, 3) [rad/s] body rates
    velocity = (body_velocity(oxts) + np.cross(omega, lever)) @ rot_velo_from_imu.T  # (N, 3)
    acceleration = oxts[:, [AX, AY, AZ]] @ rot_velo_from_imu.T  # (N, 3)
    return [
        EgoState(
            stamp_ns=int(stamps_ns[i]),
            frame_id="world",
            pose=poses[i],
            velocity=velocity[i],
            acceleration=acceleration[i],
            yaw_rate=float(oxts[i, WU]),
        )
        for i in range(len(oxts))
    ]

