"""``drive train camera-det``: fine-tunes the camera CNN (NanoDet, COCO weights) on KITTI or nuScenes.

Each step draws ``batch`` tiles: a random labelled image, one of the detector's own tiles
of it (:func:`camera_data.tile_windows`, e.g. KITTI 1242x375 -> 375x375 tiles resized to
416), scale-jittered and flipped. Cells are assigned by ATSS (:mod:`atss_assigner`) and
trained with NanoDet's GFL losses (:mod:`gfl_loss`) on the class channels the stack reads
(:mod:`camera_data`). AdamW with a linear warm-up and cosine decay. With ``--val-frames`` the
init and the trained model are both run through the detector (:func:`camera_cnn.detect_bgr`,
the same code as ``drive detect``) on those frames and scored with the KITTI object
evaluator (2D, R40 and dense AP); nuScenes ground truth for that is CAM_FRONT written by
:func:`detect_nuscenes.gt_lines`, as ``drive detect`` writes it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from drivestack.perception.atss_assigner import atss_assign, cell_centres
from drivestack.perception.camera_checkpoint import (
    CameraModelConfig,
    CheckpointError,
    load_camera_model,
    save_checkpoint,
)
from drivestack.perception.camera_cnn import CameraCnnConfig, detect_bgr, normalise
from drivestack.perception.camera_data import (
    AugmentConfig,
    LabelledImage,
    Tile,
    cell_targets,
    load_kitti,
    load_nuscenes,
    make_tile,
    tile_windows,
)
from drivestack.perception.gfl_loss import GflLosses, gfl_loss
from drivestack.perception.nanodet import STRIDES, NanoDet

DATASET_TYPES = ("kitti_object", "nuscenes")


@dataclass(frozen=True)
class CameraTrainConfig:
    """Optimisation settings."""

    steps: int = 200
    batch: int = 4  # tiles per step
    lr: float = 5e-5  # AdamW peak learning rate (fine-tuning: low keeps COCO knowledge)
    weight_decay: float = 0.05
    warmup: int = 20  # steps of linear warm-up, then cosine decay to 0
    seed: int = 0
    augment: AugmentConfig = AugmentConfig()


def batch_loss(
    model: NanoDet,
    tiles: list[Tile],
    model_cfg: CameraModelConfig,
    device: str | torch.device = "cpu",
) -> GflLosses:
    """GFL loss of a batch of tiles (assignment per tile, loss over all cells).

    Args:
        model: the network (its parameters get the gradient).
        tiles: augmented tiles of side ``model_cfg.input_size``.
        model_cfg: input size and cell-centre convention.
        device: torch device of the model.
    """
    size = model_cfg.input_size
    x = normalise(np.stack([t.image for t in tiles]), device)  # (B, 3, S, S)
    outputs = model(x, logits=True)
    cls = torch.cat([c for c, _ in outputs], dim=1)  # (B, A, C)
    reg = torch.cat([r for _, r in outputs], dim=1)  # (B, A, 4 * bins)
    centres, strides, counts = cell_centres(size, STRIDES, model_cfg.centre_offset, device)
    labels, boxes, weights = [], [], []
    for tile in tiles:
        gt = torch.as_tensor(tile.boxes, device=device).reshape(-1, 4)  # (G, 4)
        assigned = atss_assign(centres, strides, counts, gt)  # (A,)
        lab, box, w = cell_targets(tile, centres, assigned, model.num_classes)
        labels.append(lab)
        boxes.append(box)
        weights.append(w)
    b = len(tiles)
    return gfl_loss(
        cls.reshape(-1, cls.shape[2]),
        reg.reshape(-1, reg.shape[2]),
        centres.repeat(b, 1),
        strides.repeat(b),
        torch.cat(labels),
        torch.cat(boxes),
        torch.cat(weights),
    )


def lr_factor(step: int, cfg: CameraTrainConfig) -> float:
    """Learning-rate multiplier: linear warm-up, then cosine to 0 at ``cfg.steps``."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train(
    model: NanoDet,
    frames: list[LabelledImage],
    cfg: CameraTrainConfig,
    cnn: CameraCnnConfig,
    model_cfg: CameraModelConfig,
    device: str | torch.device = "cpu",
) -> tuple[NanoDet, dict[str, list[float]]]:
    """Fine-tunes ``model`` in place on tiles of ``frames``.

    Returns:
        (the model in eval mode, per-step history of "total", "qfl", "giou", "dfl", "lr").
    """
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    windows = [tile_windows(f.image.shape[0], f.image.shape[1], cnn) for f in frames]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    history: dict[str, list[float]] = {k: [] for k in ("total", "qfl", "giou", "dfl", "lr")}
    model.train()
    for _ in tqdm(range(cfg.steps), desc="train camera-det", file=sys.stderr):
        tiles = []
        for _ in range(cfg.batch):
            f = int(rng.integers(len(frames)))
            w = windows[f][int(rng.integers(len(windows[f])))]
            tiles.append(make_tile(frames[f], w, model_cfg.input_size, cfg.augment, rng))
        losses = batch_loss(model, tiles, model_cfg, device)
        opt.zero_grad()
        losses.total.backward()
        opt.step()
        history["lr"].append(opt.param_groups[0]["lr"])
        sched.step()
        for key in ("qfl", "giou", "dfl"):
            history[key].append(float(getattr(losses, key).detach()))
        history["total"].append(float(losses.total.detach()))
    return model.eval(), history


