"""Camera 2D detector: NanoDet on overlapping square tiles, cross-tile merging, COCO -> stack.

A KITTI frame (about 1242 x 375) squashed into NanoDet's 416 x 416 input loses most objects,
so the image is cut into square tiles (side = image height by default) with at least
``min_overlap`` px in common, each resized to 416 x 416. Boxes cut by an interior tile edge
(a "seam") are joined with their other part from the neighbouring tile, then class-wise NMS
removes the duplicates that overlapping tiles produce. COCO classes are mapped to the stack's:
car -> CAR, truck -> TRUCK, bus -> BUS, train -> TRAM, person -> PEDESTRIAN, and a bicycle or
motorcycle with a person on it -> CYCLIST / MOTORCYCLIST (the rider is not also reported as a
pedestrian; a bicycle without a rider is dropped, as KITTI does not label parked bicycles).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from drivestack.msgs import Detections2D, Image, ObjectClass
from drivestack.perception.nanodet import MEAN_BGR, STD_BGR, STRIDES, NanoDet, decode_cells

COCO_PERSON, COCO_BICYCLE, COCO_CAR, COCO_MOTORCYCLE, COCO_BUS, COCO_TRAIN, COCO_TRUCK = (
    0,
    1,
    2,
    3,
    5,
    6,
    7,
)
# Direct COCO -> stack mapping; bicycle/motorcycle go through rider association instead.
COCO_TO_STACK: dict[int, ObjectClass] = {
    COCO_PERSON: ObjectClass.PEDESTRIAN,
    COCO_CAR: ObjectClass.CAR,
    COCO_BUS: ObjectClass.BUS,
    COCO_TRAIN: ObjectClass.TRAM,
    COCO_TRUCK: ObjectClass.TRUCK,
}
VEHICLES = (
    int(ObjectClass.CAR),
    int(ObjectClass.TRUCK),
    int(ObjectClass.BUS),
    int(ObjectClass.TRAM),
)
RIDER_CLASS = {COCO_BICYCLE: ObjectClass.CYCLIST, COCO_MOTORCYCLE: ObjectClass.MOTORCYCLIST}


@dataclass(frozen=True)
class CameraCnnConfig:
    """Settings of the tiled NanoDet detector."""

    input_size: int = 416  # [px] network input side (the released weights: 416)
    tile: int | None = None  # [px] square tile side in the image; None = image height
    min_overlap: int = 64  # [px] least overlap between neighbouring tiles
    score_threshold: float = 0.3  # class probability to keep a cell
    nms_iou: float = 0.5  # IoU above which the lower-scored same-class box is dropped
    vehicle_nms_iou: float = 0.7  # the same across vehicle classes (car vs truck vs bus)
    seam_margin: float = 3.0  # [px] a box this close to an interior tile edge is cut there
    seam_min_overlap: float = 0.5  # y-overlap (of the shorter) for joining two cut parts
    rider_min_ioa: float = 0.3  # part of the bicycle box the rider's box must cover
    centre_offset: float = 0.5  # [cells] GFL cell centre (0.5 = middle, NanoDet's priors)
    max_per_image: int = 100


@dataclass(frozen=True)
class CameraTiming:
    """[s] per stage of one :func:`detect_image` call."""

    preprocess: float
    network: float
    postprocess: float


def tile_origins(length: int, tile: int, min_overlap: int) -> list[int]:
    """[px] start of each tile along one axis, evenly spread, first at 0, last at the end."""
    if tile >= length:
        return [0]
    count = int(np.ceil((length - min_overlap) / (tile - min_overlap)))
    count = max(count, 2)
    return [int(round(v)) for v in np.linspace(0, length - tile, count)]


def make_tiles(image_bgr: np.ndarray, cfg: CameraCnnConfig) -> tuple[np.ndarray, np.ndarray]:
    """Cuts and resizes the image into network tiles.

    Args:
        image_bgr: (H, W, 3) uint8 BGR.
        cfg: detector settings.

    Returns:
        (tiles (T, S, S, 3) uint8 BGR with S = cfg.input_size, windows (T, 4) float32
        x1, y1, x2, y2 [px] of each tile in the image).
    """
    h, w = image_bgr.shape[:2]
    side = min(cfg.tile or h, h, w)
    windows, tiles = [], []
    for y0 in tile_origins(h, side, cfg.min_overlap):
        for x0 in tile_origins(w, side, cfg.min_overlap):
            crop = image_bgr[y0 : y0 + side, x0 : x0 + side]
            tiles.append(
                cv2.resize(crop, (cfg.input_size, cfg.input_size), interpolation=cv2.INTER_LINEAR)
            )
            windows.append((x0, y0, x0 + side, y0 + side))
    return np.stack(tiles), np.asarray(windows, dtype=np.float32)


def normalise(tiles: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """(T, S, S, 3) uint8 BGR -> (T, 3, S, S) float32 network input on ``device``."""
    x = torch.from_numpy(tiles).to(device).permute(0, 3, 1, 2).float()  # (T, 3, S, S)
    mean = torch.tensor(MEAN_BGR, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD_BGR, device=device).view(1, 3, 1, 1)
    return (x - mean) / std


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, 4) x (M, 4) x1y1x2y2 -> (N, M) IoU."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])  # (N, M, 2)
    inter = (rb - lt).clamp(min=0).prod(dim=2)  # (N, M)
    area_a = (a[:, 2:] - a[:, :2]).prod(dim=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(dim=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-9)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float) -> torch.Tensor:
    """Greedy NMS; returns kept indices (K,) in descending score order."""
    order = scores.argsort(descending=True)
    overlap = box_iou(boxes[order], boxes[order])  # (N, N)
    keep = torch.ones(len(order), dtype=torch.bool, device=boxes.device)
    for i in range(len(order)):
        if keep[i]:
            keep[i + 1 :] &= overlap[i, i + 1 :] <= iou
    return order[keep]


def decode_tiles(
    outputs: list[tuple[torch.Tensor, torch.Tensor]], windows: np.ndarray, cfg: CameraCnnConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Network outputs of T tiles -> candidate boxes in image pixels.

    Returns:
        (boxes (K, 4) [px] image x1y1x2y2, scores (K,), COCO labels (K,), tile index (K,)).
    """
    size = cfg.input_size
    win = torch.as_tensor(windows, device=outputs[0][0].device)  # (T, 4)
    scale = (win[:, 2] - win[:, 0]) / size  # (T,) image px per input px
    parts: list[tuple[torch.Tensor, ...]] = []
    for (cls, reg), stride in zip(outputs, STRIDES, strict=True):
        best, label = cls.max(dim=2)  # (T, N)
        # Decode only the cells that pass the threshold: the bin softmax of every cell of
        # every tile would cost more than the rest of the post-processing together.
        tile_idx, cell = torch.nonzero(best > cfg.score_threshold, as_tuple=True)
        boxes = decode_cells(reg[tile_idx, cell], cell, size // stride, stride, cfg.centre_offset)
        boxes = boxes.clamp(0, size) * scale[tile_idx, None] + win[tile_idx, :2].repeat(1, 2)
        parts.append((boxes, best[tile_idx, cell], label[tile_idx, cell], tile_idx))
    boxes, scores, labels, tiles = (torch.cat(p) for p in zip(*parts, strict=True))
    return boxes, scores, labels, tiles


def join_seams(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    tiles: torch.Tensor,
    windows: np.ndarray,
    image_wh: tuple[int, int],
    cfg: CameraCnnConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Joins same-class boxes cut by an interior tile edge with their neighbour-tile part.

    A box touching its tile's interior edge (not an image edge) is incomplete; the union with
    an overlapping same-class box of another tile that overlaps it vertically is the object.
    """
    win = torch.as_tensor(windows, device=boxes.device)[tiles]  # (K, 4)
    w, h = image_wh
    m = cfg.seam_margin
    cut_left = (boxes[:, 0] <= win[:, 0] + m) & (win[:, 0] > 0)
    cut_right = (boxes[:, 2] >= win[:, 2] - m) & (win[:, 2] < w)
    cut_top = (boxes[:, 1] <= win[:, 1] + m) & (win[:, 1] > 0)
    cut_bottom = (boxes[:, 3] >= win[:, 3] - m) & (win[:, 3] < h)
    cut = cut_left | cut_right | cut_top | cut_bottom  # (K,)
    out_boxes = boxes.clone()
    for i in torch.nonzero(cut).flatten().tolist():
        others = (labels == labels[i]) & (tiles != tiles[i])
        lt = torch.maximum(boxes[i, :2], boxes[:, :2])  # (K, 2)
        rb = torch.minimum(boxes[i, 2:], boxes[:, 2:])  # (K, 2)
        inter = (rb - lt).clamp(min=0)  # (K, 2)
        short_h = torch.minimum(boxes[i, 3] - boxes[i, 1], boxes[:, 3] - boxes[:, 1])
        short_w = torch.minimum(boxes[i, 2] - boxes[i, 0], boxes[:, 2] - boxes[:, 0])
        joins = (
            others
            & (inter[:, 0] > 0)
            & (inter[:, 1] > 0)
            & (
                (inter[:, 1] >= cfg.seam_min_overlap * short_h)
                | (inter[:, 0] >= cfg.seam_min_overlap * short_w)
            )
        )
        if bool(joins.any()):
            group = torch.cat([boxes[i : i + 1], boxes[joins]])  # (G, 4)
            out_boxes[i] = torch.cat(
                [group[:, :2].min(dim=0).values, group[:, 2:].max(dim=0).values]
            )
    # Complete boxes outrank cut parts of the same object in NMS.
    rank = scores - cut.float()
    return out_boxes, scores, rank


def map_classes(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, cfg: CameraCnnConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """COCO labels -> ObjectClass ids; riders on bicycles/motorcycles become one cyclist box.

    Returns:
        (boxes (K', 4), scores (K',), class ids (K',) int32 ObjectClass).
    """
    persons = torch.nonzero(labels == COCO_PERSON).flatten()
    used = torch.zeros(len(labels), dtype=torch.bool, device=labels.device)
    out_b, out_s, out_c = [], [], []
    for i in torch.nonzero((labels == COCO_BICYCLE) | (labels == COCO_MOTORCYCLE)).flatten():
        if len(persons) == 0:
            continue
        lt = torch.maximum(boxes[i, :2], boxes[persons, :2])
        rb = torch.minimum(boxes[i, 2:], boxes[persons, 2:])
        inter = (rb - lt).clamp(min=0).prod(dim=1)  # (P,)
        ioa = inter / (boxes[i, 2:] - boxes[i, :2]).prod().clamp(min=1e-9)
        ioa[used[persons]] = 0
        j = int(ioa.argmax())
        if float(ioa[j]) < cfg.rider_min_ioa:
            continue
        p = persons[j]
        used[p] = True
        out_b.append(
            torch.cat(
                [
                    torch.minimum(boxes[i, :2], boxes[p, :2]),
                    torch.maximum(boxes[i, 2:], boxes[p, 2:]),
                ]
            )
        )
        out_s.append(torch.sqrt(scores[i] * scores[p]))
        out_c.append(int(RIDER_CLASS[int(labels[i])]))
    for i in range(len(labels)):
        cls = COCO_TO_STACK.get(int(labels[i]))
        if cls is not None and not bool(used[i]):
            out_b.append(boxes[i])
            out_s.append(scores[i])
            out_c.append(int(cls))
    if not out_b:
        return boxes[:0], scores[:0], torch.zeros(0, dtype=torch.int32, device=boxes.device)
    return (
        torch.stack(out_b),
        torch.stack(out_s),
        torch.tensor(out_c, dtype=torch.int32, device=boxes.device),
    )


def image_to_bgr(image: Image) -> np.ndarray:
    """An :class:`Image` message -> (H, W, 3) uint8 BGR; odd encodings raise ValueError."""
    data = np.asarray(image.data)
    enc = image.encoding
    if data.dtype != np.uint8:
        raise ValueError(f"Image (frame {image.frame_id}): dtype {data.dtype}, expected uint8")
    if data.ndim == 2 or (data.ndim == 3 and data.shape[2] == 1) or enc in ("mono8",):
        return cv2.cvtColor(data.reshape(data.shape[0], data.shape[1]), cv2.COLOR_GRAY2BGR)
    if data.ndim != 3 or data.shape[2] not in (3, 4):
        raise ValueError(f"Image (frame {image.frame_id}): shape {data.shape}, expected HxWx3")
    if data.shape[2] == 4:
        data = data[:, :, :3]
    if enc.startswith("rgb"):
        return np.ascontiguousarray(data[:, :, ::-1])
    if enc.startswith("bgr"):
        return np.ascontiguousarray(data)
    raise ValueError(f"Image (frame {image.frame_id}): encoding {enc!r} not rgb8/bgr8/mono8")


@torch.no_grad()
def detect_bgr(
    model: NanoDet, image_bgr: np.ndarray, cfg: CameraCnnConfig, device: str | torch.device = "cpu"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, CameraTiming]:
    """Detects objects in one BGR image.

    Args:
        model: NanoDet with weights, on ``device``.
        image_bgr: (H, W, 3) uint8 BGR; H, W >= 32.
        cfg: detector settings.
        device: where the network runs.

    Returns:
        (boxes (K, 4) float32 [px] x1y1x2y2, scores (K,) float32, class ids (K,) int32
        ObjectClass, stage timings).
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(
            f"detect_bgr: expected (H, W, 3) uint8, got {image_bgr.shape} {image_bgr.dtype}"
        )
    h, w = image_bgr.shape[:2]
    if min(h, w) < 32:
        raise ValueError(f"detect_bgr: image {w}x{h} px is smaller than 32 px")
    t0 = time.perf_counter()
    tiles, windows = make_tiles(image_bgr, cfg)
    x = normalise(tiles, device)  # (T, 3, S, S)
    t1 = _sync(device)
    outputs = model(x)
    t2 = _sync(device)
    boxes, scores, labels, tile_idx = decode_tiles(outputs, windows, cfg)
    boxes, scores, rank = join_seams(boxes, scores, labels, tile_idx, windows, (w, h), cfg)
    keep = []
    for lab in labels.unique():
        idx = torch.nonzero(labels == lab).flatten()
        keep.append(idx[nms(boxes[idx], rank[idx], cfg.nms_iou)])
    kept = torch.cat(keep) if keep else torch.zeros(0, dtype=torch.long, device=boxes.device)
    boxes, scores, classes = map_classes(boxes[kept], scores[kept], labels[kept], cfg)
    # COCO often fires car and truck on one vehicle: one box per vehicle across classes.
    vehicle = torch.isin(classes, torch.tensor(VEHICLES, dtype=torch.int32, device=classes.device))
    others = torch.nonzero(~vehicle).flatten()
    veh = torch.nonzero(vehicle).flatten()
    veh = veh[nms(boxes[veh], scores[veh], cfg.vehicle_nms_iou)]
    keep_all = torch.cat([veh, others])
    boxes, scores, classes = boxes[keep_all], scores[keep_all], classes[keep_all]
    order = scores.argsort(descending=True)[: cfg.max_per_image]
    out = (
        boxes[order].cpu().numpy().astype(np.float32),
        scores[order].cpu().numpy().astype(np.float32),
        classes[order].cpu().numpy().astype(np.int32),
    )
    t3 = _sync(device)
    return (*out, CameraTiming(t1 - t0, t2 - t1, t3 - t2))


def detect_image(
    model: NanoDet, image: Image, cfg: CameraCnnConfig, device: str | torch.device = "cpu"
) -> Detections2D:
    """Detects objects in an :class:`Image` message; the result keeps its stamp and frame."""
    boxes, scores, classes, _ = detect_bgr(model, image_to_bgr(image), cfg, device)
    det = Detections2D(
        stamp_ns=image.stamp_ns,
        frame_id=image.frame_id,
        boxes=boxes,
        scores=scores,
        class_ids=classes,
    )
    det.validate()
    return det


def _sync(device: str | torch.device) -> float:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()
