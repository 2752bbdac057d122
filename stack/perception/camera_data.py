"""Training data of the camera CNN: labelled frames, augmented tiles, per-cell GFL targets.

Frames come from a KITTI object root (``image_2/`` + ``label_2/``) or from nuScenes key
frames (each camera image with the 3D annotations projected into it, the same projection as
:func:`drivestack.perception.detect_nuscenes.gt_lines`). Boxes are in image pixels with a
stack :class:`ObjectClass`.

Class channels: the COCO-80 head is kept and only the channels that
:mod:`drivestack.perception.camera_cnn` maps to stack classes are trained
(:data:`TRAINED_CHANNELS`: person, bicycle, car, motorcycle, bus, train, truck), each
ground-truth class on the channel that the detector reads it from (:data:`CHANNEL_OF_CLASS`;
KITTI Van -> car). The other 73 channels get no loss, so the pretrained COCO knowledge of
the head is kept and the detector's post-processing (class mapping, rider association) is
unchanged. Cyclists are taught on the bicycle channel with the rider+bicycle box, and the
person channel is *ignored* inside them: the rider stays a person, which the detector pairs
with the bicycle into one cyclist box.

Ignored regions (no class loss on the cells whose centre lies inside): KITTI DontCare and
Misc, classes without a channel (barrier, cone, trailer, ...), nuScenes annotations without
LiDAR points (written as DontCare by ``drive detect``), and objects mostly cut off by the tile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from drivestack.datasets.convention import box_corners, project_to_image, transform_points
from drivestack.datasets.kitti.classes import kitti_class_id
from drivestack.datasets.kitti.label_file import read_object_labels
from drivestack.datasets.nuscenes.log import NuScenesConfig, NuScenesLog
from drivestack.msgs import CameraCalibration, Image, ObjectClass, TrackedObjects
from drivestack.perception._load import load_as
from drivestack.perception.camera_cnn import (
    COCO_BICYCLE,
    COCO_BUS,
    COCO_CAR,
    COCO_MOTORCYCLE,
    COCO_PERSON,
    COCO_TRAIN,
    COCO_TRUCK,
    CameraCnnConfig,
    image_to_bgr,
    tile_origins,
)

CHANNEL_OF_CLASS: dict[int, int] = {
    ObjectClass.CAR: COCO_CAR,
    ObjectClass.VAN: COCO_CAR,
    ObjectClass.TRUCK: COCO_TRUCK,
    ObjectClass.BUS: COCO_BUS,
    ObjectClass.TRAM: COCO_TRAIN,
    ObjectClass.PEDESTRIAN: COCO_PERSON,
    ObjectClass.PERSON_SITTING: COCO_PERSON,
    ObjectClass.CYCLIST: COCO_BICYCLE,
    ObjectClass.MOTORCYCLIST: COCO_MOTORCYCLE,
}
TRAINED_CHANNELS = (
    COCO_PERSON,
    COCO_BICYCLE,
    COCO_CAR,
    COCO_MOTORCYCLE,
    COCO_BUS,
    COCO_TRAIN,
    COCO_TRUCK,
)
RIDDEN = (int(ObjectClass.CYCLIST), int(ObjectClass.MOTORCYCLIST))
ALL_CHANNELS = -1  # ignore-region channel meaning "every trained channel"


@dataclass(frozen=True)
class LabelledImage:
    """One camera image with its 2D ground truth."""

    name: str  # e.g. "kitti/000001" or "nuscenes/scene-0916/000003/front"
    image: np.ndarray  # (H, W, 3) uint8 BGR
    boxes: np.ndarray  # (G, 4) float32 [px] x1, y1, x2, y2
    classes: np.ndarray  # (G,) int32 ObjectClass; classes without a channel are ignored


@dataclass(frozen=True)
class AugmentConfig:
    """Light augmentation of training tiles."""

    flip: float = 0.5  # probability of a left-right flip
    scale_jitter: float = 0.2  # tile side drawn from side * [1 - j, 1 + j]
    min_visible: float = 0.4  # part of a box inside the tile to be a positive, else ignored
    min_size: float = 4.0  # [px] of the network input: smaller boxes are ignored


@dataclass(frozen=True)
class Tile:
    """One augmented network tile and its targets in network-input pixels."""

    image: np.ndarray  # (S, S, 3) uint8 BGR
    boxes: np.ndarray  # (G, 4) float32 [px] positives
    channels: np.ndarray  # (G,) int64 COCO channel of each positive
    ignore: np.ndarray  # (I, 4) float32 [px] ignored regions
    ignore_channels: np.ndarray  # (I,) int64 channel ignored there, ALL_CHANNELS for every one


def load_kitti(root: Path, frames: list[str] | None = None) -> list[LabelledImage]:
    """KITTI object frames with ``image_2/<id>.png`` and ``label_2/<id>.txt``.

    Raises:
        FileNotFoundError: a folder, a requested frame's file, or every frame is missing.
    """
    for sub in ("image_2", "label_2"):
        if not (root / sub).is_dir():
            raise FileNotFoundError(f"{root}: no {sub}/ folder; not a KITTI object root")
    if frames is None:
        frames = sorted(
            p.stem
            for p in (root / "image_2").glob("*.png")
            if (root / "label_2" / f"{p.stem}.txt").is_file()
        )
    out = []
    for frame in frames:
        image_path, label_path = (
            root / "image_2" / f"{frame}.png",
            root / "label_2" / f"{frame}.txt",
        )
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"{image_path}: missing or not an image")
        labels = read_object_labels(label_path)
        classes = [
            int(kitti_class_id(t, f"{label_path}:{n}"))
            for t, n in zip(labels.type, labels.line, strict=True)
        ]
        out.append(
            LabelledImage(
                f"kitti/{frame}",
                image,
                np.asarray(labels.bbox, np.float32).reshape(-1, 4),
                np.asarray(classes, np.int32),
            )
        )
    if not out:
        raise FileNotFoundError(f"{root}: no frame has both image_2/ and label_2/ files")
    return out


def project_annotations(
    boxes: np.ndarray, classes: np.ndarray, lidar_pts: np.ndarray, cam: CameraCalibration
) -> tuple[np.ndarray, np.ndarray]:
    """2D ground truth of 3D boxes seen by one camera, as ``drive detect`` writes it.

    Args:
        boxes: (N, 7) [m] annotations in the ego frame (stack convention).
        classes: (N,) ObjectClass.
        lidar_pts: (N,) LiDAR points per annotation; 0 -> DontCare (no sensor sees it).
        cam: the camera.

    Returns:
        (boxes (G, 4) float32 [px] clipped to the image, classes (G,) int32).
    """
    if len(boxes) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.int32)
    corners = transform_points(cam.extrinsics, box_corners(boxes).reshape(-1, 3))
    uv, depth = project_to_image(corners, cam.projection)
    uv, depth = uv.reshape(-1, 8, 2), depth.reshape(-1, 8)
    centre = transform_points(cam.extrinsics, boxes[:, :3])
    # Same visibility rule as detect_nuscenes.gt_lines: centre ahead, every corner in front.
    ahead = (centre[:, 2] > 0.5) & (depth > 0.1).all(axis=1)
    limit = np.array([cam.width - 1, cam.height - 1], dtype=np.float64)
    lo = np.clip(uv.min(axis=1), 0, limit)  # (N, 2)
    hi = np.clip(uv.max(axis=1), 0, limit)
    seen = ahead & ((hi - lo) > 0).all(axis=1)
    cls = np.where(lidar_pts == 0, int(ObjectClass.DONT_CARE), classes)
    return np.concatenate([lo, hi], axis=1)[seen].astype(np.float32), cls[seen].astype(np.int32)


def load_nuscenes(
    root: Path, scene: str, key_frames: list[int] | None = None, cameras: str = "all"
) -> list[LabelledImage]:
    """nuScenes key-frame images with the annotations projected into them.

    Args:
        root: nuScenes root (``v1.0-*/``, ``samples/``).
        scene: scene name.
        key_frames: key-frame indices; None = every key frame with a camera file.
        cameras: "all" (every camera image present) or "front" (CAM_FRONT only).

    Raises:
        DataError: tables missing or the scene unknown. FileNotFoundError: no image found.
    """
    log = NuScenesLog(root, scene, NuScenesConfig(placeholders=True, key_frames_only=True))
    out = []
    for i in key_frames if key_frames is not None else range(len(log)):
        frame = log[i]
        streams = frame.streams()
        names = sorted(s.removeprefix("camera_") for s in streams if s.startswith("camera_"))
        if cameras == "front":
            names = [n for n in names if n == "front"]
        if not names:
            continue
        sample = log.nusc.get("sample", log.lidar_sample_data(i)["sample_token"])
        lidar_pts = np.array(
            [log.nusc.get("sample_annotation", t)["num_lidar_pts"] for t in sample["anns"]]
        )
        ann = load_as(frame, "annotations", TrackedObjects)
        for name in names:
            image = load_as(frame, f"camera_{name}", Image)
            boxes, classes = project_annotations(
                np.asarray(ann.boxes, np.float64),
                np.asarray(ann.class_ids),
                lidar_pts,
                load_as(frame, f"calib_{name}", CameraCalibration),
            )
            out.append(
                LabelledImage(
                    f"nuscenes/{scene}/{i:06d}/{name}", image_to_bgr(image), boxes, classes
                )
            )
    if not out:
        raise FileNotFoundError(f"{root}: no camera image for the key frames of {scene} asked for")
    return out


def tile_windows(height: int, width: int, cfg: CameraCnnConfig) -> np.ndarray:
    """(T, 4) float32 [px] x1, y1, x2, y2 of the detector's tiles (as :func:`make_tiles`)."""
    side = min(cfg.tile or height, height, width)
    return np.asarray(
        [
            (x0, y0, x0 + side, y0 + side)
            for y0 in tile_origins(height, side, cfg.min_overlap)
            for x0 in tile_origins(width, side, cfg.min_overlap)
        ],
        dtype=np.float32,
    )


