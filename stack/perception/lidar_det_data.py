"""Frames with LiDAR and 3D labels for the learned LiDAR detector: KITTI object and nuScenes.

Both datasets become :class:`Sample` s in one *network frame* and one label format, so that
``drive train lidar-det`` trains and scores on any mix of roots:

* network frame: the dataset's ego frame shifted in z so that the road lies where it does
  in KITTI's Velodyne frame (the sensor 1.73 m above the road). KITTI: the ego frame itself.
  nuScenes: the ego origin is on the road (rear axle), so z - ``KITTI_LIDAR_HEIGHT``; a
  pillar grid sized for KITTI then holds nuScenes objects too.
* points: KITTI labels only objects camera 2 sees, so only points in its view are kept
  (unlabelled cars elsewhere would be taught as background). nuScenes annotates all around
  the car, so the whole scan is kept: cars cut by CAM_FRONT's image border keep their
  points outside the image, which the network needs to box them.
* training boxes: the labelled boxes holding at least one of those points (a box without
  points cannot be learned from the scan and would teach peaks on empty space).
* ground truth for scoring: KITTI label lines of that camera (KITTI: ``label_2`` as it is;
  nuScenes: the annotations projected by :func:`~drivestack.perception.detect_nuscenes.gt_lines`,
  the same ground truth ``drive detect`` writes), scored with the official devkit rules.

Samples are numbered in load order (``000000``, ``000001``, ...: the KITTI tools read only
numeric frame names); ``source`` says where each came from (``kitti_object/000003``,
``nuscenes/scene-0916/12``).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from drivestack.datasets.convention import make_transform, points_in_boxes
from drivestack.datasets.kitti.calib import read_calib
from drivestack.datasets.kitti.object import KittiObjectLog
from drivestack.datasets.nuscenes.log import NuScenesConfig, NuScenesLog
from drivestack.msgs import CameraCalibration
from drivestack.perception.detect_nuscenes import gt_lines
from drivestack.perception.fusion import project_points

KITTI_LIDAR_HEIGHT = 1.73  # [m] KITTI's Velodyne above the road (Geiger et al., IJRR 2013)


@dataclass(frozen=True)
class Sample:
    """One frame in the network frame (see the module docstring).

    Attributes:
        name: number in load order, the file stem of its label and result files.
        source: root folder name and frame it came from.
        points: (N, 4) float32 x, y, z [m], intensity (KITTI: those in the camera's view).
        boxes: (G, 7) float32 training boxes.
        classes: (G,) int32 their ObjectClass ids.
        calib: the labelled camera; extrinsics map the network frame into it.
        T_label_from_net: (4, 4) network frame -> the camera frame of ``labels``
            (KITTI: rectified camera 0; nuScenes: CAM_FRONT).
        labels: KITTI label lines (15 columns) of the frame's ground truth.
    """

    name: str
    source: str
    points: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    calib: CameraCalibration
    T_label_from_net: np.ndarray
    labels: tuple[str, ...]


def is_nuscenes_root(root: Path) -> bool:
    """A nuScenes root holds a ``v1.0-*`` table folder (as ``drive detect`` decides)."""
    return any(p.name.startswith("v1.0") for p in root.glob("v*"))


def load_samples(roots: list[Path], scene: str = "scene-0916") -> list[Sample]:
    """Samples of every root, in the order given.

    Args:
        roots: KITTI object roots (``velodyne/``, ``image_2/``, ``label_2/``, ``calib/``) or
            nuScenes roots (``v1.0-*/``, ``samples/``).
        scene: nuScenes scene read from nuScenes roots.

    Raises:
        FileNotFoundError: a root without one usable frame (naming the root).
        DataError: malformed files (naming file and line or record).
    """
    out: list[Sample] = []
    for root in roots:
        got = nuscenes_samples(root, scene) if is_nuscenes_root(root) else kitti_samples(root)
        if not got:
            raise FileNotFoundError(
                f"{root}: no frame with LiDAR, camera calibration and 3D labels"
            )
        out.extend(got)
    return [dataclasses.replace(s, name=f"{k:06d}") for k, s in enumerate(out)]


def _in_view(points: np.ndarray, calib: CameraCalibration) -> np.ndarray:
    """The points (N, 4) that project into the camera's image."""
    _, visible = project_points(points[:, :3].astype(np.float64), calib)
    return points[visible]


def _with_points(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(G,) bool: the box holds at least one of the points."""
    if len(boxes) == 0 or len(points) == 0:
        return np.zeros(len(boxes), bool)
    return points_in_boxes(points, boxes).any(axis=0)


def kitti_samples(root: Path) -> list[Sample]:
    """Every frame of a KITTI object root with velodyne, image, calib and labels."""
    log = KittiObjectLog(root)
    out = []
    for i in tqdm(range(len(log)), desc=f"load {root.name}", file=sys.stderr):
        frame = log[i]
        if not {"lidar", "annotations", "calib_2"} <= set(frame.streams()):
            continue
        frame_id = log.frame_ids[i]
        calib = frame.load("calib_2")
        ann = frame.load("annotations")
        boxes = np.asarray(ann.boxes, np.float32)
        pts = _in_view(np.asarray(frame.load("lidar").points, np.float32), calib)
        keep = _with_points(pts, boxes)
        label_path = root / "label_2" / f"{frame_id}.txt"
        out.append(
            Sample(
                name=frame_id,
                source=f"{root.name}/{frame_id}",
                points=pts,
                boxes=boxes[keep],
                classes=np.asarray(ann.class_ids, np.int32)[keep],
                calib=calib,
                T_label_from_net=read_calib(root / "calib" / f"{frame_id}.txt").T_camrect_from_velo,
                labels=tuple(line for line in label_path.read_text().splitlines() if line.strip()),
            )
        )
    return out


def nuscenes_samples(root: Path, scene: str) -> list[Sample]:
    """Every key frame of ``scene`` with a LIDAR_TOP and a CAM_FRONT file."""
    log = NuScenesLog(root, scene, NuScenesConfig(placeholders=True, key_frames_only=True))
    ego_from_net = make_transform(np.eye(3), [0.0, 0.0, KITTI_LIDAR_HEIGHT])  # (4, 4)
    out = []
    for i in tqdm(range(len(log)), desc=f"load {root.name}", file=sys.stderr):
        frame = log[i]
        if not {"lidar", "calib_front", "annotations"} <= set(frame.streams()):
            continue
        cam = frame.load("calib_front")  # extrinsics: ego -> CAM_FRONT
        ann = frame.load("annotations")
        boxes = np.asarray(ann.boxes, np.float64)
        sample = log.nusc.get("sample", log.lidar_sample_data(i)["sample_token"])
        lidar_pts = np.array(
            [log.nusc.get("sample_annotation", t)["num_lidar_pts"] for t in sample["anns"]]
        )
        labels = gt_lines(boxes, np.asarray(ann.class_ids), lidar_pts, cam)
        net_cam = dataclasses.replace(cam, extrinsics=cam.extrinsics @ ego_from_net)
        points = np.asarray(frame.load("lidar").points, np.float32).copy()
        points[:, 2] -= KITTI_LIDAR_HEIGHT
        net_boxes = boxes.astype(np.float32)
        net_boxes[:, 2] -= KITTI_LIDAR_HEIGHT
        keep = _with_points(points, net_boxes)
        out.append(
            Sample(
                name=f"{i:06d}",
                source=f"{root.name}/{scene}/{i}",
                points=points,
                boxes=net_boxes[keep],
                classes=np.asarray(ann.class_ids, np.int32)[keep],
                calib=net_cam,
                T_label_from_net=net_cam.extrinsics,
                labels=tuple(labels),
            )
        )
    return out


def write_labels(samples: list[Sample], out: Path) -> list[str]:
    """Writes ``out/<name>.txt`` ground truth per sample and ``out/../sources.txt`` (name and
    source per line); returns the names (frame list)."""
    out.mkdir(parents=True, exist_ok=True)
    for s in samples:
        (out / f"{s.name}.txt").write_text("".join(line + "\n" for line in s.labels))
    (out.parent / "sources.txt").write_text("".join(f"{s.name} {s.source}\n" for s in samples))
    return [s.name for s in samples]
