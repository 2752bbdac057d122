"""``drive detect`` on nuScenes key frames, scored with the KITTI object rules on CAM_FRONT.

Every key frame of the scene with a LIDAR_TOP file is run through :func:`perceive` with all
cameras whose image exists for it (the shared extract: six for the first key frame, CAM_FRONT
for the others). Results and ground truth are written in KITTI's format for CAM_FRONT so
that ``drive bench kitti-object`` scores them like KITTI:

* ground truth: annotations (ego frame, from :class:`NuScenesLog`) whose centre is in front
  of CAM_FRONT and whose projected box overlaps the image; 2D box = the projected corners
  clipped to the image; truncation = 1 - clipped / unclipped area; occlusion 0 (the
  visibility table is not in the extract); location, size and rotation_y in the camera
  frame (x right, y down, z forward, as KITTI's rectified camera). Annotations without any
  LiDAR point (``num_lidar_pts`` 0) are written as DontCare: no sensor here can see them.
* results: as for KITTI (:mod:`drivestack.perception.detect_kitti`), camera = CAM_FRONT.

Files are named by key-frame index (``000000.txt``...); ``OUT/label_2`` holds the ground
truth and ``OUT/frames.txt`` the frame list.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from drivestack.datasets.convention import (
    box_corners,
    boxes_to_kitti_camera,
    kitti_alpha,
    project_to_image,
    transform_points,
)
from drivestack.datasets.errors import DataError
from drivestack.datasets.kitti.label_file import format_object_line
from drivestack.datasets.nuscenes.log import NuScenesConfig, NuScenesLog
from drivestack.msgs import CameraCalibration, Image
from drivestack.perception.detect_kitti import (
    KITTI_NAMES,
    MODES,
    RunReport,
    draw,
    kept_result_lines,
    result_lines,
)
from drivestack.perception.fusion import CalibrationError, project_boxes
from drivestack.perception.perceive import PerceptionResult

FRONT = "camera_front"
# (images, calibrations, points, stamp) -> result of one perception tick
Perceiver = Callable[[list[Image], list[CameraCalibration], np.ndarray, int], PerceptionResult]


def gt_lines(
    boxes: np.ndarray, classes: np.ndarray, lidar_pts: np.ndarray, cam: CameraCalibration
) -> list[str]:
    """KITTI label lines (15 columns) of the annotations visible in ``cam``."""
    lines: list[str] = []
    if len(boxes) == 0:
        return lines
    corners = transform_points(cam.extrinsics, box_corners(boxes).reshape(-1, 3))
    uv, depth = project_to_image(corners, cam.projection)
    uv, depth = uv.reshape(-1, 8, 2), depth.reshape(-1, 8)
    centre = transform_points(cam.extrinsics, boxes[:, :3])
    loc, hwl, ry = boxes_to_kitti_camera(boxes, cam.extrinsics)
    alpha = kitti_alpha(loc, ry)
    for i in range(len(boxes)):
        if centre[i, 2] <= 0.5 or (depth[i] <= 0.1).any():
            continue
        lo, hi = uv[i].min(axis=0), uv[i].max(axis=0)
        clo = np.clip(lo, 0, [cam.width - 1, cam.height - 1])
        chi = np.clip(hi, 0, [cam.width - 1, cam.height - 1])
        full = float(np.prod(hi - lo))
        seen = float(np.prod(np.clip(chi - clo, 0, None)))
        if seen <= 0 or full <= 0:
            continue
        name = KITTI_NAMES.get(int(classes[i]), "Misc")
        if lidar_pts[i] == 0:
            name = "DontCare"
        lines.append(
            format_object_line(
                name,
                [*clo, *chi],
                truncated=round(1 - seen / full, 2),
                occluded=0,
                alpha=float(alpha[i]),
                dimensions=hwl[i],
                location=loc[i],
                rotation_y=float(ry[i]),
            )
        )
    return lines


def run_nuscenes(
    root: Path, out: Path, perceiver: Perceiver, scene: str = "scene-0916", viz: bool = False
) -> RunReport:
    """Writes KITTI-format results and ground truth for every key frame with a LiDAR file."""
    log = NuScenesLog(root, scene, NuScenesConfig(placeholders=True, key_frames_only=True))
    report = RunReport()
    for mode in (*MODES, "label_2"):
        (out / mode if mode == "label_2" else out / mode / "data").mkdir(
            parents=True, exist_ok=True
        )
    if viz:
        (out / "viz").mkdir(parents=True, exist_ok=True)
    names = []
    for i in tqdm(range(len(log)), desc="detect nuScenes", file=sys.stderr):
        frame = log[i]
        streams = frame.streams()
        key = f"{i:06d}"
        if "lidar" not in streams or "calib_front" not in streams:
            report.skipped[key] = f"no LIDAR_TOP or CAM_FRONT file for key frame {i}"
            continue
        report.frames += 1
        try:
            cams = sorted(s.removeprefix("camera_") for s in streams if s.startswith("camera_"))
            images = [frame.load(f"camera_{c}") for c in cams]
            calibs = [frame.load(f"calib_{c}") for c in cams]
            points = np.asarray(frame.load("lidar").points)
            result = perceiver(images, calibs, points, frame.stamp_ns)
        except (DataError, CalibrationError, ValueError, FileNotFoundError) as err:
            report.skipped[key] = f"{type(err).__name__}: {err}"
            print(f"detect: skipped key frame {i}: {err}", file=sys.stderr)
            continue
        front = cams.index("front")
        cam = calibs[front]
        sample = log.nusc.get("sample", log.lidar_sample_data(i)["sample_token"])
        lidar_pts = np.array(
            [log.nusc.get("sample_annotation", t)["num_lidar_pts"] for t in sample["anns"]]
        )
        ann = frame.load("annotations")
        (out / "label_2" / f"{key}.txt").write_text(
            "".join(
                line + "\n"
                for line in gt_lines(
                    np.asarray(ann.boxes, np.float64), np.asarray(ann.class_ids), lidar_pts, cam
                )
            )
        )
        det2d = result.camera[front]
        lines = {
            "camera": result_lines(
                None,
                np.asarray(det2d.boxes),
                np.asarray(det2d.scores),
                np.asarray(det2d.class_ids),
                cam.extrinsics,
            )
        }
        for mode, det, own in (
            ("lidar", result.lidar, None),
            ("fused", result.fused, (result.fused_camera, result.fused_boxes_2d)),
        ):
            proj, ok = project_boxes(np.asarray(det.boxes, np.float64), cam)
            if own is not None:
                use = own[0] == front
                proj = np.where(use[:, None], own[1], proj)
                ok = (ok & (own[0] < 0)) | use  # boxes from other cameras stay theirs
            lines[mode] = kept_result_lines(det, proj, np.flatnonzero(ok), cam.extrinsics)
        for mode, mode_lines in lines.items():
            (out / mode / "data" / f"{key}.txt").write_text(
                "".join(line + "\n" for line in mode_lines)
            )
            report.written[mode] += 1
        names.append(key)
        if viz:
            cv2.imwrite(
                str(out / "viz" / f"{key}.png"),
                draw(np.asarray(images[front].data), det2d, result.fused, cam),
            )
    (out / "frames.txt").write_text("".join(n + "\n" for n in names))
    return report
