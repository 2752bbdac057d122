"""Path smoothing: grid path -> smooth poses with curvature that stay off obstacles.

A grid path zig-zags in 45-degree steps. Smoothing minimises, over the free interior points,

    sum_i w_data * |p_i - p0_i|^2 + w_smooth * |p_{i+1} - p_i|^2

(the objective whose gradient iteration is the classic smoother of Thrun's AI-for-Robotics
course), solved exactly as one tridiagonal linear system instead of hundreds of iterations.
End points stay fixed. After the descent every point and every segment midpoint is checked
against the cost grid; points that landed in a lethal cell are pinned back to their original
position and the descent is repeated, so the result never enters an obstacle the input
avoided. The check is exact: every segment is slab-tested against the cells it crosses.
If pinning cannot make it valid within ``max_rounds`` the result carries the input path and ``pinned`` says how many points were pinned; ``valid`` reports
whether the returned polyline is clear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_banded

from drivestack.msgs import CostGrid
from drivestack.planning.costmap import world_to_local
from drivestack.planning.speed_profile import mean_curvature


@dataclass(frozen=True)
class SmoothingConfig:
    """Weights and rounds."""

    w_data: float = 0.1  # pull towards the original path
    w_smooth: float = 2.5  # pull towards the neighbours (smoothing length ~5 points)
    max_rounds: int = 4  # pin-and-repeat rounds when points land in obstacles
    curvature_window: float = 3.0  # [m] curvature = mean over this much path (see _poses)


@dataclass(frozen=True)
class SmoothResult:
    """Smoothed path.

    Attributes:
        poses: (N, 3) float64 x [m], y [m], yaw [rad], one per input point.
        curvatures: (N,) float64 [1/m], left positive.
        valid: Every point and segment midpoint is in a non-lethal cell.
        pinned: Number of points pinned back to the input to stay valid.
    """

    poses: np.ndarray
    curvatures: np.ndarray
    valid: bool
    pinned: int


def _solve(points: np.ndarray, fixed: np.ndarray, config: SmoothingConfig) -> np.ndarray:
    """Exact minimiser of the smoothing objective with ``fixed`` (N,) points held in place.

    Setting the gradient of ``w_data |p - p0|^2 + w_smooth |p_{i+1} - p_i|^2`` to zero gives
    the tridiagonal system ``(w_data + 2 w_smooth) p_i - w_smooth (p_{i-1} + p_{i+1}) =
    w_data p0_i`` for free points (the fixed point the classic gradient iteration converges
    to), solved in O(N) with a banded solver; fixed points get the row ``p_i = p0_i``.
    """
    n = len(points)
    hold = fixed.copy()
    hold[0] = hold[-1] = True
    ab = np.zeros((3, n))  # banded storage: upper, main, lower diagonals
    ab[1] = np.where(hold, 1.0, config.w_data + 2.0 * config.w_smooth)
    ab[0, 1:] = np.where(hold[:-1], 0.0, -config.w_smooth)  # row i, column i + 1
    ab[2, :-1] = np.where(hold[1:], 0.0, -config.w_smooth)  # row i, column i - 1
    rhs = np.where(hold[:, None], points, config.w_data * points)  # (N, 2)
    return solve_banded((1, 1), ab, rhs)


def bad_segments(grid: CostGrid, p: np.ndarray) -> np.ndarray:
    """(N-1,) bool: segment p_i -> p_{i+1} intersects (or touches) a lethal or off-grid cell.

    Exact: each segment is slab-tested against every cell of its bounding window.
    """
    local = world_to_local(grid.origin, p) / grid.resolution  # (N, 2) in cells, x = col
    a, b = local[:-1], local[1:]  # (S, 2)
    lo = np.floor(np.minimum(a, b)).astype(np.int64)  # (S, 2)
    k = int((np.floor(np.maximum(a, b)) - lo).max(initial=0)) + 1
    offs = np.arange(k)
    cols = lo[:, 0, None, None] + offs[None, None, :]  # (S, 1, K)
    rows = lo[:, 1, None, None] + offs[None, :, None]  # (S, K, 1)
    cols, rows = np.broadcast_arrays(cols, rows)  # (S, K, K) each
    h, w = grid.cost.shape
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    lethal = np.ones(rows.shape, dtype=bool)
    lethal[inside] = grid.cost[rows[inside], cols[inside]] >= grid.lethal
    t_lo = np.zeros(rows.shape)
    t_hi = np.ones(rows.shape)
    for axis, cells in ((0, cols), (1, rows)):
        a_ax = a[:, axis, None, None]  # (S, 1, 1)
        d_ax = (b - a)[:, axis, None, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (cells - a_ax) / d_ax, (cells + 1 - a_ax) / d_ax
        parallel = np.broadcast_to(d_ax == 0, rows.shape)
        within = (a_ax >= cells) & (a_ax <= cells + 1)
        t_lo = np.where(
            parallel, np.where(within, t_lo, np.inf), np.maximum(t_lo, np.minimum(t1, t2))
        )
        t_hi = np.where(parallel, t_hi, np.minimum(t_hi, np.maximum(t1, t2)))
    return (lethal & (t_lo <= t_hi)).any(axis=(1, 2))


def _poses(p: np.ndarray, window: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) poses and (N,) curvatures [1/m] of a polyline.

    Headings by finite differences in s. Curvature: with ``window`` > 0 [m], the mean
    curvature over the ``window`` of path centred on each point (the heading change across
    it divided by its length, exact on an arc; the window shrinks at the ends), else the
    pointwise finite-difference curvature.
    """
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    if len(p) < 3 or s[-1] <= 0:
        yaw = math.atan2(*(p[-1] - p[0])[::-1]) if len(p) > 1 else 0.0
        return np.column_stack([p, np.full(len(p), yaw)]), np.zeros(len(p))
    dx, dy = np.gradient(p[:, 0], s), np.gradient(p[:, 1], s)
    heading = np.arctan2(dy, dx)
    if window > 0:
        curv = mean_curvature(s, heading, window)
    else:
        ddx, ddy = np.gradient(dx, s), np.gradient(dy, s)
        curv = (dx * ddy - dy * ddx) / np.maximum((dx**2 + dy**2) ** 1.5, 1e-9)
    return np.column_stack([p, heading]), curv


