"""KITTI evaluation (object AP, tracking CLEAR MOT / sAMOTA / HOTA); see README.md here.

The public API, re-exported::

    evaluate_kitti_object(gt, det) -> ObjectEvalResult          # per-frame ObjectLabels lists
    load_object_data(gt_dir, results, split) -> ObjectData
    evaluate_kitti_tracking(gt, res, n_frames, cfg) -> TrackingResult
    load_tracking_data(gt_dir, results_dir, seqmap) -> TrackingData
    iou_2d / bev_iou / iou_3d / giou_3d (N, M) and their *_pairs (P,) forms
"""

from drivestack.eval.box_iou import (
    bev_iou,
    bev_iou_pairs,
    giou_3d,
    giou_3d_pairs,
    iou_2d,
    iou_2d_pairs,
    iou_3d,
    iou_3d_pairs,
)
from drivestack.eval.kitti_boxes import camera_to_stack_boxes, stack_to_camera_boxes
from drivestack.eval.kitti_object import ObjectEvalConfig, evaluate_kitti_object
from drivestack.eval.kitti_object_data import load_object_data
from drivestack.eval.kitti_tracking import TrackingEvalConfig
from drivestack.eval.kitti_tracking_data import load_tracking_data
from drivestack.eval.kitti_tracking_result import evaluate_kitti_tracking

__all__ = [
    "ObjectEvalConfig",
    "TrackingEvalConfig",
    "bev_iou",
    "bev_iou_pairs",
    "camera_to_stack_boxes",
    "evaluate_kitti_object",
    "evaluate_kitti_tracking",
    "giou_3d",
    "giou_3d_pairs",
    "iou_2d",
    "iou_2d_pairs",
    "iou_3d",
    "iou_3d_pairs",
    "load_object_data",
    "load_tracking_data",
    "stack_to_camera_boxes",
]
