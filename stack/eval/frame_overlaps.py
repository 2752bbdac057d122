"""Overlaps between the detections and the ground truth of every frame, computed in one batch.

Both KITTI evaluators need the overlap of every same-frame (detection, ground truth) pair. Building
the same-frame pairs of all frames at once and calling the vectorised pair functions once per
metric is much faster than one call per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from drivestack.datasets.kitti.label_file import ObjectLabels
from drivestack.eval.box_iou import bev_iou_pairs, giou_3d_pairs, iou_2d_pairs, iou_3d_pairs
from drivestack.eval.kitti_boxes import camera_to_stack_boxes

OVERLAP_METRICS: tuple[str, ...] = ("bbox", "bev", "3d", "giou3d")


@dataclass(frozen=True)
class FrameOverlaps:
    """Ground truth and detections of all frames, concatenated, with same-frame overlaps.

    Attributes:
        gt, det: per frame labels.
        gt_frame: (N_gt,) frame index of each concatenated ground-truth row.
        det_frame: (N_det,) frame index of each concatenated detection row.
        gt_type, det_type: (N_gt,), (N_det,) lower-case type names.
        pair_det, pair_gt: (P,) rows of every same-frame (detection, ground truth) pair.
        overlaps: metric -> (P,) overlap of each pair.
        dc_cover: (N_det,) largest intersection / detection area with a DontCare box of the
            same frame (the devkits' criterion for DontCare regions), 0 if none.
    """

    gt: list[ObjectLabels]
    det: list[ObjectLabels]
    gt_frame: np.ndarray
    det_frame: np.ndarray
    gt_type: np.ndarray
    det_type: np.ndarray
    pair_det: np.ndarray
    pair_gt: np.ndarray
    overlaps: dict[str, np.ndarray]
    dc_cover: np.ndarray

    def gt_col(self, name: str, width: int = 0) -> np.ndarray:
        """Concatenated ground-truth column ``name``."""
        return cat(self.gt, name, width)

    def det_col(self, name: str, width: int = 0) -> np.ndarray:
        """Concatenated detection column ``name``."""
        return cat(self.det, name, width)


def same_frame_pairs(nd: np.ndarray, ng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (det row, gt row) pairs within each frame, frame by frame, det-major.

    Args:
        nd: (F,) detections per frame.
        ng: (F,) ground truth objects per frame.

    Returns:
        (P,) detection rows and (P,) ground-truth rows into the concatenated rows,
        P = sum(nd * ng).
    """
    nd = np.asarray(nd, np.int64)
    ng = np.asarray(ng, np.int64)
    d0 = np.concatenate([[0], np.cumsum(nd)[:-1]]).astype(np.int64)
    g0 = np.concatenate([[0], np.cumsum(ng)[:-1]]).astype(np.int64)
    per = nd * ng  # (F,)
    f = np.repeat(np.arange(len(nd)), per)
    k = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)  # index in frame
    ngf = np.maximum(ng[f], 1)
    return d0[f] + k // ngf, g0[f] + k % ngf


def cat(labels: Sequence[ObjectLabels], name: str, width: int = 0) -> np.ndarray:
    """Column ``name`` of all frames concatenated; (N,) or (N, width)."""
    parts = [getattr(x, name) for x in labels]
    if not parts:
        return np.zeros((0, width) if width else 0)
    return np.concatenate(parts).reshape((-1, width) if width else -1)


def frame_overlaps(
    gt: Sequence[ObjectLabels], det: Sequence[ObjectLabels], metrics: Sequence[str]
) -> FrameOverlaps:
    """Per-frame overlap matrices for each metric.

    Args:
        gt: per frame ground truth.
        det: per frame detections / tracker output, same frame order.
        metrics: subset of ("bbox", "bev", "3d", "giou3d"). Pairs where either side has no 3D
            box (DontCare, 2D-only rows) get overlap 0 in the 3D metrics (-1 for GIoU).

    Returns:
        The pairs, their overlaps and the DontCare cover of every detection.
    """
    ng = np.array([len(x) for x in gt], np.int64)
    nd = np.array([len(x) for x in det], np.int64)
    di, gi = same_frame_pairs(nd, ng)
    det_bbox, gt_bbox = cat(det, "bbox", 4), cat(gt, "bbox", 4)
    overlaps: dict[str, np.ndarray] = {}
    for metric in metrics:
        if metric == "bbox":
            ov = iou_2d_pairs(det_bbox[di], gt_bbox[gi])
        elif metric in ("bev", "3d", "giou3d"):
            ov = np.full(len(di), -1.0 if metric == "giou3d" else 0.0)
            ok = cat(det, "has_3d")[di].astype(bool) & cat(gt, "has_3d")[gi].astype(bool)
            box_d = camera_to_stack_boxes(
                cat(det, "dimensions", 3)[di[ok]],
                cat(det, "location", 3)[di[ok]],
                cat(det, "rotation_y")[di[ok]],
            )
            box_g = camera_to_stack_boxes(
                cat(gt, "dimensions", 3)[gi[ok]],
                cat(gt, "location", 3)[gi[ok]],
                cat(gt, "rotation_y")[gi[ok]],
            )
            fn = {"bev": bev_iou_pairs, "3d": iou_3d_pairs, "giou3d": giou_3d_pairs}[metric]
            ov[ok] = fn(box_d, box_g)
        else:
            raise ValueError(f"unknown overlap metric {metric!r}; known: {OVERLAP_METRICS}")
        overlaps[metric] = ov
    gt_type = np.char.lower(cat(gt, "type").astype(str))
    det_type = np.char.lower(cat(det, "type").astype(str))
    is_dc = gt_type[gi] == "dontcare"
    dc_cover = np.zeros(int(nd.sum()))
    np.maximum.at(dc_cover, di[is_dc], iou_2d_pairs(det_bbox[di[is_dc]], gt_bbox[gi[is_dc]], "a"))
    return FrameOverlaps(
        gt=list(gt),
        det=list(det),
        gt_frame=np.repeat(np.arange(len(gt)), ng),
        det_frame=np.repeat(np.arange(len(det)), nd),
        gt_type=gt_type,
        det_type=det_type,
        pair_det=di,
        pair_gt=gi,
        overlaps=overlaps,
        dc_cover=dc_cover,
    )
