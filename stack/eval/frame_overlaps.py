"""Overlaps between the detections and the ground truth of every frame, computed in one batch.

Both KITTI evaluators need the overlap of every same-frame (detection, ground truth) pair.
Building the same-frame pairs of all frames at once and calling the vectorised pair functions
once per metric is much faster than one call per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivestack.datasets.kitti.label_file import ObjectLabels, parse_object_lines
from drivestack.eval.box_iou import bev_iou_pairs, giou_3d_pairs, iou_2d_pairs, iou_3d_pairs
from drivestack.eval.kitti_boxes import camera_to_stack_boxes

OVERLAP_METRICS: tuple[str, ...] = ("bbox", "bev", "3d", "giou3d")


def concat_labels(labels: Sequence[ObjectLabels], path: str = "<concatenated>") -> ObjectLabels:
    """Rows of several label sets in one (score kept only if every non-empty part has one)."""
    if not labels:
        return _empty(path)
    fields: dict[str, Any] = {"path": path}  # ObjectLabels fields by name, one type each
    for name, value in labels[0].__dict__.items():
        if name == "path":
            continue
        if name == "score":
            parts = [x.score for x in labels if len(x)]
            fields[name] = (
                np.concatenate([np.zeros(0), *parts]) if all(p is not None for p in parts) else None
            )
            continue
        fields[name] = np.concatenate([getattr(x, name) for x in labels])
        if isinstance(value, np.ndarray) and value.ndim == 2:
            fields[name] = np.asarray(fields[name]).reshape(-1, value.shape[1])
    return type(labels[0])(**fields)


def _empty(path: str) -> ObjectLabels:
    return parse_object_lines([], path)


@dataclass(frozen=True)
class FrameOverlaps:
    """Ground truth and detections of all frames, concatenated, with same-frame overlaps.

    Attributes:
        gt, det: all rows, sorted by frame.
        n_frames: number of frames.
        gt_frame: (N_gt,) frame index of each ground-truth row.
        det_frame: (N_det,) frame index of each detection row.
        gt_type, det_type: (N_gt,), (N_det,) lower-case type names.
        pair_det, pair_gt: (P,) rows of every same-frame (detection, ground truth) pair,
            frame by frame, detection-major.
        overlaps: metric -> (P,) overlap of each pair.
        dc_cover: (N_det,) largest intersection / detection area with a DontCare box of the
            same frame (the devkits' criterion for DontCare regions), 0 if none.
    """

    gt: ObjectLabels
    det: ObjectLabels
    n_frames: int
    gt_frame: np.ndarray
    det_frame: np.ndarray
    gt_type: np.ndarray
    det_type: np.ndarray
    pair_det: np.ndarray
    pair_gt: np.ndarray
    overlaps: dict[str, np.ndarray]
    dc_cover: np.ndarray

    def gt_col(self, name: str) -> np.ndarray:
        """Ground-truth column ``name`` (all rows)."""
        return np.asarray(getattr(self.gt, name))

    def det_col(self, name: str) -> np.ndarray:
        """Detection column ``name`` (all rows)."""
        return np.asarray(getattr(self.det, name))


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


def frame_overlaps_flat(
    gt: ObjectLabels,
    ng: np.ndarray,
    det: ObjectLabels,
    nd: np.ndarray,
    metrics: Sequence[str],
) -> FrameOverlaps:
    """Same-frame overlaps for each metric, from rows sorted by frame.

    Args:
        gt: ground-truth rows sorted by frame.
        ng: (F,) ground-truth rows per frame.
        det: detection rows sorted by frame.
        nd: (F,) detection rows per frame.
        metrics: subset of ("bbox", "bev", "3d", "giou3d"). Pairs where either side has no 3D
            box (DontCare, 2D-only rows) get overlap 0 in the 3D metrics (-1 for GIoU).

    Returns:
        The pairs, their overlaps and the DontCare cover of every detection.
    """
    ng, nd = np.asarray(ng, np.int64), np.asarray(nd, np.int64)
    di, gi = same_frame_pairs(nd, ng)
    overlaps: dict[str, np.ndarray] = {}
    for metric in metrics:
        if metric == "bbox":
            ov = iou_2d_pairs(det.bbox[di], gt.bbox[gi])
        elif metric in ("bev", "3d", "giou3d"):
            ov = np.full(len(di), -1.0 if metric == "giou3d" else 0.0)
            ok = det.has_3d[di] & gt.has_3d[gi]
            d, g = di[ok], gi[ok]
            box_d = camera_to_stack_boxes(det.dimensions[d], det.location[d], det.rotation_y[d])
            box_g = camera_to_stack_boxes(gt.dimensions[g], gt.location[g], gt.rotation_y[g])
            fn = {"bev": bev_iou_pairs, "3d": iou_3d_pairs, "giou3d": giou_3d_pairs}[metric]
            ov[ok] = fn(box_d, box_g)
        else:
            raise ValueError(f"unknown overlap metric {metric!r}; known: {OVERLAP_METRICS}")
        overlaps[metric] = ov
    gt_type = np.char.lower(gt.type.astype(str))
    det_type = np.char.lower(det.type.astype(str))
    is_dc = gt_type[gi] == "dontcare"
    dc_cover = np.zeros(int(nd.sum()))
    np.maximum.at(dc_cover, di[is_dc], iou_2d_pairs(det.bbox[di[is_dc]], gt.bbox[gi[is_dc]], "a"))
    return FrameOverlaps(
        gt=gt,
        det=det,
        n_frames=len(ng),
        gt_frame=np.repeat(np.arange(len(ng)), ng),
        det_frame=np.repeat(np.arange(len(nd)), nd),
        gt_type=gt_type,
        det_type=det_type,
        pair_det=di,
        pair_gt=gi,
        overlaps=overlaps,
        dc_cover=dc_cover,
    )


def frame_overlaps(
    gt: Sequence[ObjectLabels], det: Sequence[ObjectLabels], metrics: Sequence[str]
) -> FrameOverlaps:
    """:func:`frame_overlaps_flat` from per-frame label lists (same frame order)."""
    ng = np.array([len(x) for x in gt], np.int64)
    nd = np.array([len(x) for x in det], np.int64)
    return frame_overlaps_flat(concat_labels(gt), ng, concat_labels(det), nd, metrics)