def make_tile(
    frame: LabelledImage,
    window: np.ndarray,
    input_size: int,
    aug: AugmentConfig,
    rng: np.random.Generator,
) -> Tile:
    """Cuts one tile around ``window`` with scale jitter and flip; boxes follow.

    Args:
        frame: the labelled image.
        window: (4,) [px] the detector tile x1, y1, x2, y2 this tile is jittered from.
        input_size: [px] network input side.
        aug: augmentation settings.
        rng: random generator (state advances).
    """
    h, w = frame.image.shape[:2]
    side = float(window[2] - window[0]) * rng.uniform(1 - aug.scale_jitter, 1 + aug.scale_jitter)
    side = float(np.clip(side, 32, min(h, w)))
    cx, cy = 0.5 * (window[0] + window[2]), 0.5 * (window[1] + window[3])
    s = int(round(side))
    x0 = int(np.clip(round(cx - s / 2), 0, w - s))
    y0 = int(np.clip(round(cy - s / 2), 0, h - s))
    crop = frame.image[y0 : y0 + s, x0 : x0 + s]
    image = cv2.resize(crop, (input_size, input_size), interpolation=cv2.INTER_LINEAR)
    scale = input_size / s
    offset = np.array([x0, y0, x0, y0], np.float32)
    boxes: np.ndarray = (frame.boxes - offset) * np.float32(scale)  # (G, 4) input px
    clipped = np.clip(boxes, 0, input_size)
    full = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    size = np.clip(clipped[:, 2:] - clipped[:, :2], 0, None)  # (G, 2)
    inside = size.min(axis=1) > 0
    visible = np.prod(size, axis=1) / np.maximum(full, 1e-6)
    channel = np.array(
        [CHANNEL_OF_CLASS.get(int(c), ALL_CHANNELS) for c in frame.classes], np.int64
    )
    positive = (
        inside
        & (channel != ALL_CHANNELS)
        & (visible >= aug.min_visible)
        & (size.min(axis=1) >= aug.min_size)
    )
    ignored = inside & ~positive
    rider = positive & np.isin(frame.classes, RIDDEN)
    ign_boxes = np.concatenate([clipped[ignored], clipped[rider]])
    ign_channels = np.concatenate(
        [np.full(int(ignored.sum()), ALL_CHANNELS), np.full(int(rider.sum()), COCO_PERSON)]
    ).astype(np.int64)
    pos_boxes = clipped[positive]
    if rng.random() < aug.flip:
        image = np.ascontiguousarray(image[:, ::-1])
        pos_boxes = _flip(pos_boxes, input_size)
        ign_boxes = _flip(ign_boxes, input_size)
    return Tile(
        image,
        pos_boxes.astype(np.float32),
        channel[positive],
        ign_boxes.astype(np.float32),
        ign_channels,
    )