def write_camera_results(
    model: NanoDet,
    frames: list[LabelledImage],
    out: Path,
    cnn: CameraCnnConfig,
    device: str | torch.device = "cpu",
) -> list[str]:
    """Runs the detector on each image; KITTI 2D result files ``out/<key>.txt``.

    Returns:
        The file keys, in order (KITTI: the frame id; nuScenes: the key-frame index).
    """
    from drivestack.perception.detect_kitti import result_lines

    out.mkdir(parents=True, exist_ok=True)
    keys = []
    for f in frames:
        boxes, scores, classes, _ = detect_bgr(model, f.image, cnn, device)
        key = f.name.split("/")[-1] if f.name.startswith("kitti/") else f.name.split("/")[-2]
        lines = result_lines(None, boxes, scores, classes, np.eye(4))
        (out / f"{key}.txt").write_text("".join(line + "\n" for line in lines))
        keys.append(key)
    return keys


def nuscenes_front_labels(root: Path, scene: str, key_frames: list[int], out: Path) -> None:
    """CAM_FRONT ground truth of key frames in KITTI label files, as ``drive detect`` writes it."""
    from drivestack.datasets.nuscenes.log import NuScenesConfig, NuScenesLog
    from drivestack.msgs.objects import TrackedObjects
    from drivestack.msgs.sensors import CameraCalibration
    from drivestack.perception._load import load_as
    from drivestack.perception.detect_nuscenes import gt_lines

    log = NuScenesLog(root, scene, NuScenesConfig(placeholders=True, key_frames_only=True))
    out.mkdir(parents=True, exist_ok=True)
    for i in key_frames:
        frame = log[i]
        sample = log.nusc.get("sample", log.lidar_sample_data(i)["sample_token"])
        pts = np.array(
            [log.nusc.get("sample_annotation", t)["num_lidar_pts"] for t in sample["anns"]]
        )
        ann = load_as(frame, "annotations", TrackedObjects)
        lines = gt_lines(
            np.asarray(ann.boxes, np.float64),
            np.asarray(ann.class_ids),
            pts,
            load_as(frame, "calib_front", CameraCalibration),
        )
        (out / f"{i:06d}.txt").write_text("".join(line + "\n" for line in lines))


def evaluate_2d(label_dir: Path, result_dir: Path, keys: list[str]) -> dict[str, Any]:
    """2D (bbox) AP per class and difficulty: devkit R40 and the dense AP, with n_gt."""
    from drivestack.perception.pointpillars_train import evaluate_dir

    table = evaluate_dir(label_dir, result_dir, keys)
    return {k.replace("/bbox", ""): v for k, v in table.items() if "/bbox/" in k}


