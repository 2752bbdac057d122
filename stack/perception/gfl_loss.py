"""Generalized Focal Loss (Li et al., NeurIPS 2020), the losses NanoDet's GFL head is trained with.

* Quality focal loss (QFL) on the class map: binary cross-entropy against a *soft* target
  ``y`` in [0, 1] (the IoU of the predicted box with its ground truth at positive cells, 0
  elsewhere), scaled by ``|y - sigmoid(x)|^beta`` so that cells already right contribute little.
* Distribution focal loss (DFL) on the 4 x ``bins`` side distributions: a distance ``t``
  (in bins) between bins ``l = floor(t)`` and ``l + 1`` is taught as cross-entropy towards both,
  weighted ``(l + 1 - t)`` and ``(t - l)``, so the distribution's expectation converges to ``t``
  and its mass stays on the two neighbouring bins.
* GIoU loss ``1 - GIoU`` on the boxes decoded from those distributions.

:func:`gfl_loss` combines them with NanoDet's weights (QFL 1, GIoU 2, DFL 0.25) and
normalisations: QFL summed over cells and divided by the number of positives; GIoU and DFL
weighted per positive by its predicted class score (detached, as upstream) and divided by the
sum of those weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

QFL_WEIGHT = 1.0
GIOU_WEIGHT = 2.0
DFL_WEIGHT = 0.25


@dataclass(frozen=True)
class GflLosses:
    """Loss terms of one batch (each a scalar tensor, weights already applied)."""

    qfl: torch.Tensor
    giou: torch.Tensor
    dfl: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        return self.qfl + self.giou + self.dfl


def quality_focal_loss(
    logits: torch.Tensor, target: torch.Tensor, beta: float = 2.0
) -> torch.Tensor:
    """Element-wise QFL.

    Args:
        logits: (..., C) class logits.
        target: (..., C) soft targets in [0, 1] (IoU at the positive's class, 0 elsewhere).
        beta: focusing exponent (2 in the paper and NanoDet).

    Returns:
        (..., C) loss per element (not reduced).
    """
    prob = logits.sigmoid()
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")  # (..., C)
    return bce * (target - prob).abs().pow(beta)


def distribution_focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """DFL of side distributions.

    Args:
        logits: (K, bins) logits of K side distributions.
        target: (K,) distances in bin units, in [0, bins - 1].

    Returns:
        (K,) loss per distribution.
    """
    bins = logits.shape[-1]
    # The right neighbour of bins - 1 does not exist: keep t just below the last bin.
    t = target.clamp(0, bins - 1 - 1e-4)
    left = t.floor().long()  # (K,)
    right = left + 1
    w_left = right.to(t.dtype) - t  # (K,)
    w_right = t - left.to(t.dtype)
    return (
        F.cross_entropy(logits, left, reduction="none") * w_left
        + F.cross_entropy(logits, right.clamp(max=bins - 1), reduction="none") * w_right
    )


def giou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-7) -> tuple[torch.Tensor, torch.Tensor]:
    """Element-wise IoU and generalised IoU of paired boxes.

    Args:
        a: (K, 4) boxes x1, y1, x2, y2 [px].
        b: (K, 4) boxes x1, y1, x2, y2 [px].

    Returns:
        (IoU (K,), GIoU (K,)); GIoU = IoU - (enclosing area - union) / enclosing area.
    """
    lt = torch.maximum(a[:, :2], b[:, :2])  # (K, 2)
    rb = torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)  # (K,)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(dim=1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(dim=1)
    union = area_a + area_b - inter + eps
    iou = inter / union
    enclose = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).prod(dim=1)
    return iou, iou - (enclose - union) / (enclose + eps)


def giou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(K, 4) x (K, 4) x1y1x2y2 -> (K,) ``1 - GIoU`` (0 for identical boxes, at most 2)."""
    return 1.0 - giou(pred, target)[1]


def gfl_loss(
    cls_logits: torch.Tensor,
    reg_logits: torch.Tensor,
    centres: torch.Tensor,
    strides: torch.Tensor,
    labels: torch.Tensor,
    gt_boxes: torch.Tensor,
    class_weight: torch.Tensor,
) -> GflLosses:
    """NanoDet's GFL loss over all cells of a batch.

    Args:
        cls_logits: (A, C) class logits of all A cells (levels and images concatenated).
        reg_logits: (A, 4 * bins) side-distance logits.
        centres: (A, 2) [px] cell centres in the network input.
        strides: (A,) [px] stride of each cell's level.
        labels: (A,) int64 assigned channel of each cell, -1 for background.
        gt_boxes: (A, 4) [px] assigned box of positive cells (ignored elsewhere).
        class_weight: (A, C) 1 where the class map is supervised, 0 where ignored
            (DontCare regions, channels not trained).

    Returns:
        The weighted loss terms.
    """
    if class_weight.shape != cls_logits.shape or labels.shape != cls_logits.shape[:1]:
        raise ValueError(
            f"gfl_loss: class map {tuple(cls_logits.shape)}, class weights "
            f"{tuple(class_weight.shape)}, labels {tuple(labels.shape)} do not match"
        )
    bins = reg_logits.shape[1] // 4
    pos = torch.nonzero(labels >= 0).flatten()  # (P,)
    n_pos = max(len(pos), 1)
    soft = torch.zeros_like(cls_logits)  # (A, C) QFL target
    zero = cls_logits.sum() * 0.0  # keeps the graph when there is no positive
    giou_term, dfl_term = zero, zero
    if len(pos):
        dist_logits = reg_logits[pos].reshape(-1, 4, bins)  # (P, 4, bins)
        values = torch.arange(bins, dtype=reg_logits.dtype, device=reg_logits.device)
        dist = (dist_logits.softmax(dim=2) * values).sum(dim=2)  # (P, 4) [bins]
        s = strides[pos, None]  # (P, 1)
        c = centres[pos]  # (P, 2)
        pred = torch.cat([c - dist[:, :2] * s, c + dist[:, 2:] * s], dim=1)  # (P, 4) [px]
        gt = gt_boxes[pos]  # (P, 4)
        iou, _ = giou(pred.detach(), gt)
        soft[pos, labels[pos]] = iou.clamp(min=0).to(soft.dtype)
        # Upstream weights box terms by the predicted score of the positive (detached).
        weight = cls_logits[pos].detach().sigmoid().max(dim=1).values  # (P,)
        wsum = weight.sum().clamp(min=1e-6)
        giou_term = GIOU_WEIGHT * (giou_loss(pred, gt) * weight).sum() / wsum
        target = torch.cat([c - gt[:, :2], gt[:, 2:] - c], dim=1) / s  # (P, 4) [bins]
        dfl = distribution_focal_loss(dist_logits.reshape(-1, bins), target.reshape(-1))
        dfl_term = DFL_WEIGHT * (dfl.reshape(-1, 4).mean(dim=1) * weight).sum() / wsum
    qfl = quality_focal_loss(cls_logits, soft) * class_weight  # (A, C)
    qfl_term = QFL_WEIGHT * qfl.sum() / n_pos
    return GflLosses(qfl_term, giou_term, dfl_term)
