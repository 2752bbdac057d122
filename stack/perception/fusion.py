"""Camera-LiDAR fusion: frustum boxes from 2D detections, merged with LiDAR-only detections.

For every camera detection, the LiDAR obstacle points (ground removed as in
:mod:`drivestack.perception.lidar_geometric`) that project into its (slightly shrunk) 2D box
form a frustum; the BEV cluster holding most of them is the object, and its frustum points
are boxed with the L-shape fit and completed to the camera class's size prior. Fused boxes
are then associated with the LiDAR-only detections by BEV centre distance (3D) and by the
overlap of the LiDAR box's projection with the 2D box (image space):

* matched: the LiDAR box geometry when both agree on the class family, else the frustum box;
  class from the camera; score ``1 - (1 - s_cam) (1 - s_lidar)``;
* camera-only (no LiDAR match): the frustum box, score ``s_cam * camera_only_weight``;
* LiDAR-only inside some camera's view: nothing confirmed it, score * ``unconfirmed_weight``;
  outside every camera's view the LiDAR detection is kept unchanged.

Works with any number of cameras (KITTI: one; nuScenes: six), each with its own calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivestack.datasets.convention import box_corners, project_to_image, transform_points
from drivestack.msgs import CameraCalibration, Detections2D, Detections3D, ObjectClass
from drivestack.perception.lidar_geometric import (
    SIZE_PRIORS,
    LidarGeometricConfig,
    Scan,
    fit_l_shape,
    object_box,
    prepare_scan,
)

# Classes whose boxes are interchangeable when a camera and the LiDAR disagree slightly.
FAMILY = {
    ObjectClass.CAR: 0,
    ObjectClass.VAN: 0,
    ObjectClass.TRUCK: 0,
    ObjectClass.BUS: 0,
    ObjectClass.TRAM: 0,
    ObjectClass.PEDESTRIAN: 1,
    ObjectClass.PERSON_SITTING: 1,
    ObjectClass.CYCLIST: 2,
    ObjectClass.MOTORCYCLIST: 2,
}
# Prior of classes without their own entry in SIZE_PRIORS.
PRIOR_OF = {
    ObjectClass.VAN: ObjectClass.CAR,
    ObjectClass.MOTORCYCLIST: ObjectClass.CYCLIST,
    ObjectClass.PERSON_SITTING: ObjectClass.PEDESTRIAN,
}


class CalibrationError(ValueError):
    """A calibration under which no LiDAR point lands in the image: fusion cannot work."""


@dataclass(frozen=True)
class FusionConfig:
    """Settings of the camera-LiDAR fusion."""

    shrink: float = 0.1  # fraction of the 2D box trimmed on each side (background bleed)
    min_frustum_points: int = 5  # fewer obstacle points in the frustum: no 3D box
    share: float = 0.3  # least fraction of the frustum's biggest cluster a candidate must have
    max_size_ratio: float = 2.5  # object longer than this x its class prior: not the object
    max_depth: float = 80.0  # [m] frustum points farther than this are ignored
    match_distance: tuple[float, float, float] = (2.5, 1.0, 1.5)  # [m] car, person, cyclist
    match_image_iou: float = 0.3  # IoU of the projected LiDAR box with the 2D box
    camera_only_weight: float = 0.7
    unconfirmed_weight: float = 0.3


@dataclass(frozen=True)
class CameraView:
    """One camera's detections with its calibration (both for the same instant)."""

    detections: Detections2D
    calibration: CameraCalibration


def project_points(xyz: np.ndarray, calib: CameraCalibration) -> tuple[np.ndarray, np.ndarray]:
    """Ego points (N, 3) [m] -> pixels (N, 2) [px] and a (N,) bool "in front and in image"."""
    cam = transform_points(calib.extrinsics, xyz)  # (N, 3) camera frame
    uv, depth = project_to_image(cam, calib.projection)
    inside = (
        (depth > 0.1)
        & (uv[:, 0] >= 0)
        & (uv[:, 0] < calib.width)
        & (uv[:, 1] >= 0)
        & (uv[:, 1] < calib.height)
    )
    return uv, inside


def project_boxes(boxes: np.ndarray, calib: CameraCalibration) -> tuple[np.ndarray, np.ndarray]:
    """Ego boxes (K, 7) -> image boxes (K, 4) [px] clipped to the image, and (K,) bool
    "all corners in front of the camera and the clipped box is not empty"."""
    corners = box_corners(boxes).reshape(-1, 3)  # (K*8, 3)
    cam = transform_points(calib.extrinsics, corners)
    uv, depth = project_to_image(cam, calib.projection)
    uv, depth = uv.reshape(-1, 8, 2), depth.reshape(-1, 8)
    front = (depth > 0.1).all(axis=1)
    uv = np.where(front[:, None, None], uv, 0.0)
    lo = np.clip(uv.min(axis=1), 0, [calib.width - 1, calib.height - 1])
    hi = np.clip(uv.max(axis=1), 0, [calib.width - 1, calib.height - 1])
    ok = front & ((hi - lo) > 1).all(axis=1)
    return np.concatenate([lo, hi], axis=1).astype(np.float32), ok


