"""Features the motion TCN reads, and the way back from its output to the world frame.

A history is the last ``H`` states of each object (oldest first) in the world frame. The
features are expressed in the object's *heading frame*: origin at the last position, x along
the last box yaw. This makes the network invariant to where on the map and in which
direction an object drives, which matters with the few thousand KITTI tracks we train on.

Per step (``NUM_FEATURES`` = 12):
``0-1`` position in the heading frame / 10 m, ``2-3`` cos/sin of yaw relative to the last yaw,
``4-6`` box size (dx, dy, dz) / 5 m, ``7-9`` class one-hot (vehicle, pedestrian, cyclist),
``10`` valid flag (0 where the track did not exist yet; those steps repeat the first state),
``11`` distance to the ego vehicle / 50 m.
"""

from __future__ import annotations

import numpy as np

from drivestack.msgs import ObjectClass

NUM_FEATURES = 12
POS_SCALE = 10.0  # [m]
SIZE_SCALE = 5.0  # [m]
RANGE_SCALE = 50.0  # [m]

# Motion groups the network distinguishes; every stack class maps to one of them.
VEHICLE, PEDESTRIAN, CYCLIST = 0, 1, 2
MOTION_GROUP: dict[int, int] = {
    int(ObjectClass.CAR): VEHICLE,
    int(ObjectClass.VAN): VEHICLE,
    int(ObjectClass.TRUCK): VEHICLE,
    int(ObjectClass.BUS): VEHICLE,
    int(ObjectClass.TRAM): VEHICLE,
    int(ObjectClass.TRAILER): VEHICLE,
    int(ObjectClass.PEDESTRIAN): PEDESTRIAN,
    int(ObjectClass.PERSON_SITTING): PEDESTRIAN,
    int(ObjectClass.CYCLIST): CYCLIST,
    int(ObjectClass.MOTORCYCLIST): CYCLIST,
}


def motion_group(class_ids: np.ndarray) -> np.ndarray:
    """Maps (N,) ObjectClass ids to motion groups; unknown classes raise ``ValueError``."""
    out = np.empty(len(class_ids), dtype=np.int64)
    for i, c in enumerate(np.asarray(class_ids).tolist()):
        if c not in MOTION_GROUP:
            raise ValueError(f"class id {c} ({ObjectClass(c).name}) has no motion group")
        out[i] = MOTION_GROUP[c]
    return out


def history_features(
    xy: np.ndarray,
    yaw: np.ndarray,
    size: np.ndarray,
    groups: np.ndarray,
    valid: np.ndarray,
    ego_xy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Builds TCN inputs for a batch of histories.

    Args:
        xy: (B, H, 2) [m] world positions, oldest first; the last step must be valid.
        yaw: (B, H) [rad] world box yaw.
        size: (B, 3) [m] box size (dx, dy, dz).
        groups: (B,) motion groups (``motion_group``).
        valid: (B, H) bool, False where the object was not observed.
        ego_xy: (B, 2) [m] ego position at the last step, world frame.

    Returns:
        features (B, H, NUM_FEATURES) float32, origin (B, 2) [m] and heading (B,) [rad] of the
        heading frame, for :func:`to_world`.
    """
    b, h, _ = xy.shape
    if not bool(valid[:, -1].all()):
        raise ValueError("history_features: the last history step must be valid for every object")
    xy, yaw = _fill_invalid(xy, yaw, valid)
    origin = xy[:, -1].copy()  # (B, 2)
    heading = yaw[:, -1].copy()  # (B,)
    local = rotate(xy - origin[:, None], -heading)  # (B, H, 2)
    rel_yaw = yaw - heading[:, None]  # (B, H)
    feats = np.zeros((b, h, NUM_FEATURES), dtype=np.float32)
    feats[..., 0:2] = local / POS_SCALE
    feats[..., 2] = np.cos(rel_yaw)
    feats[..., 3] = np.sin(rel_yaw)
    feats[..., 4:7] = (size / SIZE_SCALE)[:, None, :]
    feats[np.arange(b), :, 7 + groups] = 1.0
    feats[..., 10] = valid
    feats[..., 11] = (np.linalg.norm(origin - ego_xy, axis=1) / RANGE_SCALE)[:, None]
    return feats, origin, heading


def _fill_invalid(
    xy: np.ndarray, yaw: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Replaces unobserved steps with the nearest later observed step (a standing object)."""
    xy = xy.copy()
    yaw = yaw.copy()
    h = xy.shape[1]
    for t in range(h - 2, -1, -1):
        miss = ~valid[:, t]
        xy[miss, t] = xy[miss, t + 1]
        yaw[miss, t] = yaw[miss, t + 1]
    return xy, yaw


def rotate(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotates 2D vectors ``v`` (B, ..., 2) counter-clockwise by ``angle`` (B,) [rad]."""
    c = np.cos(angle).reshape((-1,) + (1,) * (v.ndim - 2))
    s = np.sin(angle).reshape((-1,) + (1,) * (v.ndim - 2))
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], axis=-1)


def to_world(
    mean: np.ndarray, log_std: np.ndarray, origin: np.ndarray, heading: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Turns heading-frame forecasts into world positions and per-axis standard deviations.

    Args:
        mean: (B, T, 2) [m] offsets in the heading frame.
        log_std: (B, T, 2) [log m] per-axis log standard deviation in the heading frame.
        origin: (B, 2) [m] heading-frame origin in the world.
        heading: (B,) [rad] heading-frame x axis in the world.

    Returns:
        positions (B, T, 2) [m] and std (B, T, 2) [m] along world x and y (the marginal standard
        deviations of the rotated Gaussian).
    """
    pos = rotate(mean, heading) + origin[:, None, :]
    # Cap at e^6 m: an object the network knows nothing about; avoids overflow to inf.
    var = np.exp(2.0 * np.minimum(log_std, 6.0))  # (B, T, 2)
    c2 = (np.cos(heading) ** 2)[:, None]
    s2 = (np.sin(heading) ** 2)[:, None]
    std = np.sqrt(
        np.stack([c2 * var[..., 0] + s2 * var[..., 1], s2 * var[..., 0] + c2 * var[..., 1]], -1)
    )
    return pos, std
