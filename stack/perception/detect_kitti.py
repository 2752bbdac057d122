"""``drive detect`` on a KITTI object root: camera, LiDAR and fused results as KITTI files.

For each frame with ``calib/``, ``velodyne/`` and ``image_2/`` files, writes
``OUT/<mode>/data/<frame>.txt`` for the modes camera (2D boxes only; 3D columns "not
available"), lidar (the geometric detector, kept where its box projects into image 2) and
fused, in the official result format that ``drive bench kitti-object`` scores. ``--viz``
writes ``OUT/viz/<frame>.png``: the image with camera boxes and projected fused 3D boxes.
A frame that cannot be processed (bad scan, calibration projecting nothing) is skipped,
counted and reported with its reason; nothing is silently empty.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
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
from drivestack.datasets.kitti.calib import read_calib
from drivestack.datasets.kitti.label_file import format_object_line
from drivestack.datasets.sensor_files import read_image, read_points_bin
from drivestack.msgs import CameraCalibration, Detections2D, Detections3D, ObjectClass
from drivestack.perception.fusion import CalibrationError, project_boxes

KITTI_NAMES: dict[int, str] = {
    ObjectClass.CAR: "Car",
    ObjectClass.VAN: "Van",
    ObjectClass.TRUCK: "Truck",
    ObjectClass.BUS: "Truck",
    ObjectClass.TRAM: "Tram",
    ObjectClass.PEDESTRIAN: "Pedestrian",
    ObjectClass.PERSON_SITTING: "Person_sitting",
    ObjectClass.CYCLIST: "Cyclist",
    ObjectClass.MOTORCYCLIST: "Cyclist",
}
MODES = ("camera", "lidar", "fused")

# frame inputs -> (camera detections, lidar detections, (fused, camera index, 2D boxes))
Detector = Callable[
    [np.ndarray, np.ndarray, CameraCalibration, int],
    tuple[Detections2D, Detections3D, tuple[Detections3D, np.ndarray, np.ndarray]],
]


@dataclass
class RunReport:
    """What a run wrote and what it skipped (frame -> reason)."""

    frames: int = 0
    written: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MODES, 0))
    skipped: dict[str, str] = field(default_factory=dict)


def kitti_frames(root: Path) -> list[str]:
    """Frame ids with calib, velodyne and image_2 files (sorted).

    Raises:
        FileNotFoundError: ``root`` lacks one of the three folders, or no frame has all three.
    """
    for sub in ("calib", "velodyne", "image_2"):
        if not (root / sub).is_dir():
            raise FileNotFoundError(f"{root}: no {sub}/ folder; not a KITTI object root")
    ids = sorted(
        p.stem
        for p in (root / "velodyne").glob("*.bin")
        if (root / "calib" / f"{p.stem}.txt").is_file()
        and (root / "image_2" / f"{p.stem}.png").is_file()
    )
    if not ids:
        raise FileNotFoundError(f"{root}: no frame has calib/, velodyne/ and image_2/ files")
    return ids


def result_lines(
    det3d: Detections3D | None,
    boxes2d: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    T_cam_from_ego: np.ndarray,
) -> list[str]:
    """KITTI result lines; ``det3d`` None writes 2D-only lines (3D columns not available)."""
    lines = []
    if det3d is not None and len(det3d.boxes):
        loc, hwl, ry = boxes_to_kitti_camera(np.asarray(det3d.boxes), T_cam_from_ego)
        alpha = kitti_alpha(loc, ry)
    for i in range(len(scores)):
        name = KITTI_NAMES.get(int(classes[i]))
        if name is None:
            continue
        if det3d is None:
            lines.append(format_object_line(name, boxes2d[i], score=float(scores[i])))
        else:
            lines.append(
                format_object_line(
                    name,
                    boxes2d[i],
                    alpha=float(alpha[i]),
                    dimensions=hwl[i],
                    location=loc[i],
                    rotation_y=float(ry[i]),
                    score=float(scores[i]),
                )
            )
    return lines



def kept_result_lines(
    det: Detections3D, boxes2d: np.ndarray, keep: np.ndarray, T_cam_from_ego: np.ndarray
) -> list[str]:
    """:func:`result_lines` for the detections ``keep`` indexes, with their image boxes."""
    sub = Detections3D(
        stamp_ns=det.stamp_ns,
        frame_id=det.frame_id,
        boxes=np.asarray(det.boxes)[keep],
        scores=np.asarray(det.scores)[keep],
        class_ids=np.asarray(det.class_ids)[keep],
    )
    return result_lines(
        sub, boxes2d[keep], np.asarray(sub.scores), np.asarray(sub.class_ids), T_cam_from_ego
    )

def process_frame(
    root: Path, frame: str, detector: Detector
) -> tuple[dict[str, list[str]], np.ndarray, Detections2D, Detections3D, CameraCalibration]:
    """Runs the detector on one KITTI frame; returns result lines per mode and the inputs."""
    calib = read_calib(root / "calib" / f"{frame}.txt")
    image = read_image(root / "image_2" / f"{frame}.png", 0, "camera_2")
    points = read_points_bin(root / "velodyne" / f"{frame}.bin", 4)
    h, w = image.data.shape[:2]
    cam = calib.camera_calibration(2, w, h)
    det2d, lidar, (fused, cam_idx, fused_2d) = detector(image.data, points, cam, 0)
    T_rect_from_ego = calib.T_camrect_from_velo
    lines = {
        "camera": result_lines(
            None,
            np.asarray(det2d.boxes),
            np.asarray(det2d.scores),
            np.asarray(det2d.class_ids),
            T_rect_from_ego,
        )
    }
    for mode, det, own2d in (("lidar", lidar, None), ("fused", fused, (cam_idx, fused_2d))):
        proj, ok = project_boxes(np.asarray(det.boxes, np.float64), cam)
        if own2d is not None:
            use = own2d[0] == 0
            proj = np.where(use[:, None], own2d[1], proj)
            ok = ok | use
        lines[mode] = kept_result_lines(det, proj, np.flatnonzero(ok), T_rect_from_ego)
    return lines, image.data, det2d, fused, cam


def draw(
    image: np.ndarray, det2d: Detections2D, fused: Detections3D, cam: CameraCalibration
) -> np.ndarray:
    """Camera boxes (thin, yellow) and projected fused 3D boxes (green car, red person,
    blue cyclist) on a copy of the BGR image."""
    out = image.copy()
    for b in np.asarray(det2d.boxes).astype(int):
        cv2.rectangle(out, tuple(b[:2]), tuple(b[2:]), (0, 220, 220), 1)
    colours = {1: (0, 200, 0), 7: (0, 0, 255), 9: (255, 80, 0)}
    edges = [
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 0),
        (4, 5),
        (5, 6),
        (6, 7),
        (7, 4),
        (0, 4),
        (1, 5),
        (2, 6),
        (3, 7),
    ]
    for box, cls in zip(np.asarray(fused.boxes), np.asarray(fused.class_ids), strict=True):
        corners = transform_points(cam.extrinsics, box_corners(box[None])[0])
        uv, depth = project_to_image(corners, cam.projection)
        if (depth <= 0.1).any():
            continue
        p = uv.astype(int)
        for a, b in edges:
            cv2.line(out, tuple(p[a]), tuple(p[b]), colours.get(int(cls), (200, 200, 200)), 2)
    return out


def run_kitti(
    root: Path, out: Path, detector: Detector, viz: bool = False, frames: list[str] | None = None
) -> RunReport:
    """Writes result files for every frame of ``root`` (or ``frames``) under ``out``."""
    report = RunReport()
    for mode in MODES:
        (out / mode / "data").mkdir(parents=True, exist_ok=True)
    if viz:
        (out / "viz").mkdir(parents=True, exist_ok=True)
    frames = frames or kitti_frames(root)
    # The frame list, for `drive bench kitti-object --split` (the label folder has them all).
    (out / "frames.txt").write_text("".join(f + "\n" for f in frames))
    for frame in tqdm(frames, desc="detect", file=sys.stderr):
        report.frames += 1
        try:
            lines, image, det2d, fused, cam = process_frame(root, frame, detector)
        except (DataError, CalibrationError, ValueError, FileNotFoundError) as err:
            report.skipped[frame] = f"{type(err).__name__}: {err}"
            print(f"detect: skipped frame {frame}: {err}", file=sys.stderr)
            continue
        for mode, mode_lines in lines.items():
            (out / mode / "data" / f"{frame}.txt").write_text(
                "".join(line + "\n" for line in mode_lines)
            )
            report.written[mode] += 1
        if viz:
            cv2.imwrite(str(out / "viz" / f"{frame}.png"), draw(image, det2d, fused, cam))
    return report