def _flip(boxes: np.ndarray, size: int) -> np.ndarray:
    return np.stack(
        [size - boxes[:, 2], boxes[:, 1], size - boxes[:, 0], boxes[:, 3]], axis=1
    ).reshape(-1, 4)


def cell_targets(
    tile: Tile,
    centres: torch.Tensor,
    assigned: torch.Tensor,
    num_classes: int,
    trained: tuple[int, ...] = TRAINED_CHANNELS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """GFL targets of one tile from its assignment.

    Args:
        tile: the tile (positives and ignored regions).
        centres: (A, 2) [px] cell centres.
        assigned: (A,) int64 index into ``tile.boxes`` per cell, -1 for background.
        num_classes: channels of the head.
        trained: channels that get a class loss.

    Returns:
        (labels (A,) int64 channel or -1, boxes (A, 4) [px], class weight (A, C) float32).
    """
    device = centres.device
    boxes = torch.as_tensor(tile.boxes, device=device).reshape(-1, 4)  # (G, 4)
    channels = torch.as_tensor(tile.channels, device=device)  # (G,)
    pos = assigned >= 0
    labels = torch.where(pos, channels[assigned.clamp(min=0)] if len(channels) else assigned, -1)
    gt = boxes[assigned.clamp(min=0)] if len(boxes) else torch.zeros(len(centres), 4, device=device)
    weight = torch.zeros(len(centres), num_classes, device=device)  # (A, C)
    weight[:, list(trained)] = 1.0
    ign = torch.as_tensor(tile.ignore, device=device).reshape(-1, 4)  # (I, 4)
    for box, ch in zip(ign, tile.ignore_channels.tolist(), strict=True):
        inside = ((centres >= box[:2]) & (centres <= box[2:])).all(dim=1)  # (A,)
        if ch == ALL_CHANNELS:
            weight[inside] = 0.0
        else:
            weight[inside, ch] = 0.0
    # A positive always learns its own channel, even inside an ignored region.
    weight[pos.nonzero().flatten(), labels[pos]] = 1.0
    return labels, gt, weight