def smooth_path(
    xy: np.ndarray, grid: CostGrid, config: SmoothingConfig = SmoothingConfig()
) -> SmoothResult:
    """Smooths a collision-free polyline without entering lethal cells.

    Args:
        xy: (N, 2) path points [m] in ``grid.frame_id`` (e.g. grid A* cell centres).
        grid: Cost grid the path was planned on.
        config: Weights and rounds.

    Returns:
        A :class:`SmoothResult`; its polyline (points and the segments between them) is
        checked against the grid when ``valid``.
    """
    base = np.asarray(xy, dtype=np.float64)  # (M, 2)
    if len(base) < 3:
        poses, curv = _poses(base, config.curvature_window)
        return SmoothResult(poses, curv, not bad_segments(grid, base).any(), 0)
    fixed = np.zeros(len(base), dtype=bool)
    for _ in range(config.max_rounds):
        out = _solve(base, fixed, config)
        bad_seg = bad_segments(grid, out)  # (M-1,)
        if not bad_seg.any():
            poses, curv = _poses(out, config.curvature_window)
            return SmoothResult(poses, curv, True, int(fixed.sum()))
        # Pin the ends of offending segments and their neighbours: the curve then bends
        # around the obstacle along the (valid) input.
        bad = np.zeros(len(out), dtype=bool)
        bad[:-1] |= bad_seg
        bad[1:] |= bad_seg
        grow = bad.copy()
        grow[1:] |= bad[:-1]
        grow[:-1] |= bad[1:]
        fixed |= grow
    poses, curv = _poses(base, config.curvature_window)
    return SmoothResult(poses, curv, not bad_segments(grid, base).any(), int(fixed.sum()))
