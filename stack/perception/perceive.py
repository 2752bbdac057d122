"""One perception tick: camera CNN per camera, geometric LiDAR detector, fusion, timed.

:func:`perceive` is what ``drive detect`` and ``drive bench perception`` call (the bus nodes in
:mod:`.nodes` run the same stages one node each).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from drivestack.msgs import CameraCalibration, Detections2D, Detections3D, Image
from drivestack.perception.camera_cnn import CameraCnnConfig, detect_bgr, image_to_bgr
from drivestack.perception.fusion import CameraView, FusionConfig, fuse
from drivestack.perception.lidar_geometric import LidarGeometricConfig, detect_scan, prepare_scan
from drivestack.perception.nanodet import NanoDet


@dataclass(frozen=True)
class PerceptionConfig:
    """Settings of the three stages."""

    camera: CameraCnnConfig = field(default_factory=CameraCnnConfig)
    lidar: LidarGeometricConfig = field(default_factory=LidarGeometricConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)


@dataclass(frozen=True)
class PerceptionResult:
    """Outputs of one tick and [s] per stage."""

    camera: list[Detections2D]
    lidar: Detections3D
    fused: Detections3D
    fused_camera: np.ndarray  # (K,) int32 camera index of each fused box, -1 LiDAR-only
    fused_boxes_2d: np.ndarray  # (K, 4) float32 [px] 2D box in that camera, -1 if none
    timing: dict[str, float]


def perceive(
    model: NanoDet,
    images: list[Image],
    calibrations: list[CameraCalibration],
    points: np.ndarray,
    stamp_ns: int,
    cfg: PerceptionConfig,
    device: str | torch.device = "cpu",
) -> PerceptionResult:
    """Runs camera detection on each image, the LiDAR detector on the scan, and fusion.

    Args:
        model: NanoDet with weights on ``device``.
        images: one per camera, same order as ``calibrations``.
        calibrations: per camera, extrinsics from the ego frame of ``points``.
        points: (N, >=3) [m] scan in the ego frame.
        stamp_ns: stamp of the outputs.
        cfg: settings.
        device: where the CNN runs.

    Raises:
        PointCloudError, CalibrationError, ValueError: bad scan, calibration or image.
    """
    if len(images) != len(calibrations):
        raise ValueError(f"perceive: {len(images)} images but {len(calibrations)} calibrations")
    # LiDAR first: numpy work right after the CNN competes with torch's spinning threads.
    t0 = time.perf_counter()
    scan = prepare_scan(points, cfg.lidar, f"scan at {stamp_ns} ns")
    boxes, scores, classes = detect_scan(scan, cfg.lidar)
    lidar = Detections3D(
        stamp_ns=stamp_ns, frame_id="ego", boxes=boxes, scores=scores, class_ids=classes
    )
    lidar.validate()
    t_lidar = time.perf_counter() - t0
    timing = {"camera_preprocess": 0.0, "camera_network": 0.0, "camera_postprocess": 0.0}
    dets2d = []
    for image, calib in zip(images, calibrations, strict=True):
        if image.data.shape[:2] != (calib.height, calib.width):
            raise ValueError(
                f"perceive: image {image.frame_id} is {image.data.shape[1]}x{image.data.shape[0]}"
                f" px, its calibration {calib.width}x{calib.height}"
            )
        boxes, scores, classes, t = detect_bgr(model, image_to_bgr(image), cfg.camera, device)
        timing["camera_preprocess"] += t.preprocess
        timing["camera_network"] += t.network
        timing["camera_postprocess"] += t.postprocess
        det = Detections2D(
            stamp_ns=image.stamp_ns,
            frame_id=image.frame_id,
            boxes=boxes,
            scores=scores,
            class_ids=classes,
        )
        det.validate()
        dets2d.append(det)
    t1 = time.perf_counter()
    views = [CameraView(d, c) for d, c in zip(dets2d, calibrations, strict=True)]
    fused, cam_idx, boxes_2d = fuse(
        points, views, lidar, cfg.fusion, cfg.lidar, f"scan at {stamp_ns} ns", scan=scan
    )
    timing["lidar"] = t_lidar
    timing["fusion"] = time.perf_counter() - t1
    return PerceptionResult(dets2d, lidar, fused, cam_idx, boxes_2d, timing)
