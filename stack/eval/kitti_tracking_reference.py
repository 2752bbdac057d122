"""Plain-loop reference of one CLEAR MOT run of the KITTI tracking devkit / AB3DMOT.

Written the way ``compute3rdPartyMetrics`` reads: frame by frame, object by object, a full
Hungarian assignment per frame on the gated cost matrix, the per-frame ignore bookkeeping
(``nignoredtracker``, ``ignoredfn``, ``nignoredtp``, ``nignoredpairs``) and the trajectory walk.
It checks the vectorised :mod:`drivestack.eval.kitti_tracking` (tests) and is the baseline of
``drive bench kitti-tracking``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from drivestack.datasets.kitti.label_file import TrackingLabels
from drivestack.eval.box_iou import giou_3d, iou_2d, iou_3d
from drivestack.eval.kitti_boxes import camera_to_stack_boxes
from drivestack.eval.kitti_tracking import NEIGHBOUR_TRACKING, TrackingEvalConfig


def _overlap(metric: str, g: TrackingLabels, i: int, t: TrackingLabels, j: int) -> float:
    if metric == "bbox":
        return float(iou_2d(g.bbox[i : i + 1], t.bbox[j : j + 1])[0, 0])
    a = camera_to_stack_boxes(
        g.dimensions[i : i + 1], g.location[i : i + 1], g.rotation_y[i : i + 1]
    )
    b = camera_to_stack_boxes(
        t.dimensions[j : j + 1], t.location[j : j + 1], t.rotation_y[j : j + 1]
    )
    return float((iou_3d if metric == "3d" else giou_3d)(a, b)[0, 0])


def reference_clear(
    gt: Sequence[TrackingLabels],
    res: Sequence[TrackingLabels],
    n_frames: Sequence[int],
    cls: str,
    cfg: TrackingEvalConfig,
    threshold: float = -10000.0,
    valid_before: set[tuple[int, int]] | None = None,
) -> dict[str, object]:
    """TP, FP, FN, IDS, FRAG, MOTA, MOTP, MT, ML of one run, by plain loops.

    Args:
        valid_before: (sequence index, tracker row) of boxes matched in earlier runs, which
            AB3DMOT never ignores again; updated in place with this run's matches.
        Others: as :func:`drivestack.eval.kitti_tracking.clear_mot`.

    Returns:
        The numbers, plus "scores": the mean track scores of the matched boxes.
    """
    sticky = valid_before if valid_before is not None else set()
    matched_scores: list[float] = []
    neighbour = NEIGHBOUR_TRACKING.get(cls, "")
    loaded = {cls, neighbour, "dontcare"} - {""}
    tp = fp = fn = ign_fn = ign_tp = n_gt = 0
    total_cost = 0.0
    ids = frag = mt = ml = n_traj = n_ign_traj = 0
    for s_idx, (g_seq, t_seq, n) in enumerate(zip(gt, res, n_frames, strict=True)):
        g_type = [str(x).lower() for x in g_seq.type]
        t_type = [str(x).lower() for x in t_seq.type]
        scores = t_seq.score if t_seq.score is not None else np.full(len(t_seq), -1.0)
        by_id: dict[int, list[float]] = defaultdict(list)
        for j in range(len(t_seq)):
            if t_type[j] in loaded:
                by_id[int(t_seq.track_id[j])].append(float(scores[j]))
        mean = {k: sum(v) / len(v) for k, v in by_id.items()}
        trajectories: dict[int, list[int]] = defaultdict(list)
        ignored: dict[int, list[bool]] = defaultdict(list)
        for f in range(n):
            g = [
                i
                for i in range(len(g_seq))
                if g_seq.frame[i] == f
                and g_type[i] in loaded - {"dontcare"}
                and g_seq.track_id[i] != -1
            ]
            dc = [i for i in range(len(g_seq)) if g_seq.frame[i] == f and g_type[i] == "dontcare"]
            t = [
                j
                for j in range(len(t_seq))
                if t_seq.frame[j] == f
                and t_type[j] in loaded
                and mean[int(t_seq.track_id[j])] >= threshold
            ]
            n_gt += len(g)
            cost = np.full((len(g), len(t)), 1e9)
            for a, i in enumerate(g):
                for b, j in enumerate(t):
                    c = 1 - _overlap(cfg.metric, g_seq, i, t_seq, j)
                    if c <= 1 - cfg.min_overlap:
                        cost[a, b] = c
            tracker_of = {i: -1 for i in g}
            valid = set()
            if len(g) and len(t):
                for a, b in zip(*linear_sum_assignment(cost), strict=True):
                    if cost[a, b] < 1e9:
                        tracker_of[g[a]] = t[b]
                        valid.add(t[b])
                        matched_scores.append(mean[int(t_seq.track_id[t[b]])])
                        total_cost += 1 - cost[a, b]
                        tp += 1
            n_ign_trk = 0
            for j in t:
                h = abs(t_seq.bbox[j, 1] - t_seq.bbox[j, 3])
                if j in valid or (s_idx, j) in sticky:
                    continue
                if t_type[j] == neighbour or h <= cfg.min_height:
                    n_ign_trk += 1
                    continue
                for i in dc:
                    if (
                        iou_2d(t_seq.bbox[j : j + 1], g_seq.bbox[i : i + 1], "a")[0, 0]
                        > cfg.dontcare_cover
                    ):
                        n_ign_trk += 1
                        break
            frame_ign_fn = frame_ign_tp = 0
            for i in g:
                is_ign = (
                    g_seq.occluded[i] > cfg.max_occlusion
                    or g_seq.truncated[i] > cfg.max_truncation
                    or g_type[i] == neighbour
                )
                matched = tracker_of[i]
                trajectories[int(g_seq.track_id[i])].append(
                    int(t_seq.track_id[matched]) if matched >= 0 else -1
                )
                ignored[int(g_seq.track_id[i])].append(bool(is_ign))
                if is_ign and matched < 0:
                    frame_ign_fn += 1
                elif is_ign:
                    frame_ign_tp += 1
            sticky |= {(s_idx, j) for j in valid}
            n_matched = sum(1 for i in g if tracker_of[i] >= 0)
            fn += len(g) - n_matched - frame_ign_fn
            fp += len(t) - (n_matched - frame_ign_tp) - n_ign_trk - frame_ign_tp
            ign_fn += frame_ign_fn
            ign_tp += frame_ign_tp
            n_gt -= frame_ign_fn + frame_ign_tp
        for key, tr in trajectories.items():
            ign = ignored[key]
            n_traj += 1
            if all(ign):
                n_ign_traj += 1
                continue
            if all(x == -1 for x in tr):
                ml += 1
                continue
            last, tracked = tr[0], (1 if tr[0] >= 0 else 0)
            for f in range(1, len(tr)):
                if ign[f]:
                    last = -1
                    continue
                if last != tr[f] and last != -1 and tr[f] != -1 and tr[f - 1] != -1:
                    ids += 1
                if (
                    f < len(tr) - 1
                    and tr[f - 1] != tr[f]
                    and last != -1
                    and tr[f] != -1
                    and tr[f + 1] != -1
                ):
                    frag += 1
                if tr[f] != -1:
                    tracked += 1
                    last = tr[f]
            f = len(tr) - 1
            if len(tr) > 1 and tr[f - 1] != tr[f] and last != -1 and tr[f] != -1 and not ign[f]:
                frag += 1
            ratio = tracked / (len(tr) - sum(ign))
            mt += ratio > 0.8
            ml += ratio < 0.2
    denom = max(n_traj - n_ign_traj, 1)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "ids": ids,
        "frag": frag,
        "ignored_tp": ign_tp,
        "ignored_fn": ign_fn,
        "n_gt": n_gt,
        "mota": 1 - (fn + fp + ids) / n_gt if n_gt else -float("inf"),
        "motp": total_cost / tp if tp else 0.0,
        "mt": mt / denom,
        "ml": ml / denom,
        "scores": matched_scores,
    }