def _iou_2d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def fuse(
    points: np.ndarray,
    views: list[CameraView],
    lidar: Detections3D,
    cfg: FusionConfig,
    lidar_cfg: LidarGeometricConfig,
    source: str = "scan",
    scan: Scan | None = None,
) -> tuple[Detections3D, np.ndarray, np.ndarray]:
    """Fuses camera detections of several cameras with a scan and its LiDAR detections.

    Args:
        points: (N, >=3) [m] scan in the ego frame (the frame of ``lidar`` and of the
            calibrations' extrinsics).
        views: per camera, detections and calibration.
        lidar: LiDAR-only detections of the same scan, ego frame.
        cfg: fusion settings.
        lidar_cfg: ground/cluster settings shared with the geometric detector.
        source: name for error messages.
        scan: ``points`` already prepared by the LiDAR detector (saves the ground fit and
            clustering); None prepares it here.

    Returns:
        (fused detections in the ego frame, camera index (K,) int32 of the camera each box
        came from or -1, 2D box (K, 4) [px] in that camera (the camera's own box when
        matched, else the projection) or -1).

    Raises:
        PointCloudError: bad scan. CalibrationError: a camera sees none of the scan's points.
    """
    scan = scan if scan is not None else prepare_scan(points, lidar_cfg, source)
    xyz, obs, obs_h, labels = scan.xyz, scan.obstacles, scan.heights, scan.labels
    l_boxes = np.asarray(lidar.boxes, np.float64).reshape(-1, 7)
    l_scores = np.asarray(lidar.scores, np.float64).copy()
    l_cls = np.asarray(lidar.class_ids)
    l_used = np.zeros(len(l_boxes), dtype=bool)
    l_seen = np.zeros(len(l_boxes), dtype=bool)
    out_boxes, out_scores, out_cls, out_cam, out_2d = [], [], [], [], []
    for cam_idx, view in enumerate(views):
        calib, det = view.calibration, view.detections
        _, visible = project_points(xyz, calib)
        if not visible.any():
            raise CalibrationError(
                f"{source}: camera {calib.frame_id}: {int(visible.sum())} of {len(xyz)} points "
                "project into the image; check the calibration (extrinsics/projection)"
            )
        uv, inside = project_points(obs, calib)
        lidar_2d, lidar_ok = project_boxes(l_boxes, calib)
        l_seen |= lidar_ok
        boxes2d = np.asarray(det.boxes, np.float64)
        image_iou = _iou_2d(boxes2d, lidar_2d) if len(l_boxes) else np.zeros((len(boxes2d), 0))
        for i in np.argsort(-np.asarray(det.scores)):
            cls = ObjectClass(int(det.class_ids[i]))
            if cls not in FAMILY:
                continue
            x1, y1, x2, y2 = boxes2d[i]
            dx, dy = (x2 - x1) * cfg.shrink, (y2 - y1) * cfg.shrink
            depth_ok = np.hypot(obs[:, 0], obs[:, 1]) < cfg.max_depth
            in_box = (
                inside
                & depth_ok
                & (uv[:, 0] >= x1 + dx)
                & (uv[:, 0] <= x2 - dx)
                & (uv[:, 1] >= y1 + dy)
                & (uv[:, 1] <= y2 - dy)
            )
            if in_box.sum() < cfg.min_frustum_points:
                continue
            # The object occludes what is behind it: the nearest cluster holding a good share
            # of the frustum's points, not the largest (often the wall behind a pedestrian).
            lab, inverse, cnt = np.unique(labels[in_box], return_inverse=True, return_counts=True)
            rng = np.hypot(obs[in_box, 0], obs[in_box, 1])
            med = np.array([np.median(rng[inverse == k]) for k in range(len(lab))])
            big = np.flatnonzero(cnt >= max(cfg.min_frustum_points, cfg.share * cnt.max()))
            if len(big) == 0:
                continue  # points scattered over many small clusters: no object to box
            obj = in_box & (labels == lab[big[np.argmin(med[big])]])
            prior_cls = PRIOR_OF.get(cls, cls)
            fit = fit_l_shape(obs[obj][:, :2], lidar_cfg.angle_step)
            if prior_cls in SIZE_PRIORS and (
                fit[1] > cfg.max_size_ratio * SIZE_PRIORS[prior_cls][0][0]
            ):
                continue  # the frustum holds a wall or a hedge, not this object
            box = object_box(obs[obj], obs_h[obj], prior_cls, fit, scan.support, lidar_cfg)
            s_cam = float(det.scores[i])
            fam = FAMILY[cls]
            dist = np.hypot(*(l_boxes[:, :2] - box[:2]).T) if len(l_boxes) else np.zeros(0)
            cand = (
                (~l_used) & (dist < cfg.match_distance[fam]) & (image_iou[i] >= cfg.match_image_iou)
                if len(l_boxes)
                else np.zeros(0, bool)
            )
            if cand.any():
                j = int(np.flatnonzero(cand)[np.argmin(dist[cand])])
                l_used[j] = True
                same_family = FAMILY.get(ObjectClass(int(l_cls[j]))) == fam
                box = l_boxes[j] if same_family else box
                score = 1.0 - (1.0 - s_cam) * (1.0 - float(l_scores[j]))
            else:
                score = s_cam * cfg.camera_only_weight
            out_boxes.append(box)
            out_scores.append(score)
            out_cls.append(int(cls))
            out_cam.append(cam_idx)
            out_2d.append(boxes2d[i])
    for j in np.flatnonzero(~l_used):
        out_boxes.append(l_boxes[j])
        out_scores.append(l_scores[j] * (cfg.unconfirmed_weight if l_seen[j] else 1.0))
        out_cls.append(int(l_cls[j]))
        out_cam.append(-1)
        out_2d.append(np.full(4, -1.0))
    fused = Detections3D(
        stamp_ns=lidar.stamp_ns,
        frame_id=lidar.frame_id,
        boxes=np.asarray(out_boxes, np.float32).reshape(-1, 7),
        scores=np.asarray(out_scores, np.float32),
        class_ids=np.asarray(out_cls, np.int32),
    )
    fused.validate()
    return fused, np.asarray(out_cam, np.int32), np.asarray(out_2d, np.float32).reshape(-1, 4)
