"""Data association: cost matrices between tracks and detections, and gated matching.

Costs are "lower is better": ``1 - GIoU`` (3D generalised IoU, in [0, 2]), the Euclidean
distance of box centres [m], or the Mahalanobis distance of the BEV centres under the track's
innovation covariance (Chiu et al. 2020, "Probabilistic 3D Multi-Object Tracking"; [sigma]). A gate rejects pairs whose cost exceeds a class-specific
threshold, before matching (so a gated pair can never block a valid one) and after it.
Matching is optimal (Hungarian, ``scipy.optimize.linear_sum_assignment``) or greedy by
increasing cost (AB3DMOT's choice for pedestrians). On KITTI pedestrians with noisy centres the
greedy one swaps more identities, not fewer (``drive tune tracking --stress``; tracking README).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from drivestack.eval.box_iou import giou_3d

# Cost assigned to gated pairs inside the solver: large but finite so the solver never fails.
_BLOCKED = 1e6

MATCHERS = ("hungarian", "greedy")
METRICS = ("giou", "dist", "mahalanobis")


def cost_matrix(tracks: np.ndarray, dets: np.ndarray, metric: str) -> np.ndarray:
    """Association cost between predicted track boxes and detections.

    Args:
        tracks: (N, 7) boxes ``(x, y, z, dx, dy, dz, yaw)`` [m]/[rad].
        dets: (M, 7) boxes, same frame.
        metric: ``"giou"`` (cost ``1 - GIoU_3D``) or ``"dist"`` (centre distance [m]).

    Returns:
        (N, M) float64 costs.
    """
    if metric == "giou":
        if len(tracks) == 0 or len(dets) == 0:
            return np.zeros((len(tracks), len(dets)))
        return 1.0 - np.asarray(giou_3d(tracks, dets), dtype=np.float64)
    if metric == "dist":
        return np.linalg.norm(tracks[:, None, :3] - dets[None, :, :3], axis=2)
    raise ValueError(f"association metric must be one of {METRICS}, got {metric!r}")


def mahalanobis_xy(tracks_xy: np.ndarray, innov_xy: np.ndarray, dets_xy: np.ndarray) -> np.ndarray:
    """Mahalanobis distance of detection centres from predicted track centres (BEV).

    Args:
        tracks_xy: (N, 2) [m] predicted centres.
        innov_xy: (N, 2, 2) [m^2] innovation covariance of the centre, ``H P H^T + R``.
        dets_xy: (M, 2) [m] detected centres.

    Returns:
        (N, M) distances [sigma].
    """
    d = dets_xy[None, :, :] - tracks_xy[:, None, :]  # (N, M, 2)
    a, b, c = innov_xy[:, 0, 0], innov_xy[:, 0, 1], innov_xy[:, 1, 1]  # (N,)
    det = a * c - b * b  # (N,) > 0 for a covariance
    # d^T S^-1 d with the closed-form 2 x 2 inverse.
    q = (
        c[:, None] * d[..., 0] ** 2
        - 2 * b[:, None] * d[..., 0] * d[..., 1]
        + a[:, None] * d[..., 1] ** 2
    )
    return np.sqrt(np.maximum(q / det[:, None], 0.0))


def match(cost: np.ndarray, gate: float, matcher: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assigns rows (tracks) to columns (detections) with costs at most ``gate``.

    Args:
        cost: (N, M) costs, lower is better; ``inf`` forbids a pair.
        gate: largest accepted cost.
        matcher: ``"hungarian"`` (minimum total cost) or ``"greedy"`` (cheapest pair first).

    Returns:
        matches (K, 2) int64 ``(row, col)`` pairs, unmatched rows (N - K,), unmatched cols (M - K,).
    """
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.empty((0, 2), np.int64), np.arange(n), np.arange(m)
    allowed = np.isfinite(cost) & (cost <= gate)  # (N, M)
    if matcher == "hungarian":
        rows, cols = linear_sum_assignment(np.where(allowed, cost, _BLOCKED))
        keep = allowed[rows, cols]
        rows, cols = rows[keep], cols[keep]
    elif matcher == "greedy":
        rows, cols = _greedy(cost, allowed)
    else:
        raise ValueError(f"matcher must be one of {MATCHERS}, got {matcher!r}")
    matches = np.stack([rows, cols], axis=1).astype(np.int64)
    row_free = np.ones(n, bool)
    row_free[rows] = False
    col_free = np.ones(m, bool)
    col_free[cols] = False
    return matches, np.flatnonzero(row_free), np.flatnonzero(col_free)


def _greedy(cost: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cand_r, cand_c = np.nonzero(allowed)
    order = np.argsort(cost[cand_r, cand_c], kind="stable")
    row_used = np.zeros(cost.shape[0], bool)
    col_used = np.zeros(cost.shape[1], bool)
    rows: list[int] = []
    cols: list[int] = []
    for r, c in zip(cand_r[order].tolist(), cand_c[order].tolist(), strict=True):
        if not row_used[r] and not col_used[c]:
            row_used[r] = col_used[c] = True
            rows.append(r)
            cols.append(c)
    return np.asarray(rows, np.int64), np.asarray(cols, np.int64)
