"""ATSS assigner (Zhang et al., CVPR 2020): which head cells learn which ground-truth box.

NanoDet's GFL head (upstream ``nanodet_t``) is trained with it. Each cell carries a square
anchor of side ``anchor_scale * stride`` at its centre. For every ground-truth box:

1. on every level take the ``topk`` cells whose centres are closest to the box centre;
2. the IoU threshold is mean + standard deviation of those candidates' anchor IoUs with the
   box (adaptive: a box that fits one level well gets a high threshold there);
3. candidates with IoU >= threshold whose centre lies inside the box are positives.

A cell that is positive for several boxes goes to the one with the highest anchor IoU.
"""

from __future__ import annotations

import torch

from drivestack.perception.camera_cnn import box_iou


def cell_centres(
    input_size: int,
    strides: tuple[int, ...],
    centre_offset: float = 0.5,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Centres of all head cells of a square input, levels concatenated, cells row-major.

    Args:
        input_size: [px] network input side.
        strides: [px] stride per level.
        centre_offset: [cells] cell centre (0.5, as :class:`CameraCnnConfig`).
        device: torch device of the outputs.

    Returns:
        (centres (A, 2) [px] x, y; strides (A,) [px]; cells per level).
    """
    centres, cell_strides, counts = [], [], []
    for stride in strides:
        n = input_size // stride
        idx = torch.arange(n, dtype=torch.float32, device=device)
        y, x = torch.meshgrid(idx, idx, indexing="ij")  # (n, n) each
        xy = torch.stack([x.flatten(), y.flatten()], dim=1)  # (n*n, 2) row-major like the head
        centres.append((xy + centre_offset) * stride)
        cell_strides.append(torch.full((n * n,), float(stride), device=device))
        counts.append(n * n)
    return torch.cat(centres), torch.cat(cell_strides), counts


def atss_assign(
    centres: torch.Tensor,
    strides: torch.Tensor,
    level_counts: list[int],
    gt_boxes: torch.Tensor,
    topk: int = 9,
    anchor_scale: float = 5.0,
) -> torch.Tensor:
    """Assigns cells of one image to ground-truth boxes.

    Args:
        centres: (A, 2) [px] cell centres, levels concatenated in ``level_counts`` order.
        strides: (A,) [px] stride of each cell.
        level_counts: cells per level (sums to A).
        gt_boxes: (G, 4) [px] x1, y1, x2, y2 in the network input.
        topk: candidates per level and box (9 upstream).
        anchor_scale: anchor side in strides (NanoDet's ``octave_base_scale`` 5).

    Returns:
        (A,) int64 index of the assigned box, -1 for background.
    """
    num_cells = centres.shape[0]
    assigned = torch.full((num_cells,), -1, dtype=torch.long, device=centres.device)
    if len(gt_boxes) == 0:
        return assigned
    half = 0.5 * anchor_scale * strides[:, None]  # (A, 1)
    anchors = torch.cat([centres - half, centres + half], dim=1)  # (A, 4)
    ious = box_iou(anchors, gt_boxes)  # (A, G)
    gt_centres = 0.5 * (gt_boxes[:, :2] + gt_boxes[:, 2:])  # (G, 2)
    dist = torch.cdist(centres, gt_centres)  # (A, G) [px]
    candidates = []
    start = 0
    for count in level_counts:
        k = min(topk, count)
        _, idx = dist[start : start + count].topk(k, dim=0, largest=False)  # (k, G)
        candidates.append(idx + start)
        start += count
    cand = torch.cat(candidates)  # (K, G) cell indices
    cand_iou = ious.gather(0, cand)  # (K, G)
    threshold = cand_iou.mean(dim=0) + cand_iou.std(dim=0)  # (G,)
    # Centre strictly inside the box (upstream: the least edge distance > 0.01 px).
    c = centres[cand]  # (K, G, 2)
    edges = torch.stack(
        [
            c[..., 0] - gt_boxes[None, :, 0],
            c[..., 1] - gt_boxes[None, :, 1],
            gt_boxes[None, :, 2] - c[..., 0],
            gt_boxes[None, :, 3] - c[..., 1],
        ],
        dim=2,
    )  # (K, G, 4)
    positive = (cand_iou >= threshold[None, :]) & (edges.min(dim=2).values > 0.01)  # (K, G)
    # Keep the IoU only where (cell, box) is a positive pair; -1 elsewhere.
    pair_iou = torch.full_like(ious, -1.0)  # (A, G)
    gt_idx = torch.arange(len(gt_boxes), device=centres.device).expand_as(cand)  # (K, G)
    pair_iou[cand[positive], gt_idx[positive]] = cand_iou[positive]
    best_iou, best_gt = pair_iou.max(dim=1)  # (A,)
    return torch.where(best_iou >= 0, best_gt, assigned)