def plot_history(history: dict[str, list[float]], path: Path) -> None:
    """Learning curve PNG: loss terms per step (log scale) and the learning rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_lr) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=[3, 1])
    for key in ("total", "qfl", "giou", "dfl"):
        ax.plot(history[key], label=key, lw=1.5 if key == "total" else 1.0)
    ax.set_yscale("log")
    ax.set_ylabel("loss")
    ax.legend()
    ax.set_title("drive train camera-det")
    ax_lr.plot(history["lr"])
    ax_lr.set_ylabel("lr")
    ax_lr.set_xlabel("step")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_frames(spec: str | None, kitti: bool) -> list[str] | None:
    """ "0-2,5" -> KITTI ids ["000000", "000001", "000002", "000005"] (or the same as ints)."""
    if spec is None:
        return None
    out: list[str] = []
    for item in spec.split(","):
        lo, _, hi = item.strip().partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise ValueError(f"frame list {spec!r}: {item!r} is not N or N-M")
        out += [str(i) for i in range(int(lo), int(hi or lo) + 1)]
    return [f"{int(i):06d}" for i in out] if kitti else out


def load_frames(args: argparse.Namespace, spec: str | None, cameras: str) -> list[LabelledImage]:
    """Labelled images of the dataset named by the CLI arguments."""
    if args.dataset_type == "kitti_object":
        return load_kitti(args.dataset, parse_frames(spec, kitti=True))
    frames = parse_frames(spec, kitti=False)
    return load_nuscenes(
        args.dataset, args.scene, None if frames is None else [int(i) for i in frames], cameras
    )


def validate(
    model: NanoDet, args: argparse.Namespace, cnn: CameraCnnConfig, out: Path
) -> dict[str, Any]:
    """2D AP of ``model`` on ``--val-frames`` (nuScenes: CAM_FRONT), results under ``out``."""
    frames = load_frames(args, args.val_frames, "front")
    keys = write_camera_results(model, frames, out / "data", cnn, args.device)
    if args.dataset_type == "kitti_object":
        label_dir = args.dataset / "label_2"
    else:
        label_dir = out / "label_2"
        nuscenes_front_labels(args.dataset, args.scene, [int(k) for k in keys], label_dir)
    return evaluate_2d(label_dir, out / "data", keys)


def detect_dataset_type(root: Path) -> str:
    """ "nuscenes" if ``root`` holds a ``v1.0-*`` folder, else "kitti_object"."""
    return "nuscenes" if any(p.name.startswith("v1.0") for p in root.glob("v*")) else "kitti_object"


def train_cmd(args: argparse.Namespace) -> int:
    """Handler of ``drive train camera-det`` (parser in :mod:`drivestack.perception.cli`)."""
    from drivestack.datasets.errors import DataError
    from drivestack.perception.weights import WeightsError

    if not args.dataset.is_dir():
        print(f"train camera-det: --dataset {args.dataset}: no such folder", file=sys.stderr)
        return 2
    args.dataset_type = args.dataset_type or detect_dataset_type(args.dataset)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cnn = CameraCnnConfig()
    model_cfg = CameraModelConfig(input_size=cnn.input_size, centre_offset=cnn.centre_offset)
    cfg = CameraTrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed)
    try:
        frames = load_frames(args, args.frames, args.cameras)
        init = None if args.init == "pretrained" else args.init
        model = load_camera_model(init, args.device, model_cfg)
        eval_dir = args.out.with_suffix("")
        result: dict[str, Any] = {"checkpoint": str(args.out), "images": len(frames)}
        if args.val_frames is not None:
            result["val_before"] = validate(model, args, cnn, eval_dir / "val_before")
        model, history = train(model, frames, cfg, cnn, model_cfg, args.device)
    except (
        DataError,
        FileNotFoundError,
        IndexError,
        ValueError,
        WeightsError,
        CheckpointError,
    ) as err:
        print(f"train camera-det: {err}", file=sys.stderr)
        return 2
    train_info = {
        **{k: v for k, v in dataclasses.asdict(cfg).items() if k != "augment"},
        "augment": dataclasses.asdict(cfg.augment),
        "dataset": str(args.dataset),
        "dataset_type": args.dataset_type,
        "frames": [f.name for f in frames],
        "init": args.init,
    }
    save_checkpoint(args.out, model, model_cfg, train_info, history["total"])
    plot_history(history, args.out.with_suffix(".png"))
    result.update(
        loss_first=round(history["total"][0], 4),
        loss_last=round(float(np.mean(history["total"][-10:])), 4),
        curve=str(args.out.with_suffix(".png")),
    )
    if args.val_frames is not None:
        result["val_after"] = validate(model, args, cnn, eval_dir / "val_after")
    print(json.dumps(result))
    return 0
